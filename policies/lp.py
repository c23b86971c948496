"""``lp``: a rolling-horizon MILP plan of all the lp products of a warehouse together.

At each review the warehouse's planner (:mod:`policies.joint`) solves a lot-sizing MILP over
``horizon`` periods of ``review_period`` days from the forecasts, with the warehouse's
capacity and budget, its suppliers' capacities, minimum orders, case packs and fixed ordering
costs (:mod:`policies.lp_model`, formulation in docs/lp.md), and applies the first period's
orders. Each product's policy reads its own quantity from the plan.

The forecast is the :class:`~policies.forecasting.Forecasting` machinery's: with
``forecast:`` the forecaster's cumulative forecast, else the context's mean demand rate. The
plan keeps the projected net inventory at each arrival above a safety stock
``z(service_level) sqrt((L + R) v)`` (``service_level: 0.5``: none).

Outside a network (a policy on its own, as in the conformance tests) it plans its product
alone, without warehouse limits.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field, Strict

from policies.base import Positive, StockView
from policies.forecasting import Forecasting
from policies.lp_model import Item, Problem, fallback, solve

if TYPE_CHECKING:
    from policies.joint import Planner


class Limits:
    """What the scenario says about one lp product beyond its context: ``unit_cost`` and
    ``volume`` (product), and its supplier's ``min_order``, ``multiple`` (units) and id
    (None when it is sourced from a warehouse); ``line_cost``: the supplier's ordering cost
    when it is charged per order line (no consolidation window), added to the product's."""

    __slots__ = ("line_cost", "min_order", "multiple", "supplier", "unit_cost", "volume")

    def __init__(self, unit_cost: float = 0.0, volume: float = 1.0, min_order: float = 0.0,
                 multiple: float | None = None, supplier: str | None = None,
                 line_cost: float = 0.0):
        self.line_cost = line_cost
        self.unit_cost = unit_cost
        self.volume = volume
        self.min_order = min_order
        self.multiple = 1.0 if multiple is None else multiple
        self.supplier = supplier


class LP(Forecasting):
    """Rolling-horizon MILP plan of a warehouse's lp products (docs/lp.md)."""

    #: the default initial stock (the order-up-to level of the fallback) needs the context
    level_from_context: ClassVar[bool] = True
    prepare_when: ClassVar[str | None] = None
    #: planned together with the warehouse's other joint policies (policies/joint.py)
    joint: ClassVar[bool] = True
    #: the keys every lp product of a warehouse must share (one plan)
    shared: ClassVar[tuple[str, ...]] = ("review_period", "horizon", "time_limit",
                                         "mip_rel_gap")

    review_period: Positive = 1.0
    horizon: Annotated[int, Strict()] = Field(8, ge=1, le=100)
    time_limit: Annotated[float, Strict()] = Field(2.0, gt=0, le=3600)
    mip_rel_gap: Annotated[float, Strict()] = Field(0.01, ge=0, lt=1)

    if TYPE_CHECKING:
        _planner: Planner | None

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        object.__setattr__(self, "_planner", None)

    def join(self, planner: Planner) -> None:
        """Plan with ``planner`` (the warehouse's), set by the network."""
        object.__setattr__(self, "_planner", planner)

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        state["__dict__"] = {k: v for k, v in state["__dict__"].items() if k != "_planner"}
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        object.__setattr__(self, "_planner", None)

    # -- the forecast -------------------------------------------------------
    def cumulative(self, days: float) -> float:
        """Forecast demand over the next ``days`` days (units)."""
        f = self._rt.f
        if f is not None and f.n:
            return float(f.total(days)) if days > 0 else 0.0
        return self._rt.ctx.demand_rate * days if self._rt.ctx is not None else 0.0

    def safety_stock(self) -> float:
        """z(service_level) sqrt((L + R) v) (units), v the variance of a day's demand (the
        forecaster's one-day error variance, or the context's)."""
        f = self._rt.f
        if f is not None and f.n:
            v = f.error_variance()
        else:
            v = self._rt.ctx.demand_var_rate if self._rt.ctx is not None else 0.0
        days = self.lead_time + self.review_period
        return self._rt.z * math.sqrt(max(0.0, days * v)) if v == v else 0.0

    @property
    def order_up_to(self) -> float | None:
        """The fallback's level before any observation: demand over L + R plus safety stock,
        in whole units (the default initial stock)."""
        if self._rt.ctx is None:
            return None
        level = self.cumulative(self.lead_time + self.review_period) + self.safety_stock()
        return float(math.ceil(level - 1e-9))

    def item(self, position: float, limits: Limits) -> Item:
        """This product's part of the plan, from its position now (units)."""
        ctx = self._rt.ctx
        r, lead, h = self.review_period, self.lead_time, self.horizon
        # whole units: the cumulative forecasts rounded (totals kept), so that the MILP with
        # whole-unit orders stays as tight as its relaxation (fractional demands make HiGHS
        # close the gap by branching on rounding, seconds instead of milliseconds)
        ss = self.safety_stock()
        marks = [_whole(self.cumulative(lead + t * r) + ss) for t in range(h + 1)]
        holding = ctx.holding_cost * r if ctx is not None else 0.0
        backorder = _shortage_cost(ctx, r, holding)
        return Item(
            product=ctx.product if ctx is not None else "",
            position=float(position),
            lead_demand=marks[0],
            demand=tuple(marks[t + 1] - marks[t] for t in range(h)),
            before=tuple(_whole(self.cumulative(t * r)) for t in range(h)),
            holding=holding,
            backorder=backorder,
            minor=(ctx.ordering_cost if ctx is not None else 0.0) + limits.line_cost,
            unit_cost=limits.unit_cost, volume=limits.volume,
            min_order=limits.min_order, multiple=limits.multiple, supplier=limits.supplier)

    # -- the decision -------------------------------------------------------
    def order_quantity(self, view: StockView) -> float:
        if self._planner is not None:
            return self._planner.quantity(view.context.product, view.time)
        pb = Problem(items=(self.item(view.position, Limits()),), periods=self.horizon,
                     time_limit=self.time_limit, mip_rel_gap=self.mip_rel_gap)
        first = solve(pb).first
        return (first if first is not None else fallback(pb))[0]

    def resolved(self) -> dict[str, Any]:
        out = {"review_period": self.review_period, "horizon": self.horizon,
               "time_limit": self.time_limit, "mip_rel_gap": self.mip_rel_gap,
               "service_level": self.service_level, **self.forecast_resolved()}
        if self._planner is not None:
            out.update(self._planner.stats())
        return out


#: a shortage's cost per unit per period when the product gives none, in holding costs
SHORTAGE_FACTOR = 1000.0


def _shortage_cost(ctx: Any, period: float, holding: float) -> float:
    """Cost of a unit short at a period's end (currency): ``backorder_cost`` x period, else
    ``lost_sale_cost``, else SHORTAGE_FACTOR x the holding cost per period (at least 1), so
    that a plan without shortage costs still meets the forecast demand."""
    if ctx is not None and ctx.backorder_cost > 0:
        return float(ctx.backorder_cost * period)
    if ctx is not None and ctx.lost_sale_cost > 0:
        return float(ctx.lost_sale_cost)
    return max(SHORTAGE_FACTOR * holding, 1.0)


def _whole(units: float) -> float:
    """``units`` rounded to the nearest whole unit (halves up)."""
    return float(math.floor(units + 0.5))
