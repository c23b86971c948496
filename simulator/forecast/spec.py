"""Scenario parameters of each forecast method, as pydantic models.

Numbers are strict (a boolean or a quoted string is an error), unknown keys are rejected, and
a :class:`pydantic.ValidationError` locates each problem relative to the ``forecast:`` mapping
(``('alpha',)``), so a caller can prefix the mapping's own dotted key.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

#: a smoothing constant in [0, 1]; None: estimated by ``fit``
Constant = Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)] | None
#: a season length (periods): 2 to 366
Season = Annotated[int, Strict(), Field(ge=2, le=366)]
#: a count of periods (window, lags, refit interval): 1 to 10,000
Count = Annotated[int, Strict(), Field(ge=1, le=10_000)]


class MethodParams(BaseModel):
    """Base of the parameter models: unknown keys rejected, values checked once."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NaiveParams(MethodParams):
    pass


class SeasonalNaiveParams(MethodParams):
    season: Season = 7


class MovingAverageParams(MethodParams):
    window: Count = 7


class WeightedMovingAverageParams(MethodParams):
    weights: list[Annotated[float, Strict(), Field(ge=0, le=1e12, allow_inf_nan=False)]] = \
        Field(default_factory=lambda: [1.0, 2.0, 3.0], min_length=1, max_length=10_000)

    @field_validator("weights")
    @classmethod
    def _some_weight(cls, weights: list[float]) -> list[float]:
        if not any(w > 0 for w in weights):
            raise ValueError("at least one weight must be positive")
        return weights


class SESParams(MethodParams):
    alpha: Constant = None


class HoltParams(MethodParams):
    alpha: Constant = None
    beta: Constant = None


class HoltWintersParams(MethodParams):
    alpha: Constant = None
    beta: Constant = None
    gamma: Constant = None
    season: Season = 7
    seasonal: Literal["additive", "multiplicative"] = "additive"


class CrostonParams(MethodParams):
    alpha: Constant = None


class TSBParams(MethodParams):
    alpha: Constant = None
    beta: Constant = None


class ArimaParams(MethodParams):
    #: (p, d, q); None: chosen by fit
    order: tuple[Annotated[int, Strict(), Field(ge=0, le=5)],
                 Annotated[int, Strict(), Field(ge=0, le=2)],
                 Annotated[int, Strict(), Field(ge=0, le=5)]] | None = None
    refit_every: Annotated[int, Strict(), Field(ge=0, le=10_000)] = 30


class RegressionParams(MethodParams):
    lags: Count = 7
    refit_every: Annotated[int, Strict(), Field(ge=0, le=10_000)] = 30


class RandomForestParams(RegressionParams):
    n_estimators: Annotated[int, Strict(), Field(ge=1, le=1000)] = 50
    max_depth: Annotated[int, Strict(), Field(ge=1, le=100)] | None = None
    seed: Annotated[int, Strict(), Field(ge=0, le=2**32 - 1)] = 0
