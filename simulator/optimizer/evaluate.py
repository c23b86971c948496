"""Evaluating candidates: each runs the scenario's replications on the same random streams as
``simulator run`` (common random numbers), on the sweep's task machinery (this process, worker
processes or a Dask cluster); the numbers do not depend on where they ran."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from simulator.experiment.replication import ReplicationResult
from simulator.experiment.sweep import _batch, _Task, task_results
from simulator.optimizer.params import ADDITIVE, Constraint
from simulator.scenario import Scenario


@dataclass(frozen=True)
class Evaluation:
    """One candidate's numbers: the mean total cost (money, over the measured window, summed
    over the stock points), its 95% t-interval, and each constraint metric's mean."""

    mean_cost: float
    ci_low: float
    ci_high: float
    replications: int
    metrics: dict[str, float]

    def violation(self, constraints: Sequence[Constraint]) -> float:
        """Sum of the constraints' violations, each relative to its bound's size."""
        return sum(c.violation(self.metrics[c.column]) / max(abs(c.bound), 1e-9)
                   for c in constraints)

    def to_json(self) -> dict[str, Any]:
        return {"mean_cost": self.mean_cost, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "replications": self.replications, "metrics": self.metrics}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Evaluation:
        return cls(float(d["mean_cost"]), float(d["ci_low"]), float(d["ci_high"]),
                   int(d["replications"]), {k: float(v) for k, v in d["metrics"].items()})


def _mean_ci(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t-interval (NaN ends for fewer than two values)."""
    from simulator.stats import t_quantile
    xs = [v for v in values if v == v]
    n = len(xs)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = math.fsum(xs) / n
    if n < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(0.975, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def _metric(rows: list[dict[str, Any]], c: Constraint) -> float:
    """One replication's value of a constraint's metric (a stock point's, or the total)."""
    if c.warehouse is not None:
        hit = [r[c.metric] for r in rows if (r["warehouse"], r["product"]) == (c.warehouse,
                                                                             c.product)]
        return float(hit[0]) if hit and hit[0] is not None else math.nan
    if c.metric in ADDITIVE:
        return math.fsum(float(r[c.metric]) for r in rows)
    demand = math.fsum(float(r["demand_units"]) for r in rows)
    if demand <= 0:
        return math.nan
    return math.fsum(float(r["fill_rate"]) * float(r["demand_units"]) for r in rows
                     if r["fill_rate"] == r["fill_rate"]) / demand


def summarize(reps: list[ReplicationResult], constraints: Sequence[Constraint]) -> Evaluation:
    """A candidate's :class:`Evaluation` from its replications."""
    reps = sorted(reps, key=lambda r: r.replication)
    costs = [math.fsum(float(r["total_cost"]) for r in rep.rows) for rep in reps]
    mean, lo, hi = _mean_ci(costs)
    metrics = {c.column: _mean_ci([_metric(rep.rows, c) for rep in reps])[0]
               for c in constraints}
    return Evaluation(mean, lo, hi, len(reps), metrics)


def _tasks(scenarios: dict[int, Scenario], batch: int) -> Iterator[_Task]:
    for cand, sc in scenarios.items():
        for start in range(0, sc.replications, batch):
            yield _Task(cand, sc, tuple(range(start, min(sc.replications, start + batch))))


def evaluate(scenarios: dict[int, Scenario], constraints: Sequence[Constraint], jobs: int,
             dask: str | None, on_done: Callable[[int, Evaluation], None],
             client: Any = None) -> None:
    """Run every candidate's replications; call ``on_done(candidate, evaluation)`` as soon as a
    candidate's are all in (in the order they finish).

    Parameters
    ----------
    scenarios : dict
        Candidate number -> its validated scenario.
    constraints : sequence of Constraint
        Whose metrics to average.
    jobs : int
        Worker processes (1: this process); with ``dask``, the LocalCluster's workers.
    dask : str, optional
        ``"local"`` or a scheduler address.
    on_done : callable
        Receives each finished candidate.
    client : distributed.Client, optional
        With ``dask``: the open client to use (a search keeps one for all its steps).
    """
    if not scenarios:
        return
    reps = max(sc.replications for sc in scenarios.values())
    batch = _batch(list(scenarios), reps, max(jobs, 1))
    tasks = _tasks(scenarios, batch)
    pending: dict[int, list[ReplicationResult]] = {}
    results = task_results(tasks, jobs, dask, client)
    with closing(results):
        for cand, got in results:
            have = pending.setdefault(cand, [])
            have += got
            if len(have) == scenarios[cand].replications:
                on_done(cand, summarize(pending.pop(cand), constraints))
