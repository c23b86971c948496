"""A fast feasible plan for the ``lp`` policy's MILP (docs/lp.md, "Solve times").

The MILP (:mod:`policies.lp_model`) may stop at its time limit with a poor plan, or none at
all for a large warehouse. This module builds plans in O(products x periods^2) without a
solver, keeps the best, and :func:`policies.lp_model.solve` uses it when it beats the solver's:

- *common cycles*: the supplier's purchase orders every k periods (k = 1 ... H), each product
  ordering at those periods what covers its demand until the next one (the classic
  joint-replenishment cycle, which pays the major cost once per cycle); and *own cycles*,
  each product on the cycle cheapest for it alone;
- *LP rounding*: the orders of the linear relaxation, caught up in whole case packs.

Every candidate goes through :func:`repair`, which only ever *lowers* orders, period by period,
to what the warehouse capacity, the budget and the suppliers' capacities leave: lower orders
keep every limit (positions only fall), so the result is feasible whenever the plan that
orders nothing is, i.e. whenever the MILP is.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from policies.lp_model import EPS, Item, Problem, _cut


def pack(qty: float, it: Item) -> float:
    """``qty`` (units) raised to the minimum order and rounded up to whole case packs; 0 when
    nothing is needed."""
    if qty <= EPS:
        return 0.0
    return math.ceil(max(qty, it.min_order) / it.multiple - EPS) * it.multiple


def cost(pb: Problem, orders: list[list[float]]) -> float:
    """The plan's cost (currency), the MILP's objective: per period holding or backorder of
    the projected net inventory, the minor cost per order line, the major cost per period with
    an order to a supplier with one."""
    total = sum(_own(it, row) for it, row in zip(pb.items, orders, strict=True))
    for s, src in pb.sources.items():
        if src.major > 0:
            for t in range(pb.periods):
                if any(row[t] > EPS for it, row in zip(pb.items, orders, strict=True)
                       if it.supplier == s):
                    total += src.major
    return total


def _own(it: Item, row: list[float]) -> float:
    """One item's part of the plan's cost (currency): holding, backorders, order lines."""
    total, net = 0.0, it.position - it.lead_demand
    for t, q in enumerate(row):
        net += q - it.demand[t]
        total += it.holding * max(net, 0.0) + it.backorder * max(-net, 0.0)
        total += it.minor if q > EPS else 0.0
    return total


def repair(pb: Problem, orders: list[list[float]], rank: Sequence[int] | None = None,
           carry: bool = True) -> list[list[float]]:
    """The plan with each order cut, period by period, to what the shared limits leave (in
    whole case packs; none below the minimum order); products in the order ``rank`` (default:
    the larger backorder cost first); with ``carry``, what is cut is added to the next
    period's order (which the next period's cut may lower in turn). The last period's orders
    are only lowered, so the result is feasible when ordering nothing is."""
    out = [list(row) for row in orders]
    if rank is None:
        rank = sorted(range(len(pb.items)), key=lambda p: -pb.items[p].backorder)
    for t in range(pb.periods):
        pos = [it.position - it.before[t] + sum(out[p][:t]) for p, it in enumerate(pb.items)]
        space = math.inf if pb.capacity is None else pb.capacity - pb.occupied - sum(
            it.volume * max(0.0, x) for it, x in zip(pb.items, pos, strict=True))
        money = math.inf if pb.budget is None else pb.budget
        made = {s: (math.inf if src.capacity is None else src.capacity)
                for s, src in pb.sources.items()}
        for p in rank:
            it, q = pb.items[p], out[p][t]
            if q <= EPS:
                continue
            room = min(space / it.volume + max(0.0, -pos[p]) if it.volume > 0 else math.inf,
                       money / it.unit_cost if it.unit_cost > 0 else math.inf,
                       made.get(it.supplier, math.inf) if it.supplier is not None
                       else math.inf)
            cut = _cut(q, it, room)
            out[p][t] = cut
            if carry and t + 1 < pb.periods and q - cut > EPS:  # ordered one period later
                out[p][t + 1] = pack(out[p][t + 1] + q - cut, it)
            q = cut
            space -= it.volume * (max(0.0, pos[p] + q) - max(0.0, pos[p]))
            money -= it.unit_cost * q
            if it.supplier in made:
                made[it.supplier] -= q
    return out


def cycle(pb: Problem, k: int) -> list[list[float]]:
    """Every product orders at periods 0, k, 2k, ... what brings its net inventory up to the
    demand until the next of those periods (case packs, minimum order)."""
    out = []
    for it in pb.items:
        net, row = it.position - it.lead_demand, []
        for t in range(pb.periods):
            q = pack(sum(it.demand[t:t + k]) - net, it) if t % k == 0 else 0.0
            row.append(q)
            net += q - it.demand[t]
        out.append(row)
    return out


def rounded(pb: Problem, relaxed: list[list[float]]) -> list[list[float]]:
    """The relaxation's orders (units, fractional) as whole case packs: in each period with an
    order, what brings the cumulative orders up to the relaxation's."""
    out = []
    for it, lp in zip(pb.items, relaxed, strict=True):
        want = got = 0.0
        row = []
        for q_lp in lp:
            want += q_lp
            q = pack(want - got, it) if q_lp > 1e-6 else 0.0
            row.append(q)
            got += q
        out.append(row)
    return out


def best(pb: Problem, relaxed: Sequence[list[float] | None] | None = None
         ) -> tuple[list[list[float]], float]:
    """The cheapest repaired candidate (common cycles of 1 ... H periods, own cycles, the
    rounded relaxation when given: an item without its relaxed orders, None, on its own
    cycle) and its cost (currency)."""
    candidates = [cycle(pb, k) for k in range(1, pb.periods + 1)]
    # each item on the cycle best for it alone (its holding against its order lines)
    own = [min((c[p] for c in candidates), key=lambda row: _own(it, row))
           for p, it in enumerate(pb.items)]
    candidates.append(own)
    if relaxed is not None:
        candidates.append(rounded(pb, [o if r is None else r
                                       for r, o in zip(relaxed, own, strict=True)]))
    plans = [repair(pb, c) for c in candidates]
    costs = [cost(pb, p) for p in plans]
    k = min(range(len(plans)), key=costs.__getitem__)
    return plans[k], costs[k]
