"""Scheduling on the SimPy environment, the order of same-instant events, and
the hooks through which the model announces its state changes.

Same-instant order
------------------
Events at the same time are processed by priority, then in the order they were
scheduled (SimPy's FIFO tie-break):

0. ``TICK``: the end of a day for forecast-driven policies (the day's demand is handed to
   their forecasters before anything else happens at that instant);
1. ``RECEIPT``: stock arriving (from a supplier or an upstream warehouse), and purchase
   orders leaving a supplier with capacity or disruptions (an order that leaves with lead
   time 0 is received before the customer demand of that instant);
2. ``DEMAND``: customer orders;
3. ``REVIEW``: periodic policy reviews, and a customer's merge window closing (so orders
   arriving at the closing instant still join it);
4. ``SEND`` (:mod:`simulator.model.purchasing`): a consolidated purchase order leaving for
   its supplier at the end of its window, after every review of that instant.

The end of the warm-up and the end of the horizon come before all of them (SimPy
stops a run before the events at the stop time), so statistics cover
``[warmup, horizon)``: an event at exactly ``horizon`` is not simulated.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simpy import Environment, Event

TICK, RECEIPT, DEMAND, REVIEW = 0, 1, 2, 3


class Call(Event):
    """An event that calls ``fn(event)`` after ``delay`` days; ``data`` rides along.

    Cheaper than a generator process: no generator resume, one heap entry.
    """

    def __init__(self, env: Environment, delay: float, priority: int,
                 fn: Callable[[Any], None], data: Any = None):
        self.env = env
        self.callbacks = [fn]
        self._value = None
        self._ok = True
        self.data = data
        env.schedule(self, priority, delay)  # type: ignore[arg-type]


class StockListener:
    """Hooks the model calls after each state change of a stock point.

    The default does nothing, so an unobserved run pays one call per change.
    ``sp`` is the :class:`~simulator.model.stockpoint.StockPoint` (read its
    levels, never change them); ``now`` is the time in days.
    """

    def demand(self, sp: Any, now: float, qty: float, shipped: float, lost: float) -> None:
        """An order for ``qty`` units arrived; ``shipped`` left from stock at once,
        ``lost`` were lost, the rest were backordered."""

    def order_placed(self, sp: Any, now: float, qty: float) -> None:
        """``sp`` placed a replenishment order of ``qty`` units."""

    def received(self, sp: Any, now: float, qty: float, shipped: float) -> None:
        """``qty`` units arrived; ``shipped`` of them went straight to backorders."""

    def forecast(self, sp: Any, now: float, predicted: float, actual: float) -> None:
        """A day ended (at ``now``) at a stock point with a forecast-driven policy: its
        demand was ``actual`` units, the one-step-ahead forecast for it ``predicted`` (NaN
        before the forecaster had any observation)."""


NULL_LISTENER = StockListener()


class Fanout(StockListener):
    """Forwards every hook to several listeners, in order."""

    def __init__(self, listeners: list[StockListener]):
        self.listeners = list(listeners)

    def demand(self, sp: Any, now: float, qty: float, shipped: float, lost: float) -> None:
        for lst in self.listeners:
            lst.demand(sp, now, qty, shipped, lost)

    def order_placed(self, sp: Any, now: float, qty: float) -> None:
        for lst in self.listeners:
            lst.order_placed(sp, now, qty)

    def received(self, sp: Any, now: float, qty: float, shipped: float) -> None:
        for lst in self.listeners:
            lst.received(sp, now, qty, shipped)

    def forecast(self, sp: Any, now: float, predicted: float, actual: float) -> None:
        for lst in self.listeners:
            lst.forecast(sp, now, predicted, actual)


class SupplierListener:
    """Hooks the model calls when a supplier takes or dispatches a purchase order.

    The default does nothing. ``supplier`` is the :class:`~simulator.model.supplier.Supplier`
    (read it, never change it); ``now`` is the time in days; ``dest`` is the ordering
    :class:`~simulator.model.stockpoint.StockPoint`, or, for a supplier with a
    ``consolidation_window``, the :class:`~simulator.model.purchasing.PurchaseOrder` (one or
    more lines); without one, every replenishment order is one purchase order of one line.
    """

    def supplier_ordered(self, supplier: Any, now: float, qty: float, dest: Any) -> None:
        """A purchase order of ``qty`` units (already adjusted to the supplier's minimum and
        multiple) arrived at the supplier."""

    def supplier_shipped(self, supplier: Any, now: float, qty: float, dest: Any,
                         ordered: float, lead_time: float) -> None:
        """The purchase order placed at time ``ordered`` left the supplier; it will be received
        ``lead_time`` days from now."""


NULL_SUPPLIER_LISTENER = SupplierListener()


class SupplierFanout(SupplierListener):
    """Forwards every supplier hook to several listeners, in order."""

    def __init__(self, listeners: list[SupplierListener]):
        self.listeners = list(listeners)

    def supplier_ordered(self, supplier: Any, now: float, qty: float, dest: Any) -> None:
        for lst in self.listeners:
            lst.supplier_ordered(supplier, now, qty, dest)

    def supplier_shipped(self, supplier: Any, now: float, qty: float, dest: Any,
                         ordered: float, lead_time: float) -> None:
        for lst in self.listeners:
            lst.supplier_shipped(supplier, now, qty, dest, ordered, lead_time)


class CustomerListener:
    """Hooks the model calls for a customer's orders (one listener per customer).

    The default does nothing. ``customer`` is the customer's id, ``now`` the time in days.
    Exception, for speed: a single-product (``demand``) order of a customer served from one
    warehouse without delivery times or shipping costs that ships complete at once is not
    announced; its source counts it in ``count`` (a running total that observers read, see
    :class:`~simulator.model.network.DemandSource`).
    """

    def order(self, customer: str, now: float, lines: int, filled: int, split: bool,
              lost: float) -> None:
        """An order of ``lines`` lines arrived; ``filled`` of them shipped complete from stock
        at once; ``split``: it is served from more than one warehouse; ``lost`` units were
        lost (``unmet: lost``; such an order is never delivered)."""

    def shipment(self, customer: str, now: float, warehouse: int, units: float,
                 cost: float) -> None:
        """A shipment of ``units`` left the customer's ``warehouse``-th warehouse, costing
        ``cost`` (shipping cost per unit and per shipment)."""

    def delivered(self, customer: str, now: float, count: int, arrived: float,
                  arrival: float) -> None:
        """The last units of ``count`` orders (1, or a cohort beyond the record bound) left
        now and reach the customer at ``arrival``; ``arrived`` is the sum of the orders'
        arrival times."""


NULL_CUSTOMER = CustomerListener()


class CustomerFanout(CustomerListener):
    """Forwards every customer hook to several listeners, in order."""

    def __init__(self, listeners: list[CustomerListener]):
        self.listeners = list(listeners)

    def order(self, customer: str, now: float, lines: int, filled: int, split: bool,
              lost: float) -> None:
        for lst in self.listeners:
            lst.order(customer, now, lines, filled, split, lost)

    def shipment(self, customer: str, now: float, warehouse: int, units: float,
                 cost: float) -> None:
        for lst in self.listeners:
            lst.shipment(customer, now, warehouse, units, cost)

    def delivered(self, customer: str, now: float, count: int, arrived: float,
                  arrival: float) -> None:
        for lst in self.listeners:
            lst.delivered(customer, now, count, arrived, arrival)
