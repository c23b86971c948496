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
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Discriminator, Tag, ValidationError, create_model

from simulator.forecast import spec as _spec
from simulator.forecast.base import Forecaster, MissingDependency
from simulator.forecast.intermittent import SBA, TSB, Croston
from simulator.forecast.simple import MovingAverage, Naive, SeasonalNaive, WeightedMovingAverage
from simulator.forecast.smoothing import SES, Holt, HoltWinters

__all__ = ["METHODS", "Forecaster", "ForecastSpec", "MissingDependency", "SpecError",
           "ValidationError", "make", "validate"]


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


def _tagged(name: str, model: type[_spec.MethodParams]) -> type[_spec.MethodParams]:
    """``model`` with a ``method`` field that can only be ``name``."""
    fields: dict[str, Any] = {"method": (Literal[name], name)}
    return create_model(f"{model.__name__.removesuffix('Params')}Spec", __base__=model,
                        **fields)


#: a pydantic field type for a ``forecast:`` mapping inside another model (a policy's
#: parameters): a union tagged by ``method``, so errors are located as
#: ``('forecast', 'ses', 'alpha')`` (the method name is part of the location) and an
#: unknown method as ``('forecast',)`` with the valid names; pass the value to :func:`make`
def _method_of(value: Any) -> Any:
    """The ``method`` of a mapping or of a validated spec (None if it has none)."""
    if isinstance(value, Mapping):
        return value.get("method")
    return getattr(value, "method", None)


if TYPE_CHECKING:  # for type checkers: a validated value is a parameter model
    ForecastSpec = _spec.MethodParams
else:
    ForecastSpec = Annotated[
        Union[tuple(Annotated[_tagged(n, m), Tag(n)]  # noqa: UP007
                    for n, (m, _) in _REGISTRY.items())],
        Discriminator(_method_of, custom_error_type="forecast_method",
                      custom_error_message="expected a mapping with a 'method' key, one of: "
                      + ", ".join(_REGISTRY)),
    ]


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


def make(spec: Mapping[str, Any] | _spec.MethodParams) -> Forecaster:
    """A new forecaster from a ``{method: NAME, **params}`` mapping (validated as by
    :func:`validate`) or from a validated :data:`ForecastSpec` value. Raises
    :class:`MissingDependency` (an ImportError) when the method needs statsmodels or
    scikit-learn and it is not installed."""
    if isinstance(spec, _spec.MethodParams):
        spec = spec.model_dump()
    name, params = _checked(spec)
    return _REGISTRY[name][1](**params.model_dump())
