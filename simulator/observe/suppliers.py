"""Supplier metrics: listens to the suppliers' hooks and keeps O(1) running sums.

One row per supplier (``supplier_metrics.csv``, SPEC section 7), over the measured window
``[warmup, horizon)``, reset at the end of the warm-up like the stock metrics:

* ``purchase_orders``: purchase orders the supplier received (until orders are consolidated,
  every replenishment order is one purchase order);
* ``lines``: their lines (one per purchase order until consolidation);
* ``units``: units ordered (after the minimum order and multiple);
* ``avg_replenishment_time``: mean days from a purchase order to its receipt (production wait,
  production, disruption and lead time), over the orders that left the supplier in the window;
* ``utilisation``: share of the window the supplier was producing (NaN without capacity);
* ``days_disrupted``: days of the window the supplier was disrupted.
"""
from __future__ import annotations

import math
from typing import Any

from simulator.model.events import SupplierListener

SUPPLIER_METRICS = ("purchase_orders", "lines", "units", "avg_replenishment_time",
                    "utilisation", "days_disrupted")


class SupplierStats(SupplierListener):
    """Running sums of one supplier since ``start`` (days)."""

    def __init__(self, supplier: Any, start: float = 0.0):
        self.orders = 0
        self.lines = 0
        self.units = 0.0
        self.shipped = 0
        self.replenishment = 0.0  # days, summed over orders shipped
        self.produced0 = supplier.produced(start)  # production days before start
        self.disrupted0 = supplier.days_disrupted(start)

    def supplier_ordered(self, supplier: Any, now: float, qty: float, dest: Any) -> None:
        self.orders += 1
        self.lines += 1
        self.units += qty

    def supplier_shipped(self, supplier: Any, now: float, qty: float, dest: Any,
                         ordered: float, lead_time: float) -> None:
        self.shipped += 1
        self.replenishment += now - ordered + lead_time

    def row(self, supplier: Any, start: float, end: float) -> dict[str, Any]:
        """The metric columns over ``[start, end)``."""
        days = end - start
        produced = supplier.produced(end) - self.produced0
        return {
            "purchase_orders": self.orders,
            "lines": self.lines,
            "units": self.units,
            "avg_replenishment_time": (self.replenishment / self.shipped if self.shipped
                                       else math.nan),
            "utilisation": produced / days if supplier.capacity is not None else math.nan,
            "days_disrupted": supplier.days_disrupted(end) - self.disrupted0,
        }


class SupplierMetrics:
    """Attaches a :class:`SupplierStats` to every supplier of a network."""

    def __init__(self, network: Any):
        self.network = network
        self.stats: dict[str, SupplierStats] = {}
        self.start = 0.0
        network.attach_suppliers(self._make)

    def _make(self, supplier: Any) -> SupplierStats:
        st = SupplierStats(supplier)
        self.stats[supplier.id] = st
        return st

    def reset(self, now: float) -> None:
        """Forget everything before ``now`` (end of the warm-up)."""
        self.start = now
        for sid, st in self.stats.items():
            st.__init__(self.network.suppliers[sid], now)  # type: ignore[misc]

    def rows(self, end: float) -> list[dict[str, Any]]:
        """One dict per supplier, in scenario order, with the metric columns."""
        sups = self.network.suppliers
        return [{"supplier": sid, **st.row(sups[sid], self.start, end)}
                for sid, st in self.stats.items()]
