"""Derived policy parameters against values computed by hand, with nonzero variance everywhere.

THEORY.md / policies/classic.py: with D the demand rate (units/day), V the demand variance rate
(units^2/day), L the lead time (days, mean E L, variance Var L) and R the review period,

* ``Q = round(sqrt(2 D K / h))``;
* ``r = mu + z sigma`` with ``mu = D (E L + R)`` and
  ``sigma^2 = V (E L + R) + D^2 Var L`` (the random-lead-time formula), z = Phi^-1(service);
* compound-Poisson demand (rate lam, sizes S): ``D = lam E S``, ``V = lam E[S^2]``
  (= lam (Var S + (E S)^2)); fixed gaps 1/lam: ``V = lam Var S`` (only the sizes vary);
* an upstream stock point sees the echelon demand: D and V summed over every stock point
  below it (and its own customers).

Every expected number below is worked out in the comments from the scenario's stated
parameters; only z is taken from scipy (norm.ppf). The one existing reorder-point test uses
deterministic demand and lead times, where the safety stock is 0 and sign or variance mistakes
cannot show.
"""
from __future__ import annotations

import math
from typing import Any

import pytest
from scipy.stats import norm

from policies.base import PolicyContext
from policies.classic import eoq_reorder_point
from simulator.model import Network
from simulator.scenario import load

Z95 = float(norm.ppf(0.95))  # 1.6448536...
Z90 = float(norm.ppf(0.90))  # 1.2815515...


def single(policy: dict[str, Any], demand: dict[str, Any], lead_time: Any,
           K: float = 50.0, h: float = 0.25) -> dict[str, Any]:
    return {
        "name": "derived",
        "horizon": 10,
        "products": [{"id": "p", "holding_cost": h, "ordering_cost": K, "backorder_cost": 1}],
        "suppliers": [{"id": "sup", "lead_time": lead_time}],
        "warehouses": [{"id": "w", "inventory": {"p": {"source": "sup", "policy": policy}}}],
        "customers": [{"id": "c", "warehouse": "w", "demand": {"p": demand}}],
    }


def built(data: dict[str, Any]) -> Network:
    return Network(load(data), replication=0, seed=0)


# Case A: compound Poisson, lam = 2/day, sizes 1 or 3 with equal weights:
#   E S = 2, E S^2 = (1 + 9) / 2 = 5 (Var S = 1) -> D = 2 * 2 = 4, V = 2 * 5 = 10.
# Lead time gamma mean 6, cv 0.5 -> Var L = (0.5 * 6)^2 = 9.
# K = 50, h = 0.25 -> Q = sqrt(2 * 4 * 50 / 0.25) = sqrt(1600) = 40.
COMPOUND = {"rate": 2, "size": {"dist": "empirical", "values": [1, 3]}}
GAMMA_LT = {"dist": "gamma", "mean": 6, "cv": 0.5}


def test_compound_poisson_context():
    ctx = built(single({"type": "eoq"}, COMPOUND, GAMMA_LT)).contexts[("w", "p")]
    assert ctx.demand_rate == pytest.approx(4.0, rel=1e-12)
    assert ctx.demand_var_rate == pytest.approx(10.0, rel=1e-12)  # not lam Var S = 2
    assert ctx.lead_time_mean == pytest.approx(6.0, rel=1e-12)
    assert ctx.lead_time_var == pytest.approx(9.0, rel=1e-12)
    assert (ctx.holding_cost, ctx.ordering_cost) == (0.25, 50.0)


def test_eoq_continuous_review_random_lead_time():
    # t = E L = 6: mu = 4 * 6 = 24; sigma^2 = 10 * 6 + 4^2 * 9 = 60 + 144 = 204
    pol = built(single({"type": "eoq"}, COMPOUND, GAMMA_LT)).stock[("w", "p")].policy
    assert pol.Q == 40.0
    assert pol.r == pytest.approx(24 + Z95 * math.sqrt(204), rel=1e-12)  # 47.4937...


def test_eoq_periodic_review_adds_the_review_period():
    # R = 2: t = 6 + 2 = 8: mu = 32; sigma^2 = 10 * 8 + 16 * 9 = 224; service 0.9
    policy = {"type": "eoq", "review_period": 2, "service_level": 0.9}
    pol = built(single(policy, COMPOUND, GAMMA_LT)).stock[("w", "p")].policy
    assert pol.Q == 40.0
    assert pol.r == pytest.approx(32 + Z90 * math.sqrt(224), rel=1e-12)  # 51.18...


def test_eoq_service_below_half_puts_r_below_the_mean():
    # service 0.2: z = Phi^-1(0.2) < 0, so r = 24 - 0.8416 * sqrt(204) < mu = 24
    pol = built(single({"type": "eoq", "service_level": 0.2}, COMPOUND, GAMMA_LT)).stock[
        ("w", "p")].policy
    assert pol.r == pytest.approx(24 + float(norm.ppf(0.2)) * math.sqrt(204), rel=1e-12)
    assert pol.r < 24


def test_fixed_gaps_only_the_sizes_vary():
    # Deterministic arrivals, 3 a day; sizes gamma mean 2 cv 0.5 (Var S = 1):
    #   D = 3 * 2 = 6, V = 3 * 1 = 3.
    # Lead time uniform [2, 4]: E L = 3, Var L = 2^2 / 12 = 1/3.
    # K = 12, h = 1: Q = sqrt(2 * 6 * 12 / 1) = sqrt(144) = 12.
    # r: mu = 18, sigma^2 = 3 * 3 + 36 / 3 = 21.
    demand = {"rate": 3, "size": {"dist": "gamma", "mean": 2, "cv": 0.5},
              "arrivals": "deterministic"}
    net = built(single({"type": "eoq"}, demand, {"dist": "uniform", "low": 2, "high": 4},
                       K=12, h=1))
    ctx = net.contexts[("w", "p")]
    assert (ctx.demand_rate, ctx.demand_var_rate) == (pytest.approx(6.0), pytest.approx(3.0))
    assert (ctx.lead_time_mean, ctx.lead_time_var) == (pytest.approx(3.0),
                                                       pytest.approx(1 / 3))
    pol = net.stock[("w", "p")].policy
    assert pol.Q == 12.0
    assert pol.r == pytest.approx(18 + Z95 * math.sqrt(21), rel=1e-12)


def test_normal_lead_time_uses_truncated_moments():
    # Lead time normal mean 1, std 2, truncated at 0: alpha = -0.5,
    # lam = phi(0.5) / (1 - Phi(-0.5)) = 0.35206533 / 0.69146246 = 0.50916044;
    # E L = 1 + 2 lam = 2.0183209;
    # Var L = 4 (1 + alpha lam - lam^2) = 4 (1 - 0.25458022 - 0.25924436) = 1.9447017
    ctx = built(single({"type": "eoq"}, COMPOUND,
                       {"dist": "normal", "mean": 1, "std": 2})).contexts[("w", "p")]
    assert ctx.lead_time_mean == pytest.approx(2.0183209, rel=1e-7)
    assert ctx.lead_time_var == pytest.approx(1.9447017, rel=1e-7)


def test_reorder_point_formula_directly():
    # the same numbers as case A, on the function itself
    ctx = PolicyContext(warehouse="w", product="p", demand_rate=4.0, demand_var_rate=10.0,
                        lead_time_mean=6.0, lead_time_var=9.0)
    assert eoq_reorder_point(ctx, 0.95, 0.0) == pytest.approx(24 + Z95 * math.sqrt(204))
    assert eoq_reorder_point(ctx, 0.95, 2.0) == pytest.approx(32 + Z95 * math.sqrt(224))


# --------------------------------------------------------------------------- echelon demand
def echelon() -> dict[str, Any]:
    """sup --gamma(4, cv 0.25)--> dc (eoq) --1--> s1 (sS) --0.5--> kiosk (sS)
                                         --2--> s2 (sS)
    with customers at the kiosk, s1 (two), s2 and the dc itself."""
    ss = {"type": "sS", "s": 5, "S": 20}
    return {
        "name": "echelon",
        "horizon": 10,
        "products": [{"id": "p", "holding_cost": 0.1, "ordering_cost": 50}],
        "suppliers": [{"id": "sup", "lead_time": {"dist": "gamma", "mean": 4, "cv": 0.25}}],
        "warehouses": [
            {"id": "dc", "inventory": {"p": {"source": "sup", "policy": {
                "type": "eoq", "service_level": 0.9}}}},
            {"id": "s1", "inventory": {"p": {"source": "dc", "lead_time": 1, "policy": ss}}},
            {"id": "kiosk", "inventory": {"p": {"source": "s1", "lead_time": 0.5,
                                                "policy": ss}}},
            {"id": "s2", "inventory": {"p": {"source": "dc", "lead_time": 2, "policy": ss}}},
        ],
        "customers": [
            # kiosk: Poisson 1/day, size 1: D 1, V 1
            {"id": "k", "warehouse": "kiosk", "demand": {"p": {"rate": 1}}},
            # s1: Poisson 2/day size 1 (D 2, V 2) + Poisson 1/day sizes {1, 3} (D 2, V 5)
            {"id": "a", "warehouse": "s1", "demand": {"p": {"rate": 2}}},
            {"id": "b", "warehouse": "s1",
             "demand": {"p": {"rate": 1, "size": {"dist": "empirical", "values": [1, 3]}}}},
            # s2: Poisson 3/day, size 2: D 6, V 3 * 4 = 12
            {"id": "c", "warehouse": "s2", "demand": {"p": {"rate": 3, "size": 2}}},
            # dc's own: every 2 days (fixed gaps) 4 units: D 2, V 0
            {"id": "d", "warehouse": "dc",
             "demand": {"p": {"rate": 0.5, "size": 4, "arrivals": "deterministic"}}},
        ],
    }


def test_echelon_demand_sums_every_stock_point_below():
    ctx = built(echelon()).contexts
    # kiosk: D 1, V 1.  s1: own 2 + 2 = 4 plus the kiosk's 1 -> D 5; V 2 + 5 + 1 = 8.
    # s2: D 6, V 12.  dc: own 2 + s1 5 + s2 6 -> D 13; V 0 + 8 + 12 = 20.
    expected = {"kiosk": (1, 1), "s1": (5, 8), "s2": (6, 12), "dc": (13, 20)}
    got = {w: (ctx[(w, "p")].demand_rate, ctx[(w, "p")].demand_var_rate) for w in expected}
    assert got == {w: (pytest.approx(m), pytest.approx(v)) for w, (m, v) in expected.items()}
    # lead times: the stores' own transit times (constants), the dc's from its supplier
    lts = {w: (ctx[(w, "p")].lead_time_mean, ctx[(w, "p")].lead_time_var) for w in expected}
    assert lts == {"kiosk": (0.5, 0.0), "s1": (1.0, 0.0), "s2": (2.0, 0.0),
                   "dc": (pytest.approx(4.0), pytest.approx(1.0))}  # Var L = (0.25 * 4)^2


def test_echelon_eoq_at_the_dc():
    # Q = sqrt(2 * 13 * 50 / 0.1) = sqrt(13000) = 114.02 -> 114
    # r: t = 4, mu = 13 * 4 = 52, sigma^2 = 20 * 4 + 13^2 * 1 = 249; service 0.9
    pol = built(echelon()).stock[("dc", "p")].policy
    assert pol.Q == 114.0
    assert pol.r == pytest.approx(52 + Z90 * math.sqrt(249), rel=1e-12)  # 72.22...


@pytest.mark.parametrize("given, expected", [
    ({"r": 3}, {"Q": 40.0, "r": 3.0}),        # Q derived (case A: 40), r as given
    ({"Q": 12}, {"Q": 12.0, "r": 24 + Z95 * math.sqrt(204)}),  # r derived (case A)
    ({"Q": 12, "r": -2}, {"Q": 12.0, "r": -2.0}),  # nothing derived
])
def test_eoq_keeps_what_the_scenario_gives(given, expected):
    # eoq derives only what is missing: a given r or Q is used as is (and reported as used)
    pol = built(single({"type": "eoq", **given}, COMPOUND, GAMMA_LT)).stock[("w", "p")].policy
    assert (pol.Q, pol.r) == (expected["Q"], pytest.approx(expected["r"], rel=1e-12))
    assert pol.resolved()["Q"] == expected["Q"]
    assert pol.resolved()["r"] == pytest.approx(expected["r"], rel=1e-12)
