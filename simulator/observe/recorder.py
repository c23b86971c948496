"""Time series of a run (``simulator run --record``), bounded in memory whatever the horizon.

Per stock point three series are kept:

* ``level``: on hand, inventory position (on hand + on order - backorders) and backorders, in
  units, sampled on a fixed grid of times ``0, dt, 2 dt, ...`` and at the horizon, each sample
  taken after every event of its instant; ``dt = max(1 day, horizon / (max_points - 1))``, so
  at most ``max_points`` samples per stock point (daily snapshots for horizons up to
  ``max_points - 1`` days);
* ``order``: each replenishment order placed (time, quantity, the levels just after it);
* ``receipt``: each receipt (time, quantity, the levels just after it).

Orders and receipts go to a :class:`Thinned` buffer of at most ``max_points`` rows: it keeps
every ``stride``-th row offered (``stride`` starts at 1); when full it drops every second row
it holds and doubles ``stride``, so the rows stay evenly spaced in order count and cover the
whole run. The memory bound of a replication is therefore ``3 * max_points`` rows per stock
point (a row: a tuple of 6 floats, about 100 bytes), about 0.6 MB with the default of 2,000.

Cost: the levels are read by one event per grid instant for all stock points, and the
recorder listens to orders and receipts only (customer demand, the most frequent hook, goes
straight to the other listeners: see :class:`Tap`). It only listens and reads: the model does
not change, so the metrics are identical with and without it. The warm-up is recorded too.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulator.model.events import Call, StockListener

#: rows per series and stock point kept by default
DEFAULT_POINTS = 2000
#: the columns of a recorded row and of ``timeseries.parquet`` after its identifiers
ROW = ("time", "on_hand", "inventory_position", "backorders", "qty")
#: the series kinds, in the ``kind`` column of ``timeseries.parquet``
KINDS = ("level", "order", "receipt")
#: same-instant priority of a sample: after every event of the model at that instant
SAMPLE = 9


class Thinned:
    """A buffer of at most ``max_points`` rows, thinned by halving (module docstring).

    Parameters
    ----------
    max_points : int
        The bound (at least 2).
    """

    __slots__ = ("rows", "max_points", "stride", "seen")

    def __init__(self, max_points: int):
        self.rows: list[tuple[float, ...]] = []
        self.max_points = max(2, int(max_points))
        self.stride = 1
        self.seen = 0  # rows offered so far

    def offer(self, row: tuple[float, ...]) -> None:
        """Keep ``row`` if it falls on the stride; halve the buffer when it is full."""
        n = self.seen
        self.seen = n + 1
        if n % self.stride:
            return
        if len(self.rows) >= self.max_points:
            del self.rows[1::2]
            self.stride *= 2
            if n % self.stride:
                return
        self.rows.append(row)


def levels(sp: Any, now: float, qty: float = math.nan) -> tuple[float, ...]:
    """A row (:data:`ROW`) of the stock point's levels at ``now``."""
    oh, bo = sp.on_hand, sp.backorders
    return (now, oh, oh + sp.on_order - bo, bo, qty)


class PointRecorder:
    """The three series of one stock point (see the module docstring)."""

    def __init__(self, max_points: int):
        self.level: list[tuple[float, ...]] = []
        self.order = Thinned(max_points)
        self.receipt = Thinned(max_points)


class Tap(StockListener):
    """Puts a recorder beside a stock point's listener ``inner``: orders and receipts go to
    both, customer demand and forecasts to ``inner`` only, through ``inner``'s own bound
    methods (no extra call on the hottest path)."""

    def __init__(self, inner: StockListener, rec: PointRecorder):
        self.inner = inner
        self.rec = rec
        self.demand = inner.demand  # type: ignore[method-assign]
        self.forecast = inner.forecast  # type: ignore[method-assign]

    def order_placed(self, sp: Any, now: float, qty: float) -> None:
        self.inner.order_placed(sp, now, qty)
        self.rec.order.offer(levels(sp, now, qty))

    def received(self, sp: Any, now: float, qty: float, shipped: float) -> None:
        self.inner.received(sp, now, qty, shipped)
        self.rec.receipt.offer(levels(sp, now, qty))


class Recorder:
    """Records every stock point of a network (module docstring).

    Create it after the other observers and before ``network.start()``: it taps the
    listeners the stock points have then, and schedules its first sample at time 0.

    Parameters
    ----------
    network : simulator.model.Network
        The network, before it runs.
    max_points : int
        Rows kept per series and stock point (the memory bound, at least 2).
    """

    def __init__(self, network: Any, max_points: int = DEFAULT_POINTS):
        self.network = network
        horizon = float(network.scenario.horizon)
        self.dt = max(1.0, horizon / (max(2, max_points) - 1))
        self.points: dict[tuple[str, str], PointRecorder] = {}
        for key, sp in network.stock.items():
            rec = self.points[key] = PointRecorder(max_points)
            sp.listener = Tap(sp.listener, rec)
        self._pairs = [(sp, self.points[key].level) for key, sp in network.stock.items()]
        self.k = 0
        Call(network.env, 0.0, SAMPLE, self._sample)

    def _sample(self, event: Any) -> None:
        now = self.network.env.now
        nan = math.nan
        for sp, rows in self._pairs:  # levels() inlined: once per stock point and instant
            oh, bo = sp.on_hand, sp.backorders
            rows.append((now, oh, oh + sp.on_order - bo, bo, nan))
        self.k += 1
        Call(self.network.env, max(0.0, self.k * self.dt - now), SAMPLE, self._sample)

    def close(self, now: float) -> None:
        """Add every stock point's levels at ``now`` (the horizon), unless sampled then."""
        for key, sp in self.network.stock.items():
            rows = self.points[key].level
            if not rows or rows[-1][0] < now:
                rows.append(levels(sp, now))

    def parts(self) -> list[tuple[str, str, str, np.ndarray]]:
        """``(warehouse, product, kind, rows)`` per stock point and kind (:data:`KINDS`),
        ``rows`` an ``(n, 5)`` float array with the columns :data:`ROW` (cheap to pickle)."""
        out = []
        for (wid, pid), rec in self.points.items():
            for kind, rows in (("level", rec.level), ("order", rec.order.rows),
                               ("receipt", rec.receipt.rows)):
                out.append((wid, pid, kind, np.array(rows, dtype=float).reshape(-1, len(ROW))))
        return out
