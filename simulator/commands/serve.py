"""``simulator serve``: the web app (a page and the JSON API of SPEC section 10)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from simulator.errors import Problem, UserError

HELP = "serve the web app: pick or upload a scenario, run it, see and compare the results"

#: the default database, in the folder the server is started from
DEFAULT_DATABASE = "sqlite:///simulator-web.db"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--database", default=DEFAULT_DATABASE, metavar="URL",
                   help=f"SQLAlchemy URL of the runs database (default {DEFAULT_DATABASE})")
    p.add_argument("--examples", metavar="DIR", default=None,
                   help="folder of example scenarios the page offers (default: the project's "
                        "scenarios/ in a source checkout, else ./scenarios)")
    p.add_argument("--allow-code", action="store_true",
                   help="accept module:Class policies (imports code on the server; only for "
                        "trusted users)")
    p.add_argument("--max-upload-kb", type=int, default=256, metavar="KB",
                   help="largest request body in KiB (default 256)")
    p.add_argument("--max-replications", type=int, default=100, metavar="N",
                   help="most replications of one run (default 100)")
    p.add_argument("--max-horizon", type=float, default=3650, metavar="DAYS",
                   help="longest horizon of one run in days (default 3650)")
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="runs executed at the same time (default 2)")
    p.add_argument("--max-queue", type=int, default=16, metavar="N",
                   help="runs queued or running at once; more are refused with 503 "
                        "(default 16)")


def _limits(args: argparse.Namespace) -> Any:
    from simulator.web.intake import Limits

    bad = [Problem("<arguments>", None, f"--{name.replace('_', '-')}", "must be at least 1")
           for name in ("max_upload_kb", "max_replications", "max_horizon", "workers",
                        "max_queue") if not getattr(args, name) >= 1]
    if not 0 < args.port < 65536:
        bad.append(Problem("<arguments>", None, "--port", "must be from 1 to 65535"))
    if bad:
        raise UserError(bad)
    return Limits(max_upload_kb=args.max_upload_kb, max_replications=args.max_replications,
                  max_horizon=args.max_horizon, max_queue=args.max_queue, workers=args.workers)


def _app(args: argparse.Namespace) -> Any:
    from sqlalchemy.exc import ArgumentError, OperationalError

    from simulator.web import create_app

    limits = _limits(args)
    try:
        return create_app(args.database, allow_code=args.allow_code, limits=limits,
                          examples=args.examples)
    except (ArgumentError, OperationalError, ImportError) as exc:
        raise UserError([Problem("<arguments>", None, "--database",
                                 f"cannot open {args.database!r}: {exc}")]) from None


def run(args: argparse.Namespace) -> int:
    try:
        import flask  # noqa: F401
    except ImportError:
        raise UserError([Problem("<arguments>", None, "serve", "the web app needs Flask and "
                                 "SQLAlchemy: pip install 'simulator[web]'")]) from None
    app = _app(args)
    url = f"http://{args.host}:{args.port}/"
    print(f"serving on {url} (Ctrl-C stops)", file=sys.stderr, flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"note: --host {args.host} lets other machines in; the app has no accounts, so "
              "anyone who reaches it can run scenarios and see every run", file=sys.stderr,
              flush=True)
    try:
        from waitress import serve
    except ImportError:
        app.run(host=args.host, port=args.port, threaded=True)
    else:
        serve(app, host=args.host, port=args.port, threads=8)
    return 0
