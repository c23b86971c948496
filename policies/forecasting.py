"""Forecast-driven replenishment (SPEC section 8): ``order_up_to``.

At each review the policy orders up to

    level = F(P) + z(service_level) * sqrt(P * v)

where P = mean lead time + review period (the protection period, days), F(P) the forecast
demand over the next P days, v the variance of the forecaster's one-step-ahead (one-day)
errors, so ``P * v`` is the error variance over the protection period if daily errors are
independent, and z the standard normal quantile (``service_level: 0.5``: no safety stock).

The forecaster (:mod:`simulator.forecast`) sees one observation per day: the units demanded
at the stock point that day, handed over by the model at each day's end through
:meth:`OrderUpTo.observe` (never per event). Parameters left out of ``forecast`` (smoothing
constants, ARIMA orders) are estimated once, at the end of the warm-up, from the days seen so
far (with no warm-up they keep the method's defaults). Before the first observation the
policy orders up to the level its context predicts (the scenario's mean demand rate), which
is also its default initial stock. Orders are rounded up to whole units.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, Strict

from policies.base import Policy, PolicyContext, StockView

#: days of warm-up ``method: auto`` needs to backtest the candidates
AUTO_MIN_WARMUP = 28


def _forecast_spec(value: Any) -> dict[str, Any]:
    """A ``{method: ..., ...}`` mapping, validated by the forecaster library; or
    ``{method: auto, methods: [...]}`` (candidates default to simulator.backtest's list)."""
    import simulator.forecast as forecast
    if not isinstance(value, dict):
        raise ValueError("expected a mapping {method: ..., ...}, e.g. "
                         "{method: moving_average, window: 7}")
    if value.get("method") != "auto":
        return forecast.validate(value)
    from simulator.backtest import DEFAULT_METHODS
    extra = sorted(set(value) - {"method", "methods"})
    if extra:
        raise ValueError(f"method auto takes only 'methods' (got {', '.join(extra)})")
    methods = value.get("methods", list(DEFAULT_METHODS))
    if not isinstance(methods, list) or not methods or \
            not all(isinstance(m, str) for m in methods):
        raise ValueError("methods: a non-empty list of method names")
    for m in methods:
        forecast.validate({"method": m})
    return {"method": "auto", "methods": list(methods)}


def _optional_spec(value: Any) -> dict[str, Any] | None:
    return None if value is None else _forecast_spec(value)


def whole_units(gap: float) -> float:
    """An order for a gap of ``gap`` units: rounded up to whole units (a forecast level is
    fractional; goods come in units), none for a gap within rounding of 0."""
    return float(math.ceil(gap - 1e-9)) if gap > 1e-9 else 0.0


class _Runtime:
    """A forecasting policy's state during a run (see :meth:`Forecasting.model_post_init`)."""

    __slots__ = ("f", "ctx", "z", "history", "chosen", "level")

    def __init__(self) -> None:
        self.f: Any = None                      # the forecaster
        self.ctx: PolicyContext | None = None
        self.z = 0.0                            # z(service_level)
        self.history: list[float] = []          # the warm-up days, for fitting
        self.chosen: dict[str, Any] | None = None  # what method auto chose
        self.level: tuple[float, float] | None = None  # (days, protected level) of today


class Forecasting(Policy):
    """What every forecast-driven policy shares: the forecaster (``forecast``), fed one
    day's demand at a time by the model (:meth:`observe`), fitted or chosen (``auto``) at the
    end of the warm-up, and the protected level F(P) + z sqrt(P v) (:meth:`protected`).

    The classic rules (``sS``, ``rQ``, ``base_stock``, ``eoq``) derive from it with
    ``forecast`` optional: without one they are exactly the classic rules (the model does not
    even prepare them); with one they recompute their levels from the forecast at each
    review (policies/classic.py).
    """

    #: prepare() is needed only when this parameter is set (None: always)
    prepare_when: ClassVar[str | None] = "forecast"

    forecast: Annotated[dict[str, Any] | None, AfterValidator(_optional_spec)] = None
    service_level: Annotated[float, Strict()] = Field(0.95, gt=0, lt=1)

    if TYPE_CHECKING:
        _rt: _Runtime

    def model_post_init(self, context: Any, /) -> None:
        # Run-time state in a plain object in the instance dict, not in pydantic private
        # attributes: those are read through __getattr__ at ~2 us each, and a continuous
        # review reads this state after every demand.
        object.__setattr__(self, "_rt", _Runtime())

    @property
    def observes(self) -> bool:
        """Whether the model must hand this policy each day's demand."""
        return self.forecast is not None

    def prepare(self, context: PolicyContext) -> None:
        self._rt.ctx = context
        self._rt.z = NormalDist().inv_cdf(self.service_level)
        self._rt.history = []
        self._rt.chosen = None
        if self.forecast is None:
            return
        import simulator.forecast as forecast
        if self.forecast["method"] == "auto":
            if context.warmup < AUTO_MIN_WARMUP:
                raise ValueError(f"forecast method auto picks a method by backtesting the "
                                 f"warm-up days: it needs a warm-up of at least "
                                 f"{AUTO_MIN_WARMUP} days (the scenario has {context.warmup:g})")
            self._rt.f = forecast.make({"method": "ses", "alpha": 0.2})  # until it has chosen
        else:
            self._rt.f = forecast.make(self.forecast)

    @property
    def lead_time(self) -> float:
        """The mean lead time (days) from the context, 0 before prepare."""
        return self._rt.ctx.lead_time_mean if self._rt.ctx is not None else 0.0

    @property
    def forecaster(self) -> Any:
        """The forecaster (read it, do not update it)."""
        return self._rt.f

    def observe(self, units: float, now: float) -> float:
        """One day's demand (units), at the day's end ``now``; returns the one-step-ahead
        forecast that was made for that day (for forecast-accuracy metrics)."""
        f = self._rt.f
        predicted = f.predict(1) if f.n else math.nan
        self._rt.level = None  # the forecast moves: the protected level is computed again
        ctx = self._rt.ctx
        warmup = ctx.warmup if ctx is not None else 0.0
        if now <= warmup:
            self._rt.history.append(units)
        f.update(units)
        if warmup > 0 and now <= warmup < now + 1:  # the last day of the warm-up: fit
            if self.forecast is not None and self.forecast["method"] == "auto":
                self._choose(self._rt.history)
            else:
                f.fit(self._rt.history)
            self._rt.history = []
        return float(predicted)

    def _choose(self, history: list[float]) -> None:
        """``method: auto``: the candidate with the lowest backtest MASE on the warm-up days,
        fitted on them (simulator.backtest)."""
        import simulator.forecast as forecast
        from simulator.backtest import choose
        spec, _ = choose(history, self.forecast["methods"])  # type: ignore[index]
        f = forecast.make(spec)
        f.fit(history)
        self._rt.f = f
        self._rt.chosen = spec

    def protected(self, days: float) -> float | None:
        """Forecast demand over ``days`` plus safety stock, F + z sqrt(days v) (units); None
        before the forecaster's first observation (or without a forecast). The forecast
        changes once a day, so the value is kept until the next observation (a continuous
        review asks after every demand)."""
        cached = self._rt.level
        if cached is not None and cached[0] == days:
            return cached[1]
        f = self._rt.f
        if f is None or not f.n:
            return None
        value = float(f.total(days) + self._rt.z * math.sqrt(max(0.0, days * f.error_variance())))
        self._rt.level = (days, value)
        return value

    def rate(self) -> float:
        """Forecast demand per day (units): the next day's forecast, or the context's rate
        before the first observation."""  # noqa: D401
        f = self._rt.f
        if f is not None and f.n:
            return float(f.predict(1))
        return self._rt.ctx.demand_rate if self._rt.ctx is not None else 0.0

    def forecast_resolved(self) -> dict[str, Any]:
        """The forecast entry as used (with the method ``auto`` chose)."""
        if self.forecast is None:
            return {}
        chosen = self._rt.chosen
        return {"forecast": dict(self.forecast) if chosen is None
                else {**self.forecast, "chosen": chosen["method"]}}


class OrderUpTo(Forecasting):
    """Order up to forecast demand over lead time + review period, plus safety stock."""

    #: the default initial stock (the level) needs the context: filled by the model
    level_from_context: ClassVar[bool] = True
    prepare_when: ClassVar[str | None] = None

    review_period: Annotated[float, Strict()] = Field(1.0, ge=0, le=1e12)
    forecast: Annotated[dict[str, Any], AfterValidator(_forecast_spec)] = Field(  # type: ignore[assignment]
        default_factory=lambda: {"method": "moving_average", "window": 7})

    @property
    def protection(self) -> float:
        """Mean lead time + review period (days)."""
        return self.lead_time + self.review_period

    @property
    def order_up_to(self) -> float | None:
        """The level before any observation (from the context's demand statistics)."""
        if self._rt.ctx is None:
            return None
        ctx = self._rt.ctx
        p = self.protection
        level = ctx.demand_rate * p + self._rt.z * math.sqrt(max(0.0, ctx.demand_var_rate * p))
        return float(math.ceil(level - 1e-9))  # whole units, as the orders

    @property
    def reorder_level(self) -> float:
        """Today's level: no order while the position is above it (read again every day)."""
        return self.level()

    def level(self) -> float:
        """The order-up-to level now (units): from the forecast, or before its first
        observation from the context."""
        level = self.protected(self.protection)
        return level if level is not None else (self.order_up_to or 0.0)

    def order_quantity(self, view: StockView) -> float:
        return whole_units(self.level() - view.position)

    def resolved(self) -> dict[str, Any]:
        return {"review_period": self.review_period, "service_level": self.service_level,
                **self.forecast_resolved()}
