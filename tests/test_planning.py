"""Planner helpers (simulator/planning.py, ``simulator calc`` and ``simulator abc``):
the calculators against hand computations, the EOQ policy agreeing with them, ABC on a
hand-made scenario, and the command line's exit codes and messages."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from simulator import planning
from simulator.cli import main
from simulator.model import Network
from simulator.scenario import load

Z95 = 1.6448536269514722  # Phi^-1(0.95), from tables
Z90 = 1.2815515655446004  # Phi^-1(0.90)


# ----------------------------------------------------------------------------- calculators
def test_eoq_by_hand_per_day_and_per_year():
    # D = 1000 / year, K = 50, h = 2 / unit / year: sqrt(2 * 1000 * 50 / 2) = 223.607
    want = math.sqrt(50_000.0)
    assert planning.eoq(1000 / 365, 50, 2 / 365) == pytest.approx(want, rel=1e-12)
    assert planning.eoq(1000, 50, 2) == pytest.approx(223.60679774997897, rel=1e-12)
    assert planning.eoq(4, 50, 0.25) == pytest.approx(40.0, rel=1e-12)  # sqrt(1600)


def test_safety_stock_by_hand():
    # V = 10 units^2/day, E L = 6, Var L = 9, D = 4, review 2: T = 8,
    # sigma^2 = 10 * 8 + 16 * 9 = 224
    got = planning.safety_stock(0.95, 10.0, 6.0, 9.0, demand_rate=4.0, review_period=2.0)
    assert got == pytest.approx(Z95 * math.sqrt(224.0), rel=1e-12)
    # fixed lead time: z sqrt(L V) = 1.2816 * sqrt(5 * 4) = 5.7313
    assert planning.safety_stock(0.90, 4.0, 5.0) == pytest.approx(Z90 * math.sqrt(20.0))
    assert planning.safety_stock(0.5, 4.0, 5.0) == pytest.approx(0.0, abs=1e-12)


def test_reorder_point_by_hand():
    # mean demand over T = 8 days: 32; plus the safety stock above
    got = planning.reorder_point(4.0, 0.95, 10.0, 6.0, 9.0, review_period=2.0)
    assert got == pytest.approx(32 + Z95 * math.sqrt(224.0), rel=1e-12)


def _single(policy: dict[str, Any]) -> dict[str, Any]:
    # Poisson rate 2, sizes 1 or 3 (E S = 2, E S^2 = 5): D = 4, V = 10;
    # lead time gamma mean 6, cv 0.5: Var L = 9
    return {
        "name": "planning", "horizon": 10,
        "products": [{"id": "p", "holding_cost": 0.25, "ordering_cost": 50}],
        "suppliers": [{"id": "sup", "lead_time": {"dist": "gamma", "mean": 6, "cv": 0.5}}],
        "warehouses": [{"id": "w", "inventory": {"p": {"source": "sup", "policy": policy}}}],
        "customers": [{"id": "c", "warehouse": "w", "demand": {
            "p": {"rate": 2, "size": {"dist": "empirical", "values": [1, 3]}}}}],
    }


@pytest.mark.parametrize(("level", "review"), [(0.95, 0.0), (0.9, 3.0)])
def test_eoq_policy_uses_the_calculators(level, review):
    pol = Network(load(_single({"type": "eoq", "service_level": level,
                                "review_period": review})), replication=0, seed=0) \
        .stock[("w", "p")].policy
    t = 6.0 + review
    assert pol.Q == round(planning.eoq(4.0, 50.0, 0.25)) == 40.0
    assert pol.r - 4.0 * t == pytest.approx(
        planning.safety_stock(level, 10.0, 6.0, 9.0, demand_rate=4.0, review_period=review),
        rel=1e-12)
    assert pol.r == pytest.approx(planning.reorder_point(4.0, level, 10.0, 6.0, 9.0, review))


@pytest.mark.parametrize(("call", "name"), [
    (lambda: planning.eoq(0, 50, 1), "demand_per_day"),
    (lambda: planning.eoq(10, -1, 1), "ordering_cost"),
    (lambda: planning.eoq(10, 50, math.nan), "holding_cost_per_day"),
    (lambda: planning.eoq(10, 50, "x"), "holding_cost_per_day"),
    (lambda: planning.safety_stock(1.0, 4, 5), "service_level"),
    (lambda: planning.safety_stock(0.0, 4, 5), "service_level"),
    (lambda: planning.safety_stock(0.9, -4, 5), "demand_var_per_day"),
    (lambda: planning.safety_stock(0.9, 4, -5), "lead_time_mean"),
    (lambda: planning.safety_stock(0.9, 4, 5, lead_time_var=2), "demand_rate"),
    (lambda: planning.reorder_point(-1, 0.9, 4, 5), "demand_rate"),
    (lambda: planning.safety_stock(0.9, 4, 5, review_period=math.inf), "review_period"),
])
def test_bad_values_raise_value_errors_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"^{name} ") as info:
        call()
    assert info.value.name == name


# --------------------------------------------------------------------------------------- ABC
def _abc_scenario(costs: list[float]) -> dict[str, Any]:
    # five products with daily rates 5, 3, 1, 0.6, 0.4 and a sixth with no customer
    ids = ["p1", "p2", "p3", "p4", "p5", "p6"]
    return {
        "name": "abc", "horizon": 10,
        "products": [{"id": i, "holding_cost": h} for i, h in zip(ids, costs)],
        "suppliers": [{"id": "sup", "lead_time": 1}],
        "warehouses": [{"id": "w", "inventory": {
            i: {"source": "sup", "policy": {"type": "sS", "s": 1, "S": 5}} for i in ids}}],
        "customers": [
            {"id": "c1", "warehouse": "w", "demand": {"p1": {"rate": 3}, "p2": {"rate": 3},
                                                      "p5": {"rate": 0.4}}},
            {"id": "c2", "warehouse": "w", "demand": {"p1": {"rate": 2}, "p3": {"rate": 1},
                                                      "p4": {"rate": 0.6}}},
        ],
    }


def test_abc_by_annual_demand_value():
    # values per day with holding costs 1, 1, 1, 1, 1: 5, 3, 1, 0.6, 0.4 of 10;
    # cumulative 0.5, 0.8, 0.9, 0.96, 1.0 -> A, A, B, C, C; p6 (no demand) C
    table = planning.abc(_abc_scenario([1, 1, 1, 1, 1, 1]))
    assert list(table["product"]) == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert list(table["class"]) == ["A", "A", "B", "C", "C", "C"]
    assert table["annual_units"].tolist() == pytest.approx([1825, 1095, 365, 219, 146, 0])
    assert table["cumulative_share"].tolist() == pytest.approx([0.5, 0.8, 0.9, 0.96, 1, 1])


def test_abc_ranks_by_value_not_units():
    # holding cost (the unit-value proxy) 20 on p5: values 5, 3, 1, 0.6, 8 of 17.6
    table = planning.abc(_abc_scenario([1, 1, 1, 1, 20, 1]))
    assert list(table["product"][:3]) == ["p5", "p1", "p2"]
    assert table["annual_value"].iloc[0] == pytest.approx(0.4 * 365 * 20)
    assert dict(zip(table["product"], table["class"]))["p5"] == "A"


def test_abc_unit_cost_is_the_value_when_given():
    # holding costs would put p5 first (as above); unit costs 1 everywhere but 0.1 on p1 put
    # p2 first: values 0.5, 3, 1, 0.6, 0.4 of 5.5
    sc = _abc_scenario([1, 1, 1, 1, 20, 1])
    for prod, cost in zip(sc["products"], [0.1, 1, 1, 1, 1, 1]):
        prod["unit_cost"] = cost
    table = planning.abc(sc)
    assert list(table["product"][:3]) == ["p2", "p3", "p4"]
    assert table["unit_value"].tolist()[:2] == [1.0, 1.0]


def test_abc_thresholds_and_zero_costs():
    # no holding costs: units count 1 each (ranking by units); a = 0.4 leaves only p1 in A
    # (it alone exceeds 0.4, and the first product is always A); b = 0.85 closes B at p2
    table = planning.abc(_abc_scenario([0, 0, 0, 0, 0, 0]), a=0.4, b=0.85)
    assert list(table["class"]) == ["A", "B", "C", "C", "C", "C"]
    assert (table["unit_value"] == 1.0).all()


@pytest.mark.parametrize(("a", "b", "name"), [(0.9, 0.8, "b"), (0, 0.9, "a"), (0.8, 1.2, "b"),
                                              (1.0, 1.0, "a")])
def test_abc_rejects_bad_shares(a, b, name):
    with pytest.raises(ValueError) as info:
        planning.abc(_abc_scenario([1] * 6), a=a, b=b)
    assert info.value.name == name


# ------------------------------------------------------------------------------ command line
def test_cli_eoq_prints_result_and_formula(capsys):
    assert main(["calc", "eoq", "--demand", "1000", "--ordering-cost", "50",
                 "--holding-cost", "2"]) == 0
    out = capsys.readouterr().out
    assert "sqrt(2 D K / h)" in out and "223.607 units" in out


def test_cli_reorder_point(capsys):
    assert main(["calc", "reorder-point", "--service-level", "0.95", "--demand", "4",
                 "--demand-var", "10", "--lead-time", "6", "--lead-time-var", "9",
                 "--review-period", "2"]) == 0
    out = capsys.readouterr().out
    assert f"{32 + Z95 * math.sqrt(224):.6g} units" in out
    assert f"{Z95 * math.sqrt(224):.6g} units" in out  # the safety stock line


@pytest.mark.parametrize(("argv", "flag"), [
    (["calc", "eoq", "--demand", "-1", "--ordering-cost", "5", "--holding-cost", "1"],
     "--demand"),
    (["calc", "eoq", "--demand", "1", "--ordering-cost", "5", "--holding-cost", "0"],
     "--holding-cost"),
    (["calc", "safety-stock", "--service-level", "1.5", "--demand-var", "4",
      "--lead-time", "5"], "--service-level"),
    (["calc", "safety-stock", "--service-level", "0.9", "--demand-var", "4",
      "--lead-time", "5", "--lead-time-var", "1"], "--demand"),
    (["calc", "reorder-point", "--service-level", "0.9", "--demand-var", "4",
      "--lead-time", "5"], "--demand"),
    (["calc"], "calc"),
])
def test_cli_bad_values_exit_2_naming_the_flag(argv, flag, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"<command line>: {flag}: ")


def test_cli_abc(tmp_path: Path, capsys):
    import yaml

    path = tmp_path / "abc.yaml"
    path.write_text(yaml.safe_dump(_abc_scenario([1] * 6)), encoding="utf-8")
    assert main(["abc", str(path)]) == 0
    rows = [ln.split() for ln in capsys.readouterr().out.splitlines()[1:]]
    assert [(r[0], r[-1]) for r in rows] == [("p1", "A"), ("p2", "A"), ("p3", "B"),
                                             ("p4", "C"), ("p5", "C"), ("p6", "C")]
    assert main(["abc", str(path), "--a", "0.9", "--b", "0.5"]) == 2
    assert capsys.readouterr().err.startswith("<command line>: --b: ")
    assert main(["abc", str(tmp_path / "missing.yaml")]) == 2
