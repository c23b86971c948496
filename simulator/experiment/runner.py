"""Run replications of a scenario and gather them into :class:`~simulator.results.Results`.

Replication ``i`` always uses the random streams of ``(seed, i, source)``, so the
results do not depend on how many processes run them or in which order.
"""
from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime, timezone
from typing import Any

from simulator.errors import Problem, ScenarioError, UserError
from simulator.experiment.budget import DEFAULT_MAX_EVENTS, check_budget
from simulator.experiment.pool import run_tasks
from simulator.experiment.progress import progress as _progress
from simulator.experiment.replication import ReplicationResult, run_replication
from simulator.observe.recorder import DEFAULT_POINTS
from simulator.results import Results
from simulator.scenario import Scenario, derive, load, locate

#: which replications ``record`` asks for, by the values ``run`` accepts
Recording = Callable[[int], "int | None"]


def check_record(record: Any, points: Any = DEFAULT_POINTS, flag: str = "record",
                 file: str = "<arguments>") -> Recording:
    """``record`` (False or None: nothing; True: replication 0; ``"all"``: every replication)
    and ``points`` (rows per series) as a function of the replication: its bound or None."""
    if isinstance(points, bool) or not isinstance(points, int) or not 2 <= points <= 10**7:
        raise UserError([Problem(file, None, f"{flag}_points",
                                 f"must be a whole number from 2 to 10000000, got {points!r}")])
    if record is None or record is False:
        return lambda r: None
    if record is True:
        return lambda r: points if r == 0 else None
    if record == "all":
        return lambda r: points
    raise UserError([Problem(file, None, flag, "must be False, True (replication 0) or 'all', "
                                               f"got {record!r:.60}")])


def _no_record(replication: int) -> int | None:
    return None


def _serial(sc: Scenario, seed: int, reps: range, bar: Any,
            on_warning: Callable[[dict[str, Any]], Any] | None = None,
            record: Recording = _no_record) -> Iterator[ReplicationResult]:
    for r in reps:
        done = 0.0

        def tick(share: float) -> None:
            nonlocal done
            done += share
            bar.update(share)

        res = run_replication(sc, r, seed, tick if not bar.disable else None, on_warning,
                              record(r))
        bar.update(1.0 - done)
        yield res


def _use_path(path: list[str]) -> None:
    """Worker set-up: the parent's import path, so `module:Class` policies found next to the
    scenario file import there too, whatever the start method (fork, spawn, forkserver)."""
    sys.path[:] = path


def _one(args: tuple[Scenario, int, int, int | None]) -> ReplicationResult:
    sc, r, seed, points = args
    return run_replication(sc, r, seed, record=points)


def _parallel(sc: Scenario, seed: int, reps: range, jobs: int, bar: Any,
              on_warning: Callable[[dict[str, Any]], Any] | None = None,
              record: Recording = _no_record) -> Iterator[ReplicationResult]:
    # simulator.experiment.pool: a worker that raises, dies or is interrupted stops every
    # worker at once and the error reaches the caller; results come in replication order.
    # A worker cannot call back into this process: on_warning is called here with each
    # replication's warnings, in order, when its result arrives
    tasks = ((sc, r, seed, record(r)) for r in reps)
    with closing(run_tasks(_one, tasks, jobs, initializer=_use_path,
                           initargs=(list(sys.path),))) as results:
        for res in results:
            if on_warning is not None:
                for row in res.warnings:
                    on_warning(dict(row))
            yield res
            bar.update(1)


def _dask(sc: Scenario, seed: int, reps: range, address: str, workers: int, bar: Any,
          on_warning: Callable[[dict[str, Any]], Any] | None = None,
          record: Recording = _no_record) -> Iterator[ReplicationResult]:
    # simulator.experiment.dask_backend: the contract of _parallel, on a Dask cluster; each
    # task carries its replication index and the seed (its random-stream key)
    from simulator.experiment import dask_backend

    with dask_backend.connect(address, workers) as client:
        chunk = dask_chunk(len(reps), dask_backend.slots(client))
        tasks = ((sc, r, seed, record(r)) for r in reps)
        with closing(dask_backend.run_tasks(_one, tasks, initializer=dask_backend.add_path,
                                            initargs=(list(sys.path),), chunk=chunk,
                                            client=client)) as results:
            for res in results:
                if on_warning is not None:
                    for row in res.warnings:
                        on_warning(dict(row))
                yield res
                bar.update(1)


def dask_chunk(tasks: int, slots: int, most: int = 50) -> int:
    """Replications per Dask task: about four tasks per worker thread (load balance), at most
    ``most`` (a Dask task costs ~5 ms to submit; a batch of 50 about as much as one)."""
    return max(1, min(most, -(-tasks // (4 * slots))))


def check_dask(dask: Any, key: str = "dask", file: str = "<arguments>") -> str | None:
    """``dask`` as None (no Dask) or a scheduler address / ``"local"``, Dask installed."""
    if dask is None:
        return None
    from simulator.experiment.dask_backend import check_address, check_available

    address = check_address(dask, key, file)
    check_available(key, file)
    return address


def check_target_ci(target: Any, cap: Any, flag: str = "target_ci",
                    file: str = "<arguments>") -> dict[str, float]:
    """``target_ci`` as {metric: half-width > 0}, metrics of metrics.csv or
    customer_metrics.csv, and a cap of at least 2 replications."""
    from simulator.observe.customers import CUSTOMER_METRICS
    from simulator.observe.metrics import METRICS
    if target is None:
        return {}
    problems = []
    if not isinstance(target, dict) or not target:
        problems.append(Problem(file, None, flag, "expected {metric: half-width, ...}"))
        raise UserError(problems)
    known = (*METRICS, *CUSTOMER_METRICS)
    for metric, width in target.items():
        if metric not in known:
            problems.append(Problem(file, None, flag, f"unknown metric {metric!r}; metrics "
                                                      f"are: {', '.join(known)}"))
        elif isinstance(width, bool) or not isinstance(width, (int, float)) \
                or not math.isfinite(width) or width <= 0:
            problems.append(Problem(file, None, flag, f"{metric}: the half-width must be a "
                                                      f"number > 0, got {width!r}"))
    if isinstance(cap, bool) or not isinstance(cap, int) or not 2 <= cap <= 1_000_000:
        problems.append(Problem(file, None, "max_replications" if flag == "target_ci"
                                else "--max-replications",
                                "must be a whole number from 2 to 1000000"))
    if problems:
        raise UserError(problems)
    return {m: float(w) for m, w in target.items()}


def _widest(res: Results, metric: str) -> float:
    """The widest 95% t-interval half-width of ``metric`` over the stock points (or
    customers); inf while a key has fewer than two values."""
    from simulator.observe.customers import CUSTOMER_METRICS
    table = res.customer_summary if metric in CUSTOMER_METRICS else res.summary
    rows = table[table["metric"] == metric]
    if rows.empty:
        return 0.0
    n = rows["n"].to_numpy(dtype=float)
    std = rows["std"].to_numpy(dtype=float)
    if (n < 2).any():
        return math.inf if (n > 0).any() else 0.0
    from simulator.stats import t_quantiles
    half = [t * s / math.sqrt(k) for t, s, k in zip(t_quantiles(0.975, n - 1), std, n,
                                                    strict=True) if s == s]
    return max(half) if half else 0.0


def _arg(key: str, message: str) -> UserError:
    return UserError([Problem("<arguments>", None, key, message)])


def check_jobs(jobs: Any) -> int:
    """``jobs`` as a worker count (0: one per core); the same message from the CLI and API."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 0:
        raise _arg("jobs", f"must be a whole number >= 0 (0: one per core), got {jobs!r}")
    return jobs


def check_max_events(max_events: Any) -> float | None:
    """``max_events`` as a bound (None or inf: no bound)."""
    if max_events is None:
        return None
    if isinstance(max_events, bool) or not isinstance(max_events, (int, float)) \
            or max_events != max_events or max_events <= 0:
        raise _arg("max_events", f"must be a number > 0 (or inf for no limit), got "
                                 f"{max_events!r}")
    return None if max_events == float("inf") else float(max_events)


def with_overrides(sc: Scenario, replications: int | None = None,
                   seed: int | None = None) -> Scenario:
    """The scenario with ``replications`` and ``seed`` replaced (when given and valid)."""
    problems = []
    if replications is not None and (isinstance(replications, bool)
                                     or not isinstance(replications, int)
                                     or not 1 <= replications <= 1_000_000):
        problems.append(Problem("<arguments>", None, "replications",
                                "must be a whole number from 1 to 1000000"))
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        problems.append(Problem("<arguments>", None, "seed", "must be a whole number >= 0"))
    if problems:
        raise ScenarioError(problems)
    updates = {k: v for k, v in (("replications", replications), ("seed", seed)) if v is not None}
    return derive(sc, updates) if updates else sc


def _source(scenario: Any) -> Any:
    if isinstance(scenario, (str, os.PathLike, dict, Scenario)):
        return scenario
    raise _arg("scenario", "expected a scenario file (a path), a mapping or a simulator.Scenario,"
                           f" got {type(scenario).__name__} {scenario!r:.60}")


def run(scenario: Any, replications: int | None = None, seed: int | None = None,
        jobs: int = 1, progress: bool | None | Callable[[float], Any] = None,
        max_events: float | None = DEFAULT_MAX_EVENTS,
        on_warning: Callable[[dict[str, Any]], Any] | None = None,
        dask: str | None = None, target_ci: dict[str, float] | None = None,
        max_replications: int = 1000, record: bool | str | None = False,
        record_points: int = DEFAULT_POINTS) -> Results:
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
    progress : bool or callable, optional
        True: a progress bar; False: nothing; None (default): a bar on a terminal, else a
        line with an ETA every half minute for runs that last more than a few seconds; a
        function: called with the share of the replications done (0 to 1; within a
        replication too when ``jobs=1``), at most five times a second and with 1.0 at the
        end (with ``target_ci``, once per round of replications).
    max_events : float, optional
        Refuse runs estimated at more events than this (customer orders and reviews over
        all replications; default 5e8, about a quarter of an hour on one core); None or
        ``inf``: no limit.
    on_warning : callable, optional
        Called with each warning (a dict with the ``warnings.csv`` columns) as it is
        reported: with ``jobs=1``, the warning monitor's as they happen in simulated time
        and the sanity checks' at the end of each replication; with worker processes, which
        cannot call back, all of a replication's warnings when its result arrives, in
        replication order. Either way the calls come in the order of ``warnings.csv``.
    dask : str, optional
        Run the replications on a Dask ``distributed`` cluster (the ``dask`` extra):
        ``"local"`` starts a LocalCluster of ``jobs`` worker processes on this machine (0:
        one per core) and shuts it down at the end; any other value is the address of a
        running scheduler (``tcp://host:8786``; ``jobs`` is then ignored). Results are
        identical to ``jobs=1``.
    target_ci : dict, optional
        ``{metric: half-width}``: after the scenario's replications, add replications until
        every stock point's (or customer's, for a customer metric) 95% t-interval of each
        metric is at most that half-width, or ``max_replications`` are done. Replication r
        uses the same random streams whatever the number run, so the first replications are
        the same as without a target. ``info["target_ci"]`` says whether it was reached.
    max_replications : int
        The cap for ``target_ci`` (default 1000).
    record : bool or str, optional
        Record time series (:mod:`simulator.observe.recorder`; :attr:`Results.series`,
        written as ``timeseries.parquet``): True for replication 0, ``"all"`` for every
        replication; False (default) for none. The metrics are the same either way.
    record_points : int
        Rows kept per series and stock point (default 2000): the recording's memory bound.

    Raises
    ------
    simulator.errors.UserError
        If the scenario or an argument is not valid, or the run is over ``max_events``
        (nothing is run); :class:`~simulator.errors.ScenarioError` for scenario problems.
    """
    jobs = check_jobs(jobs)
    targets = check_target_ci(target_ci, max_replications)
    address = check_dask(dask)
    recording = check_record(record, record_points)
    bound = check_max_events(max_events)
    if progress is not None and not isinstance(progress, bool) and not callable(progress):
        raise _arg("progress", f"must be True, False, None or a function of the share done, "
                               f"got {progress!r}")
    if on_warning is not None and not callable(on_warning):
        raise _arg("on_warning", f"must be a function of one warning (a dict) or None, got "
                                 f"{type(on_warning).__name__} {on_warning!r:.60}")
    sc = with_overrides(load(_source(scenario)), replications=replications, seed=seed)
    check_budget(sc, bound, "max_events=")
    if jobs == 0:
        jobs = os.cpu_count() or 1
    jobs = max(1, min(jobs, sc.replications))
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    source = str(scenario) if isinstance(scenario, (str, os.PathLike)) else None

    def replicate(reps: range) -> list[Any]:
        try:
            with _progress(len(reps), progress) as bar:
                if address is not None:
                    it = _dask(sc, sc.seed, reps, address, jobs, bar, on_warning, recording)
                elif jobs == 1 or len(reps) == 1:
                    it = _serial(sc, sc.seed, reps, bar, on_warning, recording)
                else:
                    it = _parallel(sc, sc.seed, reps, min(jobs, len(reps)), bar, on_warning,
                                   recording)
                return list(it)
        except UserError as exc:  # a built-in policy failing: point at the scenario's line
            exc.problems = locate(sc, exc.problems)
            raise

    done = replicate(range(sc.replications))
    reached = None
    while targets:
        n = len(done)
        current = derive(sc, {"replications": n})
        res = Results.from_replications(current, done, started=started, wall_seconds=0.0,
                                        source=source, jobs=jobs)
        widths = {m: _widest(res, m) for m in targets}
        reached = all(widths[m] <= h for m, h in targets.items())
        if reached or n >= max_replications:
            break
        needed = max(math.ceil(n * (widths[m] / h) ** 2) if math.isfinite(widths[m])
                     else 2 * n for m, h in targets.items())
        more = min(max_replications, max(needed, n + 1)) - n
        done += replicate(range(n, n + more))
    if len(done) != sc.replications:
        sc = derive(sc, {"replications": len(done)})
    wall = time.perf_counter() - t0
    res = Results.from_replications(sc, done, started=started, wall_seconds=wall,
                                    source=source, jobs=jobs)
    if targets:
        res.info["target_ci"] = {"half_widths": dict(targets), "reached": bool(reached),
                                 "max_replications": max_replications,
                                 "replications": len(done)}
    if address is not None:
        res.info["dask"] = address
    return res
