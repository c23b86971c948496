"""The forecaster protocol: one observation per period (a day), recursive updates.

A :class:`Forecaster` sees demand one period at a time (:meth:`Forecaster.update`), forecasts
the periods ahead (:meth:`Forecaster.predict`, :meth:`Forecaster.total`) and keeps the
statistics of its own one-step-ahead errors (:meth:`Forecaster.error_variance`, bias, MAD,
tracking signal). Subclasses implement three small hooks: ``_observe(y)`` (fold one observation
into the state, O(1)), ``_forecast(h)`` (the point forecast h periods ahead) and ``_reset()``
(forget the state). :meth:`Forecaster.fit` replays a history; methods with parameters to
estimate override :meth:`Forecaster._estimate`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any


class Forecaster:
    """Base class of every forecaster; the period is one day and an observation is the
    demand (units) of one period.

    The one-step-ahead error of an observation ``y`` is ``y - predict(1)`` as it was just
    before ``y`` arrived (positive: the forecast was too low). An error is recorded for every
    observation but the first (before the first there is no forecast).

    Attributes
    ----------
    method : str
        The scenario name of the method (``ses``, ``croston``, ...).
    """

    method: str = "?"
    _next: float | None  # the one-step forecast, cached until the next update

    def __init__(self) -> None:
        self.reset()

    # -- the protocol -------------------------------------------------------------------
    def update(self, y: float) -> None:
        """Fold in one more observation (demand in units over one period), in O(1).

        Raises
        ------
        ValueError
            If ``y`` is not a finite number.
        """
        y = float(y)
        if not math.isfinite(y):
            raise ValueError(f"an observation must be a finite number, got {y!r}")
        if self.n:
            e = y - self._forecast_cached(1)
            self._e_n += 1
            self._e_sum += e
            self._e_abs += abs(e)
            self._e_sq += e * e
        self.n += 1
        delta = y - self._y_mean  # Welford: mean and variance of the observations
        self._y_mean += delta / self.n
        self._y_m2 += delta * (y - self._y_mean)
        self._next = None
        self._observe(y)

    def predict(self, h: int = 1) -> float:
        """Point forecast (units) of the demand in the period ``h`` ahead (``h >= 1``);
        0 before any observation."""
        if isinstance(h, bool) or not isinstance(h, int) or h < 1:
            raise ValueError(f"h must be an integer >= 1, got {h!r}")
        if not self.n:
            return 0.0
        return self._forecast_cached(1) if h == 1 else self._forecast(h)

    def path(self, steps: int) -> list[float]:
        """The point forecasts of the next ``steps`` periods (units each), in order."""
        if not self.n:
            return [0.0] * steps
        return [self._forecast_cached(1)] + [self._forecast(h) for h in range(2, steps + 1)]

    def total(self, horizon: float) -> float:
        """Forecast demand (units) over the next ``horizon`` periods (days, ``>= 0``); a
        fractional last period counts pro rata: ``total(2.5) = p1 + p2 + 0.5 * p3``."""
        horizon = float(horizon)
        if not math.isfinite(horizon) or horizon < 0:
            raise ValueError(f"horizon must be a finite number of periods >= 0, got {horizon!r}")
        whole = math.floor(horizon)
        frac = horizon - whole
        steps = whole + (1 if frac > 0 else 0)
        if steps == 0:
            return 0.0
        flat = self._flat()
        if flat is not None:
            return flat * horizon
        values = self.path(steps)
        out = math.fsum(values[:whole])
        return out + frac * values[whole] if frac > 0 else out

    def error_variance(self) -> float:
        """Variance (units**2) of the one-step-ahead errors: their mean square (MSE, not
        centred) over every error recorded so far, once there are at least two. Before that,
        the prior is the sample variance of the observations seen (0 with fewer than two)."""
        if self._e_n >= 2:
            return self._e_sq / self._e_n
        return self._y_m2 / (self.n - 1) if self.n > 1 else 0.0

    def fit(self, history: Sequence[float]) -> None:
        """Estimate the parameters left unset from ``history`` (one demand per period,
        oldest first), then forget the state and replay ``history`` through :meth:`update`:
        the forecaster ends as if it had seen exactly ``history``."""
        values = [float(v) for v in history]
        for v in values:
            if not math.isfinite(v):
                raise ValueError(f"history must hold finite numbers, got {v!r}")
        self._estimate(values)
        self.replay(values)

    # -- error statistics for monitors ------------------------------------------------------
    @property
    def error_count(self) -> int:
        """Number of one-step-ahead errors recorded."""
        return self._e_n

    @property
    def bias(self) -> float:
        """Mean one-step-ahead error (units; positive: forecasts too low); 0 before any."""
        return self._e_sum / self._e_n if self._e_n else 0.0

    @property
    def mad(self) -> float:
        """Mean absolute one-step-ahead error (units); 0 before any."""
        return self._e_abs / self._e_n if self._e_n else 0.0

    @property
    def tracking_signal(self) -> float:
        """Cumulative error over the mean absolute error (dimensionless; 0 when MAD is 0).
        It lies in [-n, n]; beyond about +-4 the forecast is biased."""
        return self._e_sum / self.mad if self._e_abs > 0 else 0.0

    def params(self) -> dict[str, Any]:
        """The method's parameters as used now (estimated ones included), for provenance."""
        return {"method": self.method}

    # -- plumbing -----------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every observation and error (parameters are kept)."""
        self.n = 0
        self._e_n = 0
        self._e_sum = self._e_abs = self._e_sq = 0.0
        self._y_mean = self._y_m2 = 0.0
        self._next = None
        self._reset()

    def replay(self, values: Sequence[float]) -> None:
        """:meth:`reset`, then :meth:`update` with every value in order."""
        self.reset()
        for v in values:
            self.update(v)

    def _set_errors(self, errors: Sequence[float]) -> None:
        """Replace the recorded one-step errors (units) by ``errors``: after a fit whose
        replay forecast with something else than the fitted model."""
        self._e_n = len(errors)
        self._e_sum = math.fsum(errors)
        self._e_abs = math.fsum(abs(e) for e in errors)
        self._e_sq = math.fsum(e * e for e in errors)

    def _forecast_cached(self, h: int = 1) -> float:
        """The one-step forecast, computed once per update (``h`` is always 1)."""
        value = self._next
        if value is None:
            value = self._next = self._forecast(1)
        return value

    def _flat(self) -> float | None:
        """The forecast per period when it is the same for every h (then :meth:`total` is
        O(1)); None otherwise."""
        return None

    def _estimate(self, history: list[float]) -> None:
        """Estimate the parameters not given (default: nothing to estimate)."""

    def _reset(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _observe(self, y: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _forecast(self, h: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items() if k != "method")
        return f"{type(self).__name__}({args})"


class MissingDependency(ImportError):
    """An optional library a method needs is not installed (``pip install
    'simulator[forecast]'``)."""


def one_thread() -> AbstractContextManager[Any]:
    """A context in which BLAS uses one thread (threadpoolctl, installed with the forecast
    extra; without it, nothing changes). Model fits here work on tiny matrices, and a
    multithreaded BLAS on a busy machine made an ARIMA fit 100 times slower (seconds
    instead of 10 ms)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with the forecast extra
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def need(module: str, method: str) -> Any:
    """Import the optional ``module`` for ``method``, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        pkg = {"statsmodels": "statsmodels", "sklearn": "scikit-learn"}.get(
            module.split(".")[0], module)
        raise MissingDependency(
            f"forecast method {method!r} needs {pkg}, which is not installed; install it with "
            "pip install 'simulator[forecast]'") from None
