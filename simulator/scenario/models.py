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

import math
import re
import typing
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

import policies
from simulator.distributions import LIMIT, TINY, Constant, Distribution, NonNeg, Pos, in_range

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
    #: money per unit bought (the value of a unit: ABC classes, the LP policy's budget)
    unit_cost: NonNeg = 0.0
    #: space one unit takes in a warehouse (any unit; the LP policy's capacity in volume)
    volume: NonNeg = 1.0


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


def _validated_policy(value: Any, info: ValidationInfo) -> dict[str, Any]:
    """A policy mapping checked by :func:`policies.validate` (defaults filled)."""
    search = (info.context or {}).get("search", [])
    try:
        return policies.validate(value, search)
    except policies.UnknownPolicy as exc:
        raise ValueError(str(exc)) from None


class _Remembers(_Model):
    """A model with a ``policy`` that remembers the keys its policy was written with
    (``_given``, before defaults are filled): two are equal when their values are, however
    they were written."""

    _given: frozenset[str] = PrivateAttr(default=frozenset())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_given(cls, data: Any, handler: Any) -> Any:
        made = handler(data)
        if isinstance(data, dict):  # not an instance passed through as it is
            made._given = _given_keys(data)
        return made

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.__dict__ == other.__dict__

    __hash__ = _Model.__hash__


def _given_keys(data: Any) -> frozenset[str]:
    """The keys of ``data["policy"]`` as written (none if it is not a mapping)."""
    raw = data.get("policy") if isinstance(data, dict) else None
    return frozenset(raw) if isinstance(raw, dict) else frozenset()


class Inventory(_Remembers):
    """A product stocked at a warehouse (a *stock point*).

    ``policy`` may be left out when the scenario has an ``abc`` section whose class of the
    product gives one (filled in by :func:`simulator.scenario.abcclass.apply`); until then it is
    an empty mapping.
    """

    source: Id
    policy: Annotated[dict[str, Any], AfterValidator(_freeze)] = Field(
        default_factory=FrozenDict, validate_default=False)
    initial: NonNeg | None = None
    lead_time: Distribution | None = None
    #: days between placing an order and its source seeing it (an information lag)
    order_delay: NonNeg = 0.0

    #: keys the ``abc`` section filled in ("policy", "service_level", "initial"): left out of
    #: :meth:`Scenario.to_dict`, so that a changed class default reaches this stock point
    _from_class: frozenset[str] = PrivateAttr(default=frozenset())

    @field_validator("policy", mode="before")
    @classmethod
    def _policy(cls, value: Any, info: ValidationInfo) -> dict[str, Any]:
        return _validated_policy(value, info)

    @model_validator(mode="after")
    def _default_initial(self) -> Inventory:
        """Fill the default initial stock: the policy's order-up-to level, else 0; left
        out (None) for a policy that needs its context (``prepare``) for that level, such as
        ``order_up_to``: the model fills it after preparing the policy. Without a policy
        (an ``abc`` class default comes later) it is left for that step."""
        if self.initial is None and self.policy and \
                not policies.level_needs_context(self.policy):
            object.__setattr__(self, "initial", policies.default_initial(self.policy))
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave out what the ``abc`` section filled in (it fills it again on loading)."""
        data = handler(self)
        if "policy" in self._from_class or not self.policy:
            data.pop("policy", None)
        elif "service_level" in self._from_class and isinstance(data.get("policy"), dict):
            data["policy"] = {k: v for k, v in data["policy"].items() if k != "service_level"}
        if "initial" in self._from_class:
            data.pop("initial", None)
        return data  # type: ignore[no-any-return]


class Warehouse(_Model):
    """A warehouse and its stock points. ``capacity`` (in ``capacity_unit``: units, or the
    products' ``volume``) and ``budget`` (money ordered per review period) are kept by the
    ``lp`` policy, which plans the warehouse's lp products together (docs/lp.md)."""

    id: Id
    inventory: Annotated[dict[Id, Inventory], Field(min_length=1), AfterValidator(_freeze)]
    capacity: Pos | None = None
    capacity_unit: Literal["units", "volume"] = "units"
    budget: NonNeg | None = None


#: a multiplier of a demand rate: >= 0 (0 switches demand off)
Factor = NonNeg
#: a real number in [-1e12, 1e12] (a trend per day may be negative)
Real = Annotated[float, Strict(), Field(allow_inf_nan=False), AfterValidator(
    lambda x: x if abs(x) <= LIMIT else _too_big())]


def _too_big() -> float:
    raise ValueError(f"must be between {-LIMIT:g} and {LIMIT:g}")


def _count(*allowed: int, what: str) -> AfterValidator:
    """A check that a list of multipliers has one of the ``allowed`` lengths."""
    def check(value: tuple[float, ...]) -> tuple[float, ...]:
        if len(value) not in allowed:
            wanted = " or ".join(str(n) for n in allowed)
            raise ValueError(f"give {wanted} multipliers ({what}), not {len(value)}")
        return value
    return AfterValidator(check)


class _FromModel(_Model):
    """A model with a ``from`` key (``from_`` in Python), written back as ``from``."""

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        return {("from" if k == "from_" else k): v for k, v in data.items()}


class Promotion(_FromModel):
    """Demand times ``factor`` on the days d with ``from <= d < to``."""

    from_: NonNeg = Field(alias="from")
    to: NonNeg
    factor: Factor

    @model_validator(mode="after")
    def _ordered(self) -> Promotion:
        if self.to <= self.from_:
            raise ValueError(f"ends (to: {self.to:g}) before it starts (from: {self.from_:g}); "
                             "a promotion covers the days from <= d < to")
        return self


class Regime(_FromModel):
    """From day ``from`` on, the stream's base rate is ``rate`` (orders per day)."""

    from_: NonNeg = Field(alias="from")
    rate: NonNeg


def _increasing(value: tuple[Regime, ...]) -> tuple[Regime, ...]:
    for a, b in zip(value, value[1:], strict=False):
        if b.from_ <= a.from_:
            raise ValueError(f"regimes must start in increasing order of 'from' "
                             f"({b.from_:g} comes after {a.from_:g})")
    return value


class Pattern(_Model):
    """How a stream's rate varies from day to day (docs/demand-models.md).

    The rate on day ``t`` (``t = 0, 1, ...`` from the run's day 0; the rate is constant
    within a day) is the base rate (``rate``, or the last of ``regimes`` started by day
    ``t``) times ``max(0, 1 + trend * t)`` times ``weekly[t mod 7]`` times the ``yearly``
    multiplier of the day (12: month ``floor((t mod 365) * 12 / 365)``; 52: week
    ``min(floor((t mod 365) / 7), 51)``) times the ``factor`` of every promotion covering
    ``t``. With ``intermittent: p`` a day has demand with probability ``p`` (drawn day by day
    from the stream's own random stream), and then at the rate divided by ``p``, so that
    the mean rate is kept.
    """

    trend: Real = 0.0
    weekly: Annotated[tuple[Factor, ...], _count(7, what="day t uses t mod 7")] | None = None
    yearly: Annotated[tuple[Factor, ...], _count(
        12, 52, what="12 months or 52 weeks of a 365-day year")] | None = None
    promotions: tuple[Promotion, ...] = ()
    intermittent: Annotated[float, Strict(), Field(gt=0, le=1, allow_inf_nan=False),
                            in_range(TINY, 1.0, below="input should be greater than 0")] \
        | None = None
    regimes: Annotated[tuple[Regime, ...], AfterValidator(_increasing)] = ()


class Demand(_Model):
    """One customer's single-product stream: ``rate`` orders per day of ``size`` units,
    optionally varying by ``pattern``, or the replay of a daily ``history`` (a CSV file,
    relative to the scenario file; its product's column or ``column``), resampled by whole
    weeks unless ``bootstrap`` is false (docs/demand-models.md)."""

    rate: Pos | None
    size: Distribution = Constant(value=1.0)
    arrivals: Literal["poisson", "deterministic"] = "poisson"
    pattern: Pattern | None = None
    history: Annotated[str, Strict(), Field(min_length=1, max_length=4096)] | None = None
    column: Id | None = None
    bootstrap: Annotated[bool, Strict()] = True

    #: the history read with the scenario (``history``); see :func:`simulator.history.read`
    _history: Any = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _no_rate_with_history(cls, data: Any) -> Any:
        """A history stream has no ``rate`` (so that ``rate`` is required only without one)."""
        if isinstance(data, dict) and "history" in data and "rate" not in data:
            return {**data, "rate": None}
        return data

    @model_validator(mode="after")
    def _history_keys(self) -> Demand:
        """``rate`` and its keys, or ``history`` and its keys (the file is read after the
        cross-checks, with the order logs: simulator.scenario._read_files)."""
        given = self.model_fields_set
        if self.history is None:
            if self.rate is None:
                raise ValueError("give rate (orders per day) or history (a CSV file)")
            for key in ("column", "bootstrap"):
                if key in given:
                    raise ValueError(f"{key} belongs to a history stream (history: FILE)")
            return self
        for key in ("rate", "size", "arrivals", "pattern"):
            if key in given and not (key == "rate" and self.rate is None):
                raise ValueError(f"{key} cannot be combined with history (a history gives "
                                 "the units per day)")
        return self

    @property
    def daily(self) -> Any:
        """The :class:`~simulator.history.DailyHistory` read from ``history`` (None without)."""
        return self._history

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A history is written with the path it was read from (absolute)."""
        data = handler(self)
        if self._history is not None:
            data["history"] = str(Path(self._history.file).resolve())
            for key in ("rate", "size", "arrivals", "pattern"):
                data.pop(key, None)
        else:  # the history keys would not load without history
            data.pop("bootstrap", None)
        return data  # type: ignore[no-any-return]


#: the probability that an order has a given line: in (0, 1], at least 1e-12
Probability = Annotated[float, Strict(), Field(gt=0, le=1, allow_inf_nan=False),
                        in_range(TINY, 1.0, below="input should be greater than 0")]


class OrderLine(_Model):
    """One possible line of a customer's orders: present with ``probability``, ``size`` units."""

    probability: Probability = 1.0
    size: Distribution = Constant(value=1.0)


class Orders(_Model):
    """Multi-line orders (SPEC section 7): generated, or replayed from an order log.

    Generated: ``rate`` orders per day, each line present independently with its
    ``probability``; an order with no line is not an order (it is drawn again), so orders
    arrive at ``rate`` and the lines of product i at ``rate * p_i / P(nonempty)`` per day,
    ``P(nonempty) = 1 - prod(1 - p_j)``.

    ``pattern`` makes the rate vary from day to day (:class:`Pattern`).

    Replayed: ``file`` (a CSV order log, relative to the scenario file; docs/order-logs.md),
    exactly as logged, or resampled by whole days when ``bootstrap`` is true; ``start`` is
    the date of day 0 for a log with dates (default: its first date).
    """

    rate: Pos | None = None
    arrivals: Literal["poisson", "deterministic"] = "poisson"
    lines: Annotated[dict[Id, OrderLine], Field(min_length=1), AfterValidator(_freeze)] | None \
        = None
    file: Annotated[str, Strict(), Field(min_length=1, max_length=4096)] | None = None
    bootstrap: Annotated[bool, Strict()] = False
    start: date | None = None
    pattern: Pattern | None = None

    @model_validator(mode="after")
    def _pattern_generated(self) -> Orders:
        if self.pattern is not None and self.file is not None:
            raise ValueError("pattern applies to generated orders (rate), not to an order "
                             "log (file)")
        return self

    #: the order log read with the scenario (``file``); see :func:`simulator.orderlog.read`
    _log: Any = PrivateAttr(default=None)

    @property
    def log(self) -> Any:
        """The :class:`~simulator.orderlog.OrderLog` read from ``file`` (None without one)."""
        return self._log

    @property
    def products(self) -> list[str]:
        """The products ordered: of the generated lines, or of the log once it is read."""
        if self._log is not None:
            return list(self._log.products)
        return list(self.lines or ())

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An order log is written with the path it was read from (absolute), so the
        ``scenario.yaml`` of a results folder runs from anywhere."""
        data = handler(self)
        if self._log is not None:
            data["file"] = self._log.file
        return data  # type: ignore[no-any-return]


_DIST: TypeAdapter[Any] = TypeAdapter(Distribution)
_DISTS: TypeAdapter[Any] = TypeAdapter(dict[Id, Distribution])
_COST: TypeAdapter[Any] = TypeAdapter(NonNeg)
_COSTS: TypeAdapter[Any] = TypeAdapter(dict[Id, NonNeg])


def _per_warehouse(single: TypeAdapter[Any], each: TypeAdapter[Any]) -> Any:
    """A validator of a value for every warehouse or a mapping warehouse -> value: a mapping
    without ``dist`` is per warehouse (so errors name the warehouse, not a union branch)."""
    def parse(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, dict) and not isinstance(value, FrozenDict) and "dist" not in value:
            return FrozenDict(each.validate_python(value))
        return value if isinstance(value, FrozenDict) else single.validate_python(value)
    return BeforeValidator(parse)


def _dump_per_warehouse(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _dump_one(v) for k, v in value.items()}
    return _dump_one(value)


def _dump_one(value: Any) -> Any:
    return value.model_dump(mode="json", by_alias=True, exclude_none=True) \
        if isinstance(value, BaseModel) else value


#: a number or distribution for every warehouse, or a mapping warehouse -> one
PerWarehouse = Annotated[Any, _per_warehouse(_DIST, _DISTS), PlainSerializer(_dump_per_warehouse)]
#: a cost for every warehouse, or a mapping warehouse -> cost
CostPerWarehouse = Annotated[Any, _per_warehouse(_COST, _COSTS),
                             PlainSerializer(_dump_per_warehouse)]


class Customer(_Model):
    """A customer: single-product ``demand`` streams or multi-line ``orders`` (exactly one),
    served from ``warehouse`` or from ``warehouses`` in preference order (exactly one).

    ``allocation`` decides where an order's lines are taken from (docs/orders.md);
    ``delivery_time`` (days, per warehouse or for all) runs from a shipment's departure to
    its arrival at the customer; ``shipping_cost`` is per unit shipped and
    ``shipment_cost`` per shipment; shipments to the customer from one warehouse within
    ``merge_window`` days of the first leave together at its end; ``promised_time`` (days
    from order to delivery) is what ``on_time_share`` measures against.
    """

    id: Id
    warehouse: Id | None = None
    warehouses: Annotated[tuple[Id, ...], Field(min_length=1, max_length=1000)] | None = None
    unmet: Literal["backorder", "lost"] = "backorder"
    allocation: Literal["single_source", "split", "ship_complete"] = "single_source"
    delivery_time: PerWarehouse = None
    shipping_cost: CostPerWarehouse = 0.0
    shipment_cost: NonNeg = 0.0
    merge_window: NonNeg | None = None
    promised_time: NonNeg | None = None
    # absent: empty (not None, so error messages can still name the keys of a demand entry)
    demand: Annotated[dict[Id, Demand], Field(min_length=1), AfterValidator(_freeze)] = \
        Field(default_factory=FrozenDict, validate_default=False)
    orders: Orders | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        """The warehouses serving this customer, in preference order."""
        return self.warehouses if self.warehouses is not None else (self.warehouse,)  # type: ignore

    @property
    def products(self) -> list[str]:
        """The products this customer orders (those of a log are known once it is read)."""
        return list(self.demand) if self.demand else self.orders.products  # type: ignore

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave out the empty ``demand`` of an ``orders`` customer (it would not load)."""
        data = handler(self)
        if not self.demand:
            data.pop("demand", None)
        return data  # type: ignore[no-any-return]


#: the warning monitor's kinds (docs/warnings.md)
WarningKind = Literal["low_stock", "projected_stockout", "stockout", "overstock",
                      "late_delivery", "forecast_bias", "service_drop", "supplier_disrupted"]
#: every kind, in the order of docs/warnings.md
WARNING_KINDS: tuple[str, ...] = typing.get_args(WarningKind)
#: the kinds watched when ``enabled`` is not given: all but ``forecast_bias``, whose tracking
#: signal (cumulative error / MAD) leaves +-4 about 30 times a year on stationary demand even
#: for an unbiased exponential smoothing forecast (docs/warnings.md)
DEFAULT_KINDS: tuple[str, ...] = tuple(k for k in WARNING_KINDS if k != "forecast_bias")
#: a whole number of days for a rolling window (1 to 10,000)
WindowDays = Annotated[int, Strict(), Field(ge=1, le=10_000)]


class Warnings(_Model):
    """``warnings:``: the warning monitor (docs/warnings.md). Absent: no monitor; present
    (even empty, ``warnings: {}``): every kind in ``enabled`` (default: all but
    ``forecast_bias``) and not in ``disabled`` is watched, with these thresholds (days,
    shares; ``alpha`` is the smoothing constant of the monitor's own daily forecast)."""

    enabled: tuple[WarningKind, ...] = DEFAULT_KINDS  # type: ignore[assignment]
    disabled: tuple[WarningKind, ...] = ()
    #: low_stock without a policy reorder level: position below this many days of forecast
    low_stock_days: NonNeg = 7.0
    #: overstock: on hand above this many days of forecast demand
    overstock_days: Pos = 120.0
    #: late_delivery: days after the expected arrival (placed + mean lead time) before late
    late_tolerance: NonNeg = 1.0
    #: forecast_bias: |cumulative error / MAD| over ``bias_window`` days above this
    bias_limit: Pos = 4.0
    bias_window: WindowDays = 28
    #: service_drop: fill rate over the last ``service_window`` days below ``service_target``
    service_window: WindowDays = 28
    service_target: Probability = 0.9
    #: smoothing constant of the monitor's own daily demand forecast (exponential smoothing)
    alpha: Probability = 0.1

    @model_validator(mode="after")
    def _no_contradiction(self) -> Warnings:
        """A kind named in both lists (``enabled`` given explicitly) is a contradiction."""
        both = [k for k in self.disabled if k in self.enabled]
        if both and "enabled" in self.model_fields_set:
            raise ValueError(f"{', '.join(both)} cannot be both enabled and disabled")
        return self

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds watched: enabled and not disabled."""
        return frozenset(self.enabled) - frozenset(self.disabled)


#: a finite number for a sweep range's ends (at most 1e12 in magnitude)
_Bound = Annotated[float, Strict(), Field(ge=-LIMIT, le=LIMIT, allow_inf_nan=False)]


class SweepRange(_Model):
    """A range a swept key is sampled from (``simulator sweep --points N --sampling
    random|lhs``): uniform on ``[low, high]``, rounded to whole numbers if ``integer``."""

    low: _Bound
    high: _Bound
    integer: Annotated[bool, Strict()] = False

    @model_validator(mode="after")
    def _ordered(self) -> SweepRange:
        if self.high < self.low:
            raise ValueError(f"high ({self.high:g}) must be at least low ({self.low:g})")
        if self.integer and math.floor(self.high) < math.ceil(self.low):
            raise ValueError(f"no whole number lies between low ({self.low:g}) and high "
                             f"({self.high:g})")
        return self


def _plain(value: Any) -> Any:
    """A validated field value as the plain data of :meth:`Scenario.to_dict`."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _sweep_key(key: str, info: ValidationInfo) -> str:
    """A swept key must address a value of this scenario (checked against the fields
    validated before ``sweep``; keys below a field that failed are left to its errors)."""
    from simulator.experiment.keys import BadKey, resolve

    head = key.split(".", 1)[0]
    if head in ("sweep", "name", "description"):
        raise ValueError(f"{head} cannot be swept")
    if head in Scenario.model_fields and head not in info.data:
        return key  # that field is invalid or absent: its own problem is reported
    data = {k: _plain(v) for k, v in info.data.items()}
    try:
        resolve(data, key)
    except BadKey as exc:
        raise ValueError(str(exc)) from None
    return key


def _axis(value: Any) -> tuple[Any, ...] | SweepRange:
    """A swept key's values: a non-empty list (grid) or a range mapping ``{low, high}``."""
    if isinstance(value, SweepRange):
        return value
    if isinstance(value, dict):
        try:
            return SweepRange.model_validate(value)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(x) for x in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key; valid keys: low, high, integer"
            elif err["type"] == "missing":
                msg = "required key is missing"
            raise ValueError(f"{where}: {msg}" if where else msg) from None
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError("give at least one value (or a range {low: ..., high: ...})")
        if len(value) > 100_000:
            raise ValueError("at most 100000 values")
        return tuple(value)
    raise ValueError("should be a list of values (each a grid point) or a range "
                     "{low: ..., high: ...}")


#: a swept key -> its values (a non-empty list: every value is a grid point) or a range
SweepAxis = Annotated[Any, PlainValidator(_axis), PlainSerializer(
    lambda v: v.model_dump(exclude_defaults=True) if isinstance(v, BaseModel) else list(v))]
SweepKey = Annotated[str, Strict(), AfterValidator(_sweep_key)]


#: a share of annual demand value closing an ABC class: in (0, 1]
Share = Annotated[float, Strict(), Field(gt=0, le=1, allow_inf_nan=False),
                  in_range(TINY, 1.0, below="input should be greater than 0")]


class AbcClass(_Remembers):
    """Defaults of one ABC class: the ``policy`` of an inventory entry that gives none, and the
    ``service_level`` of a policy that has that parameter and does not give it."""

    policy: Annotated[dict[str, Any], AfterValidator(_freeze)] | None = None
    service_level: Annotated[float, Strict(), Field(gt=0, lt=1, allow_inf_nan=False)] \
        | None = None


    @field_validator("policy", mode="before")
    @classmethod
    def _policy(cls, value: Any, info: ValidationInfo) -> dict[str, Any] | None:
        return None if value is None else _validated_policy(value, info)

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A policy's default ``service_level`` is left out (so that the class's
        ``service_level`` still replaces it when the scenario is loaded again)."""
        data = handler(self)
        policy = data.get("policy")
        if isinstance(policy, dict) and "service_level" not in self._given:
            data["policy"] = {k: v for k, v in policy.items() if k != "service_level"}
        return data  # type: ignore[no-any-return]


class Abc(_Model):
    """``abc:``: products are classed A, B, C by annual demand value
    (:func:`simulator.planning.classes`; cumulative share up to ``a``: A, up to ``b``: B),
    results get a ``class`` column, and ``classes`` give per-class defaults
    (:mod:`simulator.scenario.abcclass`)."""

    a: Share = 0.8
    b: Share = 0.95
    classes: Annotated[dict[Literal["A", "B", "C"], AbcClass], AfterValidator(_freeze)] = \
        Field(default_factory=FrozenDict)

    @model_validator(mode="after")
    def _ordered(self) -> Abc:
        if not self.a < self.b:
            raise ValueError(f"a ({self.a:g}) must be less than b ({self.b:g}): A holds the "
                             "first a of the value, B up to b")
        return self


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
    #: the warning monitor; None (absent): not watched
    warnings: Warnings | None = None
    #: ABC classes of the products and per-class defaults; None (absent): no class column
    abc: Abc | None = None
    #: ``simulator sweep``: dotted key -> values (full grid) or range (sampled); None: none
    sweep: Annotated[dict[SweepKey, SweepAxis], Field(min_length=1), AfterValidator(_freeze)] \
        | None = None

    def product(self, pid: str) -> Product:
        """The product with id ``pid`` (a linear search: for many lookups, build a dict of
        ``products`` once, as the model and the metrics do)."""
        return next(p for p in self.products if p.id == pid)

    def to_dict(self) -> dict[str, Any]:
        """Plain data with every default filled (what ``scenario.yaml`` holds)."""
        return self.model_dump(mode="json", exclude_none=True)
