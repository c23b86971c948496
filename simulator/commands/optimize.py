"""``simulator optimize SCENARIO.yaml --param KEY=LOW:HIGH ... --budget N --out DIR``
(SPEC section 9; docs/optimize.md)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HELP = "tune numeric scenario values to minimise the mean total cost (annealing or grid)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``simulator optimize``."""
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--param", action="append", default=[], metavar="KEY=LOW:HIGH[:STEP]",
                   help="a numeric value to tune by its dotted key and its range (whole "
                        "numbers stay whole; STEP spaces the grid); repeatable")
    p.add_argument("--method", choices=("annealing", "grid"), default="annealing",
                   help="simulated annealing (default) or the full grid")
    p.add_argument("--budget", type=int, default=50, metavar="N",
                   help="candidates to evaluate, at most (default 50)")
    p.add_argument("--constraint", action="append", default=[],
                   metavar="METRIC>=X|METRIC[WH/PRODUCT]<=X",
                   help="a bound on a metric's mean over replications: the network total, or "
                        "one stock point's with [WAREHOUSE/PRODUCT]; repeatable")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the search's own random choices (default 0; the scenario's "
                        "seed drives the simulations)")
    p.add_argument("--batch", type=int, default=4, metavar="N",
                   help="candidates proposed per annealing step, evaluated together "
                        "(default 4); the result does not depend on --workers")
    p.add_argument("--levels", type=int, default=None, metavar="N",
                   help="grid values per param without a STEP (default: as many as fit "
                        "--budget)")
    p.add_argument("--workers", type=int, default=0,
                   help="worker processes (default 0: one per core; 1: this process); the "
                        "result does not depend on it")
    p.add_argument("--dask", metavar="local|ADDRESS",
                   help="evaluate on a Dask cluster: 'local' starts one of --workers worker "
                        "processes, else a scheduler address (needs the dask extra)")
    p.add_argument("--out", help="results folder (default: results/<name>/optimize-"
                                 "<timestamp>/)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted search into --out (same result as an "
                        "uninterrupted one)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --out if it is a results folder of this tool")
    p.add_argument("--quiet", action="store_true", help="no progress")


def run(args: argparse.Namespace) -> int:
    """Search, write ``DIR`` and print the best values; 0 on success."""
    import simulator
    from simulator.cli import _default_out
    from simulator.errors import Problem, UserError
    from simulator.experiment.runner import check_dask
    from simulator.optimizer.core import check_numbers, finish, parse_all, partial_folder, search
    from simulator.results import check_out

    check_numbers(args.method, args.budget, args.seed, args.batch, args.levels)
    if args.workers < 0:
        raise UserError([Problem("<command line>", None, "--workers",
                                 "must be a whole number >= 0 (0: one per core)")])
    dask = check_dask(args.dask, "--dask", "<command line>")
    sc = simulator.load(args.scenario)
    params, constraints = parse_all(sc, args.param, args.constraint)
    out = Path(args.out) if args.out else _default_out(sc.name + "-optimize")
    claim = check_out(out, args.overwrite, "--overwrite")
    jobs = args.workers or os.cpu_count() or 1
    try:
        res = search(sc, params, constraints, method=args.method, budget=args.budget,
                     seed=args.seed, batch=args.batch, levels=args.levels, out=out,
                     resume=args.resume, jobs=jobs, dask=dask,
                     progress=False if args.quiet else None)
    except BaseException as exc:
        if not isinstance(exc, UserError) and partial_folder(claim.path).exists():
            print(f"finished candidates are kept in {partial_folder(claim.path)}; run the "
                  "same command with --resume to continue", file=sys.stderr)
        raise
    res.info["scenario_file"] = str(args.scenario)
    res.info["command"] = ["simulator", *sys.argv[1:]]
    path = finish(res, claim)
    best = res.info["best"]
    shown = ", ".join(f"{k} = {res.best[k]}" for k in res.best)
    note = "" if res.info["feasible"] else " (no candidate met the constraints: the least " \
                                           "violating)"
    print(f"{res.info['evaluations']} candidates ({res.info['resumed']} from before) in "
          f"{res.info['seconds']:.1f} s; best{note}: {shown}: mean cost {best['mean_cost']:.6g}"
          f" [{best['ci_low']:.6g}, {best['ci_high']:.6g}]; results written to {path}")
    return 0
