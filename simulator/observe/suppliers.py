"""Supplier metrics: listens to the suppliers' hooks and keeps O(1) running sums.

One row per supplier (``supplier_metrics.csv``, SPEC section 7), over the measured window
``[warmup, horizon)``, reset at the end of the warm-up like the stock metrics:

* ``purchase_orders``: purchase orders the supplier received (without a consolidation window,
  every replenishment order is one purchase order);
* ``lines``: their lines (one per product and purchase order; one per purchase order without
  consolidation);
* ``units``: units ordered (after the minimum order and multiple);
* ``avg_replenishment_time``: mean days from a replenishment order's placement at the stock
  point to its receipt (consolidation wait, production wait, production, disruption and lead
  time: what the stock point experiences), over the replenishment orders whose purchase order
  left the supplier in the window; without consolidation, from the purchase order to its
  receipt as before;
* ``utilisation``: share of the window the supplier was producing (NaN without capacity);
* ``days_disrupted``: days of the window the supplier was disrupted.
"""
from __future__ import annotations

import math
from typing import Any
from weakref import WeakKeyDictionary

from simulator.model.events import SupplierListener
from simulator.model.purchasing import PurchaseOrder

#: per stock point (warehouse, product): [lines, share of the suppliers' major cost]
Shares = dict[tuple[str, str], list[float]]

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
        #: consolidated POs only: lines and major-cost share per stock point
        self.shares: Shares = {}

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


class PooledSupplierStats(SupplierStats):
    """:class:`SupplierStats` of a supplier with a consolidation window: ``dest`` is a
    :class:`~simulator.model.purchasing.PurchaseOrder` of one or more lines (a separate class,
    so an unconsolidated supplier's hooks do no extra work)."""

    def supplier_ordered(self, supplier: Any, now: float, qty: float,
                         dest: PurchaseOrder) -> None:
        self.orders += 1
        self.units += qty
        self.lines += len(dest.lines)
        self._share(supplier.ordering_cost, dest)

    def _share(self, major: float, po: PurchaseOrder) -> None:
        """Split the PO's major cost equally over its lines (one line per stock point)."""
        each = major / len(po.lines)
        shares = self.shares
        for sp in po.lines:
            key = (sp.warehouse, sp.product)
            acc = shares.get(key)
            if acc is None:
                shares[key] = [1.0, each]
            else:
                acc[0] += 1.0
                acc[1] += each

    def supplier_shipped(self, supplier: Any, now: float, qty: float, dest: PurchaseOrder,
                         ordered: float, lead_time: float) -> None:
        """Each merged replenishment order counts, from its placement to the receipt."""
        self.shipped += dest.orders
        self.replenishment += dest.orders * (now + lead_time) - dest.placed


class SupplierMetrics:
    """Attaches a :class:`SupplierStats` to every supplier of a network."""

    def __init__(self, network: Any):
        self.network = network
        self.stats: dict[str, SupplierStats] = {}
        self.start = 0.0
        network.attach_suppliers(self._make)
        _ATTACHED[network] = self

    def _make(self, supplier: Any) -> SupplierStats:
        cls = SupplierStats if supplier.window is None else PooledSupplierStats
        st = cls(supplier)
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

    def shares(self) -> Shares:
        """Lines and major-cost share per stock point over the window, from the consolidated
        POs the suppliers received in it (stock points ordering from a consolidating supplier;
        a stock point absent here had no line)."""
        out: Shares = {}
        for st in self.stats.values():
            for key, (lines, major) in st.shares.items():
                acc = out.setdefault(key, [0.0, 0.0])
                acc[0] += lines
                acc[1] += major
        return out


#: the SupplierMetrics attached to each network, for the stock metrics' cost split
_ATTACHED: WeakKeyDictionary[Any, SupplierMetrics] = WeakKeyDictionary()


def consolidated_shares(network: Any) -> Shares | None:
    """The line counts and major-cost shares of ``network``'s consolidated stock points, or
    None if no :class:`SupplierMetrics` observes it."""
    sm = _ATTACHED.get(network)
    return None if sm is None else sm.shares()
