"""The metrics collector: listens to the model and keeps O(1) running sums.

Per stock point it integrates on-hand and backorder levels over time (areas in
unit-days) and tallies demand, fills, losses, orders and shipments. At the end
of the warm-up everything is reset (levels are kept); at the end of the horizon
the areas are closed, and :meth:`MetricsCollector.rows` turns the sums into the
metric columns of SPEC section 4.
"""
from __future__ import annotations

import math
from typing import Any

from simulator.model.events import StockListener
from simulator.observe.suppliers import consolidated_shares

METRICS = ("demand_units", "fill_rate", "lost_units", "avg_on_hand", "avg_backorders",
           "orders_placed", "holding_cost", "ordering_cost", "backorder_cost",
           "lost_sale_cost", "total_cost", "inventory_turnover", "bullwhip",
           "forecast_mae", "forecast_rmse", "forecast_bias", "forecast_mape")


class StockStats(StockListener):
    """Running sums of one stock point.

    Daily totals (for ``bullwhip``): the window is cut into days ``[start + i, start + i + 1)``;
    a day's units demanded and ordered are added to running sums and sums of squares when the
    first event after it comes (days without events count as zeros), so the per-event cost is
    one comparison. A last partial day (a window that is not a whole number of days) is left
    out.
    """

    def __init__(self, sp: Any, start: float = 0.0):
        self.t = start
        self.t0 = start
        self.day_end = start + 1.0  # end of the current day
        self.ordered = 0.0          # units ordered in the window
        self.mark_d = self.mark_o = 0.0  # demand_units, ordered at the start of the day
        self.days = 0               # whole days closed
        self.d1 = self.d2 = self.o1 = self.o2 = 0.0  # sums and sums of squares per day
        # one-step-ahead forecast errors (forecast - demand) of the days in the window
        self.f_n = self.f_pos = 0
        self.f_abs = self.f_sq = self.f_sum = self.f_pct = 0.0
        self.oh = sp.on_hand
        self.bo = sp.backorders
        self.area_oh = self.area_bo = 0.0
        self.demand_units = self.filled = self.lost = self.shipped = 0.0
        self.orders = 0
        self.max_order = 0.0  # the largest replenishment order (units), for sanity warnings
        self.max_order_time = start

    def _advance(self, sp: Any, now: float) -> None:
        dt = now - self.t
        if dt > 0:
            self.area_oh += self.oh * dt
            self.area_bo += self.bo * dt
            self.t = now
        self.oh = sp.on_hand
        self.bo = sp.backorders

    def demand(self, sp: Any, now: float, qty: float, shipped: float, lost: float) -> None:
        # _advance inlined: this hook runs once per customer order, the hottest path
        dt = now - self.t
        if dt > 0:
            self.area_oh += self.oh * dt
            self.area_bo += self.bo * dt
            self.t = now
        self.oh = sp.on_hand
        self.bo = sp.backorders
        if now >= self.day_end:
            self._roll(now)
        self.demand_units += qty
        self.filled += shipped
        self.shipped += shipped
        self.lost += lost

    def _roll(self, now: float) -> None:
        """Close the current day and the whole days up to ``now`` (zeros: no event)."""
        d = self.demand_units - self.mark_d
        o = self.ordered - self.mark_o
        self.d1 += d
        self.d2 += d * d
        self.o1 += o
        self.o2 += o * o
        skipped = math.floor(now - self.day_end)
        self.days += 1 + skipped
        self.day_end += 1.0 + skipped
        self.mark_d = self.demand_units
        self.mark_o = self.ordered

    def bullwhip(self) -> float:
        """Variance of units ordered per day / variance of units demanded per day."""
        n = self.days
        if n < 2:
            return math.nan
        var_d = (self.d2 - self.d1 * self.d1 / n) / (n - 1)
        var_o = (self.o2 - self.o1 * self.o1 / n) / (n - 1)
        return var_o / var_d if var_d > 1e-12 else math.nan

    def order_placed(self, sp: Any, now: float, qty: float) -> None:
        if now >= self.day_end:
            self._roll(now)
        self.ordered += qty
        self.orders += 1
        if qty > self.max_order:
            self.max_order = qty
            self.max_order_time = now

    def received(self, sp: Any, now: float, qty: float, shipped: float) -> None:
        self._advance(sp, now)
        self.shipped += shipped

    def forecast(self, sp: Any, now: float, predicted: float, actual: float) -> None:
        if now - 1.0 < self.t0 or predicted != predicted:  # a day before the window; no forecast
            return
        e = predicted - actual
        self.f_n += 1
        self.f_abs += abs(e)
        self.f_sq += e * e
        self.f_sum += e
        if actual > 0:
            self.f_pos += 1
            self.f_pct += abs(e) / actual

    def forecast_values(self) -> dict[str, float]:
        """MAE, RMSE, bias (mean of forecast - demand: positive = over-forecast) and MAPE (%,
        over the days with demand) of the daily one-step-ahead forecasts; NaN without any."""
        n = self.f_n
        nan = math.nan
        return {"forecast_mae": self.f_abs / n if n else nan,
                "forecast_rmse": math.sqrt(self.f_sq / n) if n else nan,
                "forecast_bias": self.f_sum / n if n else nan,
                "forecast_mape": 100.0 * self.f_pct / self.f_pos if self.f_pos else nan}

    def reset(self, sp: Any, now: float) -> None:
        """Forget everything before ``now`` (end of warm-up); current levels stay."""
        self.__init__(sp, now)  # type: ignore[misc]

    def close(self, sp: Any, now: float) -> None:
        """Integrate the levels up to ``now`` (end of the horizon); close the whole days."""
        self._advance(sp, now)
        if now >= self.day_end:
            self._roll(now)


class MetricsCollector:
    """Attaches a :class:`StockStats` to every stock point of a network."""

    def __init__(self, network: Any):
        self.network = network
        self.stats: dict[tuple[str, str], StockStats] = {}
        self.start = 0.0
        network.attach(self._make)

    def _make(self, sp: Any) -> StockStats:
        st = StockStats(sp)
        self.stats[(sp.warehouse, sp.product)] = st
        return st

    def reset(self, now: float) -> None:
        self.start = now
        for key, st in self.stats.items():
            st.reset(self.network.stock[key], now)

    def close(self, now: float) -> None:
        for key, st in self.stats.items():
            st.close(self.network.stock[key], now)

    def rows(self, end: float) -> list[dict[str, Any]]:
        """One dict per stock point with the SPEC metric columns.

        A stock point ordering from a consolidating supplier is charged per line it had in the
        purchase orders the supplier received in the window: the product's ``ordering_cost``
        per line plus an equal share of each PO's major cost (read from the
        :class:`~simulator.observe.suppliers.SupplierMetrics` observing the same network).
        """
        days = end - self.start
        out = []
        sc = self.network.scenario
        products = {p.id: p for p in sc.products}
        major = {s.id: s.ordering_cost for s in sc.suppliers}
        pooled = {s.id for s in sc.suppliers if s.consolidation_window is not None}
        source = {(w.id, pid): inv.source for w in sc.warehouses
                  for pid, inv in w.inventory.items()}
        shares = consolidated_shares(self.network) if pooled else {}
        if shares is None:
            raise RuntimeError("consolidated ordering costs need a SupplierMetrics attached "
                               "to the network before it runs")
        for (wid, pid), st in self.stats.items():
            src = source[(wid, pid)]
            lines = shares.get((wid, pid), (0.0, 0.0)) if src in pooled else None
            out.append({"warehouse": wid, "product": pid,
                        **metric_values(st, products[pid], days, major.get(src, 0.0),
                                        lines)})
        return out


def metric_values(st: StockStats, prod: Any, days: float, supplier_cost: float = 0.0,
                  lines: Any = None) -> dict[str, float]:
    """The metric columns from one stock point's sums over ``days`` days.

    ``supplier_cost`` is the supplier's ``ordering_cost`` per purchase order (currency). Without
    consolidation (``lines`` None) every replenishment order is one purchase order of one line,
    so it is charged with each order on top of the product's ``ordering_cost``. With
    consolidation, ``lines`` is ``(n, major)``: the stock point's lines in the window and its
    share of their POs' major costs (each PO's cost split equally over its lines), and the
    ordering cost is ``product ordering_cost * n + major``: summed over the stock points, the
    true major-plus-minor total.
    """
    avg_oh = st.area_oh / days
    holding = prod.holding_cost * st.area_oh
    if lines is None:
        ordering = prod.ordering_cost * st.orders + supplier_cost * st.orders
    else:
        ordering = prod.ordering_cost * lines[0] + lines[1]
    backorder = prod.backorder_cost * st.area_bo
    lost_sale = prod.lost_sale_cost * st.lost
    return {
        "demand_units": st.demand_units,
        "fill_rate": st.filled / st.demand_units if st.demand_units > 0 else math.nan,
        "lost_units": st.lost,
        "avg_on_hand": avg_oh,
        "avg_backorders": st.area_bo / days,
        "orders_placed": st.orders,
        "holding_cost": holding,
        "ordering_cost": ordering,
        "backorder_cost": backorder,
        "lost_sale_cost": lost_sale,
        "total_cost": holding + ordering + backorder + lost_sale,
        "inventory_turnover": st.shipped / avg_oh * 365.0 / days if avg_oh > 0 else math.nan,
        "bullwhip": st.bullwhip(),
        **st.forecast_values(),
    }
