"""A listener that records every state change as a tuple, for exact event-log
tests and debugging. Not attached in normal runs (it allocates per event)."""
from __future__ import annotations

from typing import Any

from simulator.model.events import CustomerListener, StockListener


class EventLog(StockListener):
    """Appends ``(time, kind, warehouse, product, qty, ...levels)`` to :attr:`records`.

    ``kind`` is ``demand`` (qty, shipped, lost), ``order`` (qty) or ``receive``
    (qty, shipped to backorders); each record ends with on_hand, backorders and
    on_order after the change.
    """

    def __init__(self, records: list[tuple[Any, ...]] | None = None):
        self.records: list[tuple[Any, ...]] = [] if records is None else records

    def _levels(self, sp: Any) -> tuple[float, float, float]:
        return sp.on_hand, sp.backorders, sp.on_order

    def demand(self, sp: Any, now: float, qty: float, shipped: float, lost: float) -> None:
        self.records.append((now, "demand", sp.warehouse, sp.product, qty, shipped, lost,
                             *self._levels(sp)))

    def order_placed(self, sp: Any, now: float, qty: float) -> None:
        self.records.append((now, "order", sp.warehouse, sp.product, qty, *self._levels(sp)))

    def received(self, sp: Any, now: float, qty: float, shipped: float) -> None:
        self.records.append((now, "receive", sp.warehouse, sp.product, qty, shipped,
                             *self._levels(sp)))


class CustomerLog(CustomerListener):
    """Records every customer hook as a tuple (tests, debugging; allocates per event):
    ``(t, "order", customer, lines, filled, split, lost)``,
    ``(t, "shipment", customer, warehouse index, units, cost)`` and
    ``(t, "delivered", customer, count, arrived, arrival)``.

    Single-product orders of a fast-path customer that ship complete at once are not
    announced by the model (see :class:`~simulator.model.events.CustomerListener`)."""

    def __init__(self, records: list[tuple[Any, ...]] | None = None):
        self.records: list[tuple[Any, ...]] = [] if records is None else records

    def order(self, customer: str, now: float, lines: int, filled: int, split: bool,
              lost: float) -> None:
        self.records.append((now, "order", customer, lines, filled, split, lost))

    def shipment(self, customer: str, now: float, warehouse: int, units: float,
                 cost: float) -> None:
        self.records.append((now, "shipment", customer, warehouse, units, cost))

    def delivered(self, customer: str, now: float, count: int, arrived: float,
                  arrival: float) -> None:
        self.records.append((now, "delivered", customer, count, arrived, arrival))
