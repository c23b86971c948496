"""A listener that records every state change as a tuple, for exact event-log
tests and debugging. Not attached in normal runs (it allocates per event)."""
from __future__ import annotations

from typing import Any

from simulator.model.events import StockListener


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
