"""Per-task overhead of the execution backends: serial, process pool, Dask LocalCluster.

    python benchmarks/backends.py [--workers 2] [--tasks 400] [--repeat 3]

Two kinds of task, each run through every backend:

* ``noop``: ``fn(x) = x`` -- the pure cost of handing out a task and collecting its result;
* ``replication``: one replication of a trivial scenario (one product, one supplier, one
  customer at 5 orders a day, 30 days): ``run_replication(sc, r, seed)``, the runner's task,
  whose arguments include the pickled scenario.

Backends: ``serial`` (a loop in this process), ``pool`` (simulator.experiment.pool.run_tasks,
fork, ``--workers`` processes) and ``dask`` (simulator.experiment.dask_backend.run_tasks on a
LocalCluster of ``--workers`` processes, started once and not timed; its start-up is reported
apart), each with chunks of 1 and of 50 tasks.

Reported per backend, median of ``--repeat``: ``wall ms/task`` = wall time / tasks, and
``overhead ms/task`` = (wall x workers - serial wall) / tasks: the worker time per task that
is not the task itself (for the pool and Dask; 0 for serial by definition). On a machine with
fewer free cores than ``--workers`` the overhead includes waiting for a core.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.experiment import dask_backend, pool
from simulator.experiment.replication import run_replication
from simulator.scenario import load

SCENARIO = {
    "name": "trivial",
    "horizon": 30,
    "replications": 1,
    "products": [{"id": "p", "holding_cost": 1}],
    "suppliers": [{"id": "s", "lead_time": 2}],
    "warehouses": [{"id": "w", "inventory": {"p": {"source": "s", "initial": 20,
                                                   "policy": {"type": "sS", "s": 10,
                                                              "S": 30}}}}],
    "customers": [{"id": "c", "warehouse": "w", "demand": {"p": {"rate": 5}}}],
}


def noop(x: Any) -> Any:
    return x


def replication(args: tuple[Any, int, int]) -> Any:
    return run_replication(*args)


def timed(fn: Callable[[Any], Any], tasks: list[Any], run: Callable[..., Iterable[Any]],
          **kwargs: Any) -> float:
    t0 = time.perf_counter()
    n = sum(1 for _ in run(fn, iter(tasks), **kwargs))
    assert n == len(tasks)
    return time.perf_counter() - t0


def serial(fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterable[Any]:
    return map(fn, tasks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tasks", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    sc = load(SCENARIO)
    kinds = {"noop": (noop, list(range(a.tasks))),
             "replication": (replication, [(sc, r, 1) for r in range(a.tasks)])}
    t0 = time.perf_counter()
    with dask_backend.connect("local", a.workers) as client:
        startup = time.perf_counter() - t0
        pool_start = statistics.median(
            timed(noop, list(range(a.workers)), pool.run_tasks, jobs=a.workers)
            for _ in range(a.repeat))
        print(f"Dask LocalCluster of {a.workers} workers: started and connected in "
              f"{startup:.2f} s (not in the table); process pool: {pool_start * 1e3:.1f} ms "
              f"to start, run {a.workers} no-op tasks on and stop {a.workers} workers (in the "
              f"table: it starts its workers on every call); {a.tasks} tasks per "
              f"measurement, median of {a.repeat}\n")
        print("| task | backend | chunk | wall ms/task | overhead ms/task |")
        print("|---|---|---|---|---|")
        for kind, (fn, tasks) in kinds.items():
            for line in rows(kind, fn, tasks, client, a.workers, a.repeat):
                print(line, flush=True)


def rows(kind: str, fn: Callable[[Any], Any], tasks: list[Any], client: Any, workers: int,
         repeat: int) -> Iterable[str]:
    """The table rows of one kind of task: serial first (the base), then pool and Dask."""
    runs: dict[tuple[str, int], Callable[[], float]] = {
        ("serial", 1): lambda: timed(fn, tasks, serial),
    }
    for chunk in (1, 50):
        runs[("pool", chunk)] = lambda c=chunk: timed(fn, tasks, pool.run_tasks,
                                                      jobs=workers, chunk=c)
        runs[("dask", chunk)] = lambda c=chunk: timed(fn, tasks, dask_backend.run_tasks,
                                                      chunk=c, client=client)
    base = None
    for (backend, chunk), go in runs.items():
        go()  # warm-up: imports in the workers, first connections
        wall = statistics.median(go() for _ in range(repeat))
        if base is None:
            base = wall
        n = 1 if backend == "serial" else workers
        over = (wall * n - base) / len(tasks)
        yield (f"| {kind} | {backend} | {chunk} | {wall / len(tasks) * 1e3:.3f} | "
               f"{over * 1e3:.3f} |")

if __name__ == "__main__":
    main()
