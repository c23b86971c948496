"""Customer orders: allocation across warehouses, shipments, merging, and order records.

Rules (docs/orders.md has them for users)
-----------------------------------------
A customer lists its warehouses in preference order; its backorders always wait at the
first one (which must stock every product the customer orders). Per order:

* ``single_source``: the first warehouse that can ship the whole order now ships it; if none
  can, the first warehouse takes it, ships what it has of each line and backorders (or, under
  ``unmet: lost``, loses) the rest.
* ``split``: each line is taken from the warehouses in order as far as their stock goes; the
  rest is backordered (or lost) at the first warehouse.
* ``ship_complete``: as ``single_source``, but the order leaves in one shipment: what the
  first warehouse had is taken from its stock and held with the order until its backordered
  units arrive. Under ``unmet: lost`` an order no warehouse can ship whole is lost whole.

A warehouse's shipments to the customer leave at once, one per order and warehouse, or,
with a ``merge_window`` W, together: the first opens a window and everything shipped from
that warehouse to the customer until it closes, W days later, leaves then as one shipment.
Each shipment draws its delivery time (stream ``delivery/<customer>/<warehouse>``) and costs
``shipping_cost`` per unit plus ``shipment_cost``.

Records
-------
An order needs a record (:class:`Order`) only while something of it is owed, held or
waiting for a merge window; an order that leaves complete at once allocates nothing. A
backordered line is owed through the stock point's claimant protocol: the customer's
:class:`Backlog` at the first warehouse (one per product) is the claimant, and settles its
own entries oldest first as the stock point releases units to it (the stock point's queue is
FIFO, so its releases to one claimant come in the claimant's own order).

Memory does not grow with the horizon: a customer keeps at most :data:`MAX_RECORDS` open
records; beyond that (a permanent shortage), a new order that must be recorded joins the
newest open record, which then stands for several orders (their count and the sum of their
arrival times). Such a cohort is delivered when its last unit is, so the cycle times of its
orders are overstated by at most the time between their own completion and the cohort's.
Below the bound, every number is exact.
"""
from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
from simpy import Environment

from simulator.model.events import DEMAND, NULL_CUSTOMER, REVIEW, Call, CustomerListener
from simulator.model.stockpoint import EPS, StockPoint

#: open order records a customer keeps before new ones join the newest (see module doc)
MAX_RECORDS = 10_000

SINGLE_SOURCE, SPLIT, SHIP_COMPLETE = "single_source", "split", "ship_complete"

#: batch sizes (orders) of the line draws: small first, then large (as distributions.py)
_BATCHES = (16, 64, 256, 1024)
_BIG_BATCH = 4096
#: at most this many (order, line) cells per batch, so many possible lines stay cheap
_CELLS = 1 << 18


class Order:
    """The record of an order (or, beyond :data:`MAX_RECORDS`, of a cohort of orders).

    ``count`` orders arrived at times summing to ``arrived``; ``open`` counts what keeps it
    from being delivered (backlog entries not settled, merge windows not closed, a held
    shipment not released); ``last`` is the latest arrival at the customer of its shipments
    so far; ``held`` the units held for a ship-complete order.
    """

    __slots__ = ("arrived", "count", "open", "last", "held")

    def __init__(self, arrived: float):
        self.arrived = arrived
        self.count = 1
        self.open = 0
        self.last = -math.inf
        self.held = 0.0


class Backlog:
    """What one customer is owed at one stock point: a claimant of its backorder queue.

    ``entries`` holds ``[units owed, Order]`` oldest first.
    """

    __slots__ = ("entries", "customer", "warehouse")

    def __init__(self, customer: Customer, warehouse: int):
        self.entries: deque[list[Any]] = deque()
        self.customer = customer
        self.warehouse = warehouse

    def owed(self) -> float:
        """Units still owed to the customer at this stock point."""
        return sum(e[0] for e in self.entries)

    def add(self, units: float, order: Order) -> None:
        """``units`` of ``order`` are owed (newest); merged into the newest entry when that
        belongs to the same record."""
        entries = self.entries
        if entries and entries[-1][1] is order:
            entries[-1][0] += units
        else:
            entries.append([units, order])
            order.open += 1

    def ship(self, qty: float) -> None:
        """``qty`` units released to the customer now: settle its entries oldest first."""
        entries = self.entries
        customer = self.customer
        left = qty
        while entries and left > EPS:
            entry = entries[0]
            units, order = entry
            if units <= left + EPS:  # settled (the stock point drops the same remainder)
                entries.popleft()
                give = min(units, left)
                left -= units
                order.open -= 1
            else:
                entry[0] = units - left
                give, left = left, 0.0
            customer.send(self.warehouse, give, order)


class Group:
    """Shipments to a customer from one warehouse merged in one window."""

    __slots__ = ("units", "orders")

    def __init__(self) -> None:
        self.units = 0.0
        self.orders: list[Order] = []


class Customer:
    """One customer's order handling (see the module docstring for the rules).

    Parameters
    ----------
    env
        The simulation environment.
    cid
        The customer's id (for its listener).
    rule
        ``single_source``, ``split`` or ``ship_complete``.
    lose
        Unmet demand is lost (``unmet: lost``) instead of backordered.
    points
        Per product index, the stock point at each of the customer's warehouses in
        preference order (None where that warehouse does not stock it; never at the first).
    deliveries
        Per warehouse, an iterator of delivery times (days), or None for no delivery time.
    costs
        Per warehouse, the shipping cost per unit.
    shipment_cost
        Cost per shipment.
    merge_window
        Days a warehouse's shipments to the customer are collected, or None.
    """

    def __init__(self, env: Environment, cid: str, rule: str, lose: bool,
                 points: list[list[StockPoint | None]], deliveries: list[Iterator[float] | None],
                 costs: list[float], shipment_cost: float = 0.0,
                 merge_window: float | None = None):
        self.env = env
        self.id = cid
        self.rule = rule
        self.lose = lose
        self.points = points
        self.first = [p[0] for p in points]
        self.backlogs = [Backlog(self, 0) for _ in points]
        self.deliveries = deliveries
        self.costs = costs
        self.shipment_cost = shipment_cost
        self.merge_window = merge_window
        self.groups: list[Group | None] = [None] * len(deliveries)
        self.listener: CustomerListener = NULL_CUSTOMER
        self.records = 0          # open Order records
        self.tail: Order | None = None  # the newest open record
        self._ship_now = [0.0] * len(deliveries)

    # -- records ------------------------------------------------------------------
    def record(self, now: float) -> Order:
        """A record for an order arriving now: a new one, or beyond :data:`MAX_RECORDS`
        the newest open one (a cohort)."""
        tail = self.tail
        if self.records >= MAX_RECORDS and tail is not None and tail.open > 0:
            tail.count += 1
            tail.arrived += now
            return tail
        order = Order(now)
        self.records += 1
        self.tail = order
        return order

    def check_done(self, order: Order) -> None:
        """Announce ``order`` delivered if nothing of it is pending any more."""
        if order.open == 0 and order.held == 0:
            self.records -= 1
            if self.tail is order:
                self.tail = None
            self.listener.delivered(self.id, self.env.now, order.count, order.arrived,
                                    order.last)

    # -- shipments ----------------------------------------------------------------
    def send(self, w: int, units: float, order: Order | None, check: bool = True) -> None:
        """``units`` (of ``order``, if recorded) leave warehouse ``w``: now, or when its
        merge window closes; a ship-complete order's units wait until nothing is owed."""
        if order is not None and self.rule == SHIP_COMPLETE:
            if order.open > 0:
                order.held += units
                return
            units += order.held
            order.held = 0.0
        if self.merge_window is None:
            arrival = self._depart(w, units)
            if order is not None:
                if arrival > order.last:
                    order.last = arrival
                if check:
                    self.check_done(order)
            return
        group = self.groups[w]
        if group is None:
            group = self.groups[w] = Group()
            Call(self.env, self.merge_window, REVIEW, self._close, w)
        group.units += units
        if order is not None and order not in group.orders:
            group.orders.append(order)
            order.open += 1

    def _close(self, event: Call) -> None:
        w = event.data
        group = self.groups[w]
        self.groups[w] = None
        arrival = self._depart(w, group.units)  # type: ignore[union-attr]
        for order in group.orders:  # type: ignore[union-attr]
            if arrival > order.last:
                order.last = arrival
            order.open -= 1
            self.check_done(order)

    def _depart(self, w: int, units: float) -> float:
        """One shipment of ``units`` leaves warehouse ``w`` now; return its arrival time."""
        now = self.env.now
        d = self.deliveries[w]
        arrival = now + max(0.0, next(d)) if d is not None else now
        self.listener.shipment(self.id, now, w, units,
                               units * self.costs[w] + self.shipment_cost)
        return arrival

    # -- orders -------------------------------------------------------------------
    def place(self, lines: list[tuple[int, float]]) -> None:
        """An order arrives: ``lines`` are (product index, units > 0) pairs, each product
        at most once. Its lines are taken by the allocation rule, then what left stock at
        once is shipped (one shipment per warehouse)."""
        now = self.env.now
        ship_now = self._ship_now
        if self.rule == SPLIT:
            filled, lost, order = self._split(lines, now, ship_now)
        else:
            filled, lost, order = self._whole(lines, now, ship_now)
        used = 0
        for units in ship_now:
            if units > 0:
                used += 1
        split = used + (order is not None and order.open > 0 and ship_now[0] == 0) > 1
        self.listener.order(self.id, now, len(lines), filled, split, lost)
        if lost > 0:  # never delivered complete: its shipments count, no record
            for w, units in enumerate(ship_now):
                if units > 0:
                    self.send(w, units, None)
        elif order is None and self.merge_window is None:  # complete at once
            arrival = now
            for w, units in enumerate(ship_now):
                if units > 0:
                    arrival = max(arrival, self._depart(w, units))
            self.listener.delivered(self.id, now, 1, now, arrival)
        else:
            if order is None:
                order = self.record(now)
            for w, units in enumerate(ship_now):
                if units > 0:
                    self.send(w, units, order, check=False)
        for w in range(len(ship_now)):
            ship_now[w] = 0.0
        if order is not None and lost == 0:
            self.check_done(order)

    def short(self, k: int, qty: float, got: float) -> None:
        """A single-line order of a fast-path customer (one warehouse, no delivery time or
        shipping cost, no merge window) did not ship complete at once: only these orders are
        announced and recorded (see :class:`~simulator.model.network.DemandSource`)."""
        now = self.env.now
        if self.lose:
            self.listener.order(self.id, now, 1, 0, False, qty - got)
            if got > 0:
                self.send(0, got, None)
            return
        order = self._owe(k, qty - got, None, now)
        self.listener.order(self.id, now, 1, 0, False, 0.0)
        if got > 0:
            self.send(0, got, order, check=False)

    def _owe(self, k: int, units: float, order: Order | None, now: float) -> Order:
        """Backorder ``units`` of product ``k`` at the first warehouse for the order."""
        if order is None:
            order = self.record(now)
        self.first[k].claim(self.backlogs[k])  # type: ignore[union-attr]
        self.backlogs[k].add(units, order)
        return order

    def _whole(self, lines: list[tuple[int, float]], now: float,
               ship_now: list[float]) -> tuple[int, float, Order | None]:
        """single_source and ship_complete: one warehouse takes the whole order."""
        w = self._whole_from(lines)
        if w < 0 and self.rule == SHIP_COMPLETE and self.lose:
            lost = 0.0
            for k, qty in lines:  # nobody can ship it whole: lost whole
                self.first[k].refuse(qty)  # type: ignore[union-attr]
                lost += qty
            return 0, lost, None
        at = max(w, 0)
        filled = 0
        lost = 0.0
        order = None
        for k, qty in lines:
            sp = self.points[k][at]
            got = sp.demand(qty, self.lose)  # type: ignore[union-attr]
            ship_now[at] += got
            if got == qty:
                filled += 1
            elif self.lose:
                lost += qty - got
            else:
                order = self._owe(k, qty - got, order, now)
        return filled, lost, order

    def _whole_from(self, lines: list[tuple[int, float]]) -> int:
        """The first warehouse that can ship every line now, or -1."""
        points = self.points
        for w in range(len(self.deliveries)):
            for k, qty in lines:
                sp = points[k][w]
                if sp is None or sp.on_hand < qty - EPS:
                    break
            else:
                return w
        return -1

    def _split(self, lines: list[tuple[int, float]], now: float,
               ship_now: list[float]) -> tuple[int, float, Order | None]:
        """split: each line from the warehouses in order as far as stock goes; the first
        warehouse is asked last for what the others did not have (one demand there)."""
        filled = 0
        lost = 0.0
        lose = self.lose
        order = None
        for k, qty in lines:
            points = self.points[k]
            first = points[0]
            rest = qty - first.on_hand  # type: ignore[union-attr]
            if rest > EPS:  # the first warehouse is short: the others in order
                for w in range(1, len(points)):
                    sp = points[w]
                    if sp is None or sp.on_hand <= 0:
                        continue
                    take = rest if sp.on_hand >= rest - EPS else sp.on_hand
                    sp.demand(take, lose)
                    ship_now[w] += take
                    qty -= take
                    rest -= take
                    if rest <= EPS:
                        break
            got = first.demand(qty, lose)  # type: ignore[union-attr]
            ship_now[0] += got
            if got == qty:
                filled += 1
            elif lose:
                lost += qty - got
            else:
                order = self._owe(k, qty - got, order, now)
        return filled, lost, order


class OrderSource:
    """Generated multi-line orders of one customer: arrivals, present lines, sizes.

    With ``rate`` set (deterministic arrivals) the n-th order comes at exactly ``n / rate``
    days, else after i.i.d. ``gaps``. A present line whose size is drawn as 0 is dropped; an
    order all of whose lines are 0 is no order.
    """

    def __init__(self, env: Environment, customer: Customer, gaps: Iterator[float] | None,
                 picks: Iterator[list[int]], sizes: list[Iterator[float]],
                 rate: float | None = None):
        self.env = env
        self.customer = customer
        self.gaps = gaps
        self.picks = picks
        self.sizes = sizes
        self.rate = rate
        self.n = 1
        self._callbacks: list[Any] = []

    def start(self) -> None:
        if self.rate is not None:
            self._callbacks = [self._arrive_fixed]
            Call(self.env, 1 / self.rate, DEMAND, self._arrive_fixed)
        else:
            self._callbacks = [self._arrive]
            Call(self.env, next(self.gaps), DEMAND, self._arrive)  # type: ignore[arg-type]

    def _draw(self) -> None:
        sizes = self.sizes
        lines = [(k, q) for k in next(self.picks) if (q := next(sizes[k])) > 0]
        if lines:
            self.customer.place(lines)

    def _arrive(self, event: Call) -> None:
        self._draw()
        event.callbacks = self._callbacks  # re-arm the same event (see DemandSource)
        self.env.schedule(event, DEMAND, next(self.gaps))  # type: ignore[arg-type]

    def _arrive_fixed(self, event: Call) -> None:
        self._draw()
        self.n += 1
        event.callbacks = self._callbacks
        self.env.schedule(event, DEMAND, self.n / self.rate - self.env.now)  # type: ignore


class LogSource:
    """Orders replayed from an order log: ``orders`` yields ``(time, lines)`` in time
    order, lines as (product index, units)."""

    def __init__(self, env: Environment, customer: Customer,
                 orders: Iterator[tuple[float, list[tuple[int, float]]]]):
        self.env = env
        self.customer = customer
        self.orders = orders
        self._next: tuple[float, list[tuple[int, float]]] | None = None

    def start(self) -> None:
        self._schedule(None)

    def _schedule(self, event: Call | None) -> None:
        nxt = next(self.orders, None)
        if nxt is not None:
            t, lines = nxt
            Call(self.env, max(0.0, t - self.env.now), DEMAND, self._arrive, lines)

    def _arrive(self, event: Call) -> None:
        self.customer.place(event.data)
        self._schedule(event)


def line_picks(probabilities: list[float], rng: np.random.Generator) -> Iterator[list[int]]:
    """An endless iterator of the present lines of each order (indices, ascending, at least
    one), drawn in numpy batches.

    Each line is present independently with its probability, conditioned on at least one
    line, drawn directly (no rejection loop, so tiny probabilities cannot make it spin): the
    first present line is k with probability ``p_k prod_{j<k}(1 - p_j) / P(nonempty)``, and
    each later line j is present with ``p_j``.
    """
    n = len(probabilities)
    if min(probabilities) >= 1.0:  # every order has every line: nothing to draw
        return itertools.repeat(list(range(n)))
    p = np.asarray(probabilities, dtype=float)
    before = np.concatenate(([1.0], np.cumprod(1.0 - p)[:-1]))  # prod_{j<k} (1 - p_j)
    cum = np.cumsum(p * before)
    sizes = itertools.chain(_BATCHES, itertools.repeat(_BIG_BATCH))
    rows = (min(size, max(16, _CELLS // n)) for size in sizes)
    return itertools.chain.from_iterable(_pick_batch(p, cum, rng, m) for m in rows)


def _pick_batch(p: np.ndarray, cum: np.ndarray, rng: np.random.Generator,
                rows: int) -> list[list[int]]:
    n = len(p)
    first = np.searchsorted(cum, rng.random(rows) * cum[-1], side="right")
    first = np.minimum(first, n - 1)[:, None]
    cols = np.arange(n)[None, :]
    present = ((rng.random((rows, n)) < p) & (cols > first)) | (cols == first)
    _, idx = np.nonzero(present)  # row-major: each order's lines in ascending order
    ends = np.cumsum(present.sum(axis=1)).tolist()
    flat = idx.tolist()
    return [flat[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
