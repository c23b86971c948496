"""The MILP of the ``lp`` policy: a rolling-horizon lot-sizing plan for the products of one
warehouse, solved with HiGHS through :func:`scipy.optimize.milp` (docs/lp.md has the
formulation).

This module knows nothing of the simulation: a :class:`Problem` holds numbers (positions,
forecasts, costs, limits), :func:`solve` returns a :class:`Plan`, :func:`fallback` the
documented rule used when the solver gives no plan.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # SciPy is imported when a plan is solved: the CLI starts without it
    from scipy.optimize import Bounds, LinearConstraint

#: quantities closer than this (units) are equal
EPS = 1e-9


@dataclass(frozen=True)
class Item:
    """One product of the plan (all quantities in units, money in currency).

    Attributes
    ----------
    product : str
        The product id.
    position : float
        Inventory position now: on hand + on order - backorders (units).
    lead_demand : float
        Demand expected before the first order can arrive (over the mean lead time), plus the
        safety stock (units): the plan keeps the net inventory at arrival above the safety
        stock.
    demand : tuple of float
        Demand expected in each period of the horizon, counted from the first arrival (units).
    before : tuple of float
        Demand expected between now and each review t (0 for t = 0; units): the position at
        review t, for the warehouse capacity.
    holding, backorder : float
        Cost per unit held / backordered at a period's end, per period (currency per unit).
    minor : float
        Fixed cost per order line (currency).
    unit_cost, volume : float
        Money per unit bought (budget); space per unit (capacity).
    min_order, multiple : float
        Minimum order (units) and case pack (units; 1 orders whole units).
    supplier : str or None
        The supplier whose major cost and capacity the line shares (None: none).
    """

    product: str
    position: float
    lead_demand: float
    demand: tuple[float, ...]
    before: tuple[float, ...]
    holding: float
    backorder: float
    minor: float = 0.0
    unit_cost: float = 0.0
    volume: float = 1.0
    min_order: float = 0.0
    multiple: float = 1.0
    supplier: str | None = None


@dataclass(frozen=True)
class Source:
    """A supplier as the plan sees it: ``major`` cost per purchase order (currency; orders
    of one period to it are one purchase order) and ``capacity`` per period (units, None:
    unlimited)."""

    major: float = 0.0
    capacity: float | None = None


@dataclass(frozen=True)
class Problem:
    """The plan of one warehouse at one review.

    ``capacity`` bounds the space the lp products may take (units or volume, after
    ``occupied``, the space of the warehouse's other products); ``budget`` the money ordered
    per period; ``time_limit`` (s) and ``mip_rel_gap`` are HiGHS's.
    """

    items: tuple[Item, ...]
    periods: int
    sources: dict[str, Source] = field(default_factory=dict)
    capacity: float | None = None
    occupied: float = 0.0
    budget: float | None = None
    time_limit: float = 2.0
    mip_rel_gap: float = 0.01


@dataclass
class Plan:
    """The solver's answer: ``orders[p][t]`` units of item p in period t (None when there is
    no plan), ``status`` one of optimal, time_limit, infeasible, error, ``cost`` the plan's
    objective (currency), ``seconds`` the solve time (s), ``message`` the solver's words."""

    orders: list[list[float]] | None
    status: str
    cost: float
    seconds: float
    message: str = ""
    #: the solver's proven relative gap at the end (0 when proven optimal or the relaxation
    #: was integral; NaN without a plan)
    gap: float = math.nan

    @property
    def first(self) -> list[float] | None:
        """The first period's orders (the ones applied), or None."""
        return None if self.orders is None else [row[0] for row in self.orders]


class _Vars:
    """Column indices of the MILP's variables per item: over the ``H`` periods n (case packs
    ordered), y (line opened), e (units ordered beyond the demand they cover), w (projected
    position, at least 0, only with a capacity); x[s][t] (units ordered in period s for the
    demand of period t; s = H: never, short to the horizon's end); and z (purchase order) per
    source with a major cost and period."""

    def __init__(self, pb: Problem):
        h = pb.periods
        self.n = len(pb.items)
        self.h = h
        self.blocks = 4 if pb.capacity is not None else 3
        self.per_item = self.blocks * h + (h + 1) * h
        majors = [s for s, src in pb.sources.items() if src.major > 0]
        self.z = {s: self.n * self.per_item + k * h for k, s in enumerate(majors)}
        self.size = self.n * self.per_item + len(majors) * h

    def col(self, p: int, block: int, t: int) -> int:
        return p * self.per_item + block * self.h + t

    def x(self, p: int, s: int, t: int) -> int:
        return p * self.per_item + self.blocks * self.h + s * self.h + t


N, Y, E, W = range(4)


class _Rows:
    """A sparse constraint matrix built row by row."""

    def __init__(self) -> None:
        self.r: list[int] = []
        self.c: list[int] = []
        self.v: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []

    def add(self, coefs: list[tuple[int, float]], lo: float, hi: float) -> None:
        k = len(self.lo)
        for col, val in coefs:
            self.r.append(k)
            self.c.append(col)
            self.v.append(val)
        self.lo.append(lo)
        self.hi.append(hi)

    def constraint(self, size: int) -> LinearConstraint:
        from scipy.optimize import LinearConstraint
        from scipy.sparse import coo_matrix
        a = coo_matrix((self.v, (self.r, self.c)), shape=(len(self.lo), size)).tocsr()
        return LinearConstraint(a, np.array(self.lo), np.array(self.hi))


def residual(it: Item) -> tuple[list[float], float]:
    """The demand per period left after the stock expected at the first arrival, FIFO (a
    backlog is owed in the first period), and the holding cost of that stock (currency)."""
    start = it.position - it.lead_demand
    left = list(it.demand)
    cost = 0.0
    if start < 0:
        left[0] -= start
        return left, 0.0
    for t, d in enumerate(it.demand):
        used = min(start, d)
        left[t] = d - used
        start -= used
        cost += it.holding * start
    return left, cost


def upper_bound(pb: Problem, it: Item, left: list[float]) -> float:
    """An upper bound on one order of ``it`` (units) that no optimal plan exceeds: the demand
    left plus a minimum order and a case pack, cut by the budget and the supplier's capacity."""
    bound = sum(left) + it.min_order + it.multiple
    if pb.budget is not None and it.unit_cost > 0:
        bound = min(bound, pb.budget / it.unit_cost)
    src = pb.sources.get(it.supplier) if it.supplier is not None else None
    if src is not None and src.capacity is not None:
        bound = min(bound, src.capacity)
    return max(0.0, bound)


def _item_rows(pb: Problem, v: _Vars, p: int, it: Item, rows: _Rows,
               cost: np.ndarray, upper: np.ndarray) -> float:
    """Objective terms, bounds and constraints of one item; returns its constant cost (the
    holding of the stock already there)."""
    h, m = v.h, it.multiple
    left, fixed = residual(it)
    top = math.floor(upper_bound(pb, it, left) / m + EPS)
    for t in range(h):  # the demand of period t is covered, by some order or never
        rows.add([(v.x(p, s, t), 1.0) for s in range(h + 1)], left[t], left[t])
        for s in range(h + 1):
            cost[v.x(p, s, t)] = it.holding * (t - s) if s <= t else it.backorder * (s - t)
    for s in range(h):
        n, y, e = v.col(p, N, s), v.col(p, Y, s), v.col(p, E, s)
        upper[n], upper[y], upper[e] = top, 1.0, it.min_order + m
        cost[y] = it.minor
        cost[e] = it.holding * (h - s)
        # what is ordered covers demand or is excess: sum_t x[s][t] + e_s = m n_s
        rows.add([(v.x(p, s, t), 1.0) for t in range(h)] + [(e, 1.0), (n, -m)], 0.0, 0.0)
        for t in range(h):  # x[s][t] <= d_t y_s: the tight form of "an order opens its line"
            if left[t] > 0:
                rows.add([(v.x(p, s, t), 1.0), (y, -left[t])], -math.inf, 0.0)
            else:
                upper[v.x(p, s, t)] = 0.0
        rows.add([(e, 1.0), (y, -(it.min_order + m))], -math.inf, 0.0)
        rows.add([(n, m), (y, -m * top)], -math.inf, 0.0)
        if it.min_order > 0:
            rows.add([(n, m), (y, -it.min_order)], 0.0, math.inf)  # minimum order
        if it.supplier is not None and it.supplier in v.z:
            rows.add([(y, 1.0), (v.z[it.supplier] + s, -1.0)], -math.inf, 0.0)
        if pb.capacity is not None:  # w_s >= position at review s
            rows.add([(v.col(p, W, s), 1.0)] + [(v.col(p, N, r), -m) for r in range(s + 1)],
                     it.position - it.before[s], math.inf)
    return fixed


def _shared_rows(pb: Problem, v: _Vars, rows: _Rows) -> None:
    """Per period: supplier capacity, budget, warehouse capacity."""
    for t in range(v.h):
        for s, src in pb.sources.items():
            if src.capacity is not None:
                rows.add([(v.col(p, N, t), it.multiple) for p, it in enumerate(pb.items)
                          if it.supplier == s] + _opened(v, s, t, src.capacity),
                         -math.inf, 0.0 if s in v.z else src.capacity)
            if pb.budget is not None and s in v.z:
                rows.add([(v.col(p, N, t), it.multiple * it.unit_cost)
                          for p, it in enumerate(pb.items) if it.supplier == s]
                         + _opened(v, s, t, pb.budget), -math.inf, 0.0)
        if pb.budget is not None:
            rows.add([(v.col(p, N, t), it.multiple * it.unit_cost)
                      for p, it in enumerate(pb.items)], -math.inf, pb.budget)
        if pb.capacity is not None:
            rows.add([(v.col(p, W, t), it.volume) for p, it in enumerate(pb.items)],
                     -math.inf, pb.capacity - pb.occupied)


def _opened(v: _Vars, s: str, t: int, limit: float) -> list[tuple[int, float]]:
    """``-limit z_st`` when supplier ``s`` has a purchase-order variable, else nothing: a limit
    on what is bought from ``s`` in period t applies only when a purchase order is placed.
    Valid (no order, nothing bought) and what makes the relaxation count the purchase orders
    that the budget or the supplier's capacity force (without it z_st may be tiny while much
    is bought, and the proven gap stays at 10-30%)."""
    return [(v.z[s] + t, -limit)] if s in v.z else []


def build(pb: Problem) -> tuple[np.ndarray, LinearConstraint, np.ndarray, Bounds, _Vars,
                                float]:
    """The MILP's objective, constraints, integrality, bounds, columns and constant cost."""
    from scipy.optimize import Bounds
    v = _Vars(pb)
    cost = np.zeros(v.size)
    upper = np.full(v.size, np.inf)
    integrality = np.zeros(v.size)
    rows = _Rows()
    fixed = 0.0
    for p, it in enumerate(pb.items):
        fixed += _item_rows(pb, v, p, it, rows, cost, upper)
        integrality[[v.col(p, b, t) for b in (N, Y) for t in range(v.h)]] = 1
    for s, start in v.z.items():
        cost[start:start + v.h] = pb.sources[s].major
        upper[start:start + v.h] = 1.0
        integrality[start:start + v.h] = 1
    _shared_rows(pb, v, rows)
    return (cost, rows.constraint(v.size), integrality, Bounds(np.zeros(v.size), upper), v,
            fixed)


#: scipy.optimize.milp's status codes
_STATUS = {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded", 4: "error"}


#: models with more columns solve their LP relaxation in chunks of CHUNK items: at 1,000
#: products x 8 periods (104,000 columns) the whole relaxation alone takes the default 2 s
#: limit; 10 chunks of 100 items take about as long in all (2 s of CPU), but a deadline
#: stops them with part of the plan relaxed (docs/lp.md, "Solve times")
RELAX_COLUMNS = 30_000
CHUNK = 100
#: share of the time limit the chunked relaxation may take (the MILP gets the rest)
CHUNK_TIME = 0.75


def _relaxation(cost: np.ndarray, cons: LinearConstraint, bounds: Bounds,
                time_limit: float) -> Any:
    """The LP relaxation's result (optimal), or None."""
    from scipy.optimize import milp
    res = milp(cost, constraints=cons, bounds=bounds,
               options={"time_limit": time_limit, "disp": False})
    return res if res.status == 0 and res.x is not None else None


def _share(pb: Problem, part: tuple[Item, ...]) -> Problem:
    """The plan of the items ``part`` alone, with their share of the shared limits: of the
    free space by their volume demanded, of the budget by their money demanded, of a
    supplier's capacity by their units demanded (at least what they occupy now)."""
    from dataclasses import replace

    def frac(weight: Any) -> float:
        total = sum(weight(it) for it in pb.items)
        return sum(weight(it) for it in part) / total if total > EPS else len(part) / len(
            pb.items)

    def now(items: tuple[Item, ...]) -> float:
        return sum(it.volume * max(0.0, it.position) for it in items)

    capacity = None if pb.capacity is None else now(part) + frac(
        lambda it: it.volume * sum(it.demand)) * (pb.capacity - pb.occupied - now(pb.items))
    budget = None if pb.budget is None else pb.budget * frac(
        lambda it: it.unit_cost * sum(it.demand))
    sources = {}
    for s, src in pb.sources.items():
        cap = None if src.capacity is None else src.capacity * frac(
            lambda it, s=s: sum(it.demand) if it.supplier == s else 0.0)
        sources[s] = Source(src.major, cap)
    return replace(pb, items=part, sources=sources, capacity=capacity, occupied=0.0,
                   budget=budget)


def _chunked(pb: Problem, deadline: float) -> list[list[float] | None] | None:
    """The LP relaxations of chunks of CHUNK items with their share of the limits (units
    per item and period, fractional; None for an item whose chunk was not solved by
    ``deadline``, a :func:`time.perf_counter` instant); None when no chunk was solved."""
    out: list[list[float] | None] = []
    solved = False
    for k in range(0, len(pb.items), CHUNK):
        part = _share(pb, pb.items[k:k + CHUNK])
        left = deadline - time.perf_counter()
        res = None
        if left > 0:
            cost, cons, _, bounds, v, _ = build(part)
            res = _relaxation(cost, cons, bounds, left)
        if res is None:
            out += [None] * len(part.items)
            continue
        solved = True
        out += _orders(part, v, res.x, whole=False)
    return out if solved else None


def _worth_it(relaxed: list[list[float] | None] | None, left: float, spent: float) -> bool:
    """Whether the MILP of a large model may find a plan in the ``left`` seconds: only when
    every chunk's relaxation was solved, and in less than half of them (its own relaxation,
    solved first, takes about as long as the chunks'; below that HiGHS returns nothing after
    0.4 s of set-up at 1,000 products)."""
    return relaxed is not None and all(r is not None for r in relaxed) and left > 2 * spent


def _integral(res: Any, integ: np.ndarray) -> bool:
    """Whether the relaxation's solution is integral (then it is the MILP's optimum, and
    HiGHS's MIP machinery, tens of milliseconds even for a small model, is skipped)."""
    ints = res.x[integ == 1]
    return bool(np.all(np.abs(ints - np.round(ints)) <= 1e-9))


def _orders(pb: Problem, v: _Vars, x: np.ndarray, whole: bool) -> list[list[float]]:
    """Units ordered per item and period in the solution ``x`` (case packs rounded when
    ``whole``)."""
    return [[(float(round(x[v.col(p, N, t)])) if whole else float(x[v.col(p, N, t)]))
             * it.multiple for t in range(v.h)] for p, it in enumerate(pb.items)]


def solve(pb: Problem) -> Plan:
    """Solve the plan; never raises (a failure is a plan without orders and its status).

    The LP relaxation first (when the model is small enough): integral, it is the plan. Then
    the heuristic plan (:mod:`policies.lp_heuristic`) and the MILP in the time left; at the
    time limit the cheaper of the solver's plan and the heuristic's is used (the heuristic's
    is "optimal" when within ``mip_rel_gap`` of the solver's proven bound)."""
    start = time.perf_counter()
    try:
        from scipy.optimize import milp

        from policies.lp_heuristic import best
        cost, cons, integ, bounds, v, fixed = build(pb)
        relaxed: list[list[float] | None] | None = None
        if v.size <= RELAX_COLUMNS:
            res = _relaxation(cost, cons, bounds, pb.time_limit)
            if res is not None and _integral(res, integ):
                return _plan(pb, v, res, fixed, start)
            relaxed = None if res is None else list(_orders(pb, v, res.x, whole=False))
        else:
            relaxed = _chunked(pb, start + CHUNK_TIME * pb.time_limit)
        guess, guess_cost = best(pb, relaxed)
        left = max(1e-3, pb.time_limit - (time.perf_counter() - start))
        if v.size > RELAX_COLUMNS and not _worth_it(relaxed, left, time.perf_counter() - start):
            return Plan(guess, "time_limit", guess_cost, time.perf_counter() - start,
                        "heuristic plan (no time left for the MILP)")
        res = milp(cost, constraints=cons, integrality=integ, bounds=bounds,
                   options={"time_limit": left, "mip_rel_gap": pb.mip_rel_gap, "disp": False})
    except Exception as exc:  # a solver failure must not stop the run: the fallback plans
        return Plan(None, "error", math.nan, time.perf_counter() - start,
                    f"{type(exc).__name__}: {exc}")
    if _STATUS.get(res.status) != "time_limit" or (res.x is not None
                                                   and res.fun + fixed <= guess_cost):
        return _plan(pb, v, res, fixed, start)
    return _heuristic(pb, res, guess, guess_cost, fixed, start)


def _plan(pb: Problem, v: _Vars, res: Any, fixed: float, start: float) -> Plan:
    """The solver's answer as a plan."""
    seconds = time.perf_counter() - start
    status = _STATUS.get(res.status, "error")
    if res.x is None:
        return Plan(None, status, math.nan, seconds, str(res.message))
    gap = getattr(res, "mip_gap", None)
    gap = float(gap) if gap is not None else (0.0 if status == "optimal" else math.nan)
    if status == "time_limit" and gap <= pb.mip_rel_gap:  # proven within the gap all the same
        status = "optimal"
    return Plan(_orders(pb, v, res.x, whole=True), status, float(res.fun) + fixed, seconds,
                str(res.message), gap)


def _heuristic(pb: Problem, res: Any, guess: list[list[float]], guess_cost: float,
               fixed: float, start: float) -> Plan:
    """The heuristic plan, cheaper than the solver's at its time limit (or the solver had
    none); proven within the gap against the solver's bound when it is."""
    bound = getattr(res, "mip_dual_bound", None)
    gap = math.nan
    if bound is not None and math.isfinite(bound):
        own = guess_cost - fixed  # HiGHS's gap is on the objective without the constant
        gap = max(0.0, (own - bound) / abs(own)) if abs(own) > EPS else 0.0
    status = "optimal" if gap <= pb.mip_rel_gap else "time_limit"
    return Plan(guess, status, guess_cost, time.perf_counter() - start,
                f"heuristic plan (solver: {res.message})", gap)


def _cut(qty: float, it: Item, room: float) -> float:
    """The largest order at most ``qty`` and ``room`` units in whole case packs, at least
    the minimum order (else none)."""
    q = math.floor(min(qty, room) / it.multiple + EPS) * it.multiple
    return q if q >= it.min_order - EPS and q > EPS else 0.0


def fallback(pb: Problem) -> list[float]:
    """The fallback rule (units per item, this period): order up to the demand over lead
    time plus one period plus safety stock, raised to the minimum order and rounded up to
    case packs; then, in the items' order, each cut (down, in case packs, to none if below the
    minimum order) to what is left of the warehouse capacity, the budget and its supplier's
    capacity."""
    from policies.lp_heuristic import pack, repair
    want = [[pack(it.lead_demand + it.demand[0] - it.position, it)] + [0.0] * (pb.periods - 1)
            for it in pb.items]
    return [row[0] for row in repair(pb, want, range(len(pb.items)), carry=False)]
