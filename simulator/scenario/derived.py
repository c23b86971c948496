"""Quantities derived from a scenario before any run: demand and lead-time
statistics per stock point, for policies that derive their parameters."""
from __future__ import annotations

from functools import cache

from policies.base import PolicyContext
from simulator.distributions import Constant, DistributionModel
from simulator.scenario.models import Demand, Scenario

StockKey = tuple[str, str]  # (warehouse id, product id)


def demand_moments(d: Demand) -> tuple[float, float]:
    """Mean and variance of one customer stream's demand per day (units, units**2)."""
    m, v = d.size.mean(), d.size.var()
    if d.arrivals == "poisson":
        return d.rate * m, d.rate * (v + m * m)  # compound Poisson
    return d.rate * m, d.rate * v  # fixed gaps: only the sizes vary


def lead_time_of(sc: Scenario, wid: str, pid: str) -> DistributionModel:
    """The replenishment lead-time distribution of a stock point (days)."""
    inv = next(w for w in sc.warehouses if w.id == wid).inventory[pid]
    for s in sc.suppliers:
        if s.id == inv.source:
            return s.lead_time
    return inv.lead_time if inv.lead_time is not None else Constant(value=0.0)


def policy_contexts(sc: Scenario) -> dict[StockKey, PolicyContext]:
    """A :class:`PolicyContext` per stock point; upstream demand is the sum of
    the demand of the stock points it supplies (echelon demand)."""
    direct: dict[StockKey, list[float]] = {}
    for c in sc.customers:
        for pid, d in c.demand.items():
            acc = direct.setdefault((c.warehouse, pid), [0.0, 0.0])
            m, v = demand_moments(d)
            acc[0] += m
            acc[1] += v
    children: dict[StockKey, list[StockKey]] = {}
    for w in sc.warehouses:
        for pid, inv in w.inventory.items():
            children.setdefault((inv.source, pid), []).append((w.id, pid))

    @cache
    def moments(key: StockKey) -> tuple[float, float]:
        m, v = direct.get(key, (0.0, 0.0))
        for child in children.get(key, []):
            cm, cv = moments(child)
            m, v = m + cm, v + cv
        return m, v

    out: dict[StockKey, PolicyContext] = {}
    for w in sc.warehouses:
        for pid in w.inventory:
            m, v = moments((w.id, pid))
            lt = lead_time_of(sc, w.id, pid)
            p = sc.product(pid)
            out[(w.id, pid)] = PolicyContext(
                warehouse=w.id, product=pid, demand_rate=m, demand_var_rate=v,
                lead_time_mean=lt.mean(), lead_time_var=lt.var(),
                holding_cost=p.holding_cost, ordering_cost=p.ordering_cost,
                backorder_cost=p.backorder_cost, lost_sale_cost=p.lost_sale_cost)
    return out
