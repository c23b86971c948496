"""Quantities derived from a scenario before any run: demand and lead-time
statistics per stock point, for policies that derive their parameters."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from policies.base import PolicyContext
from simulator.distributions import Constant, DistributionModel
from simulator.scenario.models import Customer, Demand, Inventory, Orders, Scenario

StockKey = tuple[str, str]  # (warehouse id, product id)
_NO_LEAD_TIME = Constant(value=0.0)


#: most days of [warmup, horizon) a pattern's mean rate is averaged over (about 2,700
#: years; a longer window uses its first this many days)
MAX_PATTERN_DAYS = 1_000_000
#: days averaged over when the window has no end (four years)
UNBOUNDED_DAYS = 4 * 365
#: the whole run: [0, infinity)
ALWAYS: tuple[float, float] = (0.0, math.inf)


def demand_moments(d: Demand, window: tuple[float, float] = ALWAYS,
                   product: str | None = None) -> tuple[float, float]:
    """Mean and variance of one customer stream's demand per day (units, units**2).

    A ``pattern`` counts with its mean rate over ``window`` (days ``[warmup, horizon)``);
    intermittent days add the variance of their on/off draws; a history counts with the
    mean and variance of the units per day it will replay, from its ``column`` or that of
    ``product`` (docs/demand-models.md).
    """
    if d.daily is not None:
        return history_moments(d.daily.column(d.column or product), d.bootstrap, window)
    m, v = d.size.mean(), d.size.var()
    rate, extra = float(d.rate), 0.0  # type: ignore[arg-type]
    if d.pattern is not None:
        rate, extra = pattern_rate(d.pattern, rate, window)
    if d.arrivals == "poisson":
        return rate * m, rate * (v + m * m) + extra * m * m  # compound Poisson
    return rate * m, rate * v + extra * m * m  # fixed gaps: only the sizes vary


def pattern_rate(pattern: Any, base: float,
                 window: tuple[float, float] = ALWAYS) -> tuple[float, float]:
    """The mean rate (per day) of a patterned stream over ``window``, and the variance per
    day its intermittent days add to the number of orders (0 without ``intermittent``).

    The rate is constant within a day, so the mean weighs each day by its overlap with
    the window; at most :data:`MAX_PATTERN_DAYS` days are averaged. On/off days with
    probability ``p`` and rate ``r / p`` on add ``r**2 (1 / p - 1)`` to the variance of a
    day's count of orders (averaged over the days).
    """
    from simulator.model.arrivals import expected_rates  # numpy: only for patterns
    start, end = max(0.0, window[0]), window[1]
    first = math.floor(start)
    last = min(math.ceil(end), first + MAX_PATTERN_DAYS) if math.isfinite(end) \
        else first + UNBOUNDED_DAYS
    if last <= first:  # an empty window: the rate of the day it starts in
        last = first + 1
    days = np.arange(first, last, dtype=np.int64)
    weight = np.minimum(days + 1.0, end) - np.maximum(days.astype(np.float64), start)
    weight = np.clip(weight, 0.0, 1.0) if weight.sum() > 0 else np.ones(len(days))
    rates = expected_rates(pattern, base, days)
    mean = float(np.average(rates, weights=weight))
    p = pattern.intermittent
    extra = 0.0 if p is None else float(np.average(rates ** 2, weights=weight)) * (1 / p - 1)
    return mean, extra


def history_moments(values: Any, bootstrap: bool,
                    window: tuple[float, float] = ALWAYS) -> tuple[float, float]:
    """Mean and variance of the units per day a history column replays: over its whole
    weeks when resampled, else over the days of ``window`` (0 after the history ends)."""
    values = np.asarray(values, dtype=np.float64)
    if bootstrap:
        used = values[:len(values) // 7 * 7]
    else:
        first = int(max(0.0, window[0]))
        last = len(values) if not math.isfinite(window[1]) else max(first + 1,
                                                                    math.ceil(window[1]))
        last = min(last, first + MAX_PATTERN_DAYS)
        used = np.zeros(last - first)
        piece = values[first:last]
        used[:len(piece)] = piece
    return float(used.mean()), float(used.var())


def lead_time_of(sc: Scenario, wid: str, pid: str) -> DistributionModel:
    """The replenishment lead-time distribution of one stock point (days).

    Scans the warehouses and suppliers: for every stock point at once use :func:`lead_times`.
    """
    inv = next(w for w in sc.warehouses if w.id == wid).inventory[pid]
    suppliers = {s.id: s.lead_time for s in sc.suppliers}
    return _lead_time(inv, suppliers)


def _lead_time(inv: Inventory, suppliers: dict[str, DistributionModel]) -> DistributionModel:
    if inv.source in suppliers:
        return suppliers[inv.source]
    return inv.lead_time if inv.lead_time is not None else _NO_LEAD_TIME


def lead_times(sc: Scenario) -> dict[StockKey, DistributionModel]:
    """The replenishment lead-time distribution (days) of every stock point, in one pass."""
    suppliers = {s.id: s.lead_time for s in sc.suppliers}
    return {(w.id, pid): _lead_time(inv, suppliers)
            for w in sc.warehouses for pid, inv in w.inventory.items()}


def line_moments(orders: Orders,
                 window: tuple[float, float] = ALWAYS) -> dict[str, tuple[float, float]]:
    """Mean and variance per day of each product's demand in generated multi-line orders.

    Lines of product i arrive at ``rate * p_i / P(nonempty)`` per day (orders with no line
    are redrawn); with Poisson orders each product's lines are a thinned Poisson stream, so
    its demand is compound Poisson; with fixed gaps only the presence and sizes vary (the
    variance of a Bernoulli-thinned sum, per order). A ``pattern`` counts with its mean
    rate over ``window`` and its intermittent days' variance (:func:`pattern_rate`). Order
    logs: see their own statistics.
    """
    lines = orders.lines or {}
    absent = 1.0
    for line in lines.values():
        absent *= 1.0 - line.probability
    nonempty = 1.0 - absent
    rate, extra = float(orders.rate or 0.0), 0.0
    if orders.pattern is not None:
        rate, extra = pattern_rate(orders.pattern, rate, window)
    out = {}
    for pid, line in lines.items():
        q = line.probability / nonempty  # P(line present | order nonempty), at most 1
        m, v = line.size.mean(), line.size.var()
        if orders.arrivals == "poisson":
            var = rate * q * (v + m * m)
        else:
            var = rate * (q * (v + m * m) - (q * m) ** 2)
        out[pid] = (rate * q * m, var + extra * (q * m) ** 2)
    return out


def customer_moments(c: Customer,
                     window: tuple[float, float] = ALWAYS) -> dict[str, tuple[float, float]]:
    """Mean and variance per day of one customer's demand per product (units, units**2),
    over ``window`` (days ``[warmup, horizon)``) for patterns and exact history replays."""
    if c.demand:
        return {pid: demand_moments(d, window, pid) for pid, d in c.demand.items()}
    log = log_of(c.orders)
    return log.daily_moments() if log is not None \
        else line_moments(c.orders, window)  # type: ignore[arg-type]


def log_of(orders: Any) -> Any:
    """The order log read with the scenario (``orders.file``), or None."""
    return getattr(orders, "log", None) if orders is not None else None


def _direct_demand(sc: Scenario) -> dict[StockKey, tuple[float, float]]:
    """Mean and variance per day of the customers' own demand at each stock point.

    A customer's demand is attributed to its first warehouse (where its backorders wait):
    with several warehouses the split between them depends on stock, so a policy that
    derives its parameters from demand sees the whole demand at the first (docs/orders.md).
    """
    direct: dict[StockKey, tuple[float, float]] = {}
    window = (float(sc.warmup), float(sc.horizon))
    for c in sc.customers:
        first = c.sources[0]
        for pid, (m, v) in customer_moments(c, window).items():
            m0, v0 = direct.get((first, pid), (0.0, 0.0))
            direct[(first, pid)] = (m0 + m, v0 + v)
    return direct


def echelon_demand(sc: Scenario) -> dict[StockKey, tuple[float, float]]:
    """Mean and variance per day of the demand reaching each stock point: its customers'
    plus that of every stock point it supplies, directly or further down.

    Iterative (children before parents, by depth-first search with an explicit stack), so a
    serial chain of any length works; a sourcing loop (rejected by validation) is cut.
    """
    direct = _direct_demand(sc)
    children: dict[StockKey, list[StockKey]] = {}
    keys = [(w.id, pid) for w in sc.warehouses for pid in w.inventory]
    for w in sc.warehouses:
        for pid, inv in w.inventory.items():
            children.setdefault((inv.source, pid), []).append((w.id, pid))
    total: dict[StockKey, tuple[float, float]] = {}
    entered: set[StockKey] = set()
    for root in keys:
        stack: list[tuple[StockKey, bool]] = [(root, False)]
        while stack:
            key, kids_done = stack.pop()
            if kids_done:
                m, v = direct.get(key, (0.0, 0.0))
                for child in children.get(key, ()):
                    cm, cv = total.get(child, (0.0, 0.0))  # absent: a loop, cut
                    m, v = m + cm, v + cv
                total[key] = (m, v)
            elif key not in entered:
                entered.add(key)
                stack.append((key, True))
                stack.extend((child, False) for child in reversed(children.get(key, ())))
    return total


def policy_contexts(sc: Scenario) -> dict[StockKey, PolicyContext]:
    """A :class:`PolicyContext` per stock point; upstream demand is the sum of
    the demand of the stock points it supplies (echelon demand). The lead time includes
    the entry's ``order_delay``: an order reaches its source that much later, so it
    arrives that much later too (the wait for the upstream's stock is not included)."""
    demand = echelon_demand(sc)
    lts = lead_times(sc)
    products = {p.id: p for p in sc.products}
    out: dict[StockKey, PolicyContext] = {}
    for w in sc.warehouses:
        for pid in w.inventory:
            m, v = demand[(w.id, pid)]
            lt = lts[(w.id, pid)]
            p = products[pid]
            out[(w.id, pid)] = PolicyContext(
                warehouse=w.id, product=pid, demand_rate=m, demand_var_rate=v,
                lead_time_mean=lt.mean() + w.inventory[pid].order_delay,
                lead_time_var=lt.var(),
                holding_cost=p.holding_cost, ordering_cost=p.ordering_cost,
                backorder_cost=p.backorder_cost, lost_sale_cost=p.lost_sale_cost,
                warmup=float(sc.warmup))
    return out
