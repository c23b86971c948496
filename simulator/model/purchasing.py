"""Inbound consolidation: replenishment orders grouped into purchase orders (issue 6, item 4).

A supplier with ``consolidation_window: W`` (days) gets one :class:`Consolidator` per
destination warehouse that orders from it. Rules:

* **Opening and joining.** The first replenishment order of a stock point of that warehouse
  opens a purchase order (PO) at time ``t``; every further order of the warehouse's stock points
  to this supplier placed in ``[t, t + W]`` joins it. A product already in the open PO **adds
  its units to its line** (one line per product and PO); a new product makes a new line.
* **Sending.** The PO goes to the supplier at ``t + W``, after every receipt, demand and
  review of that instant (priority :data:`SEND`, the next after ``REVIEW``). With ``W = 0`` the
  orders of all the periodic reviews at ``t`` (a shared review calendar) and of the demands at
  ``t`` are in it; with ``W > 0`` so are all the orders of ``t + W``, even those of a review
  scheduled after the PO opened (with the ``REVIEW`` priority, a stock point reviewed every
  ``W`` days that opened the PO would miss it at ``t + W``: its next review is scheduled
  after the PO's sending).
* **At the supplier** the PO is one order of its total units: capacity works through the total,
  a disruption delays it whole. When it leaves it draws **one** lead time from the stream
  ``purchase/<supplier>/<warehouse>`` (the supplier's ``lead_time``), and all its lines are
  received at the same instant, in the order the lines were opened.
* Each line keeps its own quantity; ``min_order`` and ``multiple`` were applied by the stock
  point to each replenishment order before it was booked (as without consolidation), so the
  stock point counts the units as on order from the moment it placed the order.

The supplier's listener sees the PO itself as ``dest`` (:class:`PurchaseOrder`, with its lines),
so observers can count lines and split costs. Without ``consolidation_window`` nothing here is
used: every order goes through :meth:`simulator.model.network.Lane.order` as before.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from simpy import Environment

from simulator.model.events import RECEIPT, REVIEW, Call

#: same-instant priority of a purchase order leaving for the supplier: after the reviews
SEND = REVIEW + 1


class PurchaseOrder:
    """One purchase order: lines per stock point, and when its orders were placed.

    Attributes
    ----------
    warehouse
        The destination warehouse id.
    opened
        Time (days) of the order that opened it.
    lines
        Units per ordering stock point (one line per product), in the order they were opened.
    units
        Total units of all lines.
    orders
        Replenishment orders merged into it (at least ``len(lines)``).
    placed
        Sum of the placement times (days) of those orders: the mean time from placement to
        receipt is ``received - placed / orders``.
    """

    __slots__ = ("_pool", "opened", "lines", "units", "orders", "placed")

    def __init__(self, pool: Consolidator, opened: float):
        self._pool = pool
        self.opened = opened
        self.lines: dict[Any, float] = {}
        self.units = 0.0
        self.orders = 0
        self.placed = 0.0

    @property
    def warehouse(self) -> str:
        return self._pool.warehouse

    @property
    def dest(self) -> PurchaseOrder:
        """What the supplier reports to its listener as the order's destination: the PO."""
        return self

    def add(self, sp: Any, qty: float, now: float) -> None:
        """An order of ``qty`` units from stock point ``sp`` placed at ``now`` joins the PO."""
        self.lines[sp] = self.lines.get(sp, 0.0) + qty
        self.units += qty
        self.orders += 1
        self.placed += now

    def ship(self, qty: float) -> float:
        """The PO leaves the supplier now: one lead time for all lines; return it (days)."""
        return self._pool.ship(self)


class Consolidator:
    """Groups the replenishment orders of one warehouse to one supplier into purchase orders.

    Parameters
    ----------
    env
        The simulation environment.
    supplier
        The :class:`~simulator.model.supplier.Supplier` the POs go to.
    warehouse
        The destination warehouse id.
    window
        The consolidation window ``W`` (days, >= 0).
    lead_times
        The PO lead times (days), one per PO, from ``purchase/<supplier>/<warehouse>``.
    """

    def __init__(self, env: Environment, supplier: Any, warehouse: str, window: float,
                 lead_times: Iterator[float]):
        self.env = env
        self.supplier = supplier
        self.warehouse = warehouse
        self.window = window
        self.lead_times = lead_times
        self.open: PurchaseOrder | None = None

    def order(self, sp: Any, qty: float) -> None:
        """Stock point ``sp`` orders ``qty`` units (already adjusted): join or open a PO."""
        po = self.open
        now = self.env.now
        if po is None:
            po = self.open = PurchaseOrder(self, now)
            Call(self.env, self.window, SEND, self._send, po)
        po.add(sp, qty, now)

    def _send(self, event: Call) -> None:
        po: PurchaseOrder = event.data
        self.open = None
        self.supplier.order(po, po.units)

    def ship(self, po: PurchaseOrder) -> float:
        """``po`` leaves the supplier now; schedule the receipt of all its lines."""
        lead = max(0.0, next(self.lead_times))
        Call(self.env, lead, RECEIPT, _receive, po)
        return lead


def _receive(event: Call) -> None:
    """All lines of a PO arrive at once, in the order they were opened."""
    for sp, qty in event.data.lines.items():
        sp.receive(qty)
