"""Least-squares estimation of smoothing constants by replaying a history."""
from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence

from simulator.forecast.base import Forecaster

#: starting values tried for each free constant before the local search
GRID = (0.05, 0.2, 0.5, 0.8)


def sse(model: Forecaster, names: Sequence[str], values: Sequence[float],
        history: Sequence[float]) -> float:
    """Sum of squared one-step-ahead errors (units**2) of ``model`` with the constants
    ``names`` set to ``values``, replayed on ``history`` (``model`` itself is untouched)."""
    trial = copy.copy(model)
    for name, value in zip(names, values, strict=True):
        setattr(trial, name, float(value))
    trial.replay(history)
    return trial._e_sq


def minimise_sse(model: Forecaster, names: Sequence[str],
                 history: Sequence[float]) -> dict[str, float]:
    """The constants ``names`` (each in [0, 1]) minimising the one-step SSE on ``history``:
    the best point of a small grid (:data:`GRID` per constant), refined by L-BFGS-B."""
    from scipy.optimize import minimize  # lazy: only estimation needs scipy.optimize

    k = len(names)
    if k == 0:
        return {}
    starts = list(itertools.product(GRID, repeat=k))
    scores = [sse(model, names, s, history) for s in starts]
    best = starts[min(range(len(starts)), key=scores.__getitem__)]
    res = minimize(lambda x: sse(model, names, x, history), best, method="L-BFGS-B",
                   bounds=[(0.0, 1.0)] * k, options={"ftol": 1e-12, "gtol": 1e-9})
    chosen = res.x if res.fun <= min(scores) else best
    return {name: min(1.0, max(0.0, float(v))) for name, v in zip(names, chosen, strict=True)}
