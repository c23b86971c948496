"""Quantities derived from a scenario before any run: demand and lead-time
statistics per stock point, for policies that derive their parameters."""
from __future__ import annotations

from typing import Any

from policies.base import PolicyContext
from simulator.distributions import Constant, DistributionModel
from simulator.scenario.models import Customer, Demand, Inventory, Orders, Scenario

StockKey = tuple[str, str]  # (warehouse id, product id)
_NO_LEAD_TIME = Constant(value=0.0)


def demand_moments(d: Demand) -> tuple[float, float]:
    """Mean and variance of one customer stream's demand per day (units, units**2)."""
    m, v = d.size.mean(), d.size.var()
    if d.arrivals == "poisson":
        return d.rate * m, d.rate * (v + m * m)  # compound Poisson
    return d.rate * m, d.rate * v  # fixed gaps: only the sizes vary


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


def line_moments(orders: Orders) -> dict[str, tuple[float, float]]:
    """Mean and variance per day of each product's demand in generated multi-line orders.

    Lines of product i arrive at ``rate * p_i / P(nonempty)`` per day (orders with no line
    are redrawn); with Poisson orders each product's lines are a thinned Poisson stream, so
    its demand is compound Poisson; with fixed gaps only the presence and sizes vary (the
    variance of a Bernoulli-thinned sum, per order). Order logs: see their own statistics.
    """
    lines = orders.lines or {}
    absent = 1.0
    for line in lines.values():
        absent *= 1.0 - line.probability
    nonempty = 1.0 - absent
    out = {}
    for pid, line in lines.items():
        q = line.probability / nonempty  # P(line present | order nonempty), at most 1
        m, v = line.size.mean(), line.size.var()
        rate = orders.rate or 0.0
        if orders.arrivals == "poisson":
            out[pid] = (rate * q * m, rate * q * (v + m * m))
        else:
            out[pid] = (rate * q * m, rate * (q * (v + m * m) - (q * m) ** 2))
    return out


def customer_moments(c: Customer) -> dict[str, tuple[float, float]]:
    """Mean and variance per day of one customer's demand per product (units, units**2)."""
    if c.demand:
        return {pid: demand_moments(d) for pid, d in c.demand.items()}
    log = log_of(c.orders)
    return log.daily_moments() if log is not None else line_moments(c.orders)  # type: ignore


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
    for c in sc.customers:
        first = c.sources[0]
        for pid, (m, v) in customer_moments(c).items():
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
    the demand of the stock points it supplies (echelon demand)."""
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
                lead_time_mean=lt.mean(), lead_time_var=lt.var(),
                holding_cost=p.holding_cost, ordering_cost=p.ordering_cost,
                backorder_cost=p.backorder_cost, lost_sale_cost=p.lost_sale_cost,
                warmup=float(sc.warmup))
    return out
