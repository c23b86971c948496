"""Joint planning: one planner per warehouse for the policies that plan its products together.

A policy class with ``joint = True`` (``lp``) is *joint*: the network gives all the joint
policies of a warehouse one :class:`Planner` (:func:`connect`, once, when the model is built:
the per-event path is untouched). At a review instant the first of them asked solves the plan
for all, reading every sibling's position, and caches it; the others read their own first
period quantity. The planner's warnings (``lp_fallback``, ``lp_time_limit``) go to the
network's ``warnings`` list, from there to the run's warnings.
"""
from __future__ import annotations

import math
import statistics
from typing import Any

import policies
from policies.lp_model import Problem, Source, fallback, solve

#: at most this many warning rows of one kind per warehouse and replication
MAX_ROWS = 5


def is_joint(spec: dict[str, Any]) -> bool:
    """Whether a validated policy spec names a joint policy class."""
    try:
        return bool(getattr(policies.resolve(spec["type"]), "joint", False))
    except Exception:  # an unknown type is reported elsewhere
        return False


class Planner:
    """The plan of one warehouse's joint products (see the module docstring).

    Parameters
    ----------
    warehouse : str
        The warehouse id.
    members : list of (stock point, Limits)
        The joint stock points (all with the same review period and plan settings).
    others : list of stock points
        The warehouse's other stock points: their stock takes capacity.
    capacity, budget : float or None
        Space (units or volume) and money per period.
    by_volume : bool
        Whether capacity counts volume (else units).
    sources : dict
        :class:`~policies.lp_model.Source` per supplier id.
    warnings : list
        Where warning rows go (the network's).
    replication : int
        For the warning rows.
    """

    def __init__(self, warehouse: str, members: list[tuple[Any, Any]], others: list[Any],
                 capacity: float | None, budget: float | None, by_volume: bool,
                 sources: dict[str, Source], warnings: list[dict[str, Any]],
                 replication: int = 0):
        self.warehouse = warehouse
        self.members = members
        self.others = others
        self.capacity = capacity
        self.budget = budget
        self.by_volume = by_volume
        self.sources = sources
        self.warnings = warnings
        self.replication = replication
        self.at = -math.inf
        self.first: dict[str, float] = {}
        self.seconds: list[float] = []
        self.counts: dict[str, int] = {}

    def quantity(self, product: str, now: float) -> float:
        """``product``'s order now (units), from the plan made at this instant."""
        if now != self.at:
            self.first = self.plan(now)
            self.at = now
        return self.first.get(product, 0.0)

    def problem(self) -> Problem:
        """The MILP of the warehouse now."""
        lead = self.members[0][0].policy
        items = tuple(sp.policy.item(sp.position, limits) for sp, limits in self.members)
        occupied = 0.0
        if self.capacity is not None:
            occupied = sum(max(0.0, sp.position) * (vol if self.by_volume else 1.0)
                           for sp, vol in self.others)
        if not self.by_volume:
            items = tuple(_unit_volume(it) for it in items)
        return Problem(items=items, periods=lead.horizon, sources=self.sources,
                       capacity=self.capacity, occupied=occupied, budget=self.budget,
                       time_limit=lead.time_limit, mip_rel_gap=lead.mip_rel_gap)

    def plan(self, now: float) -> dict[str, float]:
        """Solve; on no plan use the fallback rule and warn."""
        pb = self.problem()
        result = solve(pb)
        self.seconds.append(result.seconds)
        first = result.first
        if first is None:
            first = fallback(pb)
            self.warn(now, "lp_fallback", f"no plan ({result.status}: {result.message}); "
                      "ordered by the fallback rule (docs/lp.md)")
        elif result.status == "time_limit":
            which = " (the heuristic plan, docs/lp.md)" if "heuristic" in result.message else ""
            self.warn(now, "lp_time_limit", f"time limit {pb.time_limit:g} s reached; "
                      f"applied the best plan found{which} (not proven within mip_rel_gap)")
        return {it.product: q for it, q in zip(pb.items, first, strict=True)}

    def warn(self, now: float, kind: str, message: str) -> None:
        """A warning row (the first MAX_ROWS of each kind; all are counted)."""
        n = self.counts.get(kind, 0) + 1
        self.counts[kind] = n
        if n <= MAX_ROWS:
            more = " (further ones are counted in the policy's resolved parameters)" \
                if n == MAX_ROWS else ""
            self.warnings.append({"replication": self.replication, "time": now,
                                  "warehouse": self.warehouse, "product": "",
                                  "kind": kind, "severity": "warning",
                                  "message": message + more})

    def stats(self) -> dict[str, Any]:
        """What the run's provenance records: the number of plans solved and of warnings by
        kind (solve times stay in ``seconds``: they differ from run to run)."""
        return {"solves": len(self.seconds), **self.counts}

    def solve_times(self) -> dict[str, float]:
        """Median and largest solve time per review (s), NaN before the first."""
        if not self.seconds:
            return {"median": math.nan, "max": math.nan}
        return {"median": statistics.median(self.seconds), "max": max(self.seconds)}


def _unit_volume(it: Any) -> Any:
    """The item with volume 1 (capacity in units)."""
    from dataclasses import replace
    return replace(it, volume=1.0)


def connect(net: Any) -> list[Planner]:
    """Give the joint policies of every warehouse of network ``net`` their planner."""
    sc = net.scenario
    products = {p.id: p for p in sc.products}
    suppliers = {s.id: s for s in sc.suppliers}
    planners = []
    for w in sc.warehouses:
        joint = [pid for pid, inv in w.inventory.items() if is_joint(inv.policy)]
        if not joint:
            continue
        members = [(net.stock[(w.id, pid)], _limits(w.inventory[pid].source, products[pid],
                                                    suppliers)) for pid in joint]
        others = [(net.stock[(w.id, pid)], products[pid].volume)
                  for pid in w.inventory if pid not in joint]
        planner = Planner(w.id, members, others, w.capacity, w.budget,
                          w.capacity_unit == "volume", _sources(members, suppliers,
                                                                members[0][0].policy),
                          net.warnings, net.replication)
        for sp, _ in members:
            sp.policy.join(planner)
        planners.append(planner)
    return planners


def _limits(source: str, product: Any, suppliers: dict[str, Any]) -> Any:
    from policies.lp import Limits
    s = suppliers.get(source)
    if s is None:
        return Limits(product.unit_cost, product.volume)
    line = s.ordering_cost if s.consolidation_window is None else 0.0
    return Limits(product.unit_cost, product.volume, s.min_order, s.multiple, s.id, line)


def _sources(members: list[tuple[Any, Any]], suppliers: dict[str, Any],
             lead: Any) -> dict[str, Source]:
    """The suppliers of the members: capacity per period; a major cost per purchase order
    only where one period's orders are one purchase order (a consolidation window), else it
    is charged per line (:func:`_limits` adds it to the line's cost)."""
    out = {}
    for _, limits in members:
        s = suppliers.get(limits.supplier) if limits.supplier is not None else None
        if s is None:
            continue
        cap = None if s.capacity is None else s.capacity * lead.review_period
        major = s.ordering_cost if s.consolidation_window is not None else 0.0
        out[s.id] = Source(major=major, capacity=cap)
    return out
