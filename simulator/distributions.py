"""Probability distributions for lead times and order sizes.

A scenario gives a distribution as a number (a constant) or a mapping naming it,
e.g. ``{dist: gamma, mean: 3, cv: 0.5}``. Each kind is a small frozen pydantic
model that knows its mean and variance (used by policies that derive their
parameters) and makes a *stream*: an iterator of Python floats drawn from a
numpy generator in growing batches, so the event loop pays one C-level
``next()`` per variate instead of one numpy call.

All distributions here are non-negative: lead times never go below 0 and order
sizes are never negative. ``normal`` is truncated at 0 (negative draws are
redrawn), so its actual mean is a little above ``mean`` when ``std`` is large.
"""
from __future__ import annotations

import itertools
import math
import reprlib
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    model_validator,
)

#: largest magnitude of any scenario number: quantities (units), times (days), rates, costs,
#: distribution parameters and policy levels. Checked before any conversion to float, so an
#: integer of hundreds of digits is reported, never overflows.
LIMIT = 1e12
#: smallest positive value of any scenario number (a non-negative one may also be 0), so
#: that ``1 / rate``, ``ordering_cost / holding_cost`` and the like stay far from overflow
TINY = 1e-12
#: range of a gamma distribution's coefficient of variation (shape ``1/cv**2`` within
#: [1e-6, 1e12], where numpy's gamma sampler gives finite draws)
CV_RANGE = (1e-6, 1e3)


def _fmt(x: float) -> str:
    """``1e12``, ``1e-06`` -> ``1e-6``: bounds as a user would write them."""
    return f"{x:g}".replace("e+", "e").replace("e-0", "e-")


def in_range(low: float, high: float = LIMIT, *, below: str) -> BeforeValidator:
    """A check, run before any float conversion, that a finite positive number lies in
    [low, high] (0 itself is left to the field's own ``ge``/``gt``).

    Non-numbers, booleans, infinities and NaN pass through to pydantic's own checks (which
    reject them); so do values <= 0 that are within ``-LIMIT`` (pydantic's ``ge``/``gt``
    message for them). ``below`` is the message for hugely negative values.
    """
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value
        if isinstance(value, float) and not math.isfinite(value):
            return value
        if value > high:
            raise ValueError(f"must be at most {_fmt(high)}")
        if value < -LIMIT:
            raise ValueError(below)
        if 0 < value < low:
            zero = "0 or " if below.endswith("equal to 0") else ""
            raise ValueError(f"must be {zero}at least {_fmt(low)}")
        return value
    return BeforeValidator(check)


# Strict: a number must be a number in the file (no booleans, no quoted strings).
#: a non-negative number: 0 or in [TINY, LIMIT]
NonNeg = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False),
                   in_range(TINY, below="input should be greater than or equal to 0")]
#: a positive number in [TINY, LIMIT]
Pos = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False),
                in_range(TINY, below="input should be greater than 0")]
#: a gamma coefficient of variation, in CV_RANGE
CV = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False),
               in_range(*CV_RANGE, below="input should be greater than 0")]

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlong = 40

#: batch sizes for drawing variates: small first (short runs waste little), then large
_BATCHES = (16, 64, 256, 1024)
_BIG_BATCH = 4096


class _Dist(BaseModel):
    """A non-negative distribution (days or units)."""

    # populate_by_name: fields named ``mean_`` (alias ``mean``) can be built either way
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def mean(self) -> float:
        raise NotImplementedError

    def var(self) -> float:
        raise NotImplementedError

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` variates as a numpy array."""
        raise NotImplementedError

    def stream(self, rng: np.random.Generator) -> Iterator[float]:
        """An endless iterator of variates (Python floats), drawn in batches."""
        sizes = itertools.chain(_BATCHES, itertools.repeat(_BIG_BATCH))
        return itertools.chain.from_iterable(self.draw(rng, n).tolist() for n in sizes)


class Constant(_Dist):
    dist: Literal["constant"] = "constant"
    value: NonNeg

    def mean(self) -> float:
        return self.value

    def var(self) -> float:
        return 0.0

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)

    def stream(self, rng: np.random.Generator) -> Iterator[float]:
        return itertools.repeat(float(self.value))


class Gamma(_Dist):
    dist: Literal["gamma"]
    mean_: Pos = Field(alias="mean")
    cv: CV

    def mean(self) -> float:
        return self.mean_

    def var(self) -> float:
        return (self.cv * self.mean_) ** 2

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        shape = 1.0 / self.cv ** 2
        return rng.gamma(shape, self.mean_ / shape, n)


class Exponential(_Dist):
    dist: Literal["exponential"]
    mean_: Pos = Field(alias="mean")

    def mean(self) -> float:
        return self.mean_

    def var(self) -> float:
        return self.mean_ ** 2

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_, n)


class Normal(_Dist):
    """Normal truncated at 0 (negative draws are redrawn)."""

    dist: Literal["normal"]
    mean_: NonNeg = Field(alias="mean")
    std: NonNeg

    def _alpha(self) -> float:
        return -self.mean_ / self.std

    def mean(self) -> float:
        if self.std == 0:
            return self.mean_
        from scipy.stats import truncnorm
        return float(truncnorm.mean(self._alpha(), math.inf, loc=self.mean_, scale=self.std))

    def var(self) -> float:
        if self.std == 0:
            return 0.0
        from scipy.stats import truncnorm
        return float(truncnorm.var(self._alpha(), math.inf, loc=self.mean_, scale=self.std))

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        x = rng.normal(self.mean_, self.std, n)
        bad = x < 0
        while bad.any():  # mean >= 0, so each redraw keeps at least half
            x[bad] = rng.normal(self.mean_, self.std, int(bad.sum()))
            bad = x < 0
        return x


class Uniform(_Dist):
    dist: Literal["uniform"]
    low: NonNeg
    high: NonNeg

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("high must be at least low")
        return self

    def mean(self) -> float:
        return (self.low + self.high) / 2

    def var(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)


class Poisson(_Dist):
    dist: Literal["poisson"]
    mean_: NonNeg = Field(alias="mean")

    def mean(self) -> float:
        return self.mean_

    def var(self) -> float:
        return self.mean_

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.poisson(self.mean_, n).astype(float)


class Empirical(_Dist):
    dist: Literal["empirical"]
    values: Annotated[list[NonNeg], Field(min_length=1)]
    weights: list[NonNeg] | None = None

    @model_validator(mode="after")
    def _weights(self) -> Empirical:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError("weights must have one entry per value")
            if sum(self.weights) <= 0:
                raise ValueError("weights must not all be 0")
        return self

    def _p(self) -> np.ndarray:
        w = np.ones(len(self.values)) if self.weights is None else np.asarray(self.weights, float)
        return w / w.sum()

    def mean(self) -> float:
        return float(np.dot(self._p(), self.values))

    def var(self) -> float:
        v = np.asarray(self.values, float)
        return float(np.dot(self._p(), (v - self.mean()) ** 2))

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, float), size=n, p=self._p())


class _Kinds(dict):  # type: ignore[type-arg]
    """The kinds by name; ``x in KINDS`` is False (not a TypeError) for a list or mapping,
    so code asking about whatever a user wrote under ``dist`` cannot crash."""

    def __contains__(self, key: object) -> bool:
        try:
            return super().__contains__(key)
        except TypeError:
            return False


KINDS: dict[str, type[_Dist]] = _Kinds({
    "constant": Constant, "gamma": Gamma, "exponential": Exponential, "normal": Normal,
    "uniform": Uniform, "poisson": Poisson, "empirical": Empirical,
})


def _parse(value: Any) -> Any:
    """Number -> Constant; mapping -> the model its ``dist`` names (errors nest under the key)."""
    if isinstance(value, _Dist):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a number or a distribution mapping, got a boolean")
    if isinstance(value, (int, float)):
        if (isinstance(value, float) and not math.isfinite(value)) or value < 0:
            raise ValueError(f"must be a finite number >= 0, got {_SHORT.repr(value)}")
        if value > LIMIT:
            raise ValueError(f"must be at most {_fmt(LIMIT)}")
        if 0 < value < TINY:
            raise ValueError(f"must be 0 or at least {_fmt(TINY)}")
        return Constant.model_validate({"value": value})
    if isinstance(value, dict):
        kind = value.get("dist")
        if not isinstance(kind, str) or kind not in KINDS:
            names = ", ".join(KINDS)
            got = "no 'dist' key" if kind is None else f"unknown dist {_SHORT.repr(kind)}"
            raise ValueError(f"{got}; expected one of: {names}")
        return KINDS[kind].model_validate(value)
    raise ValueError(f"expected a number or a distribution mapping, got {_SHORT.repr(value)}")


def _dump(d: Any) -> Any:
    if not isinstance(d, _Dist):
        return d
    if isinstance(d, Constant):
        return d.value
    return d.model_dump(by_alias=True, exclude_none=True)


#: the pydantic field type for "a number or a distribution mapping"
Distribution = Annotated[_Dist, BeforeValidator(_parse), PlainSerializer(_dump)]
DistributionModel = _Dist
