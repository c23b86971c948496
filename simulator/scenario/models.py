"""The scenario schema: immutable pydantic models, unknown keys rejected.

Units: time in days, rates per day, costs per unit per day (holding, backorder),
per order (ordering) or per unit (lost sale). Numbers are strict: a boolean or
a quoted string where a number belongs is an error, not a silent conversion.

Ranges (so that a scenario that validates also runs, without overflow): every number
is at most 1e12 in magnitude (:data:`simulator.distributions.LIMIT`), except the
horizon (at most 1e18 days); a positive number is at least 1e-12
(:data:`~simulator.distributions.TINY`), so a non-negative one is 0 or in [1e-12, 1e12];
a gamma ``cv`` is in [1e-6, 1e3]; ``replications`` is in [1, 1e6] and ``seed`` in
[0, 2**64 - 1]. Out-of-range numbers are reported before any float conversion.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

import policies
from simulator.distributions import TINY, Constant, Distribution, NonNeg, Pos, in_range

_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def _check_id(value: str) -> str:
    if not _ID.fullmatch(value) or len(value) > 100:
        raise ValueError(f"{value!r} is not a valid id: use letters, digits, '_', '.' and '-' "
                         "(not first), at most 100 characters")
    return value


class FrozenDict(dict):  # type: ignore[type-arg]
    """A dict that refuses changes, so a loaded scenario stays as validated."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a loaded scenario is immutable; build a new one with simulator.load")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore
    __ior__ = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        return (FrozenDict, (dict(self),))


def _freeze(value: dict[Any, Any]) -> FrozenDict:
    return FrozenDict(value)


Id = Annotated[str, Strict(), AfterValidator(_check_id)]


#: the run length (days): positive, at most 1e18 (the cross-checks' stand-in for a bad horizon)
Horizon = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False),
                    in_range(TINY, 1e18, below="input should be greater than 0")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Product(_Model):
    id: Id
    holding_cost: NonNeg = 0.0
    ordering_cost: NonNeg = 0.0
    backorder_cost: NonNeg = 0.0
    lost_sale_cost: NonNeg = 0.0


class Period(_Model):
    """A given disruption of a supplier: it ships nothing from ``from`` to ``to`` (days)."""

    from_: NonNeg = Field(alias="from")
    to: NonNeg


class UpDown(_Model):
    """Random disruptions: up and down times exponential with these means (days)."""

    mean_between: Pos
    mean_duration: Pos


def _disruptions(value: Any) -> Any:
    """A list -> periods, a mapping -> the random process (errors nest under the key)."""
    if value is None or isinstance(value, (tuple, UpDown)):
        return value
    if isinstance(value, list):
        return _PERIODS.validate_python(value)
    if isinstance(value, dict):
        return UpDown.model_validate(value)
    raise ValueError("expected a list of periods [{from: ..., to: ...}, ...] or a random "
                     "process {mean_between: ..., mean_duration: ...}")


def _dump_disruptions(value: Any) -> Any:
    if isinstance(value, tuple):
        return [{"from": p.from_, "to": p.to} for p in value]
    return value.model_dump() if isinstance(value, UpDown) else value


_PERIODS: TypeAdapter[tuple[Period, ...]] = TypeAdapter(tuple[Period, ...])

#: ``disruptions:`` of a supplier: given periods, a random up/down process, or none
Disruptions = Annotated[tuple[Period, ...] | UpDown | None, BeforeValidator(_disruptions),
                        PlainSerializer(_dump_disruptions)]


class Supplier(_Model):
    """A supplier (SPEC section 7); every key but ``id`` is optional and the defaults are an
    unlimited supplier: no capacity limit, no minimum order, no case pack, no disruptions.

    ``capacity`` (units per day): purchase orders are produced one at a time, first come
    first served, q units taking q / capacity days, then the ``lead_time`` runs.
    ``min_order`` and ``multiple`` (units) adjust an order up: to at least ``min_order``,
    then up to a whole number of ``multiple``. ``ordering_cost`` is per purchase order.
    ``consolidation_window`` (days): the replenishment orders of one warehouse's stock points
    placed within this many days of the first are one purchase order (one lead time, received
    together); absent, every replenishment order is its own purchase order.
    """

    id: Id
    lead_time: Distribution = Constant(value=0.0)
    capacity: Pos | None = None
    min_order: NonNeg = 0.0
    multiple: Pos | None = None
    ordering_cost: NonNeg = 0.0
    disruptions: Disruptions = None
    consolidation_window: NonNeg | None = None


class Inventory(_Model):
    """A product stocked at a warehouse (a *stock point*)."""

    source: Id
    policy: Annotated[dict[str, Any], AfterValidator(_freeze)]
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

    @model_validator(mode="after")
    def _default_initial(self) -> Inventory:
        """Fill the default initial stock: the policy's order-up-to level, else 0."""
        if self.initial is None:
            object.__setattr__(self, "initial", policies.default_initial(self.policy))
        return self


class Warehouse(_Model):
    id: Id
    inventory: Annotated[dict[Id, Inventory], Field(min_length=1), AfterValidator(_freeze)]


class Demand(_Model):
    rate: Pos
    size: Distribution = Constant(value=1.0)
    arrivals: Literal["poisson", "deterministic"] = "poisson"


class Customer(_Model):
    id: Id
    warehouse: Id
    unmet: Literal["backorder", "lost"] = "backorder"
    demand: Annotated[dict[Id, Demand], Field(min_length=1), AfterValidator(_freeze)]


class Scenario(_Model):
    """A validated, immutable scenario. Build it with :func:`simulator.load`."""

    name: Annotated[str, Strict(), Field(min_length=1, max_length=200)]
    description: Annotated[str, Strict()] = ""
    horizon: Horizon
    warmup: NonNeg = 0.0
    replications: Annotated[int, Strict(), Field(ge=1, le=1_000_000)] = 1
    seed: Annotated[int, Strict(), Field(ge=0, le=2**64 - 1)] = 0
    products: Annotated[tuple[Product, ...], Field(min_length=1)]
    suppliers: tuple[Supplier, ...] = ()
    warehouses: Annotated[tuple[Warehouse, ...], Field(min_length=1)]
    customers: tuple[Customer, ...] = ()

    def product(self, pid: str) -> Product:
        """The product with id ``pid`` (a linear search: for many lookups, build a dict of
        ``products`` once, as the model and the metrics do)."""
        return next(p for p in self.products if p.id == pid)

    def to_dict(self) -> dict[str, Any]:
        """Plain data with every default filled (what ``scenario.yaml`` holds)."""
        return self.model_dump(mode="json", exclude_none=True)
