"""The search loop of ``simulator optimize``: candidates, their energies, the part file that
makes an interrupted search resumable, and the results (``trace.csv``, ``best.yaml``).

Every candidate is the scenario with the params' values applied
(:func:`simulator.experiment.keys.apply_overrides`) and runs the scenario's replications on
the same random streams (common random numbers), so differences between candidates are not
sampling noise of independent runs. Each finished candidate is appended at once to
``candidates.jsonl`` in a hidden folder beside the results folder (one complete JSON line,
flushed to disk); ``resume=True`` replays the search with the same seed, taking the candidates
found there instead of running them, so it ends with exactly the result of an uninterrupted
search.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from simulator import outdir
from simulator.errors import Problem, UserError
from simulator.experiment.keys import apply_overrides
from simulator.experiment.progress import progress as _progress
from simulator.optimizer.evaluate import Evaluation, evaluate
from simulator.optimizer.params import Constraint, Param
from simulator.optimizer.search import Annealing, Point, grid_points
from simulator.scenario import Scenario, derive

METHODS = ("annealing", "grid")
#: candidates evaluated together per annealing step (fixed: the trace must not depend on the
#: number of workers)
DEFAULT_BATCH = 4
_PART = "candidates.jsonl"


def partial_folder(out: Path) -> Path:
    """The hidden folder beside ``out`` holding the finished candidates of a search."""
    return out.parent / f".{out.name}.optimize-partial"


@dataclass
class Candidate:
    number: int
    values: Point
    evaluation: Evaluation


class _Part:
    """The part file: one JSON line per finished candidate, appended and synced at once."""

    def __init__(self, folder: Path | None, fingerprint: str, resume: bool, out: Path | None):
        self.folder = folder
        self.found: dict[Point, Evaluation] = {}
        self.file: Any = None
        if folder is None:
            return
        manifest = folder / "optimize.json"
        if folder.exists():
            if not resume:
                raise UserError([Problem(str(out), None, "out", "an unfinished search into "
                                         f"this folder is kept in {folder}: pass --resume to "
                                         "continue it, or delete that folder to start over")])
            try:
                same = json.loads(manifest.read_text())["fingerprint"] == fingerprint
            except (OSError, ValueError, KeyError, TypeError):
                same = False
            if not same:
                raise UserError([Problem(str(out), None, "--resume", f"the unfinished search "
                                         f"in {folder} was for another scenario or other "
                                         "settings; delete that folder to start over")])
            self.found = _read_part(folder / _PART)
        else:
            folder.mkdir(parents=True)
            tmp = folder / ".optimize.json.tmp"
            tmp.write_text(json.dumps({"fingerprint": fingerprint}) + "\n")
            os.replace(tmp, manifest)
        self.file = open(folder / _PART, "a", encoding="utf-8")  # noqa: SIM115

    def add(self, values: Point, ev: Evaluation) -> None:
        if self.file is None or values in self.found:
            return
        self.file.write(json.dumps({"values": list(values), **ev.to_json()}) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _read_part(path: Path) -> dict[Point, Evaluation]:
    """The complete lines of a part file (a line cut short by a kill is ignored)."""
    found: dict[Point, Evaluation] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return found
    for line in text.splitlines():
        try:
            d = json.loads(line)
            found[tuple(d["values"])] = Evaluation.from_json(d)
        except (ValueError, KeyError, TypeError):
            continue
    return found


def _cannot(out: Path | None, folder: Path | None, exc: OSError) -> UserError:
    """The finished candidates cannot be kept (disk full, read-only, ...): a user error."""
    why = exc.strerror or str(exc)
    return UserError([Problem(str(out), None, "out", f"cannot keep the finished candidates "
                              f"in {folder}: {why}")])


def _fingerprint(sc: Scenario, settings: dict[str, Any]) -> str:
    blob = json.dumps({"scenario": sc.to_dict(), **settings}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class OptimizeResult:
    """A finished search: :attr:`trace` (one row per candidate, the ``trace.csv`` columns),
    :attr:`best` (param key -> value), :attr:`scenario` (the whole scenario with the best
    values) and :attr:`info` (provenance, ``optimize.json``)."""

    scenario: Scenario
    best: dict[str, Any]
    trace: pd.DataFrame
    info: dict[str, Any]

    def write(self, folder: Path) -> None:
        """Write ``trace.csv``, ``best.yaml``, ``optimize.json`` and ``run.json`` (last)."""
        import yaml
        self.trace.to_csv(folder / "trace.csv", index=False)
        with open(folder / "best.yaml", "w", encoding="utf-8") as f:
            shown = ", ".join(f"{k} = {v}" for k, v in self.best.items())
            f.write(f"# {self.scenario.name}: the best candidate of simulator optimize "
                    f"({shown}), every default filled in\n")
            yaml.safe_dump(self.scenario.to_dict(), f, sort_keys=False, allow_unicode=True)
        for name in ("optimize.json", "run.json"):
            with open(folder / name, "w", encoding="utf-8") as f:
                json.dump(self.info, f, indent=2, default=str)
                f.write("\n")


class _Search:
    """The state of one search: the scenario of each point, the candidates in order."""

    def __init__(self, base: Scenario, params: list[Param], constraints: list[Constraint],
                 jobs: int, dask: str | None, part: _Part, bar: Any, client: Any = None):
        self.base, self.params, self.constraints = base, params, constraints
        self.jobs, self.dask, self.part, self.bar = jobs, dask, part, bar
        self.client = client
        self.scenarios: dict[Point, Scenario] = {}
        self.candidates: list[Candidate] = []
        self.refused = 0
        self.scale: float | None = None
        self.best_cost = math.inf

    def valid(self, point: Point) -> bool:
        """Whether the scenario accepts these values (its scenario is kept for the run)."""
        if point in self.scenarios:
            return True
        try:
            sc = apply_overrides(self.base, dict(zip((p.key for p in self.params), point,
                                                     strict=True)))
        except UserError:
            return False
        self.scenarios[point] = sc
        return True

    def energy(self, ev: Evaluation) -> float:
        """Mean cost, plus (when a constraint is not met) the first candidate's cost scale
        times one plus ten times the relative violation: infeasible is always worse."""
        if self.scale is None:
            self.scale = abs(ev.mean_cost) + 1.0 if math.isfinite(ev.mean_cost) else 1.0
        if ev.mean_cost != ev.mean_cost:
            return math.inf
        v = ev.violation(self.constraints)
        return ev.mean_cost if v == 0 else ev.mean_cost + self.scale * (1 + 10 * min(v, 1e6))

    def _show(self, ev: Evaluation) -> None:
        """Best mean cost so far (of candidates meeting the constraints) on the progress
        display: in a bar's description, in the unit of progress lines."""
        if ev.violation(self.constraints) > 0 or not ev.mean_cost < self.best_cost:
            return
        self.best_cost = ev.mean_cost
        _name_units(self.bar, f"best so far {ev.mean_cost:.6g}")

    def evaluate(self, points: list[Point]) -> list[float]:
        """Run the points not found in the part file; number them in the order given."""
        first = len(self.candidates)
        numbers = {pt: first + i for i, pt in enumerate(points)}
        done: dict[Point, Evaluation] = {pt: self.part.found[pt] for pt in points
                                         if pt in self.part.found}
        for ev in done.values():
            self._show(ev)
        self.bar.update(len(done))
        todo = {numbers[pt]: self.scenarios[pt] for pt in points if pt not in done}
        by_number = {n: pt for pt, n in numbers.items()}

        def finished(number: int, ev: Evaluation) -> None:
            done[by_number[number]] = ev
            self.part.add(by_number[number], ev)
            self._show(ev)
            self.bar.update(1)

        evaluate(todo, self.constraints, self.jobs, self.dask, finished, self.client)
        self.candidates += [Candidate(numbers[pt], pt, done[pt]) for pt in points]
        return [self.energy(done[pt]) for pt in points]


def _trace(search: _Search, best: int | None) -> pd.DataFrame:
    rows = []
    for c in search.candidates:
        ev = c.evaluation
        row: dict[str, Any] = {"candidate": c.number}
        row.update({p.key: v for p, v in zip(search.params, c.values, strict=True)})
        row.update({"mean_cost": ev.mean_cost, "ci_low": ev.ci_low, "ci_high": ev.ci_high,
                    "replications": ev.replications})
        row.update({k.column: ev.metrics[k.column] for k in search.constraints})
        row["feasible"] = ev.violation(search.constraints) == 0
        row["best"] = c.number == best
        rows.append(row)
    columns = ["candidate", *(p.key for p in search.params), "mean_cost", "ci_low", "ci_high",
               "replications", *dict.fromkeys(c.column for c in search.constraints),
               "feasible", "best"]
    return pd.DataFrame(rows, columns=columns)


def _best(search: _Search) -> int | None:
    """The feasible candidate of least mean cost; if none is feasible, the least violating."""
    if not search.candidates:
        return None

    def rank(c: Candidate) -> tuple[float, float, int]:
        v = c.evaluation.violation(search.constraints)
        cost = c.evaluation.mean_cost
        return (v, cost if cost == cost else math.inf, c.number)

    return min(search.candidates, key=rank).number


def _name_units(bar: Any, best: str = "") -> None:
    """The progress display counts candidates (not replications), with the best so far."""
    if hasattr(bar, "set_description"):  # a bar
        bar.set_description(f"candidates{', ' + best if best else ''}", refresh=False)
    elif hasattr(bar, "unit"):  # progress lines: "(12.0/40 candidates, best so far ...)"
        bar.unit = f"candidates{', ' + best if best else ''}"


def search(sc: Scenario, params: list[Param], constraints: list[Constraint], *,
           method: str, budget: int, seed: int, batch: int = DEFAULT_BATCH,
           levels: int | None = None, out: Path | None = None, resume: bool = False,
           jobs: int = 1, dask: str | None = None,
           progress: bool | None = None) -> OptimizeResult:
    """Run the search (arguments already checked; see :func:`simulator.optimizer.optimize`)."""
    base = derive(sc, {"sweep": None})
    settings = {"method": method, "params": [p.__dict__ for p in params], "budget": budget,
                "seed": seed, "batch": batch, "levels": levels,
                "constraints": [c.text for c in constraints]}
    folder = partial_folder(Path(os.path.abspath(out))) if out is not None else None
    try:
        part = _Part(folder, _fingerprint(base, settings), resume, out)
    except OSError as exc:
        raise _cannot(out, folder, exc) from exc
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    grid_size = None
    try:
        with ExitStack() as stack:
            client = None
            if dask is not None:  # one cluster for every step
                from simulator.experiment import dask_backend
                client = stack.enter_context(dask_backend.connect(dask, jobs, "--dask"))
            bar = stack.enter_context(_progress(budget, progress))
            _name_units(bar)
            s = _Search(base, params, constraints, jobs, dask, part, bar, client)
            if method == "grid":
                points, grid_size = grid_points(params, budget, levels)
                ok = [pt for pt in points if s.valid(pt)]
                s.refused = len(points) - len(ok)
                s.evaluate(ok)
            else:
                a = Annealing(params, budget, seed, batch, s.valid)
                data = base.to_dict()
                from simulator.experiment.keys import get, resolve
                start = tuple(get(data, resolve(data, p.key)) for p in params)
                a.run(start, s.evaluate)
                s.refused = a.refused
    except OSError as exc:
        if exc.errno is None:
            raise
        raise _cannot(out, folder, exc) from exc
    finally:
        part.close()
    best = _best(s)
    if best is None:
        raise UserError([Problem("<command line>", None, "--param", "the scenario refuses "
                                 "every candidate tried (e.g. s >= S); widen or change the "
                                 "ranges")])
    chosen = s.candidates[best]
    values = dict(zip((p.key for p in params), chosen.values, strict=True))
    trace = _trace(s, best)
    info = {**outdir.RUN_MARKER, "kind": "optimize", "method": method,
            "scenario_name": sc.name, "seed": seed, "scenario_seed": sc.seed,
            "replications": sc.replications, "budget": budget, "batch": batch,
            "levels": levels, "grid_size": grid_size,
            "params": {p.key: {"low": p.low, "high": p.high, "step": p.step,
                               "integer": p.integer} for p in params},
            "constraints": [c.text for c in constraints],
            "best": {**values, "candidate": chosen.number, **chosen.evaluation.to_json()},
            "feasible": bool(trace.loc[best, "feasible"]),
            "evaluations": len(s.candidates), "resumed": len(part.found), "refused": s.refused,
            "jobs": jobs, "dask": dask, "started": started.isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - t0, 3), "python": sys.version.split()[0]}
    from simulator.results import package_versions
    info["version"] = package_versions()["simulator"]
    info["versions"] = dict(package_versions())
    return OptimizeResult(s.scenarios[chosen.values], values, trace, info)


def finish(result: OptimizeResult, claim: outdir.Claim) -> Path:
    """Write the results folder atomically, then remove the part folder."""
    path = outdir.publish(claim, result.write)
    shutil.rmtree(partial_folder(claim.path), ignore_errors=True)
    return path


def check_numbers(method: str, budget: Any, seed: Any, batch: Any, levels: Any,
                  where: str = "<command line>") -> None:
    """The search's own settings, as ``<command line>: --budget: message``."""
    problems = []

    def whole(v: Any, least: int) -> bool:
        return not isinstance(v, bool) and isinstance(v, int) and v >= least

    if method not in METHODS:
        problems.append(Problem(where, None, "--method", f"{method!r}: methods are "
                                + ", ".join(METHODS)))
    if not whole(budget, 1):
        problems.append(Problem(where, None, "--budget", f"must be a whole number >= 1 "
                                f"(candidates to evaluate), got {budget!r}"))
    if not whole(seed, 0):
        problems.append(Problem(where, None, "--seed", f"must be a whole number >= 0, got "
                                f"{seed!r}"))
    if not whole(batch, 1):
        problems.append(Problem(where, None, "--batch", f"must be a whole number >= 1, got "
                                f"{batch!r}"))
    if levels is not None and not whole(levels, 1):
        problems.append(Problem(where, None, "--levels", f"must be a whole number >= 1, got "
                                f"{levels!r}"))
    if problems:
        raise UserError(problems)


def parse_all(sc: Scenario, params: Sequence[str], constraints: Sequence[str]
              ) -> tuple[list[Param], list[Constraint]]:
    """Every ``--param`` and ``--constraint`` checked; all problems reported together."""
    from simulator.optimizer.params import parse_constraint, parse_param
    data = sc.to_dict()
    problems: list[Problem] = []
    ps: list[Param] = []
    cs: list[Constraint] = []
    if not params:
        problems.append(Problem("<command line>", None, "--param", "give at least one "
                                "KEY=LOW:HIGH to tune"))
    for text in params:
        try:
            ps.append(parse_param(text, data))
        except UserError as exc:
            problems += exc.problems
    keys = [p.key for p in ps]
    for k in dict.fromkeys(k for k in keys if keys.count(k) > 1):
        problems.append(Problem("<command line>", None, "--param", f"{k}: given twice"))
    points = {(w.id, pid) for w in sc.warehouses for pid in w.inventory}
    for text in constraints:
        try:
            cs.append(parse_constraint(text, points))
        except UserError as exc:
            problems += exc.problems
    if problems:
        raise UserError(problems)
    return ps, cs
