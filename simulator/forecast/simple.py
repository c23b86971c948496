"""Forecasters without parameters to estimate: naive, seasonal naive, moving averages."""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

from simulator.forecast.base import Forecaster


class Naive(Forecaster):
    """The last observation, for every period ahead."""

    method = "naive"

    def _reset(self) -> None:
        self._last = 0.0

    def _observe(self, y: float) -> None:
        self._last = y

    def _forecast(self, h: int) -> float:
        return self._last

    def _flat(self) -> float | None:
        return self._last if self.n else 0.0


class SeasonalNaive(Forecaster):
    """The observation one season earlier: ``y[t + h - season * ceil(h / season)]``.

    With fewer than ``season`` observations, the last observation (naive).

    Parameters
    ----------
    season : int
        Season length in periods (days), at least 2; 7 for a weekly pattern.
    """

    method = "seasonal_naive"

    def __init__(self, season: int = 7) -> None:
        self.season = season
        super().__init__()

    def _reset(self) -> None:
        self._buf: deque[float] = deque(maxlen=self.season)

    def _observe(self, y: float) -> None:
        self._buf.append(y)

    def _forecast(self, h: int) -> float:
        if len(self._buf) < self.season:
            return self._buf[-1]
        return self._buf[(h - 1) % self.season]  # buf[0] is the value one season before t+1

    def params(self) -> dict[str, Any]:
        return {"method": self.method, "season": self.season}


class MovingAverage(Forecaster):
    """The mean of the last ``window`` observations (of all of them while fewer), for every
    period ahead. The running sum is recomputed exactly every ``window`` updates, so rounding
    does not drift; the update is O(1) amortised.

    Parameters
    ----------
    window : int
        Number of observations averaged (periods), at least 1.
    """

    method = "moving_average"

    def __init__(self, window: int = 7) -> None:
        self.window = window
        super().__init__()

    def _reset(self) -> None:
        self._buf: deque[float] = deque(maxlen=self.window)
        self._sum = 0.0
        self._since = 0

    def _observe(self, y: float) -> None:
        if len(self._buf) == self.window:
            self._sum -= self._buf[0]
        self._buf.append(y)
        self._since += 1
        if self._since >= self.window:
            self._sum = math.fsum(self._buf)
            self._since = 0
        else:
            self._sum += y

    def _forecast(self, h: int) -> float:
        return self._sum / len(self._buf)

    def _flat(self) -> float | None:
        return self._forecast(1) if self.n else 0.0

    def params(self) -> dict[str, Any]:
        return {"method": self.method, "window": self.window}


class WeightedMovingAverage(Forecaster):
    """A weighted mean of the last ``len(weights)`` observations, the last weight on the
    most recent one; with fewer observations, the last weights only (renormalised). The
    update is O(1); the forecast costs O(len(weights)) once per update.

    Parameters
    ----------
    weights : sequence of float
        Non-negative weights, oldest first, most recent last; they need not sum to 1.
    """

    method = "weighted_moving_average"

    def __init__(self, weights: Sequence[float] = (1.0, 2.0, 3.0)) -> None:
        self.weights = tuple(float(w) for w in weights)
        super().__init__()

    def _reset(self) -> None:
        self._buf: deque[float] = deque(maxlen=len(self.weights))

    def _observe(self, y: float) -> None:
        self._buf.append(y)

    def _forecast(self, h: int) -> float:
        w = self.weights[len(self.weights) - len(self._buf):]
        total = math.fsum(w)
        if total <= 0:  # only zero weights so far: plain mean
            return math.fsum(self._buf) / len(self._buf)
        return math.fsum(a * b for a, b in zip(w, self._buf, strict=True)) / total

    def _flat(self) -> float | None:
        return self._forecast_cached(1) if self.n else 0.0

    def params(self) -> dict[str, Any]:
        return {"method": self.method, "weights": list(self.weights)}
