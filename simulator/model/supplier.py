"""A supplier: minimum order and case pack, capacity, disruptions (SPEC section 7).

Rules
-----
* **Order adjustment.** An order a policy asks for is raised to at least ``min_order`` and
  then rounded *up* to a whole number of ``multiple`` units (the smallest multiple at or above
  both the wish and the minimum). The stock point books the adjusted quantity as on order, so
  the policy sees it in the position; its own wish is not kept.
* **Capacity** ``c`` (units per day): purchase orders are produced one at a time in arrival
  order, ``q`` units taking ``q / c`` days; then the order leaves and its lead time runs.
  Without capacity, production takes no time.
* **Disruptions** (given periods ``[from, to)``, or a random up/down process with exponential
  up and down times): the supplier produces and ships nothing while disrupted. Production
  pauses and resumes where it stopped when the disruption ends; an order finished (or, without
  capacity, placed) during a disruption, or exactly at its start, leaves when it ends. Orders
  keep their arrival order.

Implementation
--------------
No SimPy process is needed: with first-come-first-served production at a constant rate and the
disruptions known ahead (given, or drawn ahead lazily from the supplier's own stream), the time
an order leaves is known when it arrives. The supplier keeps its "busy until" on an *uptime
clock* ``U(t)`` (days up in ``[0, t)``): an order arriving at ``t`` starts at uptime
``max(U(t), busy)`` and ends ``q / c`` uptime days later; it leaves at the first instant the
real clock reaches that uptime while up. So an order costs O(1) (amortised over the periods
passed) plus one dispatch event. An unlimited supplier (no capacity, no disruptions) hands the
order to the lane at once: no extra event, the same draws and times as before suppliers had
limits.

With a ``consolidation_window`` the supplier receives whole purchase orders of several lines
(:mod:`simulator.model.purchasing`); the rules above apply to each PO as one order.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from typing import Any

from simpy import Environment

from simulator.model.events import NULL_SUPPLIER_LISTENER, RECEIPT, Call, SupplierListener

#: a period that never comes: ends a finite list of disruptions
_NEVER = (math.inf, math.inf)


class Downtime:
    """The down periods of a supplier, ``[start, end)`` in increasing order, read with two
    cursors that only move forward (so each period is passed once by each).

    Parameters
    ----------
    periods
        Non-overlapping ``(start, end)`` pairs in days, sorted; may be infinite (lazy).
    """

    def __init__(self, periods: Iterator[tuple[float, float]]):
        self._source = periods
        self._buf: deque[tuple[float, float]] = deque()  # periods not passed by both cursors
        self._first = 0                 # index of _buf[0] in the whole sequence
        self._a, self._down_a = 0, 0.0  # clock cursor: periods ended by t, their total length
        self._b, self._down_b = 0, 0.0  # uptime cursor: periods passed by uptime u

    def _period(self, k: int) -> tuple[float, float]:
        while k - self._first >= len(self._buf):
            self._buf.append(next(self._source, _NEVER))
        return self._buf[k - self._first]

    def _trim(self) -> None:
        low = min(self._a, self._b)
        while self._first < low:
            self._buf.popleft()
            self._first += 1

    def _advance(self, t: float) -> tuple[float, float]:
        """Move the clock cursor to ``t`` (non-decreasing); return the period not yet ended."""
        k, down = self._a, self._down_a
        start, end = self._period(k)
        while end <= t:
            down += end - start
            k += 1
            start, end = self._period(k)
        if k != self._a:
            self._a, self._down_a = k, down
            self._trim()
        return start, end

    def uptime(self, t: float) -> float:
        """Days up in ``[0, t)`` (``t`` non-decreasing from call to call)."""
        start, _ = self._advance(t)
        return min(start, t) - self._down_a

    def next_up(self, t: float) -> float:
        """``t`` if the supplier is up at ``t``, else the end of the disruption (days)."""
        start, end = self._advance(t)
        if start > t:
            return t
        k = self._a  # down at t: up at the end, unless the next period starts right there
        while True:
            k += 1
            start, after = self._period(k)
            if start > end:
                return end
            end = after

    def release(self, u: float) -> float:
        """The first time up at which the uptime reaches ``u`` (``u`` non-decreasing)."""
        k, down = self._b, self._down_b
        start, end = self._period(k)
        passed = -math.inf
        # the uptime u is reached at or after this period; compared as the real time u + down
        # (the time the order would leave), so that a finish rounded onto a disruption's start
        # (u = 2 - 2e-16 before [6, 7) after 4 days down: 6.0) waits for its end, as the rule says
        while u + down >= start:
            down += end - start
            passed = end
            k += 1
            start, end = self._period(k)
        if k != self._b:
            self._b, self._down_b = k, down
            self._trim()
        return max(u + down, passed)  # never before the end of a period it passed


def given_periods(periods: Any) -> Iterator[tuple[float, float]]:
    """The given ``disruptions`` periods as ``(from, to)`` pairs in time order."""
    return iter(sorted((float(p.from_), float(p.to)) for p in periods))


def random_periods(mean_between: float, mean_duration: float,
                   draws: Iterator[float]) -> Iterator[tuple[float, float]]:
    """Alternating up and down times, exponential with these means (days), up from t = 0.

    ``draws`` are standard exponential variates (mean 1), from the supplier's own stream.
    """
    t = 0.0
    while True:
        start = t + mean_between * next(draws)
        t = start + mean_duration * next(draws)
        yield start, t


class Supplier:
    """One supplier of the scenario (see the module docstring for the rules).

    Parameters
    ----------
    env
        The simulation environment.
    spec
        The scenario's supplier (:class:`simulator.scenario.models.Supplier`).
    downtime
        Its disruptions, or None for a supplier that is never disrupted.
    """

    def __init__(self, env: Environment, spec: Any, downtime: Downtime | None):
        self.env = env
        self.id: str = spec.id
        self.capacity: float | None = spec.capacity
        self.min_order = float(spec.min_order)
        self.multiple: float | None = spec.multiple
        #: major ordering cost per purchase order (currency)
        self.ordering_cost = float(spec.ordering_cost)
        #: consolidation window (days), or None: every replenishment order is its own PO
        self.window: float | None = spec.consolidation_window
        self.downtime = downtime
        #: False: hand orders straight to the lane (no event of its own)
        self.limited = self.capacity is not None or downtime is not None
        self.listener: SupplierListener = NULL_SUPPLIER_LISTENER
        self.busy = 0.0  # uptime (days) at which the work taken so far is done
        self.work = 0.0  # production days of all orders taken so far

    @property
    def adjusts(self) -> bool:
        """Whether orders are adjusted (a minimum order or a multiple is set)."""
        return self.min_order > 0 or self.multiple is not None

    def adjust(self, qty: float) -> float:
        """The order placed for a wish of ``qty`` units: at least ``min_order``, rounded up
        to a whole number of ``multiple`` (a quotient within 1e-9 of a whole number counts
        as that number, so float rounding of the wish never adds a case)."""
        qty = max(qty, self.min_order)
        if self.multiple is not None:
            qty = math.ceil(qty / self.multiple - 1e-9) * self.multiple
        return qty

    def uptime(self, now: float) -> float:
        """Days the supplier was up in ``[0, now)``."""
        return now if self.downtime is None else self.downtime.uptime(now)

    def produced(self, now: float) -> float:
        """Days spent producing in ``[0, now)`` (0 without capacity)."""
        return self.work - max(0.0, self.busy - self.uptime(now))

    def days_disrupted(self, now: float) -> float:
        """Days disrupted in ``[0, now)``."""
        return now - self.uptime(now)

    def order(self, lane: Any, qty: float) -> None:
        """A purchase order of ``qty`` units from ``lane`` (already adjusted).

        ``lane`` is anything with a ``dest`` (reported to the listener) and a ``ship(qty)``
        that sends the units on and returns the lead time: a
        :class:`~simulator.model.network.Lane` (one replenishment order), or a consolidated
        :class:`~simulator.model.purchasing.PurchaseOrder` (its total units).
        """
        now = self.env.now
        self.listener.supplier_ordered(self, now, qty, lane.dest)
        if not self.limited:
            self._dispatch(lane, qty, now)
            return
        leave = self._leave_time(now, qty)
        Call(self.env, max(0.0, leave - now), RECEIPT, self._leave, (lane, qty, now))

    def _leave_time(self, now: float, qty: float) -> float:
        downtime = self.downtime
        if self.capacity is None:  # no production time: leaves now, or when the disruption ends
            return downtime.next_up(now)  # type: ignore[union-attr]
        days = qty / self.capacity
        self.busy = max(self.uptime(now), self.busy) + days
        self.work += days
        return self.busy if downtime is None else downtime.release(self.busy)

    def _leave(self, event: Call) -> None:
        lane, qty, ordered = event.data
        self._dispatch(lane, qty, ordered)

    def _dispatch(self, lane: Any, qty: float, ordered: float) -> None:
        lead = lane.ship(qty)
        self.listener.supplier_shipped(self, self.env.now, qty, lane.dest, ordered, lead)
