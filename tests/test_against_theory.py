"""Statistical checks of the simulator against exact inventory theory (``THEORY.md``).

Each test runs a small scenario (written as a dict per SPEC section 2) for several seeded
replications and compares the mean over replications of a metric with the exact steady-state
value from ``tests/theory.py``:

    |mean - exact| <= 4 SE,   SE = sample std across replications / sqrt(n).

Nothing else is added to the tolerance. Every comparison also asserts that the SE is small enough
for the comparison to be meaningful (``guard``), so a noisy run cannot pass vacuously. The warm-up
is long compared with the lead times and review periods (the systems mix within a few lead
times), so the initial state has washed out.

The deterministic EOQ case has no randomness at all: all replications are identical (SE = 0), so
it is compared exactly, up to floating-point rounding.

Run: ``python -m pytest tests/test_against_theory.py -q`` (about 20-30 s on 2 cores).
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

try:  # works whether or not tests/ is a package
    from . import theory
except ImportError:  # pragma: no cover - depends on how pytest imports the file
    import theory

simulator = pytest.importorskip("simulator")

pytestmark = pytest.mark.slow

Z = 4.0  # tolerance, in standard errors
REPS = 30


# ==================== helpers

def run(scenario, replications=REPS, seed=1):
    """``simulator.run`` on 2 worker processes when the API offers it (results do not depend
    on the number of workers)."""
    kwargs = {}
    if "jobs" in inspect.signature(simulator.run).parameters:
        kwargs["jobs"] = 2
    return simulator.run(scenario, replications=replications, seed=seed, **kwargs)


def rows(res, warehouse, product="item"):
    m = res.metrics
    out = m[(m["warehouse"] == warehouse) & (m["product"] == product)]
    assert len(out) == res.metrics["replication"].nunique() > 1
    return out


def check(values, exact, *, label, rel=None, abs_=None):
    """Assert ``|mean - exact| <= Z * SE``; first assert SE is small enough to mean something.

    ``guard``: ``Z * SE`` must be at most ``max(rel * |exact|, abs_)``, i.e. the test would
    detect an error of that size.
    """
    x = np.asarray(values, dtype=float)
    assert np.all(np.isfinite(x)), f"{label}: non-finite values {x}"
    n = x.size
    mean = float(x.mean())
    se = float(x.std(ddof=1) / math.sqrt(n))
    guard = max((rel or 0.0) * abs(exact), abs_ or 0.0)
    print(f"{label:40s} sim {mean:10.5f}  exact {exact:10.5f}  SE {se:.5f}  "
          f"z {(mean - exact) / se if se > 0 else float('nan'):+.2f}")
    assert se > 0, f"{label}: zero variance across replications (broken randomness?)"
    assert Z * se <= guard, (
        f"{label}: SE {se:.4g} too large for a meaningful check (4 SE > {guard:.4g}); "
        "run longer")
    assert abs(mean - exact) <= Z * se, (
        f"{label}: simulated {mean:.5f} vs exact {exact:.5f}: off by "
        f"{(mean - exact) / se:+.1f} SE (SE {se:.4g}, n={n})")


def single_stage(name, *, lam, lead_time, policy, horizon, warmup, initial=None,
                 unmet="backorder", arrivals="poisson", costs=None):
    """One warehouse ``dc`` of product ``item`` supplied by ``sup``; one customer stream."""
    inv = {"source": "sup", "policy": policy}
    if initial is not None:
        inv["initial"] = initial
    demand = {"rate": lam, "size": 1}
    if arrivals != "poisson":
        demand["arrivals"] = arrivals
    return {
        "name": name,
        "horizon": horizon,
        "warmup": warmup,
        "replications": REPS,
        "seed": 1,
        "products": [{"id": "item", **(costs or {})}],
        "suppliers": [{"id": "sup", "lead_time": lead_time}],
        "warehouses": [{"id": "dc", "inventory": {"item": inv}}],
        "customers": [{"id": "cust", "warehouse": "dc", "unmet": unmet,
                       "demand": {"item": demand}}],
    }


# ==================== (a) continuous (r,Q), (s,S)

LAM_A, L_A = 4.0, 2.0  # 4 units/day, lead time 2 days: lead-time demand Poisson(8)
WARM_A, HOR_A = 100.0, 4100.0


@pytest.mark.parametrize("kind", ["rQ", "sS"])
def test_continuous_review_rq_and_sS(kind):
    if kind == "rQ":
        r, Q = 8, 5
        policy = {"type": "rQ", "r": r, "Q": Q}
    else:
        s, S = 6, 14  # (s,S) with unit demand is (r,Q) with r=s, Q=S-s
        r, Q = s, S - s
        policy = {"type": "sS", "s": s, "S": S}
    sc = single_stage(f"theory-{kind}", lam=LAM_A, lead_time=L_A, policy=policy,
                      initial=r + Q, horizon=HOR_A, warmup=WARM_A)
    m = rows(run(sc, seed=11), "dc")
    ex = theory.rq_poisson(LAM_A, L_A, r, Q)
    days = HOR_A - WARM_A
    check(m["fill_rate"], ex["fill_rate"], label=f"{kind} fill_rate", abs_=0.01)
    check(m["avg_on_hand"], ex["avg_on_hand"], label=f"{kind} avg_on_hand", rel=0.03)
    check(m["avg_backorders"], ex["avg_backorders"], label=f"{kind} avg_backorders", rel=0.05)
    check(m["orders_placed"] / days, ex["orders_per_day"], label=f"{kind} orders/day", rel=0.01)
    assert (m["lost_units"] == 0).all()


def test_continuous_base_stock():
    lam, L, S = 4.0, 2.0, 10
    sc = single_stage("theory-base-stock", lam=lam, lead_time=L,
                      policy={"type": "base_stock", "S": S}, horizon=HOR_A, warmup=WARM_A)
    m = rows(run(sc, seed=12), "dc")
    ex = theory.base_stock_poisson(lam, L, S)
    check(m["fill_rate"], ex["fill_rate"], label="base_stock fill_rate", abs_=0.01)
    check(m["avg_on_hand"], ex["avg_on_hand"], label="base_stock avg_on_hand", rel=0.03)
    check(m["avg_backorders"], ex["avg_backorders"], label="base_stock avg_backorders", rel=0.05)


# ==================== (b) lost sales, random lead times

LOST_LAM, LOST_S, LOST_MEAN_L = 2.0, 5, 2.0  # offered load a = 4


@pytest.mark.parametrize("lead_time", [
    {"dist": "gamma", "mean": 2, "cv": 1},
    {"dist": "gamma", "mean": 2, "cv": 2},
    {"dist": "uniform", "low": 1, "high": 3},
], ids=["gamma-cv1", "gamma-cv2", "uniform-1-3"])
def test_lost_sales_base_stock_erlang_b(lead_time):
    warm, hor = 100.0, 4100.0
    sc = single_stage("theory-lost-sales", lam=LOST_LAM, lead_time=lead_time,
                      policy={"type": "base_stock", "S": LOST_S}, unmet="lost",
                      horizon=hor, warmup=warm)
    m = rows(run(sc, seed=21), "dc")
    ex = theory.lost_sales_base_stock(LOST_LAM, LOST_MEAN_L, LOST_S)
    tag = lead_time["dist"] + (f" cv={lead_time['cv']}" if "cv" in lead_time else "")
    check(m["fill_rate"], ex["fill_rate"], label=f"lost-sales {tag} fill_rate", abs_=0.01)
    check(m["lost_units"] / m["demand_units"], ex["lost_fraction"],
          label=f"lost-sales {tag} lost fraction", abs_=0.01)
    check(m["avg_on_hand"], ex["avg_on_hand"], label=f"lost-sales {tag} avg_on_hand", rel=0.03)
    assert (m["avg_backorders"] == 0).all()


# ==================== (c) periodic review

@pytest.mark.parametrize("lam,L,R,S", [(1.0, 1.5, 2.0, 5), (3.0, 2.0, 3.0, 18)])
def test_periodic_review_order_up_to(lam, L, R, S):
    # warm-up and horizon fall half-way between review instants, so the number of reviews in
    # the measured window is exactly (horizon - warmup) / R, whatever the tie conventions
    warm = 50 * R + R / 2
    days = 2000 * R
    sc = single_stage("theory-periodic", lam=lam, lead_time=L,
                      policy={"type": "base_stock", "S": S, "review_period": R},
                      horizon=warm + days, warmup=warm)
    m = rows(run(sc, seed=31), "dc")
    ex = theory.periodic_order_up_to(lam, L, R, S)
    tag = f"periodic R={R:g} L={L:g} S={S}"
    check(m["fill_rate"], ex["fill_rate"], label=f"{tag} fill_rate", abs_=0.01)
    check(m["avg_on_hand"], ex["avg_on_hand"], label=f"{tag} avg_on_hand", rel=0.03)
    check(m["avg_backorders"], ex["avg_backorders"], label=f"{tag} avg_backorders",
          rel=0.10, abs_=0.01)
    if ex["orders_per_day"] * R < 0.999:  # otherwise every review orders: no variance
        check(m["orders_placed"] / days, ex["orders_per_day"], label=f"{tag} orders/day",
              rel=0.01)
    else:
        n_reviews = round(days / R)
        assert abs(m["orders_placed"].mean() - n_reviews * ex["orders_per_day"] * R) <= 1


# ==================== (d) deterministic EOQ

@pytest.mark.parametrize("D,K,h,L,r", [
    (8.0, 50.0, 0.5, 1.0625, 8),  # Q* = 40 exactly
    (5.0, 40.0, 0.3, 1.1, 5),     # Q* = 36.51 -> rounded to 37
    (8.0, 50.0, 0.5, 1.0625, None),  # r derived too: demand has no variance, so no safety stock
])
def test_deterministic_eoq(D, K, h, L, r):
    """Deterministic unit demand every 1/D days; eoq derives Q from D, K, h.

    ``L * D`` is a half-integer so no customer arrives at the instant of a replenishment; then
    with ``r = floor(L D)`` the net inventory is ``IP(t-L) - N(t-L, t]`` with ``IP`` cycling
    through r+1..r+Q and ``N(t-L, t]`` in {r, r+1}: it never goes negative and its time average is
    exactly ``r + (Q+1)/2 - L D = Q/2`` (computed independently by ``theory.deterministic_rq``).
    The measured window is a whole number of cycles (Q/D days) and starts between events, so the
    window averages equal the cycle averages and the order count is exact.

    ``r=None``: the policy derives r as the lead-time demand ``D L`` plus a safety stock that is 0
    because deterministic demand has no variance (SPEC: "r = expected lead-time demand + safety
    stock for service_level"); on whole-unit positions r = D L = 8.5 acts as r = 8.
    """
    policy = {"type": "eoq"}
    if r is None:
        r = math.floor(D * L)
    else:
        policy["r"] = r
    ref = theory.eoq(D, K, h)
    Q = max(1, round(ref["Q"]))  # the policy rounds to the nearest whole unit
    ex = theory.deterministic_rq(D, L, r, Q)
    warm = 100.0 + 0.25 / D  # between a demand (multiples of 1/D) and a receipt
    cycles = math.ceil(1000 / ex["cycle"])
    days = cycles * Q / D
    sc = single_stage("theory-eoq", lam=D, lead_time=L, arrivals="deterministic",
                      policy=policy, horizon=warm + days, warmup=warm,
                      costs={"holding_cost": h, "ordering_cost": K})
    m = rows(run(sc, replications=3, seed=41), "dc")
    # no randomness at all: every replication is identical
    for col in ("holding_cost", "ordering_cost", "fill_rate", "avg_on_hand", "orders_placed"):
        assert m[col].max() - m[col].min() <= 1e-9 * max(1.0, abs(m[col].max())), col
    rate = float((m["holding_cost"] + m["ordering_cost"]).mean()) / days
    exact_rate = K * ex["orders_per_day"] + h * ex["avg_on_hand"]
    print(f"EOQ D={D} K={K} h={h}: Q*={ref['Q']:.3f} Q={Q} sim cost/day {rate:.6f} "
          f"exact {exact_rate:.6f} sqrt(2DKh) {ref['cost_rate']:.6f}")
    assert int(m["orders_placed"].iloc[0]) == cycles
    assert m["fill_rate"].iloc[0] == ex["fill_rate"] == 1.0
    assert m["avg_backorders"].iloc[0] == pytest.approx(ex["avg_backorders"], abs=1e-9)
    assert m["avg_on_hand"].iloc[0] == pytest.approx(ex["avg_on_hand"], rel=1e-9)
    assert rate == pytest.approx(exact_rate, rel=1e-9)
    # and the rounded lot size is (within the rounding) economic
    assert exact_rate == pytest.approx(theory.eoq_cost_rate(D, K, h, Q), rel=1e-12)
    assert exact_rate >= ref["cost_rate"] - 1e-12
    assert exact_rate <= theory.eoq_cost_rate(D, K, h, ref["Q"] + 0.5)


# ==================== (e) serial two-echelon

def test_serial_two_echelon_base_stock():
    lam, L1, L2, S1, S2 = 2.0, 1.0, 3.0, 4, 6
    warm, hor = 100.0, 6100.0  # the store's fill rate is noisier (dc backorders): run longer
    sc = {
        "name": "theory-serial",
        "horizon": hor,
        "warmup": warm,
        "replications": REPS,
        "seed": 1,
        "products": [{"id": "item"}],
        "suppliers": [{"id": "sup", "lead_time": L2}],
        "warehouses": [
            {"id": "dc", "inventory": {"item": {
                "source": "sup", "policy": {"type": "base_stock", "S": S2}}}},
            {"id": "store", "inventory": {"item": {
                "source": "dc", "lead_time": L1, "policy": {"type": "base_stock", "S": S1}}}},
        ],
        "customers": [{"id": "cust", "warehouse": "store", "demand": {"item": {"rate": lam,
                                                                               "size": 1}}}],
    }
    res = run(sc, seed=51)
    ex = theory.serial_two_echelon(lam, L1, L2, S1, S2)
    store, dc = rows(res, "store"), rows(res, "dc")
    e1, e2 = ex["stage1"], ex["stage2"]
    check(store["fill_rate"], e1["fill_rate"], label="serial store fill_rate", abs_=0.01)
    check(store["avg_on_hand"], e1["avg_on_hand"], label="serial store avg_on_hand", rel=0.03)
    check(store["avg_backorders"], e1["avg_backorders"], label="serial store avg_backorders",
          rel=0.05)
    # stage 2 sees stage 1's one-for-one orders: a Poisson(lam) stream of unit orders
    check(dc["fill_rate"], e2["fill_rate"], label="serial dc fill_rate", abs_=0.01)
    check(dc["avg_on_hand"], e2["avg_on_hand"], label="serial dc avg_on_hand", rel=0.03)
    check(dc["avg_backorders"], e2["avg_backorders"], label="serial dc avg_backorders",
          rel=0.03)
