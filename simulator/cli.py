"""Command line: ``simulator run|validate SCENARIO.yaml`` (also ``python -m simulator``).

Bad input never ends in a traceback: each problem is printed as
``FILE:LINE: dotted.key: message`` on stderr and the exit status is 2.
"""
from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from pathlib import Path

from simulator.errors import UserError

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130


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
    r.add_argument("--overwrite", action="store_true",
                   help="replace --out if it exists (only after the run succeeded)")
    r.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    v = sub.add_parser("validate", help="check a scenario file; print ok or the problems")
    v.add_argument("scenario", help="scenario YAML file")
    return p


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
    from simulator.experiment.runner import with_overrides
    from simulator.results import check_out

    sc = with_overrides(simulator.load(args.scenario), args.replications, args.seed)
    if args.jobs < 0:
        raise UserError([simulator.Problem("<arguments>", None, "jobs",
                                           "must be 0 (every core) or more")])
    out = Path(args.out) if args.out else _default_out(sc.name)
    check_out(out, args.overwrite)  # refuse before running, not after minutes of work
    res = simulator.run(sc, jobs=args.jobs, progress=False if args.quiet else None)
    res.info["scenario_file"] = str(args.scenario)
    res.info["command"] = ["simulator", *(sys.argv[1:] if argv is None else argv)]
    path = res.save(out, overwrite=args.overwrite)
    if not args.quiet:
        print(res.table())
    print(f"results written to {path}")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    import simulator

    simulator.load(args.scenario)
    print("ok")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        import simulator
        print(f"simulator {simulator.__version__}")
        return EXIT_OK
    if args.command is None:
        _parser().print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return _run(args, argv) if args.command == "run" else _validate(args)
    except UserError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted; no results were written", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
