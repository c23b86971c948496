"""Demand forecasters behind one small protocol (:class:`Forecaster`), built by name.

>>> from simulator.forecast import make
>>> f = make({"method": "ses", "alpha": 0.3})
>>> for y in (10, 12, 9):
...     f.update(y)
>>> round(f.predict(1), 4), round(f.total(2.5), 4)
(10.12, 25.3)

A period is one day; an observation is one day's demand (units). ``make`` validates the
parameters (pydantic: strict numbers, unknown keys rejected). Importing this package does
not import statsmodels, scikit-learn or scipy.optimize: methods that need them import them
when built or fitted. See docs/forecasting.md.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from simulator.forecast import spec as _spec
from simulator.forecast.base import Forecaster, MissingDependency
from simulator.forecast.intermittent import SBA, TSB, Croston
from simulator.forecast.simple import MovingAverage, Naive, SeasonalNaive, WeightedMovingAverage
from simulator.forecast.smoothing import SES, Holt, HoltWinters

__all__ = ["METHODS", "Forecaster", "MissingDependency", "SpecError", "ValidationError", "make",
           "validate"]


def _arima(**kw: Any) -> Forecaster:
    from simulator.forecast.arima import Arima
    return Arima(**kw)


def _regression(**kw: Any) -> Forecaster:
    from simulator.forecast.learned import Regression
    return Regression(**kw)


def _random_forest(**kw: Any) -> Forecaster:
    from simulator.forecast.learned import RandomForest
    return RandomForest(**kw)


#: method name -> (parameter model, constructor taking the validated parameters)
_REGISTRY: dict[str, tuple[type[_spec.MethodParams], Callable[..., Forecaster]]] = {
    "naive": (_spec.NaiveParams, Naive),
    "seasonal_naive": (_spec.SeasonalNaiveParams, SeasonalNaive),
    "moving_average": (_spec.MovingAverageParams, MovingAverage),
    "weighted_moving_average": (_spec.WeightedMovingAverageParams, WeightedMovingAverage),
    "ses": (_spec.SESParams, SES),
    "holt": (_spec.HoltParams, Holt),
    "holt_winters": (_spec.HoltWintersParams, HoltWinters),
    "croston": (_spec.CrostonParams, Croston),
    "sba": (_spec.CrostonParams, SBA),
    "tsb": (_spec.TSBParams, TSB),
    "arima": (_spec.ArimaParams, _arima),
    "regression": (_spec.RegressionParams, _regression),
    "random_forest": (_spec.RandomForestParams, _random_forest),
}

#: every method name a scenario can give as ``forecast: {method: NAME}``
METHODS: tuple[str, ...] = tuple(_REGISTRY)


class SpecError(ValueError):
    """A ``forecast:`` mapping that is not a mapping, or whose ``method`` is missing or
    unknown. :attr:`key` is the offending key inside the mapping (``""``: the mapping)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


def _checked(spec: Any) -> tuple[str, _spec.MethodParams]:
    if not isinstance(spec, Mapping):
        raise SpecError("", "expected a mapping with a 'method' key, e.g. {method: ses}")
    if "method" not in spec:
        raise SpecError("", "missing 'method'; valid methods: " + ", ".join(METHODS))
    name = spec["method"]
    if not isinstance(name, str) or name not in _REGISTRY:
        raise SpecError("method", f"unknown forecast method {name!r}; valid methods: "
                        + ", ".join(METHODS))
    model = _REGISTRY[name][0]
    return name, model.model_validate({k: v for k, v in spec.items() if k != "method"})


def validate(spec: Any) -> dict[str, Any]:
    """Check a ``{method: NAME, **params}`` mapping; return it with defaults filled.

    Raises
    ------
    SpecError
        Not a mapping, or ``method`` missing or unknown (``.key`` says which key).
    pydantic.ValidationError
        A parameter unknown, of the wrong type or out of range (``loc`` relative to the
        mapping, e.g. ``('alpha',)``).
    """
    name, params = _checked(spec)
    return {"method": name, **params.model_dump()}


def make(spec: Mapping[str, Any]) -> Forecaster:
    """A new forecaster from a ``{method: NAME, **params}`` mapping (validated as by
    :func:`validate`). Raises :class:`MissingDependency` (an ImportError) when the method
    needs statsmodels or scikit-learn and it is not installed."""
    name, params = _checked(spec)
    return _REGISTRY[name][1](**params.model_dump())
