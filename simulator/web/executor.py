"""Runs off the request thread: a bounded pool of worker threads, each run with its own
scenario and :class:`~simulator.results.Results`, progress written to the database.

Threads rather than processes: a run's progress and result reach the database from the
same process, and the caps on replications and horizon keep each run small. The
replications of a run go through the runner's serial loop (the same code as
``simulator.run(jobs=1)``), so a web run's numbers equal a direct run's.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd

from simulator.errors import UserError
from simulator.results import Results
from simulator.scenario import Scenario
from simulator.web.db import Store, now
from simulator.web.intake import shown

#: result tables kept per run (attributes of Results)
TABLES = ("metrics", "summary", "warnings", "customer_metrics", "supplier_metrics")


class Busy(Exception):
    """The queue is full: the run was not accepted."""


def simulate(sc: Scenario, report: Callable[[float], None]) -> Results:
    """``simulator.run(sc, jobs=1)``, reporting progress (0..1; below 1 until the run is
    stored, so a page never shows a full bar before the results are there).

    Raises
    ------
    UserError
        Over the run budget, or a policy failing on the scenario's values.
    """
    from simulator.experiment.runner import run

    return run(sc, jobs=1, progress=lambda share: report(min(share, 0.999)))


def dump(results: Results) -> dict[str, str]:
    """The tables of ``results`` as JSON texts, plus ``info``."""
    out = {name: getattr(results, name).to_json(orient="table", index=False, double_precision=15)
           for name in TABLES}
    out["info"] = json.dumps(results.info, default=str)
    return out


def frame(text: str) -> pd.DataFrame:
    """A table stored by :func:`dump`."""
    from io import StringIO

    return pd.read_json(StringIO(text), orient="table", precise_float=True)


class Executor:
    """Runs queued runs in ``workers`` threads; at most ``max_queue`` waiting or running.

    Parameters
    ----------
    store : Store
        Where status, progress and results go.
    workers : int
        Runs at the same time.
    max_queue : int
        Runs accepted and not yet finished, at most.
    """

    def __init__(self, store: Store, workers: int, max_queue: int):
        self.store = store
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="simulator-run")
        self.max_queue = max_queue
        self._pending = 0
        self._lock = threading.Lock()
        #: finished Results by run id (the latest few, for plots without a rebuild)
        self.cache: dict[str, Results] = {}

    def submit(self, run_id: str, sc: Scenario) -> None:
        """Queue ``sc`` as run ``run_id``; :class:`Busy` if the queue is full."""
        with self._lock:
            if self._pending >= self.max_queue:
                raise Busy()
            self._pending += 1
        self.pool.submit(self._work, run_id, sc)

    def _work(self, run_id: str, sc: Scenario) -> None:
        try:
            self.store.set(run_id, status="running", started=now())
            res = simulate(sc, lambda share: self.store.set(run_id, progress=share))
            self.store.put_tables(run_id, dump(res))
            self._remember(run_id, res)
            self.store.set(run_id, status="done", progress=1.0, finished=now())
        except UserError as exc:
            self.store.set(run_id, status="failed", finished=now(),
                           problems=json.dumps([shown(p) for p in exc.problems]))
        except Exception as exc:  # a bug: the run fails, the server goes on
            self.store.set(run_id, status="failed", finished=now(),
                           error=f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._pending -= 1

    def _remember(self, run_id: str, res: Results, keep: int = 8) -> None:
        with self._lock:
            self.cache[run_id] = res
            while len(self.cache) > keep:
                self.cache.pop(next(iter(self.cache)))

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def rebuild(sc: Scenario, tables: dict[str, str | None]) -> Results:
    """A run's :class:`Results` from its stored tables and its scenario."""
    def get(name: str) -> pd.DataFrame | None:
        text = tables.get(name)
        return None if text is None else frame(text)

    metrics, warns = get("metrics"), get("warnings")
    info = json.loads(tables.get("info") or "{}")
    assert metrics is not None and warns is not None
    return Results(sc, metrics, warns, info, get("supplier_metrics"), get("customer_metrics"))


def status_of(store: Store, run_id: str) -> dict[str, Any] | None:
    run = store.get(run_id)
    return None if run is None else run.status_record()
