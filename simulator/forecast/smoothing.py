"""Exponential smoothing: simple (SES), Holt (linear trend), Holt-Winters (trend + season).

The recursions are those of statsmodels' ``SimpleExpSmoothing``, ``Holt`` and
``ExponentialSmoothing`` (checked against them in the tests). A smoothing constant left
out (None) starts at a default and is estimated by :meth:`~Forecaster.fit` (least squares
on the one-step-ahead errors of the history).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simulator.forecast._estimate import minimise_sse
from simulator.forecast.base import Forecaster

#: values of the smoothing constants left out, until ``fit`` estimates them
DEFAULTS = {"alpha": 0.2, "beta": 0.1, "gamma": 0.1}
#: smallest multiplicative seasonal factor used in a division
FLOOR = 1e-9
#: fewest one-step errors (beyond the start-up) ``fit`` needs to estimate a constant
MIN_ERRORS = 10


class _Smoothing(Forecaster):
    """Shared handling of the smoothing constants: given ones are fixed, the others are
    estimated by ``fit``."""

    _constants: tuple[str, ...] = ()
    alpha: float
    beta: float
    gamma: float

    def _init_constants(self, given: dict[str, float | None]) -> None:
        self._free = tuple(k for k in self._constants if given[k] is None)
        for k in self._constants:
            value = given[k]
            setattr(self, k, DEFAULTS[k] if value is None else float(value))

    def _estimate(self, history: list[float]) -> None:
        if len(history) < self._start_up() + MIN_ERRORS:
            return  # too short to tell: keep the defaults (or the previous estimates)
        for name, value in minimise_sse(self, self._free, history).items():
            setattr(self, name, value)

    def _start_up(self) -> int:
        """Observations before the state is complete (default: 1)."""
        return 1

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method}
        out.update({k: getattr(self, k) for k in self._constants})
        return out


class SES(_Smoothing):
    """Simple exponential smoothing: ``l = alpha * y + (1 - alpha) * l``; the forecast of
    every period ahead is ``l``.

    Parameters
    ----------
    alpha : float or None
        Smoothing constant in [0, 1]; None: estimated by ``fit`` (0.2 until then).
    level : float or None
        Initial level (units) before the first observation; None: the first observation.
    """

    method = "ses"
    _constants = ("alpha",)

    def __init__(self, alpha: float | None = None, level: float | None = None) -> None:
        self._init_constants({"alpha": alpha})
        self._level0 = level
        super().__init__()

    def _reset(self) -> None:
        self._level = self._level0

    def _observe(self, y: float) -> None:
        if self._level is None:
            self._level = y
        else:
            self._level += self.alpha * (y - self._level)

    def _forecast(self, h: int) -> float:
        return self._level  # type: ignore[return-value]

    def _flat(self) -> float | None:
        return self._level if self.n else 0.0


class Holt(_Smoothing):
    """Holt's linear trend: ``l' = alpha * y + (1 - alpha) * (l + b)``,
    ``b' = beta * (l' - l) + (1 - beta) * b``; the forecast h ahead is ``l + h * b``.

    Parameters
    ----------
    alpha, beta : float or None
        Smoothing constants of level and trend in [0, 1]; None: estimated by ``fit``
        (0.2 and 0.1 until then).
    level, trend : float or None
        Initial level (units) and trend (units per period) before the first observation;
        None: the first observation, and the difference of the first two.
    """

    method = "holt"
    _constants = ("alpha", "beta")

    def __init__(self, alpha: float | None = None, beta: float | None = None,
                 level: float | None = None, trend: float | None = None) -> None:
        self._init_constants({"alpha": alpha, "beta": beta})
        self._state0 = (level, trend)
        super().__init__()

    def _reset(self) -> None:
        level, trend = self._state0
        self._level = level
        self._trend = trend

    def _observe(self, y: float) -> None:
        level, trend = self._level, self._trend
        if level is None:
            self._level = y
        elif trend is None:  # second observation: the trend is the first difference
            self._trend = y - level
            self._level = y
        else:
            new = self.alpha * y + (1 - self.alpha) * (level + trend)
            self._trend = self.beta * (new - level) + (1 - self.beta) * trend
            self._level = new

    def _start_up(self) -> int:
        return 2

    def _forecast(self, h: int) -> float:
        return self._level + h * (self._trend or 0.0)  # type: ignore[operator]


class HoltWinters(_Smoothing):
    """Holt-Winters: level, additive trend and an additive or multiplicative season.

    Additive: ``l' = alpha (y - s) + (1 - alpha)(l + b)``, ``b' = beta (l' - l) + (1 - beta) b``,
    ``s' = gamma (y - l - b) + (1 - gamma) s``, forecast ``l + h b + s[h]``. Multiplicative:
    ``y / s`` for ``y - s``, ``y / (l + b)`` for ``y - l - b`` and ``(l + h b) s[h]``; a factor
    below 1e-9 is taken as 1e-9 in a division, and when ``l + b <= 0`` the season is left
    unchanged.

    Parameters
    ----------
    alpha, beta, gamma : float or None
        Smoothing constants of level, trend and season in [0, 1]; None: estimated by
        ``fit`` (0.2, 0.1 and 0.1 until then).
    season : int
        Season length (periods), at least 2.
    seasonal : {"additive", "multiplicative"}
    level, trend, seasonals : optional
        Initial state before the first observation: level (units), trend (units per
        period), ``season`` seasonal terms (the first applies to the first observation).
        None: after the first full season, the level is its mean, the trend 0 and the
        seasonal terms each observation minus (or over) that mean; until then the forecast
        is the mean of the observations.
    """

    method = "holt_winters"
    _constants = ("alpha", "beta", "gamma")

    def __init__(self, alpha: float | None = None, beta: float | None = None,
                 gamma: float | None = None, season: int = 7, seasonal: str = "additive",
                 level: float | None = None, trend: float | None = None,
                 seasonals: Sequence[float] | None = None) -> None:
        self._init_constants({"alpha": alpha, "beta": beta, "gamma": gamma})
        if seasonal not in ("additive", "multiplicative"):
            raise ValueError("seasonal must be 'additive' or 'multiplicative'")
        self.season = season
        self.seasonal = seasonal
        self._mul = seasonal == "multiplicative"
        known = level is not None and trend is not None and seasonals is not None
        if (level, trend, seasonals) != (None, None, None) and not known:
            raise ValueError("give all of level, trend and seasonals, or none")
        if seasonals is not None and len(seasonals) != season:
            raise ValueError(f"seasonals must hold {season} values")
        self._state0 = (level, trend, None if seasonals is None else list(seasonals))
        super().__init__()

    def _reset(self) -> None:
        level, trend, seasonals = self._state0
        self._level = level
        self._trend = trend if trend is not None else 0.0
        self._s = list(seasonals) if seasonals is not None else []
        self._i = 0  # index in _s of the seasonal term of the next period
        self._first: list[float] = []  # the first season, before the state is known

    def _observe(self, y: float) -> None:
        if self._level is None:
            self._start(y)
            return
        a, b, g = self.alpha, self.beta, self.gamma
        level, trend, s = self._level, self._trend, self._s[self._i]
        base = level + trend
        if self._mul:
            new = a * y / max(s, FLOOR) + (1 - a) * base
            s_new = g * y / base + (1 - g) * s if base > 0 else s
        else:
            new = a * (y - s) + (1 - a) * base
            s_new = g * (y - base) + (1 - g) * s
        self._trend = b * (new - level) + (1 - b) * trend
        self._level = new
        self._s[self._i] = s_new
        self._i = (self._i + 1) % self.season

    def _start(self, y: float) -> None:
        """Collect the first season; at its end, set level, trend and season."""
        self._first.append(y)
        if len(self._first) < self.season:
            return
        level = sum(self._first) / self.season
        if self._mul:
            self._s = [v / level if level > 0 else 1.0 for v in self._first]
        else:
            self._s = [v - level for v in self._first]
        self._level, self._trend, self._i = level, 0.0, 0
        self._first = []

    def _start_up(self) -> int:
        return self.season

    def _forecast(self, h: int) -> float:
        if self._level is None:
            return sum(self._first) / len(self._first)
        s = self._s[(self._i + h - 1) % self.season]
        base = self._level + h * self._trend
        return base * s if self._mul else base + s

    def params(self) -> dict[str, Any]:
        return {**super().params(), "season": self.season, "seasonal": self.seasonal}
