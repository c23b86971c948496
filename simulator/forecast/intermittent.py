"""Forecasters for intermittent demand: Croston, SBA (Syntetos-Boylan) and TSB.

Croston smooths the size of the nonzero demands (``z``) and the number of periods between
them (``p``, counting the period of the demand: demands on two consecutive days are 1 apart),
and forecasts ``z / p`` per period; both are updated only in a period with demand. The first
demand sets ``z`` to its size and ``p`` to the number of periods up to and including it.
Before any demand the forecast is 0.
"""
from __future__ import annotations

from simulator.forecast.smoothing import _Smoothing


class Croston(_Smoothing):
    """Croston's method: on a demand ``y > 0`` after ``q`` periods, ``z += alpha (y - z)``,
    ``p += alpha (q - p)``; the forecast of every period ahead is ``z / p``.

    Parameters
    ----------
    alpha : float or None
        Smoothing constant of size and interval in [0, 1]; None: estimated by ``fit``
        (0.2 until then).
    """

    method = "croston"
    _constants = ("alpha",)

    def __init__(self, alpha: float | None = None) -> None:
        self._init_constants({"alpha": alpha})
        super().__init__()

    def _reset(self) -> None:
        self._z = 0.0  # smoothed demand size (units)
        self._p = 0.0  # smoothed interval (periods); 0 before the first demand
        self._q = 0    # periods since the last demand, this one included

    def _observe(self, y: float) -> None:
        self._q += 1
        if y <= 0:
            return
        if self._p == 0:
            self._z, self._p = y, float(self._q)
        else:
            self._z += self.alpha * (y - self._z)
            self._p += self.alpha * (self._q - self._p)
        self._q = 0

    def _rate(self) -> float:
        return self._z / self._p if self._p > 0 else 0.0

    def _forecast(self, h: int) -> float:
        return self._rate()

    def _flat(self) -> float | None:
        return self._forecast_cached(1) if self.n else 0.0


class SBA(Croston):
    """Syntetos-Boylan approximation: Croston's forecast times ``1 - alpha / 2`` (Croston's
    is biased upwards)."""

    method = "sba"

    def _forecast(self, h: int) -> float:
        return (1 - self.alpha / 2) * self._rate()


class TSB(_Smoothing):
    """Teunter-Syntetos-Babai: the probability of a demand ``d`` is updated every period,
    ``d += beta ([y > 0] - d)``, the size only in periods with demand, ``z += alpha (y - z)``;
    the forecast of every period ahead is ``d z``. The first observation sets ``d`` to
    ``[y > 0]``; the first demand sets ``z`` to its size.

    Parameters
    ----------
    alpha : float or None
        Smoothing constant of the demand size in [0, 1]; None: estimated (0.2 until then).
    beta : float or None
        Smoothing constant of the demand probability in [0, 1]; None: estimated (0.1).
    """

    method = "tsb"
    _constants = ("alpha", "beta")

    def __init__(self, alpha: float | None = None, beta: float | None = None) -> None:
        self._init_constants({"alpha": alpha, "beta": beta})
        super().__init__()

    def _reset(self) -> None:
        self._d = -1.0  # probability of a demand in a period; -1 before any observation
        self._z = 0.0   # smoothed size of a nonzero demand (units); 0 before any demand
        self._seen = False

    def _observe(self, y: float) -> None:
        hit = 1.0 if y > 0 else 0.0
        self._d = hit if self._d < 0 else self._d + self.beta * (hit - self._d)
        if y > 0:
            self._z = self._z + self.alpha * (y - self._z) if self._seen else y
            self._seen = True

    def _forecast(self, h: int) -> float:
        return self._d * self._z

    def _flat(self) -> float | None:
        return self._forecast_cached(1) if self.n else 0.0
