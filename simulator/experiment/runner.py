"""Run replications of a scenario and gather them into :class:`~simulator.results.Results`.

Replication ``i`` always uses the random streams of ``(seed, i, source)``, so the
results do not depend on how many processes run them or in which order.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from simulator.errors import Problem, ScenarioError
from simulator.experiment.replication import ReplicationResult, run_replication
from simulator.results import Results
from simulator.scenario import Scenario, load


def _progress(total: int, enabled: bool | None) -> Any:
    from tqdm import tqdm
    # shown on a terminal, and only if the run lasts more than a moment
    disable = None if enabled is None else not enabled  # None: only on a terminal
    return tqdm(total=total, unit="rep", desc="replications", delay=1.0, disable=disable,
                leave=False, bar_format="{l_bar}{bar}| {n:.1f}/{total} [{elapsed}<{remaining}]")


def _serial(sc: Scenario, seed: int, reps: range, bar: Any) -> Iterator[ReplicationResult]:
    for r in reps:
        done = 0.0

        def tick(share: float) -> None:
            nonlocal done
            done += share
            bar.update(share)

        res = run_replication(sc, r, seed, tick if not bar.disable else None)
        bar.update(1.0 - done)
        yield res


def _use_path(path: list[str]) -> None:
    """Worker set-up: the parent's import path; Ctrl-C is the parent's to handle (it stops
    the workers), so a worker does not print a traceback of its own."""
    sys.path[:] = path
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _one(args: tuple[Scenario, int, int]) -> ReplicationResult:
    return run_replication(*args)


def _parallel(sc: Scenario, seed: int, reps: range, jobs: int,
              bar: Any) -> Iterator[ReplicationResult]:
    # workers get this process's import path, so `module:Class` policies found next to
    # the scenario file import there too, whatever the start method (fork, spawn, forkserver)
    pool = multiprocessing.Pool(jobs, initializer=_use_path, initargs=(list(sys.path),))
    try:
        for res in pool.imap(_one, [(sc, r, seed) for r in reps]):  # in replication order
            yield res
            bar.update(1)
        pool.close()
    except BaseException:  # an error in a replication, or Ctrl-C: stop every worker now
        pool.terminate()
        raise
    finally:
        pool.join()


def with_overrides(sc: Scenario, replications: int | None = None,
                   seed: int | None = None) -> Scenario:
    """The scenario with ``replications`` and ``seed`` replaced (when given and valid)."""
    problems = []
    if replications is not None and (not isinstance(replications, int) or replications < 1):
        problems.append(Problem("<arguments>", None, "replications", "must be a whole number >= 1"))
    if seed is not None and (not isinstance(seed, int) or seed < 0):
        problems.append(Problem("<arguments>", None, "seed", "must be a whole number >= 0"))
    if problems:
        raise ScenarioError(problems)
    updates = {k: v for k, v in (("replications", replications), ("seed", seed)) if v is not None}
    return sc.model_copy(update=updates) if updates else sc


def run(scenario: Any, replications: int | None = None, seed: int | None = None,
        jobs: int = 1, progress: bool | None = None) -> Results:
    """Run a scenario and return its :class:`~simulator.results.Results`.

    Parameters
    ----------
    scenario : str, path, dict or Scenario
        A YAML file, a mapping with the same keys, or a loaded scenario.
    replications, seed : int, optional
        Override the scenario's ``replications`` and ``seed``.
    jobs : int
        Worker processes (1: in this process; 0: one per core). Results are identical
        for any value.
    progress : bool, optional
        Show a progress bar (default: on a terminal, when the run takes over a second).

    Raises
    ------
    simulator.errors.ScenarioError
        If the scenario is not valid (nothing is run).
    """
    sc = with_overrides(load(scenario), replications=replications, seed=seed)
    if jobs == 0:
        jobs = os.cpu_count() or 1
    jobs = max(1, min(jobs, sc.replications))
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    reps = range(sc.replications)
    with _progress(sc.replications, progress) as bar:
        it = _serial(sc, sc.seed, reps, bar) if jobs == 1 else \
            _parallel(sc, sc.seed, reps, jobs, bar)
        done = list(it)
    wall = time.perf_counter() - t0
    source = str(scenario) if isinstance(scenario, (str, os.PathLike)) else None
    return Results.from_replications(sc, done, started=started, wall_seconds=wall,
                                     source=source, jobs=jobs)
