"""The policy API: what a replenishment policy sees and what it returns.

A policy is a small object with

* ``review_period`` (days): 0 for continuous review (consulted after every change
  of the inventory position), ``R > 0`` for periodic review at t = 0, R, 2R, ...;
* ``order_quantity(view) -> float``: units to order now (0 or less: no order);
* optionally ``prepare(context)``: called once before the run with a
  :class:`PolicyContext` (demand and lead-time statistics, cost rates), for
  policies that derive parameters (EOQ) or plan ahead (LP, annealing). Heavy
  work belongs here, never in ``order_quantity``;
* optionally ``order_up_to``: the level the policy orders up to, if it has one
  (the default initial stock);
* optionally ``reorder_level``: a promise that the policy orders nothing while
  the position is above it (read once, after ``prepare``), so that continuous
  review can skip consulting it. Leave it out (or None) if the policy's
  decision depends on anything else (time). A policy that observes each day's demand
  (``observe(units, now)``, forecast-driven) may move it: the model reads it again after
  every observation.

Built-in policies subclass :class:`Policy`, a frozen-by-convention pydantic
model: parameters are explicit keyword arguments (``SS(s=20, S=60)``), checked
when the scenario is validated, so a sweep can address ``policy.s``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, runtime_checkable

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

#: largest magnitude of a policy parameter (units or days), as of every scenario number
LIMIT = 1e12
#: smallest positive review period (days); 0 means continuous review
TINY = 1e-12


def _at_most_limit(value: Any) -> Any:
    """Refuse a finite number beyond +-LIMIT before any float conversion (a 400-digit
    integer would overflow); anything else is left to pydantic's checks."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return value
    if value > LIMIT:
        raise ValueError("must be at most 1e12")
    if value < -LIMIT:
        raise ValueError("must be at least -1e12")
    return value


def _zero_or_not_tiny(value: Any) -> Any:
    """Like :func:`_at_most_limit`, and a positive value must be at least TINY."""
    value = _at_most_limit(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < TINY:
        raise ValueError("must be 0 or at least 1e-12")
    return value


def _positive(value: Any) -> Any:
    """Like :func:`_at_most_limit`, and a positive value must be at least TINY."""
    value = _at_most_limit(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < TINY:
        raise ValueError("must be at least 1e-12")
    return value


# Strict: numbers must be numbers (a boolean or a quoted string is an error).
#: a number: 0 or in [1e-12, 1e12]
NonNeg = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False),
                   BeforeValidator(_zero_or_not_tiny)]
#: a positive number in [1e-12, 1e12] (an order quantity)
Positive = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False),
                     BeforeValidator(_positive)]
#: a number in [-1e12, 1e12]
Finite = Annotated[float, Strict(), Field(allow_inf_nan=False), BeforeValidator(_at_most_limit)]


@dataclass(frozen=True)
class PolicyContext:
    """What is known about a stock point before the run starts.

    Attributes
    ----------
    warehouse, product : str
        The stock point.
    demand_rate : float
        Mean demand in units per day reaching this stock point: its customers'
        plus, for an upstream warehouse, the demand of the warehouses it supplies.
    demand_var_rate : float
        Variance of demand per day (units**2 per day), so that demand over t days
        has variance ``demand_var_rate * t`` (compound-Poisson: rate * E[size**2]).
    lead_time_mean, lead_time_var : float
        Replenishment lead time (days, days**2) from this stock point's source: the
        supplier's lead time, or the transit time from an upstream warehouse, plus the
        entry's ``order_delay`` (waiting for the upstream's stock is not included).
    holding_cost, ordering_cost, backorder_cost, lost_sale_cost : float
        The product's cost rates (per unit per day, per order, per unit per day, per unit).
    warmup : float
        The scenario's warm-up (days): a policy that learns (fits a forecaster) may use it.
    seed, replication : int
        The run's seed and replication number (filled by the model; 0 elsewhere): a policy
        that draws random numbers takes its own stream,
        ``simulator.rng.stream(seed, replication, "policy/...")``, so that the model's
        streams stay untouched (common random numbers).
    """

    warehouse: str
    product: str
    demand_rate: float
    demand_var_rate: float
    lead_time_mean: float
    lead_time_var: float
    holding_cost: float = 0.0
    ordering_cost: float = 0.0
    backorder_cost: float = 0.0
    lost_sale_cost: float = 0.0
    warmup: float = 0.0
    seed: int = 0
    replication: int = 0


@runtime_checkable
class StockView(Protocol):
    """Read-only view of one stock point (a product at a warehouse), as a policy sees it."""

    @property
    def time(self) -> float: ...            # days since the start
    @property
    def on_hand(self) -> float: ...         # units
    @property
    def backorders(self) -> float: ...      # units owed to customers / downstream
    @property
    def on_order(self) -> float: ...        # units ordered, not yet received
    @property
    def position(self) -> float: ...        # on_hand + on_order - backorders
    @property
    def context(self) -> PolicyContext: ...


class Policy(BaseModel):
    """Base class of the built-in policies (parameters as pydantic fields)."""

    # strict: a number must be a number (not a boolean or a quoted string), as in scenarios
    model_config = ConfigDict(extra="forbid", strict=True)

    review_period: NonNeg = 0.0

    def prepare(self, context: PolicyContext) -> None:
        """Derive parameters from the context before the run (default: nothing)."""

    @property
    def order_up_to(self) -> float | None:
        return None

    @property
    def reorder_level(self) -> float | None:
        return None

    def order_quantity(self, view: StockView) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def resolved(self) -> dict[str, Any]:
        """Parameters as used in the run (after :meth:`prepare`), for provenance."""
        return self.model_dump()
