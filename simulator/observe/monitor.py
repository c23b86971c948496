"""The warning monitor: watches a running model and reports stock risks as they arise.

It listens to the model's hooks (:mod:`simulator.model.events`) and reads the stock points'
and suppliers' state; it never changes either, and it draws no random number, so every
metric of a run is the same with the monitor on or off (same seeds). The kinds, their
severities and their exact rules are in docs/warnings.md; in short:

* ``low_stock`` (info): the position at or below the policy's reorder level, or, for a
  policy without one (or whose reorder level is its order-up-to level, as base stock),
  below ``low_stock_days`` of forecast demand;
* ``projected_stockout`` (warning): the position, overdue units left out, minus forecast
  demand over the mean lead time is below 0; or the stock on hand (net of backorders)
  cannot cover forecast demand until the next expected on-time arrival (a full lead time
  if none, or while the source supplier is down);
* ``stockout`` (critical): nothing on hand while demand waits (backorders) or is lost;
* ``overstock`` (info): on hand above ``overstock_days`` of forecast demand;
* ``late_delivery`` (warning): replenishment units not received ``late_tolerance`` days
  after their expected arrival (placed + mean lead time, + the consolidation window);
* ``forecast_bias`` (info; not watched unless enabled): the tracking signal, cumulative
  forecast error / mean absolute error over the last ``bias_window`` days, beyond
  ``±bias_limit``;
* ``service_drop`` (warning): the fill rate over the last ``service_window`` days below
  ``service_target``;
* ``supplier_disrupted`` (warning, per supplier): a supplier with disruptions is down.

A condition is reported once when it starts and again only after it cleared (an
*episode*). ``stockout`` starts and clears at the hooks (the instant it happens); the
other stock point kinds are evaluated once a day, by a single read-only event at every
whole day scheduled after all model events of that instant (so a day's policy reviews
have acted); ``late_delivery`` and ``stockout`` also clear at the receipt that ends them.

Receipts are matched to orders first in, first out by units: an order is overdue while
the units received since it was placed, net of the units owed to earlier orders, fall
short of its quantity. When orders cross (random lead times), an early arrival of a later
order therefore settles the oldest order: the stock point does not lack those units, and
whether a particular shipment is late is not what the stock point feels.

Conditions present during the warm-up are tracked but reported only at its end (time
``warmup``), as the measured window starts with them.

The demand forecast is pluggable per stock point: any object with ``total(days)``
(forecast units over the next ``days`` days) and ``error_variance()`` (variance of the
one-day forecast error, units**2). By default the monitor keeps its own: simple
exponential smoothing of daily demand (:class:`SmoothedDemand`), started at the
scenario's expected demand rate and updated once a day (O(1)).

Cost: per model event O(1) (a demand adds two floats and one comparison); per day
O(stock points + suppliers with disruptions), plus the overdue orders of each stock point.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from simulator.model.events import Call, StockListener

#: same-instant priority of the daily check: after every model event of that instant
#: (receipts 1, demand 2, reviews 3, consolidated sends 4)
TICK = 9

#: severity of each kind (see the module docstring and docs/warnings.md)
SEVERITY = {
    "low_stock": "info",
    "projected_stockout": "warning",
    "stockout": "critical",
    "overstock": "info",
    "late_delivery": "warning",
    "forecast_bias": "info",
    "service_drop": "warning",
    "supplier_disrupted": "warning",
}

#: kinds evaluated at the daily check
DAILY = frozenset({"low_stock", "projected_stockout", "overstock", "late_delivery",
                   "forecast_bias", "service_drop", "supplier_disrupted"})

#: quantities closer than this (units) count as equal (as in the stock point)
EPS = 1e-9

Row = dict[str, Any]


class Forecast(Protocol):
    """What the monitor needs of a demand forecast."""

    def total(self, days: float) -> float:
        """Forecast demand over the next ``days`` days (units)."""

    def error_variance(self) -> float:
        """Variance of the one-day forecast error (units**2)."""


class SmoothedDemand:
    """Simple exponential smoothing of daily demand (the monitor's own forecast).

    Parameters
    ----------
    level : float
        Starting level (units per day): the scenario's expected demand rate.
    alpha : float
        Smoothing constant in (0, 1].
    """

    __slots__ = ("alpha", "level", "var")

    def __init__(self, level: float, alpha: float):
        self.level = float(level)
        self.alpha = float(alpha)
        self.var = 0.0

    def update(self, demand: float) -> None:
        """One day's demand (units) observed."""
        err = demand - self.level
        self.var += self.alpha * (err * err - self.var)
        self.level += self.alpha * err

    def total(self, days: float) -> float:
        return self.level * days

    def error_variance(self) -> float:
        return self.var


class Rolling:
    """The sums of the last ``n`` pairs of values pushed (two series in step; O(1) per
    push; recomputed exactly from the window each time it wraps, so rounding cannot
    accumulate)."""

    __slots__ = ("a", "b", "full", "i", "n", "total_a", "total_b")

    def __init__(self, n: int):
        self.a = [0.0] * n
        self.b = [0.0] * n
        self.n = n
        self.i = 0
        self.full = False
        self.total_a = self.total_b = 0.0

    def push(self, x: float, y: float) -> None:
        a, b, i = self.a, self.b, self.i
        self.total_a += x - a[i]
        self.total_b += y - b[i]
        a[i] = x
        b[i] = y
        i += 1
        if i == self.n:
            i = 0
            self.full = True
            self.total_a = math.fsum(a)
            self.total_b = math.fsum(b)
        self.i = i


def policy_forecast(sp: Any) -> Forecast | None:
    """The forecast of ``sp``'s policy, if it exposes one as ``forecaster`` (an object with
    ``total`` and ``error_variance``, kept up to date by the policy); else None."""
    fc = getattr(sp.policy, "forecaster", None)
    if callable(getattr(fc, "total", None)) and callable(getattr(fc, "error_variance", None)):
        return fc  # type: ignore[no-any-return]
    return None


def _g(x: float) -> str:
    """A quantity for a message: whole numbers plainly, others to 3 significant digits."""
    return f"{x:.0f}" if abs(x - round(x)) < 1e-9 else f"{x:.3g}"


class Monitor:
    """Watches the stock points and suppliers of one network; its rows are
    :attr:`rows` (``warnings.csv`` columns).

    Parameters
    ----------
    net : simulator.model.Network
        The model, before :meth:`~simulator.model.Network.start`.
    settings : simulator.scenario.models.Warnings
        Kinds and thresholds.
    forecasts : callable, optional
        ``forecasts(sp)``: a :class:`Forecast` for stock point ``sp``, or None for the
        monitor's own :class:`SmoothedDemand` (which the monitor updates; a forecast given
        here is updated by its owner).
    on_warning : callable, optional
        Called with each row (a new dict) as it is reported.
    """

    def __init__(self, net: Any, settings: Any, forecasts: Callable[[Any], Any] | None = None,
                 on_warning: Callable[[Row], Any] | None = None):
        self.env = net.env
        self.replication = net.replication
        self.settings = settings
        self.kinds = settings.kinds
        self.on_warning = on_warning
        self.rows: list[Row] = []
        #: active conditions: (kind, warehouse or supplier, product) -> message
        self.active: dict[tuple[str, str, str], str] = {}
        self.quiet = net.scenario.warmup > 0
        self.forecasts = forecasts
        self._delays = _expected_delays(net.scenario)
        self.suppliers = [_SupplierWatch(self, s) for s in net.suppliers.values()
                          if s.downtime is not None and "supplier_disrupted" in self.kinds]
        self._down = {w.supplier.id: w for w in self.suppliers}
        self.points: list[_Point] = []
        if self.kinds:
            for sp in net.stock.values():
                sp.listener = self._point(sp)  # wraps (and calls first) the listener it had
        if self.kinds & DAILY:
            self._callbacks = [self._tick]
            self._day = 1
            Call(self.env, 1.0, TICK, self._tick)

    def _point(self, sp: Any) -> _Point:
        own = None
        fc = self.forecasts(sp) if self.forecasts is not None else None
        if fc is None:
            fc = own = SmoothedDemand(sp.context.demand_rate, self.settings.alpha)
        source = self._delays[(sp.warehouse, sp.product)]
        pt = _Point(self, sp, fc, own, source[0], self._down.get(source[1]))
        self.points.append(pt)
        return pt

    # -- reporting --------------------------------------------------------------------
    def start(self, kind: str, who: str, what: str, now: float, message: str) -> None:
        """Condition ``kind`` holds for ``who``/``what``: report it unless already active."""
        key = (kind, who, what)
        if key in self.active:
            return
        self.active[key] = message
        if not self.quiet:
            self._report(now, key, message)

    def clear(self, kind: str, who: str, what: str) -> None:
        """Condition ``kind`` no longer holds: the next start is a new episode."""
        self.active.pop((kind, who, what), None)

    def _report(self, now: float, key: tuple[str, str, str], message: str) -> None:
        kind, who, what = key
        row = {"replication": self.replication, "time": now, "warehouse": who,
               "product": what, "kind": kind, "severity": SEVERITY[kind], "message": message}
        self.rows.append(row)
        if self.on_warning is not None:
            self.on_warning(dict(row))

    def reset(self, now: float) -> None:
        """End of the warm-up: report the conditions active now, then everything new."""
        self.quiet = False
        for key, message in self.active.items():
            self._report(now, key, message)

    # -- the daily check ----------------------------------------------------------------
    def _tick(self, event: Any) -> None:
        now = self.env.now
        for sw in self.suppliers:
            sw.check(now)
        for pt in self.points:
            pt.daily(now)
        self._day += 1
        event.callbacks = self._callbacks  # re-arm the same event: one per day in all
        self.env.schedule(event, TICK, self._day - now)


def _expected_delays(sc: Any) -> dict[tuple[str, str], tuple[float, str]]:
    """Per stock point: days from placing a replenishment order to its expected arrival
    (order delay plus mean lead time, plus the supplier's consolidation window), and its
    source id."""
    from simulator.scenario.derived import lead_times

    windows = {s.id: s.consolidation_window or 0.0 for s in sc.suppliers}
    lts = lead_times(sc)
    out = {}
    for w in sc.warehouses:
        for pid, inv in w.inventory.items():
            out[(w.id, pid)] = (inv.order_delay + lts[(w.id, pid)].mean()
                                + windows.get(inv.source, 0.0), inv.source)
    return out


class _SupplierWatch:
    """``supplier_disrupted`` of one supplier with disruptions (checked daily)."""

    def __init__(self, mon: Monitor, supplier: Any):
        self.mon = mon
        self.supplier = supplier
        self.down = False
        self.last = 0.0
        self.disrupted = 0.0  # days disrupted in [0, last)

    def check(self, now: float) -> None:
        sup = self.supplier
        self.down = sup.downtime.next_up(now) > now
        disrupted = sup.days_disrupted(now)
        gone = disrupted - self.disrupted
        if self.down or gone > EPS:
            since = now - gone if self.down else self.last
            what = f"supplier {sup.id} is down since day {_g(since)}" if self.down else \
                f"supplier {sup.id} was down for {_g(gone)} days since day {_g(self.last)}"
            self.mon.start("supplier_disrupted", sup.id, "", now,
                           what + "; it ships nothing while down")
        if not self.down:
            self.mon.clear("supplier_disrupted", sup.id, "")
        self.last, self.disrupted = now, disrupted


class _Point(StockListener):
    """The monitor's state for one stock point: a listener of its hooks that passes each
    hook on to the listener the stock point had before (``inner``) first, so the hottest
    hook, ``demand``, costs one call more instead of a :class:`Fanout` loop."""

    def __init__(self, mon: Monitor, sp: Any, forecast: Any, own: SmoothedDemand | None,
                 delay: float, supplier: _SupplierWatch | None):
        st = mon.settings
        self.mon = mon
        self.sp = sp
        inner = sp.listener
        self._inner_demand = inner.demand
        self._inner_placed = inner.order_placed
        self._inner_received = inner.received
        self._inner_forecast = inner.forecast
        self.wh, self.pid = sp.warehouse, sp.product
        self.fc = forecast
        self.own = own
        self.lead = sp.context.lead_time_mean
        self.delay = delay
        self.tolerance = st.late_tolerance
        self.low_days = st.low_stock_days
        self.over_days = st.overstock_days
        self.target = st.service_target
        self.limit = st.bias_limit
        self.supplier = supplier
        level = getattr(sp.policy, "reorder_level", None)
        top = getattr(sp.policy, "order_up_to", None)
        # a reorder level equal to the order-up-to level (base stock) is no "low" mark
        self.level = None if level is None or (top is not None and level >= top) \
            else float(level)
        kinds = mon.kinds
        self.watch_out = "stockout" in kinds
        self.daily_checks = [getattr(self, "_" + k) for k in _DAILY_ORDER if k in kinds]
        self.bias = "forecast_bias" in kinds
        self.service = "service_drop" in kinds
        self.on: set[str] = set()  # kinds active at this stock point
        self.day_demand = 0.0
        self.day_filled = 0.0
        self.out = False
        #: outstanding replenishment orders, oldest first: [expected arrival, units owed]
        self.pending: deque[list[float]] = deque()
        self.placed: deque[float] = deque()  # their placement times (for messages)
        self.prev = forecast.total(1.0)  # forecast of the day now running (units)
        self.errors = Rolling(st.bias_window)  # forecast errors, their absolute values
        self.window = Rolling(st.service_window)  # units demanded, units filled at once
        # filled by daily() for the checks
        self.late_units = 0.0
        self.next_due = math.inf

    def _start(self, kind: str, now: float, message: str) -> None:
        self.on.add(kind)
        self.mon.start(kind, self.wh, self.pid, now, message)

    def _clear(self, kind: str) -> None:
        if kind in self.on:
            self.on.discard(kind)
            self.mon.clear(kind, self.wh, self.pid)

    # -- hooks (per event: O(1)) ----------------------------------------------------------
    def demand(self, sp: Any, now: float, qty: float, shipped: float, lost: float) -> None:
        self._inner_demand(sp, now, qty, shipped, lost)
        self.day_demand += qty
        self.day_filled += shipped
        if sp.on_hand <= 0.0 and not self.out and (lost > 0 or sp.backorders > 0):
            self.out = True  # tracked even if not reported: the projection defers to it
            if self.watch_out:
                what = f"{_g(lost)} units lost" if lost > 0 else \
                    f"{_g(sp.backorders)} units backordered"
                self._start("stockout", now, f"out of stock: {what}")

    def forecast(self, sp: Any, now: float, predicted: float, actual: float) -> None:
        self._inner_forecast(sp, now, predicted, actual)

    def order_placed(self, sp: Any, now: float, qty: float) -> None:
        self._inner_placed(sp, now, qty)
        self.pending.append([now + self.delay, qty])
        self.placed.append(now)

    def received(self, sp: Any, now: float, qty: float, shipped: float) -> None:
        self._inner_received(sp, now, qty, shipped)
        left = qty
        pending = self.pending
        while pending and left > EPS:
            head = pending[0]
            if head[1] <= left + EPS:
                left -= head[1]
                pending.popleft()
                self.placed.popleft()
            else:
                head[1] -= left
                left = 0.0
        if self.out and sp.on_hand > 0:
            self.out = False
            self._clear("stockout")
        if "late_delivery" in self.on and (not pending
                                           or pending[0][0] + self.tolerance >= now):
            self._clear("late_delivery")

    # -- the daily check ------------------------------------------------------------------
    def daily(self, now: float) -> None:
        """The day ending now: update the forecast and the windows, then evaluate."""
        demand = self.day_demand
        if self.bias:
            err = demand - self.prev
            self.errors.push(err, abs(err))
        if self.service:
            self.window.push(demand, self.day_filled)
        self.day_demand = self.day_filled = 0.0
        own = self.own
        if own is not None:  # SmoothedDemand.update and .total(1), inlined (once a day)
            err = demand - own.level
            own.var += own.alpha * (err * err - own.var)
            own.level += own.alpha * err
            self.prev = own.level
        else:
            self.prev = self.fc.total(1.0)
        if self.pending:
            self._pipeline(now)
        else:
            self.late_units, self.next_due = 0.0, math.inf
        for check in self.daily_checks:
            check(now)

    def _pipeline(self, now: float) -> None:
        """Set ``late_units`` (units overdue beyond the tolerance) and ``next_due`` (the
        expected arrival of the first outstanding order still expected after now, or inf);
        O(overdue orders + 1)."""
        late = 0.0
        tol = self.tolerance
        due = math.inf
        for due, owed in self.pending:
            if due > now:
                break
            if due + tol < now:
                late += owed
        else:
            due = math.inf
        self.late_units, self.next_due = late, due

    def _late_delivery(self, now: float) -> None:
        if self.late_units <= EPS:
            if "late_delivery" in self.on:
                self._clear("late_delivery")
        elif "late_delivery" not in self.on:
            self._start("late_delivery", now,
                        f"{_g(self.late_units)} units ordered are overdue: the oldest order, "
                        f"placed on day {_g(self.placed[0])}, was expected by day "
                        f"{_g(self.pending[0][0])}")

    def _projected_stockout(self, now: float) -> None:
        sp, fc = self.sp, self.fc
        net = sp.on_hand - sp.backorders
        position = net + sp.on_order - self.late_units
        down = self.supplier is not None and self.supplier.down
        until = self.lead if down or self.next_due == math.inf else self.next_due - now
        if self.own is not None:  # its total(t) is level * t
            need, cover = self.prev * self.lead, self.prev * until
        else:
            need, cover = fc.total(self.lead), fc.total(until)
        if position - need >= -EPS and net - cover >= -EPS:
            if "projected_stockout" in self.on:
                self._clear("projected_stockout")
            return
        if self.out or "projected_stockout" in self.on:  # out of stock: the stockout says it
            return
        if position - need < -EPS:
            msg = (f"position {_g(position)} (overdue units left out) is below forecast "
                   f"demand {_g(need)} ± {_g(math.sqrt(fc.error_variance() * self.lead))} "
                   f"over the lead time of {_g(self.lead)} days")
        else:
            msg = (f"{_g(net)} units on hand cannot cover forecast demand {_g(cover)} until "
                   f"the next expected arrival in {_g(until)} days")
        self._start("projected_stockout", now, msg)

    def _low_stock(self, now: float) -> None:
        position = self.sp.on_hand + self.sp.on_order - self.sp.backorders
        if self.level is not None:
            low = position <= self.level
        else:
            days = self.low_days
            low = position < days * self.prev - EPS
        if not low:
            if "low_stock" in self.on:
                self._clear("low_stock")
        elif "low_stock" not in self.on:
            if self.level is not None:
                msg = f"position {_g(position)} at or below the reorder level {_g(self.level)}"
            else:
                rate = self.prev
                cover = f"covers {_g(position / rate)} days of forecast demand" if rate > 0 \
                    else "is below 0"
                msg = f"position {_g(position)} {cover} (below {_g(days)} days)"
            self._start("low_stock", now, msg)

    def _overstock(self, now: float) -> None:
        on_hand, rate = self.sp.on_hand, self.prev
        days = self.over_days
        if not (on_hand > EPS and on_hand > days * rate + EPS):
            if "overstock" in self.on:
                self._clear("overstock")
        elif "overstock" not in self.on:
            cover = f"covers {_g(on_hand / rate)} days" if rate > 0 else \
                "has no forecast demand to cover"
            self._start("overstock", now,
                        f"{_g(on_hand)} units on hand {cover} (limit {_g(days)} days)")

    def _service_drop(self, now: float) -> None:
        target = self.target
        w = self.window
        demanded = w.total_a
        rate = w.total_b / demanded if w.full and demanded > EPS else 1.0
        if rate >= target - EPS:
            if "service_drop" in self.on:
                self._clear("service_drop")
        elif "service_drop" not in self.on:
            self._start("service_drop", now,
                        f"fill rate {rate:.3f} over the last {w.n} days "
                        f"is below the target {_g(target)}")

    def _forecast_bias(self, now: float) -> None:
        limit = self.limit
        e = self.errors
        n = e.n
        mad = e.total_b / n
        signal = e.total_a / mad if e.full and mad > EPS else 0.0
        if abs(signal) <= limit:
            if "forecast_bias" in self.on:
                self._clear("forecast_bias")
        elif "forecast_bias" not in self.on:
            side = "demand above forecast" if signal > 0 else "demand below forecast"
            self._start("forecast_bias", now,
                        f"tracking signal {signal:+.2f} (cumulative error "
                        f"{_g(e.total_a)} units / MAD {_g(mad)} over {n} days) "
                        f"beyond ±{_g(limit)}: {side}")


#: the order of the daily checks of a stock point (late first: the projection reads it)
_DAILY_ORDER = ("late_delivery", "projected_stockout", "low_stock", "overstock",
                "service_drop", "forecast_bias")
