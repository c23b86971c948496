"""Build the SimPy model of a scenario: stock points, inbound lanes, customers.

Orders may cross: every order from a supplier, and every shipment from an
upstream warehouse, draws its own lead time, so with random lead times a later
order can arrive first. Upstream warehouses ship what they have at once and the
rest FIFO as stock arrives; each shipment travels ``lead_time`` days.

A stock point sourced from a supplier hands its orders, through its lane, to the supplier's
:class:`~simulator.model.supplier.Supplier` (one per scenario supplier, shared by all its
lanes), which decides when each leaves (at once unless it has capacity or disruptions); the
supplier's minimum order and multiple are applied by the stock point before it books an order.
A supplier with a ``consolidation_window`` gets instead one
:class:`~simulator.model.purchasing.Consolidator` per ordering warehouse, which groups the
warehouse's orders into purchase orders.

An inventory entry's ``order_delay`` (days, constant) delays every order on its way to the
source (an information lag): the ordering stock point counts it on order at once; the upstream
warehouse sees it as demand, or the supplier receives the purchase order, ``order_delay``
days later.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from itertools import repeat
from typing import Any

from simpy import Environment

import policies
from policies import joint
from simulator import rng
from simulator.distributions import Constant, Exponential
from simulator.errors import PolicyError
from simulator.model import arrivals
from simulator.model.events import (
    DEMAND,
    RECEIPT,
    TICK,
    Call,
    CustomerFanout,
    CustomerListener,
    Fanout,
    StockListener,
    SupplierFanout,
    SupplierListener,
)
from simulator.model.orders import Customer, LogSource, OrderSource, line_picks
from simulator.model.purchasing import Consolidator
from simulator.model.stockpoint import StockPoint
from simulator.model.supplier import Downtime, Supplier, given_periods, random_periods
from simulator.scenario.derived import lead_times, policy_contexts
from simulator.scenario.models import Customer as CustomerSpec
from simulator.scenario.models import Demand, Orders, Scenario, UpDown


class Dispatcher:
    """Runs the upstream orders of one network one after another instead of nested.

    An order at a stock point is a demand upstream, which may trigger that stock point's
    review and an order further up, and so on: in a serial chain of n warehouses that
    would nest n calls deep (a chain of a few hundred overflowed Python's stack). Each
    demand triggers at most one order and does nothing after it (a tail call), so running
    the queued orders in a loop gives exactly the order of events the nested calls gave.
    """

    __slots__ = ("busy", "pending")

    def __init__(self) -> None:
        self.busy = False
        self.pending: deque[tuple[Lane, float]] = deque()

    def order(self, lane: Lane, qty: float) -> None:
        if self.busy:
            self.pending.append((lane, qty))
            return
        self.busy = True
        try:
            lane.upstream.demand(qty, False, lane)  # type: ignore[union-attr]
            while self.pending:
                nxt, q = self.pending.popleft()
                nxt.upstream.demand(q, False, nxt)  # type: ignore[union-attr]
        finally:
            self.busy = False
            self.pending.clear()


class Lane:
    """The inbound route of a stock point, from a supplier or an upstream stock point.

    Exactly one of ``upstream`` and ``supplier`` is set. A supplier decides when an order
    leaves (at once, unless it has capacity or disruptions) and then calls :meth:`ship`.
    """

    def __init__(self, env: Environment, dest: StockPoint, lead_times: Iterator[float],
                 upstream: StockPoint | None, dispatcher: Dispatcher | None = None,
                 supplier: Supplier | None = None):
        self.env = env
        self.dest = dest
        self.lead_times = lead_times
        self.upstream = upstream
        self.supplier = supplier
        self.dispatcher = dispatcher or Dispatcher()

    def order(self, qty: float) -> None:
        """A replenishment order of ``dest``: to the supplier, or to the upstream stock point."""
        if self.upstream is None:
            self.supplier.order(self, qty)  # type: ignore[union-attr]
        else:
            self.dispatcher.order(self, qty)

    def ship(self, qty: float) -> float:
        """``qty`` units leave the source now and arrive after a lead time (never negative);
        return the lead time (days)."""
        lead = max(0.0, next(self.lead_times))
        Call(self.env, lead, RECEIPT, self._arrive, qty)
        return lead

    def _arrive(self, event: Call) -> None:
        self.dest.receive(event.data)


class DemandSource:
    """One customer's single-product orders (``demand:``): gaps and sizes from their own
    streams.

    With ``rate`` set (deterministic arrivals) the n-th order comes at exactly
    ``n / rate`` days (no accumulated rounding), else after i.i.d. ``gaps``.

    The fast path (``fast``: one warehouse, no delivery time, shipping cost or merge
    window) sends the order straight to the stock point and counts it in ``count``; only an
    order that did not ship complete goes on to the customer (:meth:`Customer.short`), so
    an order served from stock costs one counter, not a hook call. Otherwise every order is
    placed with the customer as an order of one line (:meth:`Customer.place`).
    """

    def __init__(self, env: Environment, customer: Customer, k: int,
                 gaps: Iterator[float] | None, sizes: Iterator[float],
                 rate: float | None = None, fast: bool = True):
        self.env = env
        self.customer = customer
        self.k = k
        self.sp: StockPoint = customer.first[k]  # type: ignore[assignment]
        self.gaps = gaps
        self.sizes = sizes
        self.lose = customer.lose
        self.rate = rate
        self.fast = fast
        self.n = 1
        #: orders arrived on the fast path (a running total; observers read differences)
        self.count = 0
        self._callbacks: list[Any] = []

    def start(self) -> None:
        fn = self._arrive_fixed if self.rate is not None else self._arrive
        self._callbacks = [fn]
        first = 1 / self.rate if self.rate is not None else next(self.gaps)  # type: ignore
        Call(self.env, first, DEMAND, fn)

    def _order(self, qty: float) -> None:
        if self.fast:
            self.count += 1
            got = self.sp.demand(qty, self.lose)
            if got != qty:
                self.customer.short(self.k, qty, got)
        else:
            self.customer.place([(self.k, qty)])

    def _arrive(self, event: Call) -> None:
        qty = next(self.sizes)
        if qty > 0:
            if self.fast:  # inlined _order: this is the hottest path of most scenarios
                self.count += 1
                got = self.sp.demand(qty, self.lose)
                if got != qty:
                    self.customer.short(self.k, qty, got)
            else:
                self.customer.place([(self.k, qty)])
        # Re-arm the same event for the next order instead of allocating one per
        # order: SimPy has already detached its callbacks, so it is free again.
        event.callbacks = self._callbacks
        self.env.schedule(event, DEMAND, next(self.gaps))  # type: ignore[arg-type]

    def _arrive_fixed(self, event: Call) -> None:
        qty = next(self.sizes)
        if qty > 0:
            self._order(qty)
        self.n += 1
        # n/rate - now is exact (Sterbenz), so now + delay lands exactly on n/rate
        event.callbacks = self._callbacks
        self.env.schedule(event, DEMAND, self.n / self.rate - self.env.now)  # type: ignore


def _gaps(d: Demand | Orders, seed: int, replication: int, source: str) -> Iterator[float] | None:
    """The gaps between a stream's orders (days), from the random stream ``source``; None for
    deterministic arrivals at a constant rate (the source places them at ``n / rate``).

    A ``pattern`` gives a non-homogeneous process (:mod:`simulator.model.arrivals`); its
    ``intermittent`` days draw from the stream ``<source>/days``, so the arrivals' own draws
    do not depend on them.
    """
    pattern = d.pattern
    if pattern is None:
        if d.arrivals == "deterministic":
            return None
        # the rate was validated with the scenario: no second validation per stream
        gaps = Exponential.model_construct(dist="exponential", mean_=1.0 / d.rate)  # type: ignore
        return gaps.stream(rng.stream(seed, replication, source))
    days = rng.stream(seed, replication, f"{source}/days") if pattern.intermittent else None
    rates = arrivals.day_rates(pattern, float(d.rate), days)  # type: ignore[arg-type]
    if d.arrivals == "deterministic":
        return arrivals.inversion_gaps(rates, repeat(1.0))
    unit = Exponential.model_construct(dist="exponential", mean_=1.0)
    return arrivals.inversion_gaps(rates, unit.stream(rng.stream(seed, replication, source)))


class Network:
    """The model of one replication of a scenario, ready to run on its own environment."""

    def __init__(self, scenario: Scenario, replication: int = 0, seed: int | None = None,
                 fast: bool = True):
        self.scenario = scenario
        self.replication = replication
        self.seed = scenario.seed if seed is None else seed
        self.env = Environment()
        self.contexts = policy_contexts(scenario)
        self.stock: dict[tuple[str, str], StockPoint] = {}
        self.suppliers: dict[str, Supplier] = {}
        self.sources: list[Any] = []
        self.customers: dict[str, Customer] = {}
        #: False: single-product orders take the general order path too (tests compare)
        self.fast = fast
        self.dispatcher = Dispatcher()
        #: stock points whose policy observes each day's demand (forecast-driven)
        self.observed: list[StockPoint] = []
        #: warning rows reported by the model itself (a joint planner's fallback)
        self.warnings: list[dict[str, Any]] = []
        self._build_stock()
        self._build_suppliers()
        self._build_lanes()
        self._build_customers()
        #: one planner per warehouse planning its products together (policies/joint.py)
        self.planners = joint.connect(self) if self._has_joint() else []

    def _has_joint(self) -> bool:
        """Whether a policy plans jointly with its warehouse's others (``lp``)."""
        return any(getattr(sp.policy, "joint", False) is True for sp in self.stock.values())

    def _stream(self, source: str) -> Any:
        return rng.stream(self.seed, self.replication, source)

    def _build_stock(self) -> None:
        for i, w in enumerate(self.scenario.warehouses):
            for pid, inv in w.inventory.items():
                params = {k: v for k, v in inv.policy.items() if k != "type"}
                cls = policies.resolve(inv.policy["type"])
                policy = policies.build(params, cls)
                ctx = replace(self.contexts[(w.id, pid)], seed=self.seed,
                              replication=self.replication)
                if policies.derives(cls, params):
                    policy.prepare(ctx)
                # validation filled `initial` (the policy's order-up-to level, else 0), except for
                # a policy that needs its context for that level: after prepare, here
                initial = inv.initial if inv.initial is not None \
                    else max(0.0, float(getattr(policy, "order_up_to", None) or 0.0))
                sp = StockPoint(self.env, w.id, pid, policy, ctx, float(initial))
                sp.key = f"warehouses.{i}.inventory.{pid}.policy"
                self.stock[(w.id, pid)] = sp
                if getattr(policy, "observes", False) is True or (
                        not hasattr(policy, "observes")
                        and callable(getattr(policy, "observe", None))):
                    self.observed.append(sp)

    def _build_suppliers(self) -> None:
        """One :class:`Supplier` per scenario supplier; random disruptions draw from their
        own stream ``disruption/<id>`` (only when the supplier has them: no other stream
        changes)."""
        for s in self.scenario.suppliers:
            d = s.disruptions
            downtime = None
            if isinstance(d, UpDown):
                unit = Exponential.model_construct(dist="exponential", mean_=1.0)
                draws = unit.stream(self._stream(f"disruption/{s.id}"))
                downtime = Downtime(random_periods(d.mean_between, d.mean_duration, draws))
            elif d:
                downtime = Downtime(given_periods(d))
            self.suppliers[s.id] = Supplier(self.env, s, downtime)

    def _build_lanes(self) -> None:
        """One :class:`Lane` per stock point; a stock point ordering from a consolidating
        supplier hands its orders to the supplier's :class:`Consolidator` for its warehouse."""
        dists = lead_times(self.scenario)
        pools: dict[tuple[str, str], Consolidator] = {}
        for w in self.scenario.warehouses:
            for pid, inv in w.inventory.items():
                sp = self.stock[(w.id, pid)]
                dist = dists[(w.id, pid)]
                # a constant needs no random stream (creating one costs ~0.1 ms; skipping it
                # leaves every other stream unchanged: each is derived from its own name)
                times = repeat(float(dist.value)) if isinstance(dist, Constant) \
                    else dist.stream(self._stream(f"lead_time/{w.id}/{pid}"))
                supplier = self.suppliers.get(inv.source)
                lane = Lane(self.env, sp, times, self.stock.get((inv.source, pid)),
                            self.dispatcher, supplier)
                sp.replenish = lane.order
                if supplier is not None and supplier.window is not None:
                    sp.replenish = partial(self._pool(pools, supplier, w.id).order, sp)
                if supplier is not None and supplier.adjusts:
                    sp.adjust = supplier.adjust
                if inv.order_delay:
                    sp.replenish = partial(_delayed, self.env, float(inv.order_delay),
                                           sp.replenish)

    def _pool(self, pools: dict[tuple[str, str], Consolidator], supplier: Supplier,
              warehouse: str) -> Consolidator:
        """The consolidator of ``supplier`` for ``warehouse`` (made on first use); its purchase
        orders draw their lead times from the stream ``purchase/<supplier>/<warehouse>``."""
        key = (supplier.id, warehouse)
        if key not in pools:
            dist = next(s for s in self.scenario.suppliers if s.id == supplier.id).lead_time
            times = repeat(float(dist.value)) if isinstance(dist, Constant) \
                else dist.stream(self._stream(f"purchase/{supplier.id}/{warehouse}"))
            pools[key] = Consolidator(self.env, supplier, warehouse,
                                      supplier.window, times)  # type: ignore[arg-type]
        return pools[key]

    def _build_customers(self) -> None:
        for c in self.scenario.customers:
            products = c.products if c.demand or _log(c) is None else list(_log(c).products)
            cust = self._customer(c, products)
            self.customers[c.id] = cust
            if c.demand:
                fast = self.fast and _fast(c)
                for k, (pid, d) in enumerate(c.demand.items()):
                    base = f"demand/{c.id}/{pid}"
                    gaps: Iterator[float] | None
                    if d.daily is not None:
                        gaps, sizes = self._history_orders(d, pid, f"{base}/bootstrap")
                    else:
                        gaps = _gaps(d, self.seed, self.replication, f"{base}/arrivals")
                        sizes = self._sizes(d.size, f"{base}/sizes")
                    fixed = d.rate if gaps is None else None
                    self.sources.append(DemandSource(self.env, cust, k, gaps, sizes, fixed, fast))
            elif _log(c) is not None:
                self.sources.append(LogSource(self.env, cust, self._log_orders(c, products)))
            else:
                self.sources.append(self._order_source(c, cust))

    def _customer(self, c: CustomerSpec, products: list[str]) -> Customer:
        """The order handling of customer ``c`` for ``products`` (its product indices)."""
        points = [[self.stock.get((w, pid)) for w in c.sources] for pid in products]
        deliveries: list[Iterator[float] | None] = []
        costs: list[float] = []
        for w in c.sources:
            dist = c.delivery_time.get(w) if isinstance(c.delivery_time, dict) \
                else c.delivery_time
            if dist is None or (isinstance(dist, Constant) and dist.value == 0):
                deliveries.append(None)
            else:
                deliveries.append(self._sizes(dist, f"delivery/{c.id}/{w}"))
            cost = c.shipping_cost.get(w, 0.0) if isinstance(c.shipping_cost, dict) \
                else c.shipping_cost
            costs.append(float(cost))
        return Customer(self.env, c.id, c.allocation, c.unmet == "lost", points, deliveries,
                        costs, float(c.shipment_cost), c.merge_window)

    def _sizes(self, dist: Any, source: str) -> Iterator[float]:
        """Draws of ``dist`` from stream ``source`` (a constant needs no stream)."""
        return repeat(float(dist.value)) if isinstance(dist, Constant) \
            else dist.stream(self._stream(source))

    def _order_source(self, c: CustomerSpec, cust: Customer) -> OrderSource:
        o = c.orders
        lines = o.lines or {}  # type: ignore[union-attr]
        picks = line_picks([line.probability for line in lines.values()],
                           self._stream(f"orders/{c.id}/lines"))
        sizes = [self._sizes(line.size, f"orders/{c.id}/{pid}/sizes")
                 for pid, line in lines.items()]
        gaps = _gaps(o, self.seed, self.replication, f"orders/{c.id}/arrivals")  # type: ignore
        if gaps is None:  # deterministic at a constant rate
            return OrderSource(self.env, cust, None, picks, sizes, o.rate)  # type: ignore
        return OrderSource(self.env, cust, gaps, picks, sizes)

    def _history_orders(self, d: Demand, pid: str,
                        source: str) -> tuple[Iterator[float], Iterator[float]]:
        """Gaps and sizes of a history stream: one order per day with demand (at mid-day),
        replayed exactly or resampled by whole weeks from the stream ``source``."""
        hist = d.daily
        values = hist.column(d.column or pid)
        boot = self._stream(source) if d.bootstrap else None
        return arrivals.daily_orders(arrivals.history_days(values, boot))

    def _log_orders(self, c: CustomerSpec,
                    products: list[str]) -> Iterator[tuple[float, list[tuple[int, float]]]]:
        """The customer's logged orders as (time, [(product index, units)]), replayed or
        resampled by whole days (stream ``orders/<id>/bootstrap``)."""
        log = _log(c)
        index = {pid: k for k, pid in enumerate(products)}
        orders = log.bootstrap(self._stream(f"orders/{c.id}/bootstrap")) \
            if c.orders.bootstrap else log.replay()  # type: ignore[union-attr]
        for t, lines in orders:
            yield t, [(index[pid], float(q)) for pid, q in lines]

    def attach(self, factory: Callable[[StockPoint], StockListener]) -> None:
        """Give every stock point a listener made by ``factory(sp)`` (added to any it has)."""
        for sp in self.stock.values():
            _add_listener(sp, factory(sp), StockListener, Fanout)

    def attach_customers(self, factory: Callable[[Customer], CustomerListener]) -> None:
        """Give every customer a listener made by ``factory(customer)``."""
        for cust in self.customers.values():
            _add_listener(cust, factory(cust), CustomerListener, CustomerFanout)

    def attach_suppliers(self, factory: Callable[[Supplier], SupplierListener]) -> None:
        """Give every supplier a listener made by ``factory(supplier)`` (added to any it has)."""
        for sup in self.suppliers.values():
            _add_listener(sup, factory(sup), SupplierListener, SupplierFanout)

    def start(self) -> None:
        """Schedule the t = 0 reviews, the first customer orders and the daily tick."""
        if self.observed:
            DailyTick(self.env, self.observed).start()
        for sp in self.stock.values():
            sp.start()
        for src in self.sources:
            src.start()

    def run(self, until: float) -> None:
        self.env.run(until=until)


class DemandTally(StockListener):
    """Counts the units demanded at a stock point (model side: a forecast-driven policy's
    daily observation), attached only where a policy observes demand."""

    def __init__(self) -> None:
        self.total = 0.0
        self.mark = 0.0

    def demand(self, sp: Any, now: float, qty: float, shipped: float, lost: float) -> None:
        self.total += qty

    def day(self) -> float:
        """Units demanded since the last call."""
        units = self.total - self.mark
        self.mark = self.total
        return units


class DailyTick:
    """At the end of every day (t = 1, 2, ...; priority ``TICK``, before anything else at
    that instant) each observing stock point's policy gets the day's demand; the stock
    point's listener hears the forecast made for that day and the demand."""

    def __init__(self, env: Environment, points: list[StockPoint]):
        self.env = env
        self.points = []
        for sp in points:
            tally = DemandTally()
            _add_listener(sp, tally, StockListener, Fanout)
            self.points.append((sp, tally))

    def start(self) -> None:
        Call(self.env, 1.0, TICK, self._tick, 1)

    def _tick(self, event: Call) -> None:
        now = self.env.now
        for sp, tally in self.points:
            units = tally.day()
            try:
                predicted = sp.policy.observe(units, now)
            except Exception as exc:  # a user's forecast-driven policy: their problem
                raise PolicyError.from_exception(sp.key, now, exc) from exc
            sp.listener.forecast(sp, now, float(predicted) if predicted is not None
                                 else math.nan, units)
            if sp.continuous:  # the policy's levels moved with the forecast: read them again
                level = getattr(sp.policy, "reorder_level", None)
                sp.trigger = math.inf if level is None else float(level)
        k = event.data + 1
        Call(self.env, k - now, TICK, self._tick, k)


def _delayed(env: Environment, delay: float, send: Callable[[float], None], qty: float) -> None:
    """Hand an order of ``qty`` units to ``send`` (its lane or consolidator) ``delay`` days from
    now (``order_delay``: the source sees it then, as a demand of priority ``DEMAND``); the
    ordering stock point has already counted it on order."""
    Call(env, delay, DEMAND, lambda event: send(event.data), qty)


def _log(c: CustomerSpec) -> Any:
    """The order log of customer ``c`` (read with the scenario), or None."""
    return getattr(c.orders, "log", None) if c.orders is not None else None


def _fast(c: CustomerSpec) -> bool:
    """Whether customer ``c``'s single-product orders can take the fast path (one warehouse,
    no delivery time, no shipping cost, no merge window)."""
    d = c.delivery_time
    zero_delivery = d is None or (isinstance(d, Constant) and d.value == 0)
    free = c.shipping_cost == 0 and c.shipment_cost == 0
    return len(c.sources) == 1 and zero_delivery and free and c.merge_window is None


def _add_listener(obj: Any, new: Any, null: type, fanout: type) -> None:
    """Set ``obj.listener`` to ``new``, or to a ``fanout`` of the listeners it already has
    and ``new`` (``null``: the do-nothing listener class, replaced outright)."""
    old = obj.listener
    if isinstance(old, fanout):
        old.listeners.append(new)  # type: ignore[attr-defined]
    elif type(old) is null:
        obj.listener = new
    else:
        obj.listener = fanout([old, new])
