"""Command line: ``simulator run|validate SCENARIO.yaml``, ``simulator compare A.yaml B.yaml``,
the planner helpers ``simulator calc eoq|safety-stock|reorder-point`` and ``simulator abc``
(also ``python -m simulator``).

Bad input never ends in a traceback: each problem is printed as
``FILE:LINE: dotted.key: message`` on stderr and the exit status is 2.
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from simulator._startup import EXIT_INTERRUPTED, INTERRUPTED, quiet_exit
from simulator.errors import Problem, UserError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TERMINATED = 0, 1, 2, 143

#: problems printed at most (a file with a million bad entries must not flood the terminal)
MAX_PROBLEMS = 100

#: commands that live in modules of their own, by name. Each module has ``HELP`` (one line),
#: ``add_arguments(parser)`` and ``run(args) -> int`` (an exit status; it raises UserError
#: for bad input). The module is imported to build the parser, so it imports nothing heavy at
#: module level.
PLUGGED: dict[str, str] = {
    "optimize": "simulator.commands.optimize",
    "report": "simulator.commands.report",
    "serve": "simulator.commands.serve",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simulator", description="Discrete-event supply chain "
                                "simulator: run or check a YAML scenario.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    r = sub.add_parser("run", help="run a scenario and write its results folder")
    r.add_argument("scenario", help="scenario YAML file")
    r.add_argument("--out", help="results folder (default: results/<name>/<timestamp>/)")
    r.add_argument("--replications", type=int, help="override the scenario's replications")
    r.add_argument("--seed", type=int, help="override the scenario's seed")
    r.add_argument("--jobs", type=int, default=1,
                   help="worker processes (0 = one per core); results do not depend on it")
    r.add_argument("--dask", metavar="local|ADDRESS",
                   help="run on a Dask cluster: 'local' starts one of --jobs worker processes "
                        "(0 = one per core), else a scheduler address such as tcp://host:8786 "
                        "(needs the dask extra); results do not depend on it")
    r.add_argument("--overwrite", action="store_true",
                   help="replace --out if it exists (only after the run succeeded)")
    r.add_argument("--quiet", action="store_true",
                   help="no progress, no table, only the number of warnings")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one value by its dotted key (e.g. "
                        "warehouses.dc.inventory.widget.policy.s=60); VALUE is read as YAML "
                        "(a number, text, [list] or {mapping}); repeatable")
    r.add_argument("--target-ci", action="append", default=[], metavar="METRIC=HALFWIDTH",
                   help="add replications until every stock point's (or customer's) 95%% "
                        "interval of METRIC is at most HALFWIDTH; repeatable")
    r.add_argument("--max-replications", type=int, default=1000, metavar="N",
                   help="the cap for --target-ci (default 1000)")
    r.add_argument("--record", action="store_true",
                   help="record replication 0's time series (levels, orders, receipts) in "
                        "timeseries.parquet, for plots and `simulator report`")
    r.add_argument("--record-all", action="store_true",
                   help="like --record, for every replication")
    r.add_argument("--max-events", type=float, default=None, metavar="N",
                   help="refuse runs estimated at more events than N (default 5e8, about a "
                        "quarter of an hour on one core; 'inf': no limit)")
    w = sub.add_parser("sweep", help="run a scenario at every point of its sweep: section")
    w.add_argument("scenario", help="scenario YAML file with a sweep: section")
    w.add_argument("--out", help="results folder (default: results/<name>/sweep-<timestamp>/)")
    w.add_argument("--workers", type=int, default=0,
                   help="worker processes (default 0: one per core; 1: this process); "
                        "results do not depend on it")
    w.add_argument("--points", type=int, default=None, metavar="N",
                   help="samples of the keys given as ranges {low, high} (default 10)")
    w.add_argument("--sampling", choices=("lhs", "random"), default="lhs",
                   help="how ranges are sampled: Latin hypercube (default) or at random")
    w.add_argument("--sample-seed", type=int, default=None, metavar="N",
                   help="seed of the sampled points (default: the scenario's seed)")
    w.add_argument("--resume", action="store_true",
                   help="continue an interrupted sweep into --out (finished points are kept)")
    w.add_argument("--csv", action="store_true", help="also write sweep.csv")
    w.add_argument("--dask", metavar="local|ADDRESS",
                   help="run the points on a Dask cluster: 'local' starts one of --workers "
                        "worker processes (0 = one per core), else a scheduler address "
                        "(needs the dask extra); results do not depend on it")
    w.add_argument("--no-plots", action="store_true", help="do not draw plots/*.png")
    w.add_argument("--target-ci", action="append", default=[], metavar="METRIC=HALFWIDTH",
                   help="give each point more replications until every stock point's 95%% "
                        "interval of METRIC is at most HALFWIDTH; repeatable")
    w.add_argument("--max-replications", type=int, default=1000, metavar="N",
                   help="the cap per point for --target-ci (default 1000)")
    w.add_argument("--overwrite", action="store_true",
                   help="replace --out if it is a results folder of this tool")
    w.add_argument("--quiet", action="store_true", help="no progress")
    v = sub.add_parser("validate", help="check a scenario file; print ok or the problems")
    v.add_argument("scenario", help="scenario YAML file")
    f = sub.add_parser("forecast", help="backtest forecasting methods on a daily demand history")
    f.add_argument("history", help="CSV: a date or day column and one column per product")
    f.add_argument("--methods", help="comma-separated methods (default: "
                   "naive,seasonal_naive,moving_average,ses,holt,holt_winters,croston,sba,tsb)")
    f.add_argument("--horizon", type=int, default=1, help="days ahead forecast from each "
                   "origin (default 1)")
    f.add_argument("--initial", type=int, default=None, help="days used to fit before the "
                   "first origin (default: 60%% of the history, at least 14)")
    f.add_argument("--out", help="write the table as CSV here (default: HISTORY-backtest.csv "
                   "beside the history)")
    c = sub.add_parser("compare", help="run scenarios on common random numbers and report "
                       "paired differences against the first")
    c.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="two or more scenario files; the first is the baseline")
    c.add_argument("--metrics", default="fill_rate,total_cost",
                   help="comma-separated metrics (default: fill_rate,total_cost)")
    c.add_argument("--replications", type=int, help="replications of every scenario "
                   "(default: the first scenario's)")
    c.add_argument("--seed", type=int, help="seed of every scenario (default: the first's)")
    c.add_argument("--jobs", type=int, default=1,
                   help="worker processes (0 = one per core); results do not depend on it")
    c.add_argument("--out", help="folder for comparison.csv (default: "
                   "results/compare/<timestamp>/)")
    c.add_argument("--quiet", action="store_true", help="no progress and no table")
    _planner_parsers(sub)
    for name, module in PLUGGED.items():
        mod = importlib.import_module(module)
        mod.add_arguments(sub.add_parser(name, help=mod.HELP))
    return p


#: calculator parameter -> its flag (simulator calc)
_CALC_FLAGS = {"demand_per_day": "--demand", "demand_rate": "--demand",
               "ordering_cost": "--ordering-cost", "holding_cost_per_day": "--holding-cost",
               "service_level": "--service-level", "demand_var_per_day": "--demand-var",
               "lead_time_mean": "--lead-time", "lead_time_var": "--lead-time-var",
               "review_period": "--review-period", "a": "--a", "b": "--b"}


def _planner_parsers(sub: Any) -> None:
    """``simulator calc eoq|safety-stock|reorder-point`` and ``simulator abc``."""
    c = sub.add_parser("calc", help="textbook calculators: EOQ, safety stock, reorder point "
                       "(docs/planning.md)")
    kinds = c.add_subparsers(dest="calc", metavar="eoq|safety-stock|reorder-point")
    e = kinds.add_parser("eoq", help="economic order quantity sqrt(2 D K / h)")
    e.add_argument("--demand", type=float, required=True, help="demand D (units per day)")
    e.add_argument("--ordering-cost", type=float, required=True, help="cost K per order")
    e.add_argument("--holding-cost", type=float, required=True,
                   help="holding cost h per unit per day")
    for name, what in (("safety-stock", "safety stock z sqrt(T V + D^2 Var(L))"),
                       ("reorder-point", "reorder point D T + safety stock")):
        k = kinds.add_parser(name, help=what)
        k.add_argument("--service-level", type=float, required=True,
                       help="cycle service level in (0, 1)")
        k.add_argument("--demand", type=float, default=None,
                       help="mean demand D (units per day)")
        k.add_argument("--demand-var", type=float, required=True,
                       help="variance rate V of demand (units^2 per day)")
        k.add_argument("--lead-time", type=float, required=True, help="mean lead time (days)")
        k.add_argument("--lead-time-var", type=float, default=0.0,
                       help="variance of the lead time (days^2, default 0)")
        k.add_argument("--review-period", type=float, default=0.0,
                       help="days between reviews (default 0: continuous)")
    a = sub.add_parser("abc", help="ABC classification of a scenario's products by annual "
                       "demand value")
    a.add_argument("scenario", help="scenario YAML file")
    a.add_argument("--a", type=float, default=0.8, help="cumulative share closing class A "
                   "(default 0.8)")
    a.add_argument("--b", type=float, default=0.95, help="cumulative share closing class B "
                   "(default 0.95)")


def _calc(args: argparse.Namespace) -> int:
    """``simulator calc``: one calculator's result and its formula."""
    from simulator import planning

    if args.calc is None:
        raise UserError([Problem("<command line>", None, "calc",
                                 "give eoq, safety-stock or reorder-point")])
    try:
        if args.calc == "eoq":
            q = planning.eoq(args.demand, args.ordering_cost, args.holding_cost)
            print(f"EOQ = sqrt(2 D K / h) = sqrt(2 * {args.demand:g} * {args.ordering_cost:g}"
                  f" / {args.holding_cost:g}) = {q:.6g} units")
            return EXIT_OK
        ss = planning.safety_stock(args.service_level, args.demand_var, args.lead_time,
                                   args.lead_time_var, args.demand, args.review_period)
        if args.calc == "reorder-point" and args.demand is None:
            raise planning.BadValue("demand_rate", "is required")
    except planning.BadValue as exc:
        raise UserError([Problem("<command line>", None, _CALC_FLAGS[exc.name],
                                 exc.message)]) from None
    t = args.lead_time + args.review_period
    d = args.demand or 0.0
    sd = f"sqrt({t:g} * {args.demand_var:g} + {d:g}^2 * {args.lead_time_var:g})"
    print(f"safety stock = z sqrt(T V + D^2 Var(L)) = {_z(args.service_level):.6g} "
          f"* {sd} = {ss:.6g} units (T = lead time + review period = {t:g} days)")
    if args.calc == "reorder-point":
        print(f"reorder point = D T + safety stock = {d:g} * {t:g} + {ss:.6g} = "
              f"{d * t + ss:.6g} units")
    return EXIT_OK


def _z(service_level: float) -> float:
    from statistics import NormalDist
    return NormalDist().inv_cdf(service_level)


def _abc(args: argparse.Namespace) -> int:
    """``simulator abc``: the classification table."""
    from simulator import planning

    try:
        table = planning.abc(args.scenario, args.a, args.b)
    except planning.BadValue as exc:
        raise UserError([Problem("<command line>", None, _CALC_FLAGS[exc.name],
                                 exc.message)]) from None
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    return EXIT_OK


def _default_out(name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "scenario"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path("results") / safe / stamp
    n = 1
    while out.exists():
        n += 1
        out = Path("results") / safe / f"{stamp}-{n}"
    return out


def _run(args: argparse.Namespace, argv: list[str] | None) -> int:
    import simulator
    from simulator.experiment.budget import DEFAULT_MAX_EVENTS, check_budget
    from simulator.experiment.keys import apply_overrides
    from simulator.experiment.runner import (
        check_dask,
        check_jobs,
        check_max_events,
        check_target_ci,
        with_overrides,
    )
    from simulator.outdir import ResultsDiverted
    from simulator.results import check_out

    check_jobs(args.jobs)
    check_dask(args.dask, "--dask", "<command line>")
    targets = check_target_ci(_target_pairs(args.target_ci), args.max_replications,
                              "--target-ci", "<command line>") if args.target_ci else None
    bound = check_max_events(DEFAULT_MAX_EVENTS if args.max_events is None
                             else args.max_events)
    overrides = parse_sets(args.set)
    sc = apply_overrides(simulator.load(args.scenario), overrides)
    sc = with_overrides(sc, args.replications, args.seed)
    check_budget(sc, bound, "--max-events")
    out = Path(args.out) if args.out else _default_out(sc.name)
    claim = check_out(out, args.overwrite, "--overwrite")  # refuse before running, not after
    try:
        res = simulator.run(sc, jobs=args.jobs, progress=False if args.quiet else None,
                            max_events=bound, dask=args.dask, target_ci=targets,
                            max_replications=args.max_replications,
                            record="all" if args.record_all else args.record)
    except UserError as exc:  # e.g. no scheduler at that address: name the flag
        exc.problems = [Problem("<command line>", None, "--dask", p.message)
                        if (p.file, p.key) == ("<arguments>", "dask") else p
                        for p in exc.problems]
        raise
    res.info["scenario_file"] = str(args.scenario)
    res.info["command"] = ["simulator", *(sys.argv[1:] if argv is None else argv)]
    if overrides:
        res.info["overrides"] = overrides
    try:
        path = res.save(claim)
    except ResultsDiverted as exc:
        if args.out:  # the user named the folder: a script may read it, so say it loudly
            raise
        path = exc.path  # a default folder: a fresh name is just as good

    if not args.quiet:
        print(res.table())
    _say_warnings(res.warnings, show=0 if args.quiet else 5)
    print(f"results written to {path}")
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    """``simulator compare``: paired differences against the first scenario, printed and
    saved as ``comparison.csv``."""
    from simulator.comparison import check_metrics, compare, table, write_csv
    from simulator.experiment.runner import check_jobs

    problems = []
    if len(args.scenarios) < 2:
        problems.append(Problem("<command line>", None, "SCENARIO",
                                "give at least two scenario files; the first is the baseline"))
    try:
        check_metrics(args.metrics, "--metrics", "<command line>")
    except UserError as exc:
        problems += exc.problems
    out = Path(args.out) if args.out else _default_out("compare")
    if out.exists() and not out.is_dir():
        problems.append(Problem("<command line>", None, "--out",
                                f"{out} exists and is not a folder"))
    if problems:
        raise UserError(problems)
    check_jobs(args.jobs)
    result = compare(args.scenarios, metrics=args.metrics, replications=args.replications,
                     seed=args.seed, jobs=args.jobs, progress=False if args.quiet else None)
    path = write_csv(result, out, "--out")
    if not args.quiet:
        print(table(result))
    print(f"comparison written to {path}")
    return EXIT_OK


def _target_pairs(items: list[str]) -> dict[str, Any]:
    """``METRIC=HALFWIDTH`` arguments as {metric: half-width}; a bad one is a user error."""
    found: dict[str, Any] = {}
    problems = []
    for item in items:
        metric, eq, width = item.partition("=")
        try:
            found[metric.strip()] = float(width) if eq else None
        except ValueError:
            found[metric.strip()] = width
        if not eq:
            problems.append(Problem("<command line>", None, "--target-ci",
                                    f"expected METRIC=HALFWIDTH, got {item!r}"))
    if problems:
        raise UserError(problems)
    return found


def parse_sets(items: list[str], flag: str = "--set") -> dict[str, Any]:
    """``KEY=VALUE`` arguments as dotted key -> value, each VALUE read as YAML (the scenario
    file's rules: ``60`` is a number, ``[1, 2]`` a list, ``{dist: uniform, ...}`` a
    mapping); a later one for the same key wins."""
    from simulator.errors import ScenarioError
    from simulator.scenario.yamlload import load_yaml_text

    found: dict[str, Any] = {}
    problems = []
    for item in items:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key:
            problems.append(Problem(flag, None, key or item, "expected KEY=VALUE, e.g. "
                                    "warehouses.dc.inventory.widget.policy.s=60"))
            continue
        try:
            value, _, dup = load_yaml_text(text, flag)
        except ScenarioError as exc:
            problems.append(Problem(flag, None, key, exc.problems[0].message))
            continue
        if dup:
            problems.append(Problem(flag, None, key, dup[0].message))
            continue
        found[key] = value
    if problems:
        raise UserError(problems)
    return found


def _sweep(args: argparse.Namespace, argv: list[str] | None) -> int:
    """``simulator sweep``: every point's replications; finished points survive an
    interruption (``--resume`` continues)."""
    import simulator
    from simulator.experiment import sweep
    from simulator.results import check_out

    problems = []
    if args.workers < 0:
        problems.append(Problem("<command line>", None, "--workers",
                                "must be a whole number >= 0 (0: one per core)"))
    if args.points is not None and not 1 <= args.points <= 1_000_000:
        problems.append(Problem("<command line>", None, "--points",
                                "must be a whole number from 1 to 1000000"))
    if args.sample_seed is not None and args.sample_seed < 0:
        problems.append(Problem("<command line>", None, "--sample-seed",
                                "must be a whole number >= 0"))
    if problems:
        raise UserError(problems)
    from simulator.experiment.runner import check_dask, check_target_ci
    dask = check_dask(args.dask, "--dask", "<command line>")
    targets = check_target_ci(_target_pairs(args.target_ci), args.max_replications,
                              "--target-ci", "<command line>") if args.target_ci else None
    sc = simulator.load(args.scenario)
    out = Path(args.out) if args.out else _default_out(sc.name + "-sweep")
    claim = check_out(out, args.overwrite, "--overwrite")
    jobs = args.workers or os.cpu_count() or 1
    try:
        res = sweep.run_sweep(sc, out, jobs=jobs, points=args.points, sampling=args.sampling,
                              sample_seed=args.sample_seed, resume=args.resume,
                              progress=False if args.quiet else None, dask=dask,
                              target_ci=targets, max_replications=args.max_replications)
        res.plots = not args.no_plots
    except BaseException as exc:
        if not isinstance(exc, UserError) and sweep.partial_folder(claim.path).exists():
            print(f"finished points are kept in {sweep.partial_folder(claim.path)}; "
                  "run the same command with --resume to continue", file=sys.stderr)
        raise
    res.info["scenario_file"] = str(args.scenario)
    res.info["command"] = ["simulator", *(sys.argv[1:] if argv is None else argv)]
    path = sweep.finish(res, claim, args.csv)
    print(f"{res.info['points']} points x {sc.replications} replications "
          f"({res.info['points_resumed']} points from before); results written to {path}")
    return EXIT_OK


def _say_warnings(warnings: Any, show: int = 5) -> None:
    """The first warnings of a run on stderr (all of them are in warnings.csv)."""
    if warnings.empty:
        return
    n = len(warnings)
    print(f"{n} warning{'s' * (n != 1)} (all in warnings.csv){':' if show else ''}",
          file=sys.stderr)
    for w in warnings.head(show).itertuples(index=False):
        print(f"  replication {w.replication}, day {w.time:g}, {w.warehouse}/{w.product}: "
              f"{w.kind}: {w.message}", file=sys.stderr)
    if 0 < show < n:
        print(f"  ... and {n - show} more", file=sys.stderr)


def _validate(args: argparse.Namespace) -> int:
    import simulator

    sc = simulator.load(args.scenario)
    if sc.sweep:  # each swept value on its own (the sweep's module imports pandas)
        from simulator.experiment.sweep import check_values
        check_values(sc)
    print("ok")
    return EXIT_OK


def _forecast(args: argparse.Namespace) -> int:
    """``simulator forecast``: the backtest table, printed and saved as CSV."""
    from simulator import backtest
    from simulator import forecast as fc
    from simulator.history import read_history

    problems = []
    methods = backtest.DEFAULT_METHODS if not args.methods else \
        tuple(m.strip() for m in args.methods.split(",") if m.strip())
    for m in methods:
        if m not in fc.METHODS:
            problems.append(Problem("<command line>", None, "--methods",
                                    f"unknown method {m!r}; methods are: "
                                    + ", ".join(fc.METHODS)))
    if args.horizon < 1:
        problems.append(Problem("<command line>", None, "--horizon", "must be at least 1"))
    if problems:
        raise UserError(problems)
    history = read_history(args.history)
    series = {pid: history.column(pid) for pid in history.products}
    try:
        result = backtest.table(series, methods, args.horizon, args.initial)
    except fc.MissingDependency as exc:
        raise UserError([Problem("<command line>", None, "--methods", str(exc))]) from None
    out = Path(args.out) if args.out else Path(args.history).with_name(
        Path(args.history).stem + "-backtest.csv")
    result.to_csv(out, index=False)
    shown = result.assign(best=result["best"].map({True: "<- best", False: ""}))
    print(f"backtest of {len(methods)} methods on {len(series)} products, "
          f"{history.days} days, horizon {args.horizon} day(s); lower MASE is better "
          "(< 1 beats the naive forecast)")
    print(shown.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"table written to {out}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    try:
        _ctrl_c_raises()
        return _main(argv)
    except KeyboardInterrupt:  # also while the heavy modules are still being imported
        print(INTERRUPTED, file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        import simulator
        print(f"simulator {simulator.__version__}")
        return EXIT_OK
    if args.command is None:
        _parser().print_help(sys.stderr)
        return EXIT_USAGE
    from simulator.experiment.pool import RemoteError, Terminated, WorkerDied, raise_on_sigterm
    try:
        with raise_on_sigterm():
            if args.command in PLUGGED:
                return int(importlib.import_module(PLUGGED[args.command]).run(args))
            if args.command == "forecast":
                return _forecast(args)
            if args.command == "calc":
                return _calc(args)
            if args.command == "abc":
                return _abc(args)
            if args.command == "compare":
                return _compare(args)
            if args.command == "sweep":
                return _sweep(args, argv)
            return _run(args, argv) if args.command == "run" else _validate(args)
    except UserError as exc:
        for problem in exc.problems[:MAX_PROBLEMS]:
            print(problem, file=sys.stderr)
        if len(exc.problems) > MAX_PROBLEMS:
            print(f"... and {len(exc.problems) - MAX_PROBLEMS} more problems (fix these first)",
                  file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print("terminated; no results were written", file=sys.stderr)
        return EXIT_TERMINATED
    except (WorkerDied, RemoteError) as exc:  # a worker process crashed: not the user's input
        print(f"error: {exc}; no results were written", file=sys.stderr)
        return EXIT_FAILED


def _ctrl_c_raises() -> None:
    """From here on Ctrl-C raises KeyboardInterrupt (which :func:`main` reports), replacing
    the quiet exit installed while the command was starting."""
    if threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGINT) is quiet_exit:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def entry() -> int:
    """The ``simulator`` console script (and ``python -m simulator``)."""
    status = main()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the work is done: exit as reported
    if status == EXIT_INTERRUPTED:
        # An import cut short by Ctrl-C can leave the interpreter believing the interrupt
        # went unhandled, and it would then end itself with SIGINT (-2) instead of 130.
        # Nothing is left to clean up (no results, no workers): flush and leave as reported.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
