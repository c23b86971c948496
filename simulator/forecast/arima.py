"""ARIMA(p, d, q) through statsmodels, refitted every N periods, updated in O(1) between.

``fit`` and every ``refit_every``-th update estimate the model by maximum likelihood
(statsmodels ``ARIMA``; a constant when d = 0) on every observation seen so far. Between
refits, one Kalman filter step per observation with the fitted state-space matrices (a few
small matrix products) updates the state exactly as statsmodels' filter would. When no
``order`` is given, ``fit`` picks d in {0, 1} by the ADF test (5 %) and then (p, q) in
{0, 1, 2}^2 by AIC. statsmodels is an optional dependency (``simulator[forecast]``).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulator.forecast.base import Forecaster, need, one_thread

#: fewest observations an ARIMA fit uses; before that, the forecast is the running mean
MIN_FIT = 10


class Arima(Forecaster):
    """ARIMA forecaster.

    Parameters
    ----------
    order : (int, int, int) or None
        (p, d, q); None: chosen by ``fit`` ((1, 0, 0) until then).
    refit_every : int
        Periods between refits in the run (0: never refit after ``fit``).
    """

    method = "arima"

    def __init__(self, order: Sequence[int] | None = None, refit_every: int = 30) -> None:
        need("statsmodels", self.method)
        self._choose = order is None
        self.order = (1, 0, 0) if order is None else tuple(int(v) for v in order)
        self.refit_every = refit_every
        self._quiet = False  # True while fit replays the history: no refits
        super().__init__()

    def _reset(self) -> None:
        self._history: list[float] = []
        self._ss: dict[str, np.ndarray] | None = None  # state-space matrices
        self._a = np.zeros(0)  # predicted state (mean) for the next period
        self._P = np.zeros((0, 0))
        self._since = 0

    def fit(self, history: Sequence[float]) -> None:
        """Replay ``history`` without refitting, then fit once on all of it. The recorded
        errors become the fitted model's one-step prediction errors on ``history`` (its
        residuals after the diffuse start-up periods)."""
        self._quiet = True
        try:
            super().fit(history)
        finally:
            self._quiet = False
        if self.n >= self._min_fit() and self._refit():
            self._set_errors(self._resid.tolist())

    def _estimate(self, history: list[float]) -> None:
        if self._choose and len(history) >= 3 * MIN_FIT:
            self.order = choose_order(history)

    def _observe(self, y: float) -> None:
        self._history.append(y)
        self._since += 1
        due = self._ss is None or (self.refit_every and self._since >= self.refit_every)
        if due and not self._quiet and len(self._history) >= self._min_fit() \
                and self._refit():
            return  # the refitted state already includes y
        if self._ss is not None:
            self._step(y)

    def _refit(self) -> bool:
        """Re-estimate on every observation seen; whether it succeeded. If statsmodels fails
        (degenerate data), the previous model is kept (or the running mean if there is none)."""
        self._since = 0
        try:
            res = _fit(self._history, self.order)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            return False
        fr = res.filter_results
        last = {name: np.asarray(getattr(fr, name)) for name in
                ("design", "obs_intercept", "obs_cov", "transition", "state_intercept",
                 "selection", "state_cov")}
        ss = {k: (v[..., -1] if v.ndim == 3 or (k.endswith("intercept") and v.ndim == 2) else v)
              for k, v in last.items()}
        ss["RQR"] = ss["selection"] @ ss["state_cov"] @ ss["selection"].T
        self._ss = ss
        self._a = np.asarray(fr.predicted_state[:, -1], dtype=float).copy()
        self._P = np.asarray(fr.predicted_state_cov[:, :, -1], dtype=float).copy()
        self._params = np.asarray(res.params, dtype=float)
        self._resid = np.asarray(res.resid, dtype=float)[res.loglikelihood_burn:]
        return True

    def _step(self, y: float) -> None:
        """One Kalman filter step: the predicted state for the next period."""
        ss = self._ss
        assert ss is not None
        Z, T, a, P = ss["design"], ss["transition"], self._a, self._P
        v = y - (Z @ a + ss["obs_intercept"]).item()
        PZ = P @ Z.T
        F = (Z @ PZ + ss["obs_cov"]).item()
        K = PZ / F
        a_f = a + (K * v).ravel()
        P_f = P - K @ PZ.T
        self._a = T @ a_f + ss["state_intercept"].ravel()
        self._P = T @ P_f @ T.T + ss["RQR"]

    def _forecast(self, h: int) -> float:
        if self._ss is None:
            return sum(self._history) / len(self._history)
        return self.path(h)[-1]

    def path(self, steps: int) -> list[float]:
        if self._ss is None or not self.n:
            return super().path(steps)
        ss = self._ss
        a, out = self._a, []
        for _ in range(steps):
            out.append((ss["design"] @ a + ss["obs_intercept"]).item())
            a = ss["transition"] @ a + ss["state_intercept"].ravel()
        return out

    def _min_fit(self) -> int:
        """Fewest observations a fit uses."""
        return MIN_FIT

    def params(self) -> dict[str, Any]:
        return {"method": self.method, "order": list(self.order),
                "refit_every": self.refit_every}


def _fit(history: Sequence[float] | np.ndarray, order: Sequence[int]) -> Any:
    """A fitted statsmodels ARIMA (a constant when d = 0), warnings silenced."""
    arima = need("statsmodels.tsa.arima.model", "arima")
    trend = "c" if order[1] == 0 else "n"
    with warnings.catch_warnings(), one_thread():
        warnings.simplefilter("ignore")
        model = arima.ARIMA(np.asarray(history, dtype=float), order=tuple(order), trend=trend)
        return model.fit()


def choose_order(history: Sequence[float]) -> tuple[int, int, int]:
    """(p, d, q): d = 1 when the ADF test does not reject a unit root at 5 %, else 0;
    then the (p, q) in {0, 1, 2}^2 with the lowest AIC."""
    stattools = need("statsmodels.tsa.stattools", "arima")
    y = np.asarray(history, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = 1 if np.ptp(y) > 0 and stattools.adfuller(y, result_object=False)[1] > 0.05 \
            else 0
    best, best_aic = (1, d, 0), np.inf
    for p in range(3):
        for q in range(3):
            try:
                aic = _fit(y, (p, d, q)).aic
            except Exception:  # a model that fails to converge is not a candidate
                continue
            if np.isfinite(aic) and aic < best_aic:
                best, best_aic = (p, d, q), aic
    return best
