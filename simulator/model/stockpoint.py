"""A stock point: one product at one warehouse.

State: ``on_hand``, ``backorders`` (units owed, with a FIFO queue of who is
owed), ``on_order`` (ordered, not yet received). The inventory position is
``on_hand + on_order - backorders``.

Rules
-----
* An order is served from stock at once as far as stock goes (partial
  shipment); the rest is backordered (FIFO) or lost, per customer.
* Arriving stock serves the backorder queue first, oldest first; what is left
  goes on hand. A shortfall owed to the same claimant as the newest queue entry is
  added to that entry (FIFO order is unchanged), so a long shortage of customer
  demand keeps one entry, not one per order: memory follows the claimants, not the
  history. Units released to a claimant from one entry travel as one shipment.
  So stock on hand and backorders are never both positive.
* A continuous-review policy is consulted after every demand (the only event
  that changes the position apart from ordering itself), and once at t = 0;
  if it declares a ``reorder_level``, only when the position is at or below it.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

from simpy import Environment

from policies.base import PolicyContext
from simulator.errors import PolicyError
from simulator.model.events import NULL_LISTENER, REVIEW, Call, StockListener

#: quantities closer than this (units) are treated as equal: it absorbs the rounding of
#: fractional order sizes and never matters for whole units
EPS = 1e-9

# A backorder entry: [units still owed, who is owed]. The claimant is any object with
# ``ship(qty)``: a downstream Lane, or a customer's Backlog (simulator.model.orders), or
# None (owed, nobody told). ``ship`` is called for every unit released from the claimant's
# entries; a lane is also sent the at-once part of its order through ``ship``, a customer
# learns it from the return value of ``demand`` (and then ``claim``s its shortfall).
Backorder = list


class StockPoint:
    """One product at one warehouse (see the module docstring for the rules)."""

    def __init__(self, env: Environment, warehouse: str, product: str, policy: Any,
                 context: PolicyContext, initial: float):
        self.env = env
        self.warehouse = warehouse
        self.product = product
        self.policy = policy
        self.context = context
        self.on_hand = float(initial)
        self.backorders = 0.0
        self.on_order = 0.0
        self.queue: deque[Backorder] = deque()
        self.listener: StockListener = NULL_LISTENER
        self.review_period = float(getattr(policy, "review_period", 0) or 0)
        self.continuous = self.review_period == 0
        # A policy may promise to order nothing while the position is above its
        # ``reorder_level`` (read once, after prepare): then it is consulted only at or below.
        level = getattr(policy, "reorder_level", None)
        self.trigger = math.inf if level is None else float(level)
        self.view = StockView(self)
        #: the scenario key of the policy, for error messages (set by the network)
        self.key = f"{warehouse}/{product}.policy"
        #: places a replenishment order; set by the network when the inbound lane is built
        self.replenish: Callable[[float], None] = _unconnected
        #: the supplier's order adjustment (minimum order, multiple), or None: set by the
        #: network; applied to the policy's wish before it is booked, so on_order (and the
        #: position the policy sees next) holds the adjusted quantity
        self.adjust: Callable[[float], float] | None = None

    @property
    def position(self) -> float:
        return self.on_hand + self.on_order - self.backorders

    # -- events ---------------------------------------------------------------
    def demand(self, qty: float, lose: bool, lane: Any = None) -> float:
        """An order of ``qty`` units; ``lane`` is the claimant owed the shortfall (None, or
        a downstream lane; see ``Backorder``). Returns the units shipped at once: exactly
        ``qty`` when all of it shipped. A customer whose shortfall was backordered hands it
        to its claimant right after, with :meth:`claim`."""
        on_hand = self.on_hand
        lost = 0.0
        if on_hand >= qty - EPS:  # within rounding of fractional quantities: all of it
            shipped = qty
            self.on_hand = on_hand - qty if on_hand > qty else 0.0
        else:
            shipped = on_hand
            self.on_hand = 0.0
            short = qty - on_hand
            if lose:
                lost = short
            else:
                self.backorders += short
                queue = self.queue
                if queue and queue[-1][1] is lane:  # same claimant as the last entry: merge,
                    queue[-1][0] += short          # so memory follows claimants, not history
                else:
                    queue.append([short, lane])
        if lane is not None and shipped > 0:
            lane.ship(shipped)
        # env._now: what the `now` property returns, read directly on the hottest path (the
        # property call costs about 50 ns per customer order; SimPy 4 keeps the time there)
        self.listener.demand(self, self.env._now, qty, shipped, lost)
        if self.continuous and self.on_hand + self.on_order - self.backorders <= self.trigger:
            self.review()
        return shipped

    def claim(self, claimant: Any) -> None:
        """The shortfall just backordered by :meth:`demand` with claimant None is owed to
        ``claimant`` (merged into the entry before it if that is owed to the same claimant).

        Called by a customer right after its demand returned short: nothing can settle the
        entry in between (a receipt is always an event of its own), so it is the newest."""
        queue = self.queue
        entry = queue[-1]
        if len(queue) > 1 and queue[-2][1] is claimant:
            queue[-2][0] += entry[0]
            queue.pop()
        else:
            entry[1] = claimant

    def refuse(self, qty: float) -> None:
        """A customer's order line of ``qty`` units is lost whole without taking stock (an
        order that must ship complete and cannot, under lost sales): demand and lost sale
        are counted; stock and position are unchanged, so no review is due."""
        self.listener.demand(self, self.env.now, qty, 0.0, qty)

    def receive(self, qty: float) -> None:
        """``qty`` units arrive: serve backorders FIFO, then stock the rest."""
        self.on_order -= qty
        left = qty
        queue = self.queue
        while queue and left > 0:
            entry = queue[0]
            owed = entry[0]
            if owed <= left + EPS:  # settles the entry (a rounding-size remainder is dropped)
                queue.popleft()
                give = min(owed, left)
            else:
                entry[0] = owed - left
                give = left
            left -= give
            if entry[1] is not None:
                entry[1].ship(give)
        served = qty - left
        # exact zeros when nothing is owed / outstanding, so float sums cannot drift
        self.backorders = self.backorders - served if queue else 0.0
        if self.on_order < EPS:
            self.on_order = 0.0
        self.on_hand += left
        self.listener.received(self, self.env.now, qty, served)

    def review(self, _event: Any = None) -> None:
        """Ask the policy; place an order if it wants one (0 or less: no order).

        A policy that raises, or returns something other than a finite number (or -inf),
        stops the run with a :class:`~simulator.errors.PolicyError` naming its stock point.
        """
        try:
            qty = self.policy.order_quantity(self.view)
        except Exception as exc:  # a user's policy: report it as their problem, not a crash
            raise PolicyError.from_exception(self.key, self.env.now, exc) from exc
        try:
            wanted = bool(qty > 0)
            bad = qty == math.inf or qty != qty  # inf or NaN
        except (TypeError, ValueError):
            bad = True
        if bad:
            raise PolicyError.bad_result(self.policy, self.key, self.env.now, qty)
        if wanted:
            if self.adjust is not None:
                qty = self.adjust(qty)
            self.on_order += qty
            self.listener.order_placed(self, self.env.now, qty)
            self.replenish(qty)

    def start(self) -> None:
        """Schedule the first review at t = 0 (and every ``review_period`` after, if periodic)."""
        if self.continuous:
            Call(self.env, 0, REVIEW, self.review)
        else:
            Call(self.env, 0, REVIEW, self._periodic, 0)

    def _periodic(self, event: Call) -> None:
        k = event.data
        self.review()
        Call(self.env, (k + 1) * self.review_period - self.env.now, REVIEW, self._periodic, k + 1)


class StockView:
    """The read-only view of a stock point that a policy sees."""

    __slots__ = ("_sp",)

    def __init__(self, sp: StockPoint):
        self._sp = sp

    @property
    def time(self) -> float:
        return self._sp.env.now

    @property
    def on_hand(self) -> float:
        return self._sp.on_hand

    @property
    def backorders(self) -> float:
        return self._sp.backorders

    @property
    def on_order(self) -> float:
        return self._sp.on_order

    @property
    def position(self) -> float:
        sp = self._sp
        return sp.on_hand + sp.on_order - sp.backorders

    @property
    def context(self) -> PolicyContext:
        return self._sp.context

    @property
    def warehouse(self) -> str:
        return self._sp.warehouse

    @property
    def product(self) -> str:
        return self._sp.product


def _unconnected(qty: float) -> None:  # pragma: no cover - a wiring bug, not user input
    raise RuntimeError("stock point has no inbound lane")
