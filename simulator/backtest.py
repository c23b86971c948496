"""Rolling-origin backtests of forecasting methods, and choosing one by its MASE.

How a series (one product's demand per day, oldest first) is scored for a method:

1. the forecaster is fitted on the first ``initial`` days (default: 60% of the series, at
   least 14 days): parameters left unset are estimated there, as in a simulation at the end
   of its warm-up;
2. from each origin t = initial, initial + 1, ..., days - 1 it forecasts the next
   ``horizon`` days (fewer near the end), the forecasts are compared with what happened, and
   day t is folded in recursively (no refitting, as in the simulation);
3. over all (origin, step) pairs: MAE, RMSE, bias (mean of forecast - actual: positive means
   over-forecasting) and MASE = MAE / the mean absolute one-day change of the training days
   (the in-sample MAE of the naive forecast; Hyndman and Koehler 2006). MASE < 1 beats the
   naive forecast; it is NaN when the training days never change.

:func:`choose` picks the method with the lowest MASE (ties: the earlier in the list), which is
what ``forecast: {method: auto}`` does with the warm-up days of a simulation.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: methods tried by default (no optional dependency, a few microseconds per update each)
DEFAULT_METHODS: tuple[str, ...] = ("naive", "seasonal_naive", "moving_average", "ses", "holt",
                                    "holt_winters", "croston", "sba", "tsb")
SCORES = ("mae", "rmse", "mase", "bias")


def spec_of(method: str | Mapping[str, Any]) -> dict[str, Any]:
    """A forecaster spec from a method name or a mapping."""
    return {"method": method} if isinstance(method, str) else dict(method)


def score(series: Sequence[float] | np.ndarray, method: str | Mapping[str, Any],
          horizon: int = 1, initial: int | None = None) -> dict[str, float]:
    """Backtest one method on one series (see the module docstring).

    Returns
    -------
    dict
        ``mae``, ``rmse``, ``mase``, ``bias`` and ``n`` (forecasts scored); NaN scores when
        the series is too short to score any forecast.
    """
    from simulator import forecast as fc

    y = np.asarray(series, dtype=float)
    days = len(y)
    start = max(14, int(0.6 * days)) if initial is None else int(initial)
    nan = math.nan
    if start >= days or start < 2:
        return {"mae": nan, "rmse": nan, "mase": nan, "bias": nan, "n": 0}
    f = fc.make(spec_of(method))
    f.fit(y[:start].tolist())
    errors: list[float] = []
    for t in range(start, days):
        steps = min(horizon, days - t)
        path = f.path(steps)
        errors.extend(p - a for p, a in zip(path, y[t:t + steps].tolist(), strict=True))
        f.update(float(y[t]))
    e = np.asarray(errors)
    scale = float(np.mean(np.abs(np.diff(y[:start]))))
    mae = float(np.mean(np.abs(e)))
    return {"mae": mae, "rmse": float(math.sqrt(np.mean(e * e))),
            "mase": mae / scale if scale > 0 else nan, "bias": float(np.mean(e)), "n": len(e)}


def choose(series: Sequence[float] | np.ndarray,
           methods: Sequence[str | Mapping[str, Any]] = DEFAULT_METHODS, horizon: int = 1,
           initial: int | None = None) -> tuple[dict[str, Any], dict[str, float]]:
    """The method with the lowest backtest MASE on ``series`` (ties: the first listed; NaN
    MASE, e.g. a constant series, ranks by MAE) and its scores."""
    best: tuple[tuple[float, float], dict[str, Any], dict[str, float]] | None = None
    for m in methods:
        s = score(series, m, horizon, initial)
        mase = s["mase"] if s["mase"] == s["mase"] else math.inf
        key = (mase, s["mae"] if s["mae"] == s["mae"] else math.inf)
        if best is None or key < best[0]:
            best = (key, spec_of(m), s)
    assert best is not None, "no method to choose from"
    return best[1], best[2]


def table(history: Mapping[str, Sequence[float] | np.ndarray],
          methods: Sequence[str | Mapping[str, Any]] = DEFAULT_METHODS, horizon: int = 1,
          initial: int | None = None) -> Any:
    """Every method on every product: a DataFrame with ``product, method, mae, rmse, mase,
    bias, n, best`` (``best``: lowest MASE of its product), products in the given order,
    methods by MASE within each product."""
    import pandas as pd

    rows = []
    for product, series in history.items():
        part = []
        for m in methods:
            spec = spec_of(m)
            label = spec["method"] if len(spec) == 1 else _label(spec)
            part.append({"product": product, "method": label,
                         **score(series, spec, horizon, initial)})
        part.sort(key=lambda r: (r["mase"] if r["mase"] == r["mase"] else math.inf,
                                 r["mae"] if r["mae"] == r["mae"] else math.inf))
        for i, r in enumerate(part):
            r["best"] = i == 0
        rows.extend(part)
    return pd.DataFrame(rows, columns=["product", "method", *SCORES, "n", "best"])


def _label(spec: Mapping[str, Any]) -> str:
    params = ",".join(f"{k}={v}" for k, v in spec.items() if k != "method")
    return f"{spec['method']}({params})"
