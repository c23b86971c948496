"""The classic replenishment rules on the inventory position.

Each rule is a one-line function of the position; review timing (continuous or
every ``review_period`` days) is handled by the model.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Annotated, Any

from pydantic import Field, Strict, model_validator

from policies.base import Finite, Policy, PolicyContext, Positive, StockView


class SS(Policy):
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
        return self.s

    def order_quantity(self, view: StockView) -> float:
        p = view.position
        return self.S - p if p <= self.s else 0.0


class RQ(Policy):
    """(r, Q): when the position is at or below ``r``, order the smallest multiple
    of ``Q`` that lifts it above ``r``."""

    r: Finite
    Q: Positive

    @property
    def reorder_level(self) -> float | None:
        return self.r

    def order_quantity(self, view: StockView) -> float:
        p = view.position
        if p > self.r:
            return 0.0
        return (math.floor((self.r - p) / self.Q) + 1) * self.Q


class BaseStock(Policy):
    """Base stock (order-up-to) ``S``: order ``S - position`` whenever the position is below S."""

    S: Finite

    @property
    def order_up_to(self) -> float:
        return self.S

    @property
    def reorder_level(self) -> float:
        return self.S

    def order_quantity(self, view: StockView) -> float:
        p = view.position
        return self.S - p if p < self.S else 0.0


class EOQ(RQ):
    """(r, Q) with Q from the EOQ formula and r from a service level, when not given.

    ``Q = sqrt(2 D K / h)`` rounded to a whole unit (at least 1), with D the
    demand rate (units/day), K the ordering cost and h the holding cost per unit
    per day. ``r = mu + z * sigma``: mu and sigma^2 the mean and variance of demand
    over the protection period (lead time + review period), z the standard normal
    quantile of ``service_level`` (probability of no stockout in a cycle).
    """

    r: Finite | None = None  # type: ignore[assignment]
    Q: Positive | None = None  # type: ignore[assignment]
    service_level: Annotated[float, Strict()] = Field(0.95, gt=0, lt=1)

    def prepare(self, context: PolicyContext) -> None:
        if self.Q is None:
            self.Q = eoq_quantity(context)
        if self.r is None:
            self.r = eoq_reorder_point(context, self.service_level, self.review_period)

    def resolved(self) -> dict[str, Any]:
        return {"Q": self.Q, "r": self.r, "service_level": self.service_level,
                "review_period": self.review_period}


def eoq_quantity(ctx: PolicyContext) -> float:
    """Economic order quantity (units), rounded to a whole unit, at least 1."""
    if ctx.demand_rate <= 0 or ctx.ordering_cost <= 0 or ctx.holding_cost <= 0:
        raise ValueError("EOQ needs demand, ordering_cost and holding_cost > 0; give Q")
    q = math.sqrt(2 * ctx.demand_rate * ctx.ordering_cost / ctx.holding_cost)
    return float(max(1, math.floor(q + 0.5)))  # nearest whole unit, halves up


def eoq_reorder_point(ctx: PolicyContext, service_level: float, review_period: float) -> float:
    """Mean demand over lead time + review period plus normal-approximation safety stock."""
    t = ctx.lead_time_mean + review_period
    mu = ctx.demand_rate * t
    var = ctx.demand_var_rate * t + ctx.demand_rate ** 2 * ctx.lead_time_var
    return mu + NormalDist().inv_cdf(service_level) * math.sqrt(var)
