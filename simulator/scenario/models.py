"""The scenario schema: immutable pydantic models, unknown keys rejected.

Units: time in days, rates per day, costs per unit per day (holding, backorder),
per order (ordering) or per unit (lost sale).
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

import policies
from simulator.distributions import Distribution

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$", max_length=100)]
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Pos = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Product(_Model):
    id: Id
    holding_cost: NonNeg = 0.0
    ordering_cost: NonNeg = 0.0
    backorder_cost: NonNeg = 0.0
    lost_sale_cost: NonNeg = 0.0


class Supplier(_Model):
    id: Id
    lead_time: Distribution = 0.0


class Inventory(_Model):
    """A product stocked at a warehouse (a *stock point*)."""

    source: Id
    policy: dict[str, Any]
    initial: NonNeg | None = None
    lead_time: Distribution | None = None

    @field_validator("policy", mode="before")
    @classmethod
    def _policy(cls, value: Any, info: ValidationInfo) -> dict[str, Any]:
        search = (info.context or {}).get("search", [])
        try:
            return policies.validate(value, search)
        except policies.UnknownPolicy as exc:
            raise ValueError(str(exc)) from None


class Warehouse(_Model):
    id: Id
    inventory: Annotated[dict[Id, Inventory], Field(min_length=1)]


class Demand(_Model):
    rate: Pos
    size: Distribution = 1.0
    arrivals: Literal["poisson", "deterministic"] = "poisson"


class Customer(_Model):
    id: Id
    warehouse: Id
    unmet: Literal["backorder", "lost"] = "backorder"
    demand: Annotated[dict[Id, Demand], Field(min_length=1)]


class Scenario(_Model):
    """A validated scenario. Build it with :func:`simulator.scenario.load`."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""
    horizon: Pos
    warmup: NonNeg = 0.0
    replications: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    seed: Annotated[int, Field(ge=0)] = 0
    products: Annotated[list[Product], Field(min_length=1)]
    suppliers: list[Supplier] = []
    warehouses: Annotated[list[Warehouse], Field(min_length=1)]
    customers: list[Customer] = []

    def product(self, pid: str) -> Product:
        return next(p for p in self.products if p.id == pid)

    def to_dict(self) -> dict[str, Any]:
        """Plain data with every default filled (what ``scenario.yaml`` holds)."""
        return self.model_dump(mode="json", exclude_none=True)
