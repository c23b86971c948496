"""Regression and random forest on lag and calendar features (scikit-learn, optional).

Features of period t: the ``lags`` previous observations ``y[t-1] ... y[t-lags]`` and the
day of the week as 7 indicators, where the day of week of period t is ``t mod 7`` counting
from the first observation the forecaster saw (``fit``'s history starts at day 0). The model
is fitted by ``fit`` and refitted on every observation seen every ``refit_every`` periods;
an update between refits only appends to the lag buffer (O(1)). Forecasts more than one
period ahead feed the forecasts back as lags. Before a model is fitted (fewer than
``2 * lags + 7`` observations) the forecast is the mean of the observations.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulator.forecast.base import Forecaster, need, one_thread

WEEK = 7


class _Learned(Forecaster):
    """Shared lag/calendar machinery; subclasses build the scikit-learn estimator."""

    _module = "sklearn"

    def __init__(self, lags: int = 7, refit_every: int = 30) -> None:
        need(self._module, self.method)
        self.lags = lags
        self.refit_every = refit_every
        self._quiet = False  # True while fit replays the history: no refits
        super().__init__()

    def _reset(self) -> None:
        self._history: list[float] = []
        self._model: Any = None
        self._since = 0

    def fit(self, history: Sequence[float]) -> None:
        """Replay ``history`` without refitting, then fit once on all of it. The recorded
        errors become the fitted model's errors on ``history``: its residuals (regression)
        or its out-of-bag errors (random forest, whose in-sample errors are far too small)."""
        self._quiet = True
        try:
            super().fit(history)
        finally:
            self._quiet = False
        if self.n >= self._min_fit():
            self._refit()
            self._set_errors(self._errors())

    def _observe(self, y: float) -> None:
        self._history.append(y)
        self._since += 1
        due = self._model is None or (self.refit_every and self._since >= self.refit_every)
        if due and not self._quiet and len(self._history) >= self._min_fit():
            self._refit()

    def _features(self, lags: list[float], day: int) -> list[float]:
        """One feature row: lags most recent first, then the day-of-week indicators."""
        week = [0.0] * WEEK
        week[day % WEEK] = 1.0
        return lags[::-1] + week

    def _design(self) -> tuple[np.ndarray, np.ndarray]:
        """Feature rows and targets of every period with ``lags`` periods before it."""
        y, k = self._history, self.lags
        X = np.array([self._features(y[t - k:t], t) for t in range(k, len(y))])
        return X, np.asarray(y[k:])

    def _refit(self) -> None:
        X, target = self._design()
        self._model = self._estimator()
        with one_thread():
            self._model.fit(X, target)
        self._since = 0

    def _errors(self) -> list[float]:
        """The fitted model's errors (units) on the history it was fitted to."""
        X, target = self._design()
        return (target - self._model.predict(X)).tolist()

    def _estimator(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def path(self, steps: int) -> list[float]:
        if self._model is None or not self.n:
            return super().path(steps)
        window = self._history[-self.lags:]
        t = len(self._history)
        out: list[float] = []
        for i in range(steps):  # one row at a time: the forecasts become the lags
            value = float(self._model.predict(np.array([self._features(window, t + i)]))[0])
            out.append(value)
            window = window[1:] + [value]
        return out

    def _forecast(self, h: int) -> float:
        if self._model is None:
            return sum(self._history) / len(self._history)
        return self.path(h)[-1]

    def _min_fit(self) -> int:
        """Fewest observations a fit uses."""
        return 2 * self.lags + WEEK

    def params(self) -> dict[str, Any]:
        return {"method": self.method, "lags": self.lags, "refit_every": self.refit_every}


class Regression(_Learned):
    """Least-squares linear regression on lags and day of week (``LinearRegression``)."""

    method = "regression"

    def _estimator(self) -> Any:
        return need("sklearn.linear_model", self.method).LinearRegression()


class RandomForest(_Learned):
    """Random forest on lags and day of week (``RandomForestRegressor``, one core).

    Parameters
    ----------
    n_estimators : int
        Trees (default 50).
    max_depth : int or None
        Depth limit of a tree (None: unlimited).
    seed : int
        ``random_state`` of the forest, so runs are reproducible.
    """

    method = "random_forest"

    def __init__(self, lags: int = 7, refit_every: int = 30, n_estimators: int = 50,
                 max_depth: int | None = None, seed: int = 0) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.seed = seed
        super().__init__(lags, refit_every)

    def _estimator(self) -> Any:
        ensemble = need("sklearn.ensemble", self.method)
        return ensemble.RandomForestRegressor(n_estimators=self.n_estimators,
                                              max_depth=self.max_depth, oob_score=True,
                                              random_state=self.seed, n_jobs=1)

    def _errors(self) -> list[float]:
        """Out-of-bag errors (units): each period predicted by the trees not fitted to it
        (periods every tree saw are left out)."""
        _, target = self._design()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "some inputs do not have OOB scores"
            oob = np.asarray(self._model.oob_prediction_, dtype=float)
        ok = np.isfinite(oob)
        return (target[ok] - oob[ok]).tolist()

    def params(self) -> dict[str, Any]:
        return {**super().params(), "n_estimators": self.n_estimators,
                "max_depth": self.max_depth, "seed": self.seed}
