"""The classic replenishment rules on the inventory position.

Each rule is a one-line function of the position; review timing (continuous or
every ``review_period`` days) is handled by the model.

With ``forecast:`` (policies/forecasting.py) a rule recomputes its levels at each review from
the forecast, with P = mean lead time + review period and F + z sqrt(P v) the forecast demand
over P plus safety stock for ``service_level``: ``sS`` takes s = F + z sqrt(P v) and keeps its
gap S - s; ``rQ`` takes r = F + z sqrt(P v) and keeps Q; ``base_stock`` takes S = F + z sqrt(P v);
``eoq`` takes r the same way and Q = sqrt(2 D K / h) with D the forecast demand per day. The
given values hold until the forecaster has seen its first day.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import model_validator

from policies.base import Finite, PolicyContext, Positive, StockView
from policies.forecasting import Forecasting, whole_units
from simulator.planning import eoq, reorder_point


class SS(Forecasting):
    """(s, S): when the position is at or below ``s``, order up to ``S``."""

    s: Finite
    S: Finite

    @model_validator(mode="after")
    def _check(self) -> SS:
        if not self.s < self.S:
            raise ValueError(f"s must be less than S (got s={self.s:g}, S={self.S:g})")
        return self

    @property
    def order_up_to(self) -> float:
        return self.S

    @property
    def reorder_level(self) -> float:
        if self.forecast is not None:  # today's s (the model reads it again every day)
            level = self.protected(self.lead_time + self.review_period)
            if level is not None:
                return level
        return self.s

    def order_quantity(self, view: StockView) -> float:
        p = view.position
        s, big_s = self.s, self.S
        if self.forecast is not None:
            level = self.protected(self.lead_time + self.review_period)
            if level is not None:
                s, big_s = level, level + (self.S - self.s)
                return whole_units(big_s - p) if p <= s else 0.0
        return big_s - p if p <= s else 0.0


class RQ(Forecasting):
    """(r, Q): when the position is at or below ``r``, order the smallest multiple
    of ``Q`` that lifts it above ``r``."""

    r: Finite
    Q: Positive

    @property
    def reorder_level(self) -> float | None:
        if self.forecast is not None and self.r is not None:  # today's r (read every day)
            return self._forecast_rq(self.r, self.Q or 1.0)[0]
        return self.r

    def order_quantity(self, view: StockView) -> float:
        p = view.position
        r, q = self.r, self.Q
        if self.forecast is not None:
            r, q = self._forecast_rq(r, q)
        if p > r:
            return 0.0
        return (math.floor((r - p) / q) + 1) * q

    def _forecast_rq(self, r: float, q: float) -> tuple[float, float]:
        """r from the forecast (Q kept); EOQ also recomputes Q."""
        level = self.protected(self.lead_time + self.review_period)
        return (level, q) if level is not None else (r, q)


class BaseStock(Forecasting):
    """Base stock (order-up-to) ``S``: order ``S - position`` whenever the position is below S."""

    S: Finite

    @property
    def order_up_to(self) -> float:
        return self.S

    @property
    def reorder_level(self) -> float:
        if self.forecast is not None:  # today's S (the model reads it again every day)
            level = self.protected(self.lead_time + self.review_period)
            if level is not None:
                return level
        return self.S

    def order_quantity(self, view: StockView) -> float:
        p = view.position
        if self.forecast is not None:
            level = self.protected(self.lead_time + self.review_period)
            if level is not None:
                return whole_units(level - p)
        return self.S - p if p < self.S else 0.0


class EOQ(RQ):
    """(r, Q) with Q from the EOQ formula and r from a service level, when not given.

    ``Q = sqrt(2 D K / h)`` rounded to a whole unit (at least 1), with D the
    demand rate (units/day), K the ordering cost and h the holding cost per unit
    per day. ``r = mu + z * sigma``: mu and sigma^2 the mean and variance of demand
    over the protection period (lead time + review period), z the standard normal
    quantile of ``service_level`` (probability of no stockout in a cycle).
    """

    prepare_when: ClassVar[str | None] = None  # always: it derives Q and r

    r: Finite | None = None  # type: ignore[assignment]
    Q: Positive | None = None  # type: ignore[assignment]

    def prepare(self, context: PolicyContext) -> None:
        super().prepare(context)
        if self.Q is None:
            self.Q = eoq_quantity(context)
        if self.r is None:
            self.r = eoq_reorder_point(context, self.service_level, self.review_period)

    def _forecast_rq(self, r: float, q: float) -> tuple[float, float]:
        level = self.protected(self.lead_time + self.review_period)
        if level is None:
            return r, q
        ctx = self._rt.ctx
        d = self.rate()
        if ctx is not None and d > 0 and ctx.ordering_cost > 0 and ctx.holding_cost > 0:
            q = float(max(1, math.floor(math.sqrt(2 * d * ctx.ordering_cost
                                                   / ctx.holding_cost) + 0.5)))
        return level, q

    def resolved(self) -> dict[str, Any]:
        return {"Q": self.Q, "r": self.r, "service_level": self.service_level,
                "review_period": self.review_period, **self.forecast_resolved()}


def eoq_quantity(ctx: PolicyContext) -> float:
    """Economic order quantity (units), rounded to a whole unit, at least 1."""
    if ctx.demand_rate <= 0 or ctx.ordering_cost <= 0 or ctx.holding_cost <= 0:
        raise ValueError("EOQ needs demand, ordering_cost and holding_cost > 0; give Q")
    q = eoq(ctx.demand_rate, ctx.ordering_cost, ctx.holding_cost)
    return float(max(1, math.floor(q + 0.5)))  # nearest whole unit, halves up


def eoq_reorder_point(ctx: PolicyContext, service_level: float, review_period: float) -> float:
    """Mean demand over lead time + review period plus normal-approximation safety stock
    (:func:`simulator.planning.reorder_point`)."""
    return reorder_point(ctx.demand_rate, service_level, ctx.demand_var_rate,
                         ctx.lead_time_mean, ctx.lead_time_var, review_period)
