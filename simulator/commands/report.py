"""``simulator report RESULTS_DIR``: a self-contained ``report.html`` for a results folder
(a run, a sweep or an optimisation; :mod:`simulator.report`)."""
from __future__ import annotations

import argparse
from pathlib import Path

from simulator.errors import Problem, UserError

HELP = "write RESULTS_DIR/report.html: KPI tables, plots, warnings and the scenario, offline"

#: the problem keys of the API, as the command line names them
_FLAGS = {"folder": "RESULTS_DIR", "out": "--out", "stock": "--stock",
          "replication": "--replication"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    parser.add_argument("results_dir", metavar="RESULTS_DIR",
                        help="a results folder of simulator run, sweep or optimize")
    parser.add_argument("--out", metavar="FILE",
                        help="write the report here (default: RESULTS_DIR/report.html)")
    parser.add_argument("--plots", action="store_true",
                        help="also write the run's plots as RESULTS_DIR/plots/*.png")
    parser.add_argument("--stock", action="append", default=[], metavar="WAREHOUSE/PRODUCT",
                        help="draw this recorded stock point's levels over time (repeatable; "
                             "default: the first 24 recorded)")
    parser.add_argument("--replication", type=int, metavar="N",
                        help="draw the time series of this recorded replication (default: "
                             "the first recorded; simulator run --record-all records all)")


def run(args: argparse.Namespace) -> int:
    """Write the report (and the plots with ``--plots``); print where. Exit status 0."""
    from simulator.report import write_report

    try:
        path = write_report(args.results_dir, args.out, args.stock, args.replication)
        if args.plots:
            from simulator.plots.run import write_run_plots
            if (Path(args.results_dir) / "metrics.csv").is_file():
                write_run_plots(args.results_dir, stock=args.stock,
                                replication=args.replication)
    except UserError as exc:
        exc.problems = [Problem("<command line>", None, _FLAGS.get(p.key, p.key), p.message)
                        if p.file == "<arguments>" else p for p in exc.problems]
        raise
    print(f"report written to {path}")
    return 0
