"""Dotted keys, ``run --set``, the ``sweep:`` section and ``simulator sweep`` (SPEC 9)."""
from __future__ import annotations

import textwrap

import pytest

import simulator
from simulator.cli import main
from simulator.errors import ScenarioError, UserError
from simulator.experiment.keys import BadKey, apply_overrides, resolve

BASE = """\
name: sw
horizon: 120
replications: 2
seed: 3
products:
  - {id: widget, holding_cost: 0.05, ordering_cost: 20, backorder_cost: 0.5}
  - {id: a.b, holding_cost: 0.1}
suppliers:
  - {id: acme, lead_time: 3}
  - {id: acme.eu, lead_time: {dist: gamma, mean: 5, cv: 0.3}}
warehouses:
  - id: dc
    inventory:
      widget: {source: acme, policy: {type: sS, s: 70, S: 150}}
      a.b: {source: acme.eu, policy: {type: rQ, r: 10, Q: 20}}
customers:
  - id: shops
    warehouse: dc
    demand:
      widget: {rate: 20}
      a.b: {rate: 2, pattern: {promotions: [{from: 10, to: 20, factor: 2}]}}
"""


def write(tmp_path, text: str, name: str = "s.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def sc(tmp_path):
    return simulator.load(write(tmp_path, BASE))


# -- dotted keys ------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "path"), [
    ("horizon", ["horizon"]),
    ("suppliers.acme.lead_time", ["suppliers", 0, "lead_time"]),
    ("suppliers.acme.eu.lead_time.mean", ["suppliers", 1, "lead_time", "mean"]),
    ("warehouses.dc.inventory.widget.policy.s", ["warehouses", 0, "inventory", "widget",
                                                 "policy", "s"]),
    ("warehouses.dc.inventory.a.b.policy.Q", ["warehouses", 0, "inventory", "a.b", "policy",
                                              "Q"]),
    ("customers.shops.demand.widget.rate", ["customers", 0, "demand", "widget", "rate"]),
    ("customers.shops.demand.a.b.pattern.promotions.0.factor",
     ["customers", 0, "demand", "a.b", "pattern", "promotions", 0, "factor"]),
])
def test_dotted_keys_address_ids_dotted_ids_and_positions(sc, key, path):
    assert resolve(sc.to_dict(), key) == path


@pytest.mark.parametrize(("key", "words"), [
    ("warehouses.dx.inventory", ["no item with id 'dx'", "ids: dc"]),
    ("suppliers.nobody.lead_time", ["ids: acme, acme.eu"]),
    ("horizn", ["no key 'horizn'", "horizon"]),
    ("horizon.x", ["single value"]),
    ("customers.shops.demand.a.b.pattern.promotions.3.factor", ["position (0 to 0)"]),
    ("a..b", ["not a dotted key"]),
])
def test_bad_keys_say_what_exists(sc, key, words):
    with pytest.raises(BadKey) as exc:
        resolve(sc.to_dict(), key, create=False)
    assert all(w in str(exc.value) for w in words), str(exc.value)


def test_apply_overrides_returns_a_new_validated_scenario(sc):
    new = apply_overrides(sc, {"warehouses.dc.inventory.widget.policy.s": 60,
                               "customers.shops.demand.widget.rate": 7.5,
                               "suppliers.acme.lead_time": {"dist": "uniform", "low": 1,
                                                            "high": 4},
                               "horizon": 90})
    assert new.warehouses[0].inventory["widget"].policy["s"] == 60
    assert new.customers[0].demand["widget"].rate == 7.5
    assert new.suppliers[0].lead_time.dist == "uniform"
    assert new.horizon == 90
    assert sc.horizon == 120 and sc.warehouses[0].inventory["widget"].policy["s"] == 70


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"warehouses.dc.inventory.widget.policy.s": "ten"},
     "--set: warehouses.dc.inventory.widget.policy.s: input should be a valid number"),
    ({"horizon": -5}, "--set: horizon: input should be greater than 0"),
    ({"warehouses.dx.inventory.widget.policy.s": 1}, "--set: warehouses.dx.inventory.widget"
                                                     ".policy.s: warehouses has no item"),
    ({"warehouses.dc.inventory.widget.policy.t": 1},
     "--set: warehouses.dc.inventory.widget.policy.t: unknown key; valid keys"),
])
def test_bad_overrides_are_user_errors_at_the_key(sc, overrides, expected):
    with pytest.raises(UserError) as exc:
        apply_overrides(sc, overrides)
    assert str(exc.value.problems[0]).startswith(expected), str(exc.value.problems[0])


# -- the sweep: section -----------------------------------------------------------------------

def test_sweep_section_is_checked_with_lines(tmp_path):
    path = write(tmp_path, BASE + textwrap.dedent("""\
        sweep:
          warehouses.dc.inventory.widget.policy.s: [50, 60]
          warehouses.dx.inventory.widget.policy.S: [1]
          customers.shops.demand.widget.rate: {low: 5, high: 1}
          horizon: []
          name: [a]
          suppliers.acme.lead_time: 3
        """))
    with pytest.raises(ScenarioError) as exc:
        simulator.load(path)
    got = [str(p) for p in exc.value.problems]
    f = str(path)
    assert got[0].startswith(f"{f}:24: sweep.warehouses.dx.inventory.widget.policy.S: "
                             "warehouses has no item with id 'dx'; ids: dc")
    assert got[1] == f"{f}:25: sweep.customers.shops.demand.widget.rate: high (1) must be " \
                     "at least low (5)"
    assert got[2].startswith(f"{f}:26: sweep.horizon: give at least one value")
    assert got[3] == f"{f}:27: sweep.name: name cannot be swept"
    assert got[4].startswith(f"{f}:28: sweep.suppliers.acme.lead_time: should be a list")
    assert len(got) == 5


def test_a_scenario_with_a_sweep_runs_as_a_single_run(tmp_path):
    plain = simulator.run(write(tmp_path, BASE), progress=False)
    swept = simulator.run(write(tmp_path, BASE + "sweep: {horizon: [10, 20]}\n", "t.yaml"),
                          progress=False)
    assert plain.metrics.equals(swept.metrics)


# -- run --set --------------------------------------------------------------------------------

def test_run_set_overrides_and_records(tmp_path, capsys):
    import json

    import yaml
    path = write(tmp_path, BASE)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet",
                 "--set", "warehouses.dc.inventory.widget.policy.s=55",
                 "--set", "suppliers.acme.lead_time={dist: uniform, low: 1, high: 2}"]) == 0
    resolved = yaml.safe_load((out / "scenario.yaml").read_text())
    assert resolved["warehouses"][0]["inventory"]["widget"]["policy"]["s"] == 55
    assert resolved["suppliers"][0]["lead_time"]["dist"] == "uniform"
    info = json.loads((out / "run.json").read_text())
    assert info["overrides"] == {"warehouses.dc.inventory.widget.policy.s": 55,
                                 "suppliers.acme.lead_time": {"dist": "uniform", "low": 1,
                                                              "high": 2}}
    direct = simulator.run(apply_overrides(simulator.load(path), {
        "warehouses.dc.inventory.widget.policy.s": 55,
        "suppliers.acme.lead_time": {"dist": "uniform", "low": 1, "high": 2}}), progress=False)
    import pandas as pd
    pd.testing.assert_frame_equal(pd.read_csv(out / "metrics.csv"), direct.metrics,
                                  check_dtype=False)


@pytest.mark.parametrize(("arg", "expected"), [
    ("horizon", "--set: horizon: expected KEY=VALUE"),
    ("horizon=abc", "--set: horizon: input should be a valid number"),
    ("warehouses.nope.x=1", "--set: warehouses.nope.x: warehouses has no item with id 'nope'"),
    ("horizon=[1, 2", "--set: horizon: not valid YAML"),
])
def test_bad_set_exits_2_with_the_key(tmp_path, capsys, arg, expected):
    path = write(tmp_path, BASE)
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--quiet",
                 "--set", arg]) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected), err
    assert "Traceback" not in err and not (tmp_path / "o").exists()
