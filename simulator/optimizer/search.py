"""Search strategies of ``simulator optimize``: a full grid, and simulated annealing.

Both only propose points (one value per param) and read back each point's *energy*: the mean
total cost, plus a penalty when a constraint is not met (:func:`simulator.optimizer.core`).
They use their own random stream (``seed``), never the scenario's, and propose the same points
for the same seed and energies, wherever the points were evaluated.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

from simulator.optimizer.params import Param

#: one value per param, in the params' order
Point = tuple[int | float, ...]
#: energies of a batch of points (in the batch's order)
Evaluate = Callable[[list[Point]], list[float]]

#: final temperature as a share of the first (geometric cooling in between)
FINAL_TEMPERATURE = 1e-3
#: first temperature as a share of the first candidate's energy
FIRST_TEMPERATURE = 0.1
#: first neighbour step (standard deviation) as a share of each param's range
FIRST_STEP = 0.3
#: proposals drawn, at most, to find one point neither seen nor refused
TRIES = 200


def grid_points(params: Sequence[Param], budget: int,
                levels: int | None = None) -> tuple[list[Point], int]:
    """The full grid, in order (the last param varies fastest), cut at ``budget`` points.

    Each param's levels: every ``step`` from low to high when it has a step, else ``levels``
    evenly spaced values (default: as many as fit the budget, ``floor(budget ** (1/d))``, at
    least 2). Returns the points evaluated and the size of the whole grid.
    """
    n = levels if levels is not None else max(2, int(math.floor(budget ** (1 / len(params))
                                                                  + 1e-9)))
    axes = [p.levels(n) for p in params]
    size = math.prod(len(a) for a in axes)
    return list(itertools.islice(itertools.product(*axes), budget)), size


class Annealing:
    """Simulated annealing on the box of the params, a batch of neighbours per step.

    Each step proposes ``batch`` new neighbours of the current point (every coordinate moved
    by a normal step scaled to its range, shrinking as the temperature falls; whole-number
    params move at least one unit), evaluates them together (so that workers are busy), and
    moves to the best of them if it is better, or else with the Metropolis probability
    ``exp(-(E_new - E_current) / T)``. The temperature falls geometrically from
    :data:`FIRST_TEMPERATURE` times the first energy to :data:`FINAL_TEMPERATURE` times that
    over the budget. No point is proposed twice; points the scenario refuses are redrawn.
    """

    def __init__(self, params: Sequence[Param], budget: int, seed: int, batch: int,
                 valid: Callable[[Point], bool]):
        self.params = list(params)
        self.budget = budget
        self.batch = batch
        self.valid = valid
        self.rng = np.random.default_rng([seed, 0xA11EA1])
        self.seen: set[Point] = set()
        self.refused = 0

    def point(self, x: np.ndarray) -> Point:
        return tuple(p.value(float(v)) for p, v in zip(self.params, x, strict=True))

    def _new(self, point: Point) -> bool:
        if point in self.seen:
            return False
        self.seen.add(point)
        if not self.valid(point):
            self.refused += 1
            return False
        return True

    def _start(self, start: Point) -> Point | None:
        if self._new(start):
            return start
        for _ in range(TRIES):
            p = self.point(self.rng.random(len(self.params)))
            if self._new(p):
                return p
        return None

    def _neighbour(self, cur: Point, scale: float) -> Point | None:
        """A new point near ``cur``; the step widens while the near points are all seen."""
        for k in range(TRIES):
            scale = scale * 1.05 if k >= 20 else scale
            moved = []
            for p, v in zip(self.params, cur, strict=True):
                width = p.high - p.low
                moved.append(p.snap(float(v) + self.rng.normal() * scale * width))
            if tuple(moved) == cur:  # too small a move: one lattice step on one param
                j = int(self.rng.integers(len(self.params)))
                p = self.params[j]
                unit = p.step or (1 if p.integer else scale * (p.high - p.low))
                moved[j] = p.snap(float(cur[j]) + unit * (1 if self.rng.random() < 0.5 else -1))
            point = tuple(moved)
            if self._new(point):
                return point
        return None

    def run(self, start: Point, evaluate: Evaluate) -> None:
        """Search from ``start`` (snapped into the box) until the budget is spent or no new
        neighbour can be found."""
        first = self._start(tuple(p.snap(float(v)) for p, v in zip(self.params, start,
                                                                    strict=True)))
        if first is None:
            return
        cur, e_cur = first, evaluate([first])[0]
        used = 1
        t0 = FIRST_TEMPERATURE * abs(e_cur) if math.isfinite(e_cur) and e_cur else 1.0
        steps = max(1, math.ceil((self.budget - used) / self.batch))
        alpha = FINAL_TEMPERATURE ** (1 / max(steps - 1, 1))
        k = 0
        while used < self.budget:
            cool = alpha ** min(k, steps - 1)
            k += 1
            scale = FIRST_STEP * math.sqrt(cool)
            batch: list[Point] = []
            for _ in range(min(self.batch, self.budget - used)):
                n = self._neighbour(cur, scale)
                if n is not None:
                    batch.append(n)
            if not batch:
                break
            energies = evaluate(batch)
            used += len(batch)
            i = int(np.argmin(energies))
            e_new = energies[i]
            u = self.rng.random()
            if e_new < e_cur or (math.isfinite(e_new) and math.isfinite(e_cur)
                                 and u < math.exp(-(e_new - e_cur) / (t0 * cool))):
                cur, e_cur = batch[i], e_new
