"""The results folder (SPEC section 4) and its atomicity (SPEC section 6)."""
from __future__ import annotations

import json
import math
import os
import platform
import stat
from datetime import datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

import simulator
import simulator.results
from simulator.cli import main
from simulator.results import Results

try:  # works whether or not tests/ is a package
    from .helpers_scenarios import BASE_YAML, TWO_ECHELON_YAML, write_scenario
except ImportError:  # pragma: no cover - depends on how pytest imports the file
    from helpers_scenarios import BASE_YAML, TWO_ECHELON_YAML, write_scenario

#: SPEC section 4, in order
METRIC_COLUMNS = ["demand_units", "fill_rate", "lost_units", "avg_on_hand", "avg_backorders",
                  "orders_placed", "holding_cost", "ordering_cost", "backorder_cost",
                  "lost_sale_cost", "total_cost", "inventory_turnover", "bullwhip",
                  "forecast_mae", "forecast_rmse", "forecast_bias", "forecast_mape"]
ID_COLUMNS = ["replication", "warehouse", "product"]
STOCK_POINTS = {("dc", "widget"), ("dc", "gadget"), ("store", "widget")}
FILES = {"metrics.csv", "summary.csv", "scenario.yaml", "run.json", "warnings.csv",
         "supplier_metrics.csv", "customer_metrics.csv"}


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """TWO_ECHELON_YAML (4 replications x 3 stock points) run once and saved."""
    root = tmp_path_factory.mktemp("results")
    path = write_scenario(root, TWO_ECHELON_YAML)
    res = simulator.run(path, progress=False)
    out = res.save(root / "out")
    return path, res, out


@pytest.fixture(scope="module")
def metrics(run):
    return pd.read_csv(run[2] / "metrics.csv")


@pytest.fixture(scope="module")
def summary(run):
    return pd.read_csv(run[2] / "summary.csv")


# -- the files ----------------------------------------------------------------------------

def test_folder_has_the_five_files(run):
    assert {p.name for p in run[2].iterdir()} == FILES


def test_metrics_columns(run):
    header = (run[2] / "metrics.csv").read_text().splitlines()[0]
    assert header.split(",") == ID_COLUMNS + METRIC_COLUMNS


def test_metrics_one_row_per_replication_and_stock_point(metrics):
    assert len(metrics) == 4 * len(STOCK_POINTS)
    keys = list(zip(metrics["replication"], metrics["warehouse"], metrics["product"]))
    assert len(set(keys)) == len(keys)
    assert set(keys) == {(r, w, p) for r in range(4) for (w, p) in STOCK_POINTS}


def test_metrics_file_matches_results_object(run, metrics):
    pd.testing.assert_frame_equal(metrics, run[1].metrics.reset_index(drop=True),
                                  check_dtype=False)


def test_summary_columns(summary):
    cols = list(summary.columns)
    assert cols[:3] == ["warehouse", "product", "metric"]
    stats_cols = [c for c in cols[3:] if c != "n"]
    assert stats_cols == ["mean", "std", "ci95_low", "ci95_high"], cols


def test_summary_one_row_per_stock_point_and_metric(summary):
    keys = list(zip(summary["warehouse"], summary["product"], summary["metric"]))
    assert len(set(keys)) == len(keys)
    assert set(keys) == {(w, p, m) for (w, p) in STOCK_POINTS for m in METRIC_COLUMNS}


def test_summary_matches_student_t_recomputation(metrics, summary):
    for row in summary.itertuples(index=False):
        sel = metrics[(metrics["warehouse"] == row.warehouse) & (metrics["product"] == row.product)]
        values = sel[row.metric].dropna().to_numpy(float)
        n = len(values)
        if row.metric.startswith("forecast_"):  # no forecast-driven policy here: all NaN
            assert n == 0 and math.isnan(row.mean) and math.isnan(row.ci95_low)
            continue
        assert n == 4
        mean, std = values.mean(), values.std(ddof=1)
        half = stats.t.ppf(0.975, n - 1) * std / math.sqrt(n)
        got = np.array([row.mean, row.std, row.ci95_low, row.ci95_high])
        # the t-interval, cut to the metric's possible range (units and costs >= 0,
        # fill rate within [0, 1])
        top = 1.0 if row.metric == "fill_rate" else math.inf
        want = np.array([mean, std, max(mean - half, 0.0), min(mean + half, top)])
        assert np.allclose(got, want, rtol=1e-9, atol=1e-12), (row, want)
        if hasattr(row, "n"):
            assert row.n == n


def test_interval_bounds_are_never_impossible():
    # lost units 0, 0, 0, 9 and fill rates 1, 1, 1, 0.7: the plain t-interval would go
    # below 0 units and above a fill rate of 1
    from simulator.results import summarize

    m = pd.DataFrame({"replication": range(4), "warehouse": "w", "product": "p"})
    for col in ("demand_units", "avg_on_hand", "avg_backorders", "orders_placed",
                "holding_cost", "ordering_cost", "backorder_cost", "lost_sale_cost",
                "total_cost", "inventory_turnover", "bullwhip", "forecast_mae",
                "forecast_rmse", "forecast_bias", "forecast_mape"):
        m[col] = [1.0, 2.0, 3.0, 4.0]
    m["lost_units"] = [0.0, 0.0, 0.0, 9.0]
    m["fill_rate"] = [1.0, 1.0, 1.0, 0.7]
    s = summarize(m).set_index("metric")
    half_lost = stats.t.ppf(0.975, 3) * np.std([0, 0, 0, 9], ddof=1) / 2
    assert 2.25 - half_lost < 0  # the plain interval would be impossible
    assert s.loc["lost_units", "ci95_low"] == 0.0
    assert s.loc["lost_units", "ci95_high"] == pytest.approx(2.25 + half_lost)
    assert s.loc["fill_rate", "ci95_high"] == 1.0
    assert s.loc["fill_rate", "ci95_low"] < 0.925
    assert (s["ci95_low"] >= 0).all()


def test_summary_with_one_replication_has_no_interval(tmp_path):
    res = simulator.run(write_scenario(tmp_path, BASE_YAML), replications=1, progress=False)
    out = res.save(tmp_path / "out")
    s = pd.read_csv(out / "summary.csv")
    forecasts = s["metric"].str.startswith("forecast_")  # no forecast-driven policy: NaN
    assert s.loc[~forecasts, "mean"].notna().all() and s.loc[forecasts, "mean"].isna().all()
    assert s[["std", "ci95_low", "ci95_high"]].isna().all().all()


def test_warnings_header(run):
    text = (run[2] / "warnings.csv").read_text()
    assert text.splitlines()[0] == "replication,time,warehouse,product,kind,severity,message"


def test_run_json(run):
    path, _, out = run
    info = json.loads((out / "run.json").read_text())
    assert info["version"] == simulator.__version__
    assert info["seed"] == 11 and info["replications"] == 4
    started = datetime.fromisoformat(info["started"])
    assert started.tzinfo is not None
    assert abs((datetime.now(started.tzinfo) - started).total_seconds()) < 3600
    assert isinstance(info["wall_seconds"], (int, float)) and info["wall_seconds"] >= 0
    assert info["python"] == platform.python_version()
    packages = info["packages"]
    for name in ("simulator", "simpy", "numpy", "pandas", "scipy", "pydantic", "PyYAML"):
        assert packages[name] == metadata.version(name), name
    assert info["scenario_file"] == str(path)


def test_scenario_yaml_has_defaults_filled(run):
    data = yaml.safe_load((run[2] / "scenario.yaml").read_text())
    assert (data["warmup"], data["replications"], data["seed"]) == (5, 4, 11)
    assert data["products"][1]["ordering_cost"] == 0
    assert data["customers"][0]["unmet"] == "backorder"
    assert data["customers"][1]["demand"]["gadget"] == {"rate": 1.5, "size": 1.0,
                                                        "arrivals": "poisson"}
    assert data["warehouses"][0]["inventory"]["widget"]["policy"]["review_period"] == 0


def test_scenario_yaml_fills_initial_stock(run):
    data = yaml.safe_load((run[2] / "scenario.yaml").read_text())
    inv = {w["id"]: w["inventory"] for w in data["warehouses"]}
    assert inv["dc"]["widget"]["initial"] == 40     # sS: S
    assert inv["dc"]["gadget"]["initial"] == 0      # rQ: no order-up-to level
    assert inv["store"]["widget"]["initial"] == 8   # base_stock: S


def test_scenario_yaml_round_trips(run):
    _, res, out = run
    again = simulator.load(out / "scenario.yaml")
    assert again == res.scenario
    rerun = simulator.run(out / "scenario.yaml", progress=False)
    pd.testing.assert_frame_equal(rerun.metrics, res.metrics)
    assert rerun.metrics.to_csv(index=False) == (out / "metrics.csv").read_text()


# -- atomicity ----------------------------------------------------------------------------

class DiskFull(OSError):
    pass


def fail_after_one_file(self, folder):
    (Path(folder) / "metrics.csv").write_text("half\n")
    raise DiskFull("disk full")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    path = write_scenario(root, BASE_YAML)
    return path, simulator.run(path, progress=False)


def test_failed_write_leaves_nothing(tmp_path, small, monkeypatch):
    monkeypatch.setattr(Results, "_write", fail_after_one_file)
    target = tmp_path / "runs" / "out"
    with pytest.raises(DiskFull):
        small[1].save(target)
    assert not target.exists()
    assert list((tmp_path / "runs").iterdir()) == []  # no temporary sibling either


def test_failed_overwrite_keeps_existing_folder(tmp_path, small, monkeypatch):
    target = small[1].save(tmp_path / "out")
    before, listing = snapshot(tmp_path), sorted(os.listdir(tmp_path))
    monkeypatch.setattr(Results, "_write", fail_after_one_file)
    with pytest.raises(DiskFull):
        small[1].save(target, overwrite=True)
    assert snapshot(tmp_path) == before
    assert sorted(os.listdir(tmp_path)) == listing


def test_failed_overwrite_through_cli_keeps_existing_folder(tmp_path, small, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_scenario(tmp_path, BASE_YAML, "good.yaml")
    assert main(["run", "good.yaml", "--out", "out", "--quiet"]) == 0
    before, listing = snapshot(tmp_path), sorted(os.listdir(tmp_path))
    monkeypatch.setattr(Results, "_write", fail_after_one_file)
    with pytest.raises(DiskFull):
        main(["run", "good.yaml", "--out", "out", "--quiet", "--overwrite", "--seed", "9"])
    assert snapshot(tmp_path) == before
    assert sorted(os.listdir(tmp_path)) == listing


def test_interrupt_during_write_through_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_scenario(tmp_path, BASE_YAML, "good.yaml")

    def interrupted(self, folder):
        (Path(folder) / "metrics.csv").write_text("half\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(Results, "_write", interrupted)
    assert main(["run", "good.yaml", "--out", "out", "--quiet"]) == 130
    assert "no results were written" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["good.yaml"]


def test_save_refuses_nonempty_folder(tmp_path, small):
    target = tmp_path / "out"
    target.mkdir()
    (target / "x.txt").write_text("x\n")
    before = snapshot(tmp_path)
    with pytest.raises(simulator.UserError) as info:
        small[1].save(target)
    assert "already exists and is not empty" in str(info.value)
    assert snapshot(tmp_path) == before


def test_results_folder_mode_follows_umask(tmp_path, small):
    old = os.umask(0o022)
    try:
        out = small[1].save(tmp_path / "out")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
