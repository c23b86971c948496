"""ABC classes in scenarios (``abc:`` per-class defaults) and in results (``class`` column).

The hand-checked scenario: products a, b, c with unit_cost 100, 10, 1 and 5 units a day each,
so annual values 182,500, 18,250 and 1,825 (shares 0.9009, 0.0901, 0.0090; cumulative
0.9009, 0.9910, 1.0). With a = 0.8, b = 0.95: a is A (the first product always is), b and c
are C (cumulative above 0.95). With b = 0.995: b is B.
"""
from __future__ import annotations

import copy
from typing import Any

import pytest
from helpers_scenarios import line_of, write_scenario

import simulator
from simulator import planning
from simulator.errors import UserError
from simulator.experiment.keys import apply_overrides
from simulator.scenario import load

BASE: dict[str, Any] = {
    "name": "abc", "horizon": 30, "replications": 2,
    "products": [{"id": p, "unit_cost": v, "holding_cost": 0.1, "ordering_cost": 10}
                 for p, v in (("a", 100), ("b", 10), ("c", 1))],
    "suppliers": [{"id": "s", "lead_time": 2}],
    "abc": {"b": 0.995, "classes": {
        "A": {"policy": {"type": "eoq"}, "service_level": 0.99},
        "B": {"policy": {"type": "sS", "s": 5, "S": 20}, "service_level": 0.9},
        "C": {"policy": {"type": "base_stock", "S": 3}}}},
    "warehouses": [{"id": "dc", "inventory": {"a": {"source": "s"}, "b": {"source": "s"},
                                              "c": {"source": "s"}}}],
    "customers": [{"id": "x", "warehouse": "dc",
                   "demand": {p: {"rate": 5} for p in ("a", "b", "c")}}],
}


def scenario(**changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    d.update(changes)
    return d


def policy(sc: Any, pid: str) -> dict[str, Any]:
    return dict(sc.warehouses[0].inventory[pid].policy)


def test_classes_by_annual_demand_value() -> None:
    assert planning.classes(load(scenario()), 0.8, 0.995) == {"a": "A", "b": "B", "c": "C"}
    assert planning.classes(load(scenario()), 0.8, 0.95) == {"a": "A", "b": "C", "c": "C"}


def test_an_entry_without_policy_takes_its_class_policy_and_service_level() -> None:
    sc = load(scenario())
    assert policy(sc, "a")["type"] == "eoq" and policy(sc, "a")["service_level"] == 0.99
    assert policy(sc, "b")["type"] == "sS" and policy(sc, "b")["service_level"] == 0.9
    assert policy(sc, "c")["type"] == "base_stock" and policy(sc, "c")["service_level"] == 0.95
    assert sc.warehouses[0].inventory["c"].initial == 3  # the class policy's level


def test_class_service_level_fills_an_own_policy_that_omits_it() -> None:
    d = scenario()
    d["warehouses"][0]["inventory"]["a"]["policy"] = {"type": "eoq", "Q": 7}
    d["warehouses"][0]["inventory"]["b"]["policy"] = {"type": "eoq", "service_level": 0.6}
    sc = load(d)
    assert policy(sc, "a") == {**policy(load(scenario()), "a"), "Q": 7}
    assert policy(sc, "a")["service_level"] == 0.99   # class A's, the policy omits it
    assert policy(sc, "b")["service_level"] == 0.6    # written: wins over class B's 0.9


def test_explicit_policy_and_initial_win() -> None:
    d = scenario()
    d["warehouses"][0]["inventory"]["c"].update(policy={"type": "sS", "s": 1, "S": 9},
                                                initial=4)
    sc = load(d)
    assert policy(sc, "c")["S"] == 9 and sc.warehouses[0].inventory["c"].initial == 4


def test_defaults_change_the_run() -> None:
    """Class C's base stock 3 vs 30 shows in c's average on hand (not only in the data)."""
    low = simulator.run(load(scenario())).metrics
    d = scenario()
    d["abc"]["classes"]["C"]["policy"]["S"] = 30
    high = simulator.run(load(d)).metrics
    on_hand = {m: t.set_index(["replication", "product"])["avg_on_hand"]
               for m, t in (("low", low), ("high", high))}
    assert (on_hand["high"].xs("c", level=1) > on_hand["low"].xs("c", level=1) + 20).all()


def test_saved_scenario_reloads_and_a_class_override_reaches_its_products() -> None:
    sc = load(scenario())
    again = load(sc.to_dict())
    for pid in "abc":
        assert policy(again, pid) == policy(sc, pid)
        assert again.warehouses[0].inventory[pid].initial == \
            sc.warehouses[0].inventory[pid].initial
    new = apply_overrides(sc, {"abc.classes.A.service_level": 0.8,
                               "abc.classes.C.policy.S": 6})
    assert policy(new, "a")["service_level"] == 0.8
    assert policy(new, "c")["S"] == 6 and new.warehouses[0].inventory["c"].initial == 6


def test_class_column_in_metrics_summary_and_table(tmp_path: Any) -> None:
    res = simulator.run(load(scenario()))
    for table in (res.metrics, res.summary):
        cols = list(table.columns)
        assert cols[cols.index("product") + 1] == "class"
        assert dict(zip(table["product"], table["class"], strict=True)) == \
            {"a": "A", "b": "B", "c": "C"}
    assert "class" in res.table()
    folder = res.save(tmp_path / "out")
    assert "class" in (folder / "metrics.csv").read_text().splitlines()[0].split(",")


def test_no_abc_section_no_class_column() -> None:
    d = scenario()
    del d["abc"]
    for pid in "abc":
        d["warehouses"][0]["inventory"][pid]["policy"] = {"type": "base_stock", "S": 3}
    res = simulator.run(load(d))
    assert "class" not in res.metrics.columns and "class" not in res.summary.columns


YAML = """\
name: abc-errors
horizon: 10
products:
  - id: a
    unit_cost: 5
    holding_cost: 1
  - id: b
    holding_cost: 1
suppliers:
  - id: s
abc:
  a: 0.7
  b: 0.9
  classes:
    A:
      policy: {type: base_stock, S: 4}
warehouses:
  - id: dc
    inventory:
      a:
        source: s
      b:
        source: s
customers:
  - id: x
    warehouse: dc
    demand:
      a: {rate: 1}
      b: {rate: 1}
"""


def problems(tmp_path: Any, text: str) -> str:
    path = write_scenario(tmp_path, text)
    with pytest.raises(UserError) as err:
        load(str(path))
    return str(err.value).replace(str(path), "FILE")


def test_class_without_policy_is_reported_at_the_entry(tmp_path: Any) -> None:
    # b has no unit_cost: value 0, class C, and class C gives no policy
    out = problems(tmp_path, YAML)
    assert f"FILE:{line_of(YAML, 'b:')}: warehouses.0.inventory.b: no policy" in out
    assert "abc.classes.C.policy (product b is class C)" in out


def test_missing_policy_without_abc(tmp_path: Any) -> None:
    text = YAML.replace("abc:\n  a: 0.7\n  b: 0.9\n  classes:\n    A:\n"
                        "      policy: {type: base_stock, S: 4}\n", "")
    out = problems(tmp_path, text)
    assert "warehouses.0.inventory.a.policy: required key is missing" in out
    assert "warehouses.0.inventory.b.policy: required key is missing" in out


@pytest.mark.parametrize("old, new, marker, key, message", [
    ("  b: 0.9\n", "  b: 0.6\n", "abc:", "abc", "a (0.7) must be less than b (0.6)"),
    ("  a: 0.7\n", "  a: 1.5\n", "a: 1.5", "abc.a", "must be at most 1"),
    ("    A:\n", "    D:\n", "D:", "abc.classes.D", "'A', 'B' or 'C'"),
    ("      policy: {type: base_stock, S: 4}\n", "      policy: {type: base_stock, S: 4}\n"
     "      service_level: 1.2\n", "service_level: 1.2", "abc.classes.A.service_level",
     "less than 1"),
    ("{type: base_stock, S: 4}", "{type: base_stock, Z: 4}", "policy: {type: base_stock, Z: 4}",
     "abc.classes.A.policy.Z", "unknown key"),
])
def test_bad_abc_section_names_file_line_key(tmp_path: Any, old: str, new: str, marker: str,
                                             key: str, message: str) -> None:
    text = YAML.replace(old, new)
    assert text != YAML
    out = problems(tmp_path, text)
    assert f"FILE:{line_of(text, marker)}: {key}: " in out and message in out, out


def test_by_class_adds_up_the_stock_points_of_each_class() -> None:
    d = scenario()
    d["abc"]["b"] = 0.95  # a is A; b and c are C
    res = simulator.run(load(d))
    got = res.by_class().set_index(["class", "metric"])["mean"]
    m = res.metrics
    for klass, products in (("A", ["a"]), ("C", ["b", "c"])):
        part = m[m["product"].isin(products)]
        per_rep = part.groupby("replication")
        assert got[(klass, "total_cost")] == pytest.approx(per_rep["total_cost"].sum().mean())
        filled = (part["fill_rate"] * part["demand_units"]).groupby(part["replication"]).sum()
        rate = (filled / per_rep["demand_units"].sum()).mean()
        assert got[(klass, "fill_rate")] == pytest.approx(rate)
    assert set(res.by_class()["class"]) == {"A", "C"}
