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


# -- points -----------------------------------------------------------------------------------

def _section(tmp_path, text: str):
    return simulator.load(write(tmp_path, BASE + text, "p.yaml")).sweep


def test_grid_is_the_full_product_in_key_order(tmp_path):
    from simulator.experiment.sweep import sweep_points
    sweep = _section(tmp_path, "sweep: {horizon: [50, 60, 70], warmup: [0, 10]}\n")
    pts = sweep_points(sweep)
    assert pts == [{"horizon": h, "warmup": w} for h in (50, 60, 70) for w in (0, 10)]


@pytest.mark.parametrize("n", [1, 7, 50])
def test_lhs_puts_one_sample_in_each_stratum_of_every_range(tmp_path, n):
    from simulator.experiment.sweep import sweep_points
    sweep = _section(tmp_path, "sweep:\n  horizon: {low: 50, high: 150}\n"
                               "  customers.shops.demand.widget.rate: {low: 1, high: 3}\n")
    pts = sweep_points(sweep, n, "lhs", seed=4)
    assert len(pts) == n
    for key, (lo, hi) in {"horizon": (50, 150),
                          "customers.shops.demand.widget.rate": (1, 3)}.items():
        strata = sorted(int((p[key] - lo) / (hi - lo) * n) for p in pts)
        assert strata == list(range(n)), key


def test_integer_lhs_covers_each_whole_number_once(tmp_path):
    from simulator.experiment.sweep import sweep_points
    sweep = _section(tmp_path, "sweep: {warehouses.dc.inventory.widget.policy.s: "
                               "{low: 10.5, high: 20, integer: true}}\n")
    got = [p["warehouses.dc.inventory.widget.policy.s"]
           for p in sweep_points(sweep, 10, "lhs", seed=1)]
    assert sorted(got) == list(range(11, 21)) and all(type(x) is int for x in got)


def test_random_sampling_is_seeded_uniform_and_not_stratified(tmp_path):
    from simulator.experiment.sweep import sweep_points
    sweep = _section(tmp_path, "sweep: {horizon: {low: 50, high: 150}, warmup: [0, 5]}\n")
    a = sweep_points(sweep, 400, "random", seed=2)
    assert a == sweep_points(sweep, 400, "random", seed=2)
    assert a != sweep_points(sweep, 400, "random", seed=3)
    assert len(a) == 800 and [p["warmup"] for p in a[:2]] == [0, 0]
    h = [p["horizon"] for p in a[:400]]
    assert all(50 <= x <= 150 for x in h)
    # uniform: mean 100, sd 100/sqrt(12) = 28.9; 4 standard errors of the mean of 400 = 5.8
    assert abs(sum(h) / 400 - 100) < 4 * 28.87 / 20
    strata = [int((x - 50) / 100 * 400) for x in h]
    assert len(set(strata)) < 400  # 400 uniform draws all in distinct strata: p ~ 1e-172


def test_bad_sweep_values_are_reported_before_running(tmp_path, capsys):
    path = write(tmp_path, BASE + "sweep:\n  horizon: [10, -1, ten]\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--workers", "1"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{path}:23: sweep.horizon: input should be greater than 0 "
                             "(value -1)"), err
    assert err[1].startswith(f"{path}:23: sweep.horizon: input should be a valid number"), err
    assert not (tmp_path / "o").exists() and not (tmp_path / ".o.sweep-partial").exists()


def test_validate_checks_every_swept_value(tmp_path, capsys):
    path = write(tmp_path, BASE + "sweep:\n  horizon: [10, ten]\n"
                                  "  warmup: {low: -5, high: 5}\n"
                                  "  products.widget.holding_cost: [0.1, 0.2]\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"{path}:23: sweep.horizon: input should be a valid number (value 'ten')",
                   f"{path}:24: sweep.warmup: input should be greater than or equal to 0 "
                   "(value -5.0)"]
    ok = write(tmp_path, BASE + "sweep: {horizon: [10, 20], warmup: {low: 0, high: 5}}\n",
               "ok.yaml")
    assert main(["validate", str(ok)]) == 0


# -- running ----------------------------------------------------------------------------------

SWEPT = BASE + """\
sweep:
  warehouses.dc.inventory.widget.policy.s: [40, 90]
  products.widget.backorder_cost: [0.5, 5]
"""


def _sweep(tmp_path, *extra: str, text: str = SWEPT, name: str = "o"):
    import pandas as pd
    path = write(tmp_path, text, "swept.yaml")
    out = tmp_path / name
    assert main(["sweep", str(path), "--out", str(out), "--quiet", *extra]) == 0
    return path, out, pd.read_parquet(out / "sweep.parquet")


def test_sweep_parquet_columns_and_rows(tmp_path):
    from simulator.results import METRICS
    _, out, table = _sweep(tmp_path, "--workers", "1", "--csv")
    assert list(table.columns) == ["warehouses.dc.inventory.widget.policy.s",
                                   "products.widget.backorder_cost", "replication",
                                   "warehouse", "product", *METRICS]
    assert len(table) == 4 * 2 * 2  # points x replications x (warehouse, product)
    assert (table.groupby(list(table.columns[:3])).size() == 2).all()
    assert (out / "sweep.csv").exists() and (out / "run.json").exists()
    assert not (tmp_path / ".o.sweep-partial").exists()


def test_a_sweep_point_equals_the_single_run_of_its_scenario(tmp_path):
    import pandas as pd
    path, _, table = _sweep(tmp_path, "--workers", "2")
    keys = list(table.columns[:2])
    for s, b in [(40, 0.5), (90, 5)]:
        single = simulator.run(apply_overrides(simulator.load(path), {
            keys[0]: s, keys[1]: b}), progress=False).metrics
        rows = table[(table[keys[0]] == s) & (table[keys[1]] == b)].drop(columns=keys)
        pd.testing.assert_frame_equal(rows.reset_index(drop=True), single, check_dtype=False)


def test_points_share_random_streams(tmp_path):
    """Common random numbers: the backorder cost changes no event, so every other metric is
    identical between the two points (independent streams would differ everywhere)."""
    _, _, table = _sweep(tmp_path, "--workers", "1")
    s, b = table.columns[:2]
    physical = ["demand_units", "fill_rate", "avg_on_hand", "avg_backorders", "orders_placed"]
    low = table[table[b] == 0.5].reset_index(drop=True)
    high = table[table[b] == 5].reset_index(drop=True)
    assert low[physical].equals(high[physical])
    assert (high["backorder_cost"] > low["backorder_cost"]).any()
    # ... while the reorder point does change what happens
    assert not table[table[s] == 40]["avg_on_hand"].reset_index(drop=True).equals(
        table[table[s] == 90]["avg_on_hand"].reset_index(drop=True))


def test_points_csv_has_mean_and_interval_per_point_and_metric(tmp_path):
    import pandas as pd
    _, out, table = _sweep(tmp_path, "--workers", "1")
    pts = pd.read_csv(out / "points.csv")
    one = pts[(pts["point"] == 3) & (pts["product"] == "widget") & (pts["metric"] == "avg_on_hand")]
    assert len(one) == 1
    vals = table[(table.iloc[:, 0] == 90) & (table.iloc[:, 1] == 5)
                 & (table["product"] == "widget")]["avg_on_hand"]
    assert one["mean"].iloc[0] == pytest.approx(vals.mean())
    half = 12.706204736174705 * vals.std() / 2 ** 0.5  # t(0.975, 1)
    assert one["ci95_high"].iloc[0] == pytest.approx(vals.mean() + half)


SLOW = """\
name: slow
horizon: 3000
replications: 2
products: [{id: w, holding_cost: 0.05, ordering_cost: 20, backorder_cost: 0.5}]
suppliers: [{id: a, lead_time: 3}]
warehouses: [{id: dc, inventory: {w: {source: a, policy: {type: sS, s: 70, S: 150}}}}]
customers: [{id: c, warehouse: dc, demand: {w: {rate: 20}}}]
sweep: {warehouses.dc.inventory.w.policy.s: [10, 20, 30, 40, 50, 60, 70, 80]}
"""


def test_resume_after_kill_runs_every_point_exactly_once(tmp_path):
    import json
    import signal
    import subprocess
    import sys
    import time

    import pandas as pd
    path = write(tmp_path, SLOW, "slow.yaml")
    out, partial = tmp_path / "o", tmp_path / ".o.sweep-partial"
    cmd = [sys.executable, "-m", "simulator", "sweep", str(path), "--out", str(out),
           "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while len(list(partial.glob("point-*.parquet"))) < 2 and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    kept = sorted(p.name for p in partial.glob("point-*.parquet"))
    assert 2 <= len(kept) < 8 and not out.exists(), kept
    # mark a finished point: if it were run again, the mark would be gone
    marked = pd.read_parquet(partial / kept[0])
    marked["avg_on_hand"] = -1.0
    marked.to_parquet(partial / kept[0], index=False)
    (partial / ".point-000007.parquet.99.tmp").write_bytes(b"PAR1 half written")

    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 2
    assert main(["sweep", str(path), "--out", str(out), "--workers", "2", "--quiet",
                 "--resume"]) == 0
    info = json.loads((out / "run.json").read_text())
    assert info["points_resumed"] == len(kept)
    assert not partial.exists()
    table = pd.read_parquet(out / "sweep.parquet")
    key = "warehouses.dc.inventory.w.policy.s"
    assert table.groupby([key, "replication"]).size().to_dict() == {
        (s, r): 1 for s in range(10, 90, 10) for r in range(2)}
    # the finished points were read, not run again (the marked one kept its mark) ...
    first = int(kept[0][6:12])
    assert (table[table[key] == 10 * (first + 1)]["avg_on_hand"] == -1.0).all()
    # ... and the others hold the numbers of an uninterrupted sweep
    assert main(["sweep", str(path), "--out", str(tmp_path / "fresh"), "--workers", "1",
                 "--quiet"]) == 0
    fresh = pd.read_parquet(tmp_path / "fresh" / "sweep.parquet")
    other = table[key] != 10 * (first + 1)
    pd.testing.assert_frame_equal(table[other], fresh[other])
    assert not fresh["avg_on_hand"].eq(-1.0).any()


def test_resume_refuses_another_sweeps_points(tmp_path, capsys):
    path = write(tmp_path, SWEPT, "swept.yaml")
    partial = tmp_path / ".o.sweep-partial"
    partial.mkdir()
    (partial / "sweep.json").write_text('{"fingerprint": "something else"}')
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--quiet", "--resume"]) == 2
    assert "was for another scenario or other points" in capsys.readouterr().err


def test_sweep_without_a_section_is_a_user_error(tmp_path, capsys):
    path = write(tmp_path, BASE)
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "sweep: the scenario has no sweep: section" in capsys.readouterr().err


def test_every_sweep_flag_is_documented():
    import argparse
    from pathlib import Path

    from simulator.cli import _parser
    ref = (Path(__file__).parents[1] / "docs" / "scenario-reference.md").read_text()
    section = ref.split("### simulator sweep SCENARIO.yaml", 1)[1].split("\n### ", 1)[0]
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    flags = [o for a in sub.choices["sweep"]._actions for o in a.option_strings
             if o.startswith("--") and o != "--help"]
    assert [f for f in flags if f"`{f}" not in section] == []


def test_a_full_disk_is_a_user_error(tmp_path, capsys, monkeypatch):
    import errno

    from simulator.experiment import sweep

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(sweep, "_write_part", full)
    path = write(tmp_path, SWEPT, "swept.yaml")
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--quiet",
                 "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "out: cannot keep the finished points in" in err and "No space left" in err
    assert "Traceback" not in err


def test_serial_and_pool_give_identical_tables(tmp_path):
    import pandas as pd
    _, _, one = _sweep(tmp_path, "--workers", "1", name="one")
    _, _, two = _sweep(tmp_path, "--workers", "2", name="two")
    pd.testing.assert_frame_equal(one, two)


def test_dask_local_gives_the_identical_table_and_plots_are_drawn(tmp_path):
    # SPEC 9 / issue 8: serial, process pool and a Dask LocalCluster give identical rows
    import pandas as pd
    pytest.importorskip("distributed")
    _, out_one, one = _sweep(tmp_path, "--workers", "1", "--no-plots", name="one")
    _, out, dask = _sweep(tmp_path, "--workers", "2", "--dask", "local", name="dask")
    pd.testing.assert_frame_equal(one, dask)
    pngs = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert pngs and all((out / "plots" / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
                        for n in pngs)
    assert not (out_one / "plots").exists()


def test_target_ci_gives_each_point_the_replications_it_needs(tmp_path):
    # every point's stock-point intervals of fill_rate end at most 0.02 wide (half-width), the
    # first replications of each point are those of the plain sweep, and the counts differ
    # between points only as their variances do
    import math

    import pandas as pd

    from simulator.stats import t_quantile

    _, _, plain = _sweep(tmp_path, "--workers", "1", "--no-plots", name="plain")
    _, out, table = _sweep(tmp_path, "--workers", "2", "--no-plots", "--target-ci",
                           "fill_rate=0.02", "--max-replications", "60", name="t")
    keys = list(table.columns[:2])
    for _, g in table.groupby([*keys, "warehouse", "product"]):
        n = len(g)
        half = t_quantile(0.975, n - 1) * g["fill_rate"].std() / math.sqrt(n)
        assert half <= 0.02 + 1e-12 or n == 60, (n, half)
    first = table[table["replication"] < 2].reset_index(drop=True)
    pd.testing.assert_frame_equal(first.sort_values([*keys, "replication", "warehouse"])
                                  .reset_index(drop=True),
                                  plain.sort_values([*keys, "replication", "warehouse"])
                                  .reset_index(drop=True))
    import json
    info = json.loads((out / "run.json").read_text())
    assert info["target_ci"] == {"fill_rate": 0.02}
    assert max(info["replications_per_point"].values()) > 2
