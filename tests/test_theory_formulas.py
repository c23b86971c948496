"""Checks of the reference formulas in ``tests/theory.py``, independent of the simulator.

Three kinds of checks:

* hand-computed values and exact identities (Erlang-B recursion vs closed form, Q=1 vs base
  stock, periodic review with R -> 0 vs continuous review, serial system with a huge upstream
  stock vs a single stage, closed-form integrals vs numerical quadrature);
* Monte-Carlo of the *stationary* representation stated in THEORY.md (IP uniform, D(L) Poisson);
* small numpy *sample-path* simulations that do not assume that representation (for (r,Q), the
  serial system, the M/G/S/S loss system and deterministic EOQ), so that the stationary
  representation itself is tested.

Monte-Carlo comparisons use ``|estimate - exact| <= 4 SE`` with SE estimated from the samples
(independent replications for the sample paths), with fixed seeds, and assert that the SE is small
enough for the comparison to mean something.
"""
from __future__ import annotations

import heapq
import math

import numpy as np
import pytest
from scipy import integrate, stats

try:  # works whether or not tests/ is a package
    from . import theory
except ImportError:  # pragma: no cover - depends on how pytest imports the file
    import theory

Z = 4.0  # tolerance in standard errors


def assert_close_mc(samples_or_means, exact, *, max_se, label=""):
    """``|mean - exact| <= Z * SE``, and ``SE <= max_se`` so the check is not vacuous."""
    x = np.asarray(samples_or_means, dtype=float)
    mean = x.mean()
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert se <= max_se, f"{label}: SE {se:.3g} too large (> {max_se}) for a meaningful test"
    assert abs(mean - exact) <= Z * se, (
        f"{label}: MC {mean:.6g} vs exact {exact:.6g} "
        f"(SE {se:.3g}, diff {abs(mean - exact) / se:.1f} SE)"
    )


# ==================== hand values / identities

def test_base_stock_hand_values():
    # lam=1, L=1, S=1: IN = 1 - D, D ~ Poisson(1)
    e = math.exp(-1)
    res = theory.base_stock_poisson(1.0, 1.0, 1)
    assert res["fill_rate"] == pytest.approx(e, rel=1e-12)
    assert res["avg_on_hand"] == pytest.approx(e, rel=1e-12)
    assert res["avg_backorders"] == pytest.approx(e, rel=1e-12)  # E[(D-1)^+] = 1 - 1 + e^-1
    assert res["orders_per_day"] == 1.0
    # S = 0: never any stock, backorders = mean lead-time demand
    res0 = theory.base_stock_poisson(2.0, 1.5, 0)
    assert res0["fill_rate"] == 0 and res0["avg_on_hand"] == 0
    assert res0["avg_backorders"] == pytest.approx(3.0, rel=1e-12)


def test_rq_hand_values():
    # lam=2, L=0.5 -> D(L) ~ Poisson(1); r=0, Q=2 -> IP in {1, 2}
    e = math.exp(-1)
    res = theory.rq_poisson(2.0, 0.5, 0, 2)
    assert res["fill_rate"] == pytest.approx((e + 2 * e) / 2, rel=1e-12)
    assert res["avg_on_hand"] == pytest.approx((e + (2 * e + e)) / 2, rel=1e-12)
    # E[(D-1)^+] = e^-1, E[(D-2)^+] = 1 - 2 + 3 e^-1 ... = -1 + E[(2-D)^+] = -1 + 3e^-1
    assert res["avg_backorders"] == pytest.approx((e + (-1 + 3 * e)) / 2, rel=1e-12)
    assert res["orders_per_day"] == 1.0


def test_rq_zero_lead_time_and_balance():
    # L = 0: IN = IP, uniform on r+1..r+Q
    res = theory.rq_poisson(3.0, 0.0, 2, 4)
    assert res["fill_rate"] == 1.0
    assert res["avg_on_hand"] == pytest.approx(np.mean([3, 4, 5, 6]))
    assert res["avg_backorders"] == pytest.approx(0.0, abs=1e-15)
    # E[IN] = E[IP] - lam L for any parameters
    for lam, L, r, Q in [(4, 2, 6, 5), (0.7, 3.3, -2, 3), (10, 0.25, 1, 1)]:
        res = theory.rq_poisson(lam, L, r, Q)
        assert res["avg_on_hand"] - res["avg_backorders"] == pytest.approx(
            r + (Q + 1) / 2 - lam * L, abs=1e-10)


def test_q1_equals_base_stock_and_sS_equals_rq():
    for lam, L, S in [(4, 2, 9), (1.3, 0.7, 2), (20, 1, 25)]:
        a = theory.base_stock_poisson(lam, L, S)
        b = theory.rq_poisson(lam, L, S - 1, 1)
        assert a == b
    # (s,S) with unit demand == (r,Q) with r=s, Q=S-s; also == average of base stocks S'=r+1..r+Q
    lam, L, r, Q = 4.0, 2.0, 5, 7
    rq = theory.rq_poisson(lam, L, r, Q)
    bs = [theory.base_stock_poisson(lam, L, y) for y in range(r + 1, r + Q + 1)]
    for k in ("fill_rate", "avg_on_hand", "avg_backorders"):
        assert rq[k] == pytest.approx(np.mean([b[k] for b in bs]), rel=1e-12)


def test_erlang_b_identities():
    assert theory.erlang_b(0, 3.7) == 1.0
    assert theory.erlang_b(1, 2.0) == pytest.approx(2 / 3, rel=1e-14)  # a / (1 + a)
    assert theory.erlang_b(2, 1.0) == pytest.approx(0.2, rel=1e-14)  # (1/2) / (1 + 1 + 1/2)
    assert theory.erlang_b(5, 0.0) == 0.0
    # closed form B(S, a) = P(N = S) / P(N <= S), N ~ Poisson(a)
    for S, a in [(1, 0.5), (5, 4.0), (12, 8.3), (40, 30.0)]:
        closed = stats.poisson.pmf(S, a) / stats.poisson.cdf(S, a)
        assert theory.erlang_b(S, a) == pytest.approx(closed, rel=1e-10)
    # lost-sales wrapper
    res = theory.lost_sales_base_stock(2.0, 2.0, 5)
    b = theory.erlang_b(5, 4.0)
    assert res["lost_fraction"] == b and res["fill_rate"] == 1 - b
    assert res["avg_on_hand"] == pytest.approx(5 - 4 * (1 - b), rel=1e-14)
    # more stock -> fewer losses
    bs = [theory.erlang_b(S, 4.0) for S in range(15)]
    assert all(x > y for x, y in zip(bs, bs[1:]))


def test_periodic_closed_form_matches_quadrature():
    for lam, L, R, S in [(3.0, 2.0, 3.0, 18), (1.0, 2.0, 2.0, 5), (5.0, 0.0, 1.0, 4)]:
        res = theory.periodic_order_up_to(lam, L, R, S)
        fill_q = integrate.quad(lambda u: stats.poisson.cdf(S - 1, lam * u) if u > 0 else 1.0,
                                L, L + R, epsabs=1e-13, epsrel=1e-12)[0] / R

        def on_hand(u):
            d = np.arange(S)
            return float(np.sum((S - d) * stats.poisson.pmf(d, lam * u))) if u > 0 else float(S)

        oh_q = integrate.quad(on_hand, L, L + R, epsabs=1e-13, epsrel=1e-12)[0] / R
        assert res["fill_rate"] == pytest.approx(fill_q, rel=1e-9, abs=1e-12)
        assert res["avg_on_hand"] == pytest.approx(oh_q, rel=1e-9, abs=1e-12)
        assert res["avg_on_hand"] - res["avg_backorders"] == pytest.approx(S - lam * (L + R / 2))
        assert res["orders_per_day"] == pytest.approx((1 - math.exp(-lam * R)) / R, rel=1e-14)


def test_periodic_small_R_approaches_base_stock():
    for lam, L, S in [(3.0, 2.0, 8), (1.0, 0.5, 1)]:
        per = theory.periodic_order_up_to(lam, L, 1e-7, S)
        bs = theory.base_stock_poisson(lam, L, S)
        for k in ("fill_rate", "avg_on_hand", "avg_backorders"):
            assert per[k] == pytest.approx(bs[k], abs=1e-5)
        assert per["orders_per_day"] == pytest.approx(lam, rel=1e-5)


def test_serial_huge_upstream_stock_is_single_stage():
    lam, L1, L2, S1 = 2.0, 1.0, 3.0, 4
    ser = theory.serial_two_echelon(lam, L1, L2, S1, 200)
    single = theory.base_stock_poisson(lam, L1, S1)
    for k in ("fill_rate", "avg_on_hand", "avg_backorders"):
        assert ser["stage1"][k] == pytest.approx(single[k], abs=1e-12)
    assert ser["stage2"] == theory.base_stock_poisson(lam, L2, 200)


def test_serial_zero_upstream_stock_is_single_stage_with_total_lead_time():
    # S2 = 0: every unit comes straight through, lead time L1 + L2
    lam, L1, L2, S1 = 2.0, 1.0, 3.0, 9
    ser = theory.serial_two_echelon(lam, L1, L2, S1, 0)
    single = theory.base_stock_poisson(lam, L1 + L2, S1)
    for k in ("fill_rate", "avg_on_hand", "avg_backorders"):
        assert ser["stage1"][k] == pytest.approx(single[k], rel=1e-10, abs=1e-12)


def test_eoq_hand_values():
    res = theory.eoq(8.0, 50.0, 0.5)
    assert res["Q"] == 40.0 and res["cost_rate"] == 20.0 and res["cycle"] == 5.0
    assert theory.eoq_cost_rate(8.0, 50.0, 0.5, 40.0) == 20.0
    assert theory.eoq(10, 50, 1)["Q"] == pytest.approx(math.sqrt(1000))
    # the EOQ minimises the continuous cost rate
    q = theory.eoq(3.0, 7.0, 0.2)["Q"]
    assert theory.eoq_cost_rate(3.0, 7.0, 0.2, q) < theory.eoq_cost_rate(3.0, 7.0, 0.2, q * 1.01)
    assert theory.eoq_cost_rate(3.0, 7.0, 0.2, q) < theory.eoq_cost_rate(3.0, 7.0, 0.2, q * 0.99)


def test_deterministic_rq_hand_values():
    # D=8/day, L=1.0625 d (8.5 demands), r=8, Q=40: IN = IP(t-L) - N(t-L,t], IP uniform on 9..48,
    # N(t-L,t] in {8, 9}; min IN = 0 but no customer ever sees 0, E[IN] = 8 + 20.5 - 8.5 = 20.
    res = theory.deterministic_rq(8.0, 1.0625, 8, 40)
    assert res["avg_on_hand"] == pytest.approx(20.0, rel=1e-12)
    assert res["avg_backorders"] == 0.0
    assert res["fill_rate"] == 1.0
    assert res["orders_per_day"] == 0.2
    # r = 7: IN hits -1 for half a demand gap per cycle; one customer in Q waits
    res = theory.deterministic_rq(8.0, 1.0625, 7, 40)
    assert res["fill_rate"] == pytest.approx(39 / 40)
    assert res["avg_backorders"] == pytest.approx(0.5 / 40)
    assert res["avg_on_hand"] - res["avg_backorders"] == pytest.approx(19.0)
    with pytest.raises(ValueError):
        theory.deterministic_rq(8.0, 1.0, 8, 40)


def _deterministic_event_sim(D, L, r, Q, n_cycles=30, warm_cycles=5):
    """Brute-force event-by-event simulation of (r,Q) under deterministic demand."""
    gap = 1.0 / D
    on_hand_net = r + Q  # net inventory
    ip = r + Q
    t = 0.0
    n_dem = (n_cycles + warm_cycles) * Q
    t_start = warm_cycles * Q * gap + 0.3 * gap
    t_end = t_start + n_cycles * Q * gap
    area_pos = area_neg = 0.0
    served = counted = 0
    events = [(k * gap, 1) for k in range(1, n_dem + 2 * Q)]  # (time, kind 1=demand)
    heapq.heapify(events)
    last = t_start
    while events:
        t, kind = heapq.heappop(events)
        if t > t_end:
            break
        if t > t_start:
            area_pos += (t - last) * max(on_hand_net, 0)
            area_neg += (t - last) * max(-on_hand_net, 0)
            last = t
        if kind == 1:
            if t > t_start:
                counted += 1
                served += on_hand_net >= 1
            on_hand_net -= 1
            ip -= 1
            if ip <= r:
                ip += Q
                heapq.heappush(events, (t + L, 0))
        else:
            on_hand_net += Q
    area_pos += (t_end - last) * max(on_hand_net, 0)
    area_neg += (t_end - last) * max(-on_hand_net, 0)
    span = t_end - t_start
    return served / counted, area_pos / span, area_neg / span


@pytest.mark.parametrize("D,L,r,Q", [(8.0, 1.0625, 8, 40), (8.0, 1.0625, 7, 40),
                                     (3.0, 2.2, 2, 5), (5.0, 0.3, -2, 7)])
def test_deterministic_rq_matches_event_simulation(D, L, r, Q):
    fill, oh, bo = _deterministic_event_sim(D, L, r, Q)
    res = theory.deterministic_rq(D, L, r, Q)
    assert fill == pytest.approx(res["fill_rate"], abs=1e-12)
    assert oh == pytest.approx(res["avg_on_hand"], rel=1e-9, abs=1e-9)
    assert bo == pytest.approx(res["avg_backorders"], rel=1e-9, abs=1e-9)


# ==================== stationary Monte-Carlo

@pytest.mark.parametrize("lam,L,r,Q", [(4.0, 2.0, 6, 5), (4.0, 2.0, 5, 7), (1.5, 3.0, 0, 1),
                                       (10.0, 0.5, -1, 3)])
def test_rq_stationary_monte_carlo(lam, L, r, Q):
    rng = np.random.default_rng(12345)
    n = 400_000
    ip = rng.integers(r + 1, r + Q + 1, size=n)
    inv = ip - rng.poisson(lam * L, size=n)
    ex = theory.rq_poisson(lam, L, r, Q)
    assert_close_mc(inv >= 1, ex["fill_rate"], max_se=0.002, label="fill")
    assert_close_mc(np.maximum(inv, 0), ex["avg_on_hand"], max_se=0.01, label="on hand")
    assert_close_mc(np.maximum(-inv, 0), ex["avg_backorders"], max_se=0.01, label="backorders")


@pytest.mark.parametrize("lam,L,R,S", [(3.0, 2.0, 3.0, 18), (1.0, 2.0, 2.0, 5)])
def test_periodic_stationary_monte_carlo(lam, L, R, S):
    rng = np.random.default_rng(777)
    n = 400_000
    u = rng.uniform(L, L + R, size=n)
    inv = S - rng.poisson(lam * u)
    ex = theory.periodic_order_up_to(lam, L, R, S)
    assert_close_mc(inv >= 1, ex["fill_rate"], max_se=0.002, label="fill")
    assert_close_mc(np.maximum(inv, 0), ex["avg_on_hand"], max_se=0.01, label="on hand")
    assert_close_mc(np.maximum(-inv, 0), ex["avg_backorders"], max_se=0.01, label="backorders")
    # a review orders iff there was demand during the last R days
    orders = rng.poisson(lam * R, size=n) > 0
    assert_close_mc(orders / R, ex["orders_per_day"], max_se=0.002, label="orders/day")


def test_serial_stationary_monte_carlo():
    lam, L1, L2, S1, S2 = 2.0, 1.0, 3.0, 4, 6
    rng = np.random.default_rng(99)
    n = 400_000
    b2 = np.maximum(rng.poisson(lam * L2, size=n) - S2, 0)
    in1 = S1 - b2 - rng.poisson(lam * L1, size=n)
    ex = theory.serial_two_echelon(lam, L1, L2, S1, S2)["stage1"]
    assert_close_mc(in1 >= 1, ex["fill_rate"], max_se=0.002, label="fill")
    assert_close_mc(np.maximum(in1, 0), ex["avg_on_hand"], max_se=0.01, label="on hand")
    assert_close_mc(np.maximum(-in1, 0), ex["avg_backorders"], max_se=0.01, label="backorders")


# ==================== sample-path simulations

def _time_average(jump_times, jumps, start_level, t0, t1):
    """Time averages of level^+ and level^- over [t0, t1] for a pure-jump path."""
    order = np.argsort(jump_times, kind="stable")
    times, jumps = jump_times[order], jumps[order]
    level = start_level + np.concatenate([[0], np.cumsum(jumps)])  # level after k jumps
    edges = np.concatenate([[t0], np.clip(times, t0, t1), [t1]])
    dt = np.diff(edges)
    return (np.sum(dt * np.maximum(level, 0)) / (t1 - t0),
            np.sum(dt * np.maximum(-level, 0)) / (t1 - t0))


def _rq_sample_path(rng, lam, L, r, Q, warm, horizon):
    n = rng.poisson(lam * horizon * 1.2) + 50
    t = np.cumsum(rng.exponential(1 / lam, size=n))
    t = t[t <= horizon]
    # IP starts at r+Q with r+Q on hand; the k-th order is placed at demand number k*Q
    orders_at = t[Q - 1::Q]
    arrivals = orders_at + L
    in_window = (t > warm)
    # net inventory just before demand n (1-based): r+Q + Q*#arrivals<=t_n - (n-1)
    before = r + Q + Q * np.searchsorted(arrivals, t, side="right") - np.arange(len(t))
    fill = np.mean(before[in_window] >= 1)
    jt = np.concatenate([t, arrivals])
    jv = np.concatenate([-np.ones(len(t)), Q * np.ones(len(arrivals))])
    # start the path at the warm-up time
    lvl0 = r + Q + np.sum(jv[jt <= warm])
    keep = (jt > warm) & (jt <= horizon)
    oh, bo = _time_average(jt[keep], jv[keep], lvl0, warm, horizon)
    n_orders = np.sum((orders_at > warm) & (orders_at <= horizon))
    return fill, oh, bo, n_orders / (horizon - warm)


@pytest.mark.parametrize("lam,L,r,Q", [(4.0, 2.0, 6, 5), (2.0, 1.5, 1, 1)])
def test_rq_sample_path_simulation(lam, L, r, Q):
    rng = np.random.default_rng(2024)
    reps = np.array([_rq_sample_path(rng, lam, L, r, Q, 50.0, 2050.0) for _ in range(30)])
    ex = theory.rq_poisson(lam, L, r, Q)
    assert_close_mc(reps[:, 0], ex["fill_rate"], max_se=0.005, label="fill")
    assert_close_mc(reps[:, 1], ex["avg_on_hand"], max_se=0.03, label="on hand")
    assert_close_mc(reps[:, 2], ex["avg_backorders"], max_se=0.03, label="backorders")
    assert_close_mc(reps[:, 3], ex["orders_per_day"], max_se=0.01, label="orders/day")


def _serial_sample_path(rng, lam, L1, L2, S1, S2, warm, horizon):
    n = rng.poisson(lam * horizon * 1.2) + 50
    t = np.cumsum(rng.exponential(1 / lam, size=n))
    t = t[t <= horizon]
    N = len(t)
    # stage 2: unit for order n (n > S2) becomes available at t_{n-S2} + L2; ships FIFO
    avail2 = np.full(N, -np.inf)
    avail2[S2:] = t[:N - S2] + L2
    ship = np.maximum(t, avail2)
    arr1 = ship + L1  # arrival of order n at stage 1 (increasing in n)
    # stage 1: demand n (n > S1) is filled from stock iff unit n arrived before t_n
    avail1 = np.full(N, -np.inf)
    avail1[S1:] = arr1[:N - S1]
    w = t > warm
    fill1 = np.mean(avail1[w] < t[w])
    fill2 = np.mean(avail2[w] < t[w])

    def levels(arrivals, start):
        jt = np.concatenate([t, arrivals])
        jv = np.concatenate([-np.ones(N), np.ones(len(arrivals))])
        lvl0 = start + np.sum(jv[jt <= warm])
        keep = (jt > warm) & (jt <= horizon)
        return _time_average(jt[keep], jv[keep], lvl0, warm, horizon)

    oh1, bo1 = levels(arr1, S1)
    oh2, bo2 = levels(t + L2, S2)
    return fill1, oh1, bo1, fill2, oh2, bo2


def test_serial_sample_path_simulation():
    lam, L1, L2, S1, S2 = 2.0, 1.0, 3.0, 4, 6
    rng = np.random.default_rng(31)
    reps = np.array([_serial_sample_path(rng, lam, L1, L2, S1, S2, 50.0, 2050.0)
                     for _ in range(30)])
    ex = theory.serial_two_echelon(lam, L1, L2, S1, S2)
    for i, stage in ((0, "stage1"), (3, "stage2")):
        e = ex[stage]
        assert_close_mc(reps[:, i], e["fill_rate"], max_se=0.005, label=f"{stage} fill")
        assert_close_mc(reps[:, i + 1], e["avg_on_hand"], max_se=0.03, label=f"{stage} on hand")
        assert_close_mc(reps[:, i + 2], e["avg_backorders"], max_se=0.03,
                        label=f"{stage} backorders")


def _loss_system_run(rng, lam, S, draw_lead, n_arrivals, n_warm):
    """M/G/S/S loss system = lost-sales base stock; returns (lost fraction, on hand seen)."""
    gaps = rng.exponential(1 / lam, size=n_arrivals)
    leads = draw_lead(rng, n_arrivals)
    busy = []  # heap of completion times (replenishments outstanding)
    t = 0.0
    lost = 0
    on_hand_sum = 0
    for i in range(n_arrivals):
        t += gaps[i]
        while busy and busy[0] <= t:
            heapq.heappop(busy)
        if i >= n_warm:
            on_hand_sum += S - len(busy)  # PASTA: arrivals see time averages
        if len(busy) >= S:
            lost += i >= n_warm
        else:
            heapq.heappush(busy, t + leads[i])
    m = n_arrivals - n_warm
    return lost / m, on_hand_sum / m


@pytest.mark.parametrize("name,draw", [
    ("gamma cv=1", lambda rng, n: rng.gamma(1.0, 2.0, size=n)),
    ("gamma cv=2", lambda rng, n: rng.gamma(0.25, 8.0, size=n)),
    ("uniform 1..3", lambda rng, n: rng.uniform(1.0, 3.0, size=n)),
])
def test_lost_sales_insensitivity_simulation(name, draw):
    lam, S = 2.0, 5  # mean lead time 2 for every distribution -> a = 4
    rng = np.random.default_rng(5)
    reps = np.array([_loss_system_run(rng, lam, S, draw, 6000, 500) for _ in range(20)])
    ex = theory.lost_sales_base_stock(lam, 2.0, S)
    assert_close_mc(reps[:, 0], ex["lost_fraction"], max_se=0.005, label=f"{name} lost")
    assert_close_mc(reps[:, 1], ex["avg_on_hand"], max_se=0.03, label=f"{name} on hand")
