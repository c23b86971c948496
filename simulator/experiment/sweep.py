"""``simulator sweep``: run a scenario at every point of its ``sweep:`` section (SPEC 9).

Points: the full grid of the keys given as value lists, times ``points`` samples of the keys
given as ranges (uniform at random, or a Latin hypercube: each range cut into ``points``
equal strata, one sample in each). Each point is the scenario with those values
(:func:`simulator.experiment.keys.apply_overrides`, validated before anything runs) and runs
the scenario's replications on the same random streams as the plain run (common random
numbers): point p, replication r is replication r of ``simulator run`` on that scenario.

Finished points are written at once, each to its own file in a hidden folder beside the
results folder (written to a temporary name, then renamed: a file there is complete), so an
interrupted or killed sweep resumes with ``resume=True`` without recomputing or repeating a
point; when every point is in, the results folder is written atomically
(:mod:`simulator.outdir`) and the hidden folder removed.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator import outdir
from simulator.errors import Problem, UserError
from simulator.experiment.keys import apply_overrides
from simulator.experiment.pool import run_tasks
from simulator.experiment.progress import progress as _progress
from simulator.experiment.replication import ReplicationResult, run_replication
from simulator.results import ID_COLUMNS, METRIC_RANGES, METRICS, package_versions, summarize_by
from simulator.scenario import _ORIGINS, Scenario, derive
from simulator.scenario.models import SweepRange

SAMPLINGS = ("lhs", "random")
#: sampled points when ``points`` is not given
DEFAULT_POINTS = 10
_PART = "point-{:06d}.parquet"


# -- points -----------------------------------------------------------------------------------

def _unit_samples(n: int, dims: int, sampling: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` x ``dims`` numbers in [0, 1): uniform, or a Latin hypercube (in every column
    exactly one number in each stratum ``[k/n, (k+1)/n)``)."""
    if sampling == "random":
        return rng.random((n, dims))
    strata = np.stack([rng.permutation(n) for _ in range(dims)], axis=1)
    return (strata + rng.random((n, dims))) / n


def _scale(u: np.ndarray, r: SweepRange) -> list[Any]:
    """Unit samples mapped onto a range (whole numbers: each of ``ceil(low)..floor(high)``
    covers an equal share of [0, 1))."""
    if not r.integer:
        return [float(r.low + x * (r.high - r.low)) for x in u]
    lo, hi = math.ceil(r.low), math.floor(r.high)
    return [int(min(hi, lo + math.floor(x * (hi - lo + 1)))) for x in u]


def sweep_points(sweep: Mapping[str, Any], points: int | None = None, sampling: str = "lhs",
                 seed: int = 0) -> list[dict[str, Any]]:
    """Every point of a ``sweep:`` section: key -> value, in the section's key order.

    Parameters
    ----------
    sweep : mapping
        Dotted key -> tuple of values (grid) or :class:`SweepRange`.
    points : int, optional
        Samples of the range keys (default :data:`DEFAULT_POINTS`); each is combined with
        every grid point.
    sampling : {"lhs", "random"}
        Latin hypercube or independent uniform samples.
    seed : int
        Seed of the samples (the same seed gives the same points).
    """
    grid = {k: v for k, v in sweep.items() if not isinstance(v, SweepRange)}
    ranges = {k: v for k, v in sweep.items() if isinstance(v, SweepRange)}
    combos = [dict(zip(grid, values, strict=True))
              for values in itertools.product(*grid.values())]
    if ranges:
        n = DEFAULT_POINTS if points is None else points
        rng = np.random.default_rng([seed, 0x5EE9])
        u = _unit_samples(n, len(ranges), sampling, rng)
        cols = [_scale(u[:, j], r) for j, r in enumerate(ranges.values())]
        samples = [dict(zip(ranges, values, strict=True)) for values in zip(*cols, strict=True)]
        combos = [{**g, **s} for g in combos for s in samples]
    return [{k: c[k] for k in sweep} for c in combos]


def point_scenarios(sc: Scenario, points: list[dict[str, Any]]) -> list[Scenario]:
    """The scenario of every point (without its ``sweep:`` section), each validated; every
    bad value of every point is reported as ``FILE:LINE: sweep.KEY: message``."""
    file, lines = _ORIGINS.get(id(sc), ("<dict>", None))
    base = derive(sc, {"sweep": None})

    def origin(key: str) -> tuple[str, int | None, str]:
        line = lines.line(("sweep", key)) if lines is not None else None
        return (file, line, f"sweep.{key}")

    out, problems = [], []
    for p in points:
        try:
            out.append(apply_overrides(base, p, origin))
        except UserError as exc:
            problems += [q for q in exc.problems if q not in problems]
    if problems:
        raise UserError(problems)
    return out


def check_values(sc: Scenario) -> None:
    """Check each swept value on its own (every list value; a range's ends), as ``simulator
    validate`` does; combinations are checked when the sweep starts (:func:`point_scenarios`).

    Raises
    ------
    UserError
        ``FILE:LINE: sweep.KEY: message (value V)`` for every value the scenario refuses.
    """
    if not sc.sweep:
        return
    singles = []
    for key, axis in sc.sweep.items():
        if isinstance(axis, SweepRange):
            ends = _scale(np.array([0.0, 1.0 - 1e-12]), axis) if axis.integer \
                else [axis.low, axis.high]
            singles += [{key: v} for v in dict.fromkeys(ends)]
        else:
            singles += [{key: v} for v in axis]
    point_scenarios(sc, singles)


# -- running ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Task:
    point: int
    scenario: Scenario
    replications: tuple[int, ...]


def _run_task(task: _Task) -> tuple[int, list[ReplicationResult]]:
    sc = task.scenario
    return task.point, [run_replication(sc, r, sc.seed) for r in task.replications]


def _use_path(path: list[str]) -> None:
    sys.path[:] = path


def _tasks(scenarios: list[Scenario], ranges: dict[int, range], batch: int) -> Iterator[_Task]:
    for p, reps in ranges.items():
        for start in range(0, len(reps), batch):
            yield _Task(p, scenarios[p], tuple(reps[start:start + batch]))


def _batch(todo: list[int], replications: int, jobs: int) -> int:
    """Replications per task: all of a point's, unless fewer tasks than 4 per worker."""
    if jobs == 1 or not todo:
        return max(1, replications)
    return max(1, min(replications, math.ceil(len(todo) * replications / (4 * jobs))))


def _frame(point: dict[str, Any], reps: list[ReplicationResult],
           textual: set[str]) -> pd.DataFrame:
    rows = [row for r in sorted(reps, key=lambda r: r.replication) for row in r.rows]
    df = pd.DataFrame(rows, columns=[*ID_COLUMNS, *METRICS])
    for i, (key, value) in enumerate(point.items()):
        df.insert(i, key, [_text(value) if key in textual else value] * len(df))
    return df


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> str:
    """A swept value that is not a number as a table cell: text as it is, else JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _textual(pts: list[dict[str, Any]]) -> set[str]:
    """The swept keys whose column is text (any value not a number)."""
    return {k for p in pts for k, v in p.items() if not _is_number(v)}


def _write_part(folder: Path, point: int, df: pd.DataFrame) -> None:
    """One finished point, complete or not at all (temporary name, fsync, rename)."""
    final = folder / _PART.format(point)
    tmp = folder / f".{final.name}.{os.getpid()}.tmp"
    df.to_parquet(tmp, index=False)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)


def _done_points(folder: Path, n: int) -> set[int]:
    done = set()
    for entry in folder.iterdir():
        name = entry.name
        if name.startswith("point-") and name.endswith(".parquet"):
            try:
                p = int(name[6:-8])
            except ValueError:
                continue
            if 0 <= p < n:
                done.add(p)
    return done


def partial_folder(out: Path) -> Path:
    """The hidden folder beside ``out`` holding the finished points of an unfinished sweep."""
    return out.parent / f".{out.name}.sweep-partial"


def _fingerprint(sc: Scenario, points: list[dict[str, Any]]) -> str:
    blob = json.dumps({"scenario": sc.to_dict(), "points": points}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _open_partial(folder: Path, fingerprint: str, resume: bool, out: Path) -> None:
    """Create the partial folder, or check that the one found belongs to this sweep."""
    manifest = folder / "sweep.json"
    if folder.exists():
        if not resume:
            raise UserError([Problem(str(out), None, "out", f"an unfinished sweep into this "
                                     f"folder is kept in {folder}: pass --resume to continue "
                                     "it, or delete that folder to start over")])
        try:
            found = json.loads(manifest.read_text())["fingerprint"]
        except (OSError, ValueError, KeyError, TypeError):
            found = None
        if found != fingerprint:
            raise UserError([Problem(str(out), None, "--resume", f"the unfinished sweep in "
                                     f"{folder} was for another scenario or other points; "
                                     "delete that folder to start over")])
        return
    folder.mkdir(parents=True)
    tmp = folder / ".sweep.json.tmp"
    tmp.write_text(json.dumps({"fingerprint": fingerprint}) + "\n")
    os.replace(tmp, manifest)


def _cannot(out: Path, folder: Path, exc: OSError) -> UserError:
    """The finished points cannot be kept (disk full, read-only, ...): a user error."""
    why = exc.strerror or str(exc)
    return UserError([Problem(str(out), None, "out", f"cannot keep the finished points in "
                              f"{folder}: {why}; the points finished before are kept there")])


@dataclass
class SweepResult:
    """A finished sweep: :attr:`table` (one row per point x replication x warehouse x
    product), :attr:`points` (mean and 95% t-interval per point and metric), the base
    :attr:`scenario` and :attr:`info` (provenance, run.json)."""

    scenario: Scenario
    keys: list[str]
    table: pd.DataFrame
    points: pd.DataFrame
    info: dict[str, Any]
    #: write PNG plots into ``plots/`` (simulator.plots.sweep)
    plots: bool = True

    def write(self, folder: Path, csv: bool = False) -> None:
        """Write the files into ``folder`` (run.json last)."""
        import yaml
        self.table.to_parquet(folder / "sweep.parquet", index=False)
        if csv:
            self.table.to_csv(folder / "sweep.csv", index=False)
        self.points.to_csv(folder / "points.csv", index=False)
        if self.plots:
            from simulator.plots.sweep import plot_sweep
            plot_sweep(self.table, folder / "plots")
        with open(folder / "scenario.yaml", "w", encoding="utf-8") as f:
            f.write(f"# {self.scenario.name}: the scenario swept, every default filled in\n")
            yaml.safe_dump(self.scenario.to_dict(), f, sort_keys=False, allow_unicode=True)
        with open(folder / "run.json", "w", encoding="utf-8") as f:
            json.dump(self.info, f, indent=2, default=str)
            f.write("\n")


def _summaries(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    by = ["point", *keys, "warehouse", "product"]
    return summarize_by(table, by, METRICS, METRIC_RANGES)


def run_sweep(sc: Scenario, out: Path, *, jobs: int = 1, points: int | None = None,
              sampling: str = "lhs", sample_seed: int | None = None, resume: bool = False,
              progress: bool | None = None, dask: str | None = None,
              target_ci: dict[str, float] | None = None,
              max_replications: int = 1000) -> SweepResult:
    """Run every point of ``sc.sweep``; finished points are kept beside ``out`` until all
    are in (see the module docstring). Returns the result; the caller writes ``out``.

    Parameters
    ----------
    sc : Scenario
        With a ``sweep:`` section.
    out : Path
        The results folder to be written (names the partial folder beside it).
    jobs : int
        Worker processes (1: this process). The numbers do not depend on it.
    points, sampling, sample_seed
        Samples of the range keys (:func:`sweep_points`); the seed defaults to the
        scenario's ``seed``.
    resume : bool
        Continue an unfinished sweep into ``out`` (its finished points are not run again).
    progress : bool, optional
        As for :func:`simulator.run`.
    dask : str, optional
        Run the tasks on a Dask cluster: ``"local"`` (a LocalCluster of ``jobs`` workers, 0:
        one per core) or a scheduler address; the numbers do not depend on it.
    target_ci, max_replications
        As for :func:`simulator.run`, per point: after its replications, a point gets more
        until every stock point's 95% interval of each metric is at most the half-width (or
        it has ``max_replications``). Each round rewrites the point's file, so an
        interrupted sweep resumes from what it had.
    """
    if not sc.sweep:
        raise UserError([Problem(_ORIGINS.get(id(sc), ("<dict>",))[0], None, "sweep",
                                 "the scenario has no sweep: section (dotted keys -> "
                                 "values or {low, high})")])
    seed = sc.seed if sample_seed is None else sample_seed
    pts = sweep_points(sc.sweep, points, sampling, seed)
    scenarios = point_scenarios(sc, pts)
    keys = list(sc.sweep)
    folder = partial_folder(Path(os.path.abspath(out)))
    try:
        _open_partial(folder, _fingerprint(sc, pts), resume, out)
        done = _done_points(folder, len(pts))
    except OSError as exc:
        raise _cannot(out, folder, exc) from exc
    todo = [p for p in range(len(pts)) if p not in done]
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    if dask is None:
        jobs = max(1, min(jobs, len(todo) * sc.replications or 1))
    batch = _batch(todo, sc.replications, max(jobs, 1))
    try:
        ranges = {p: range(scenarios[p].replications) for p in todo}
        frames = _execute(scenarios, pts, ranges, batch, jobs, folder, progress, dask)
        frames.update({p: pd.read_parquet(folder / _PART.format(p)) for p in done})
        while target_ci:
            more = _more_replications(frames, target_ci, max_replications)
            if not more:
                break
            extra = sum(len(r) for r in more.values())
            step = max(1, min(max(len(r) for r in more.values()),
                              math.ceil(extra / (4 * max(jobs, 1)))))
            frames.update(_execute(scenarios, pts, more, step, jobs, folder, progress, dask,
                                   before=frames))
    except OSError as exc:
        if exc.errno is None:
            raise
        raise _cannot(out, folder, exc) from exc
    table = pd.concat([frames[p].assign(point=p) for p in range(len(pts))],
                      ignore_index=True)
    summary = _summaries(table, keys)
    table = table.drop(columns="point")
    info = {**outdir.RUN_MARKER, "kind": "sweep",
            "version": package_versions()["simulator"], "scenario_name": sc.name,
            "seed": sc.seed, "replications": sc.replications, "keys": keys,
            "points": len(pts), "points_resumed": len(done), "sampling": sampling,
            "points_requested": points, "sample_seed": seed, "jobs": jobs, "dask": dask,
            "target_ci": dict(target_ci or {}) or None,
            "replications_per_point": {str(p): int(frames[p]["replication"].nunique())
                                       for p in range(len(pts))} if target_ci else None,
            "replications_per_task": batch,
            "started": started.isoformat(timespec="seconds"),
            "wall_seconds": round(time.perf_counter() - t0, 3),
            "python": sys.version.split()[0], "packages": dict(package_versions())}
    return SweepResult(sc, keys, table, summary, info)


def task_results(tasks: Iterable[_Task], jobs: int, dask: str | None,
                 client: Any = None) -> Any:
    """``(point, replication results)`` of each task, in order, run in this process
    (``jobs == 1``), in worker processes, or on a Dask cluster (``dask``: ``"local"`` or a
    scheduler address; ``client``: an open client to reuse). Close it (``closing``) to stop
    the workers early."""
    if dask is not None:
        from simulator.experiment import dask_backend
        return dask_backend.run_tasks(_run_task, tasks, dask, workers=jobs or None,
                                      initializer=_use_path, initargs=(list(sys.path),),
                                      client=client)
    if jobs == 1:
        return (_run_task(t) for t in tasks)
    return run_tasks(_run_task, tasks, jobs, initializer=_use_path, initargs=(list(sys.path),))


def _execute(scenarios: list[Scenario], pts: list[dict[str, Any]], ranges: dict[int, range],
             batch: int, jobs: int, folder: Path, progress: bool | None,
             dask: str | None = None,
             before: dict[int, pd.DataFrame] | None = None) -> dict[int, pd.DataFrame]:
    """Run replications ``ranges[p]`` of each point p; as soon as a point's are all in, write
    its table (with its rows from ``before``, if any: more replications of a finished point)
    and return the tables."""
    frames: dict[int, pd.DataFrame] = {}
    total = sum(len(r) for r in ranges.values())
    textual = _textual(pts)
    pending: dict[int, list[ReplicationResult]] = {}
    tasks = _tasks(scenarios, ranges, batch)
    with _progress(total, progress) as bar:
        results = task_results(tasks, jobs, dask)
        with closing(results):
            for p, reps in results:
                got = pending.setdefault(p, [])
                got += reps
                bar.update(len(reps))
                if len(got) == len(ranges[p]):
                    new = _frame(pts[p], pending.pop(p), textual)
                    old = (before or {}).get(p)
                    frames[p] = new if old is None else \
                        pd.concat([old, new], ignore_index=True)
                    _write_part(folder, p, frames[p])
    return frames


def _more_replications(frames: dict[int, pd.DataFrame], targets: dict[str, float],
                       cap: int) -> dict[int, range]:
    """For ``--target-ci``: the replications each point still needs so that every stock
    point's 95% t-interval of each target metric is at most its half-width (estimated from
    the current standard deviation, at least one more, at most ``cap`` in all)."""
    from simulator.stats import t_quantile
    need: dict[int, range] = {}
    for p, df in frames.items():
        have = int(df["replication"].nunique())
        if have >= cap:
            continue
        want = have
        for metric, h in targets.items():
            g = df.groupby(["warehouse", "product"])[metric].agg(["count", "std"])
            for n, sd in zip(g["count"], g["std"], strict=True):
                if n < 2:
                    want = max(want, 2 * have) if n else want
                elif sd == sd and t_quantile(0.975, n - 1) * sd / math.sqrt(n) > h:
                    width = t_quantile(0.975, n - 1) * sd / math.sqrt(n)
                    want = max(want, have + 1, math.ceil(have * (width / h) ** 2))
        if want > have:
            need[p] = range(have, min(cap, want))
    return need


def finish(result: SweepResult, claim: outdir.Claim, csv: bool = False) -> Path:
    """Write the results folder atomically, then remove the partial folder."""
    path = outdir.publish(claim, lambda folder: result.write(folder, csv))
    shutil.rmtree(partial_folder(claim.path), ignore_errors=True)
    return path
