"""Customer metrics (``customer_metrics.csv``): one listener per customer, O(1) running
sums, memory flat in the horizon.

The window is ``[warmup, horizon)`` like the stock metrics. An order counts (in ``orders``,
``lines``, the fill rates, ``split_share``) when it *arrives* in the window. Its cycle time
is the days from its arrival to the arrival at the customer of its last unit (delivery time
included); it is known when that last unit leaves the warehouse, and counted then if the
order arrived in the window and that happens before the horizon. Orders still not delivered
at the horizon are counted in ``open_orders`` and have no cycle time (so the cycle-time
statistics are those of the orders delivered by the horizon). An order with a lost line
(``unmet: lost``) is never delivered complete: it counts in orders, lines and the fill
rates, not in the cycle times or ``open_orders``. Shipments and their cost count when they
leave, in the window.

The 95th percentile comes from :class:`LogBins`, a fixed log-spaced histogram (memory at
most a few thousand counters, whatever the horizon; accuracy in its docstring).
"""
from __future__ import annotations

import math
from typing import Any

from simulator.model.events import CustomerListener

CUSTOMER_METRICS = ("orders", "lines", "order_fill_rate", "line_fill_rate",
                    "avg_cycle_time", "p95_cycle_time", "on_time_share", "split_share",
                    "shipments", "shipping_cost", "lost_units", "open_orders")


class LogBins:
    """A streaming quantile estimator for non-negative values: fixed log-spaced bins.

    Zeros are counted exactly; a positive value x falls in bin ``floor(log(x / LOW) /
    log(RATIO))`` (values below ``LOW`` share one bin), and each bin keeps its count and the
    smallest and largest value it saw. :meth:`quantile` finds the bin holding the k-th
    smallest value, ``k = ceil(q n)`` (numpy's ``inverted_cdf`` percentile), and returns the
    bin's geometric midpoint clamped to the values it saw. Accuracy: the result lies in the
    same bin as the exact sample quantile, so within a relative ``RATIO - 1`` = 1% of it
    (about 0.5% from the midpoint in the worst case, and exact when the bin saw one distinct
    value); below ``LOW`` = 1e-9 days the error is at most 1e-9 days. Memory: at most one
    counter per bin used, and the bins from 1e-9 to 1e18 days are about 6,250.
    """

    LOW = 1e-9
    RATIO = 1.01
    _SCALE = 1.0 / math.log(RATIO)

    __slots__ = ("zeros", "n", "bins")

    def __init__(self) -> None:
        self.zeros = 0
        self.n = 0
        self.bins: dict[int, list[float]] = {}  # bin -> [count, smallest, largest]

    def add(self, x: float, count: int = 1) -> None:
        """``count`` values equal to ``x`` (days)."""
        self.n += count
        if x <= 0:
            self.zeros += count
            return
        k = int(math.log(x / self.LOW) * self._SCALE) if x > self.LOW else -1
        b = self.bins.get(k)
        if b is None:
            self.bins[k] = [count, x, x]
        else:
            b[0] += count
            if x < b[1]:
                b[1] = x
            elif x > b[2]:
                b[2] = x

    def add_zeros(self, count: int) -> None:
        """``count`` values of exactly 0 (cheaper than ``count`` calls of :meth:`add`)."""
        self.n += count
        self.zeros += count

    def quantile(self, q: float) -> float:
        """The estimated ``q`` quantile (0 < q <= 1); NaN without values."""
        if self.n == 0:
            return math.nan
        k = max(1, math.ceil(q * self.n - 1e-9))
        if k <= self.zeros:
            return 0.0
        seen = self.zeros
        for b in sorted(self.bins):
            count, low, high = self.bins[b]
            seen += int(count)
            if seen >= k:
                mid = self.LOW * self.RATIO ** (b + 0.5) if b >= 0 else self.LOW / 2
                return min(max(mid, low), high)
        raise AssertionError("unreachable: counts add up to n")  # pragma: no cover


class CustomerStats(CustomerListener):
    """Running sums of one customer's orders in the measured window.

    Orders of the fast path (single-product orders served complete at once, see
    :class:`~simulator.model.network.DemandSource`) are not announced: they are read from
    the sources' running totals ``count`` (differences from the start of the window) minus
    the orders of those sources that were announced (the short ones).
    """

    def __init__(self, customer: Any, sources: list[Any], promised: float | None,
                 start: float = 0.0):
        self.customer = customer
        self.sources = sources
        self.promised = promised
        self.start = start
        self.base = sum(src.count for src in sources)
        self.orders = self.lines = self.filled_orders = self.filled_lines = 0
        self.split = 0
        self.lost = 0.0
        self.lost_orders = 0
        self.shipments = 0
        self.shipping_cost = 0.0
        self.delivered_n = 0      # orders of the window delivered (counted at departure)
        self.cycle_sum = 0.0      # their cycle times (days)
        self.on_time = 0
        self.cycle = LogBins()

    def order(self, customer: str, now: float, lines: int, filled: int, split: bool,
              lost: float) -> None:
        self.orders += 1
        self.lines += lines
        self.filled_lines += filled
        if filled == lines:
            self.filled_orders += 1
        if split:
            self.split += 1
        if lost > 0:
            self.lost += lost
            self.lost_orders += 1

    def shipment(self, customer: str, now: float, warehouse: int, units: float,
                 cost: float) -> None:
        self.shipments += 1
        self.shipping_cost += cost

    def delivered(self, customer: str, now: float, count: int, arrived: float,
                  arrival: float) -> None:
        mean_arrived = arrived / count
        if mean_arrived < self.start:  # arrived before the window: not measured
            return
        cycle = arrival - mean_arrived
        self.delivered_n += count
        self.cycle_sum += cycle * count
        self.cycle.add(cycle, count)
        promised = self.promised
        if promised is not None and cycle <= promised + 1e-9:
            self.on_time += count

    def values(self) -> dict[str, float]:
        """The metric columns (:data:`CUSTOMER_METRICS`) from the sums."""
        quiet = 0  # fast-path orders complete at once (the others were announced)
        if self.sources:
            quiet = sum(src.count for src in self.sources) - self.base - self.orders
        orders, lines = self.orders + quiet, self.lines + quiet
        done = self.delivered_n + quiet
        cycle = LogBins()
        cycle.zeros, cycle.n, cycle.bins = self.cycle.zeros + quiet, done, self.cycle.bins
        nan = math.nan
        return {
            "orders": orders,
            "lines": lines,
            "order_fill_rate": (self.filled_orders + quiet) / orders if orders else nan,
            "line_fill_rate": (self.filled_lines + quiet) / lines if lines else nan,
            "avg_cycle_time": self.cycle_sum / done if done else nan,
            "p95_cycle_time": cycle.quantile(0.95),
            "on_time_share": (self.on_time + quiet) / done
            if done and self.promised is not None else nan,
            "split_share": self.split / orders if orders else nan,
            "shipments": self.shipments + quiet,
            "shipping_cost": self.shipping_cost,
            "lost_units": self.lost,
            "open_orders": orders - done - self.lost_orders,
        }


class CustomerCollector:
    """Attaches a :class:`CustomerStats` to every customer of a network."""

    def __init__(self, network: Any):
        self.network = network
        self.stats: dict[str, CustomerStats] = {}
        specs = {c.id: c for c in network.scenario.customers}
        self.promised = {cid: c.promised_time for cid, c in specs.items()}
        network.attach_customers(self._make)

    def _make(self, customer: Any) -> CustomerStats:
        sources = [s for s in self.network.sources
                   if getattr(s, "customer", None) is customer and getattr(s, "fast", False)]
        st = CustomerStats(customer, sources, self.promised[customer.id])
        self.stats[customer.id] = st
        return st

    def reset(self, now: float) -> None:
        """Forget everything before ``now`` (the end of the warm-up)."""
        for st in self.stats.values():
            st.__init__(st.customer, st.sources, st.promised, now)  # type: ignore[misc]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per customer (scenario order) with the metric columns."""
        return [{"customer": cid, **st.values()} for cid, st in self.stats.items()]
