"""``simulator compare``: paired differences on common random numbers, with the Welch interval
beside them (simulator/comparison.py, the ``compare`` command)."""
from __future__ import annotations

import importlib
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.cli import main

try:
    from .helpers_scenarios import TWO_ECHELON_YAML, edit, line_of, write_scenario
except ImportError:  # pragma: no cover - depends on how pytest imports the file
    from helpers_scenarios import TWO_ECHELON_YAML, edit, line_of, write_scenario

cmp = importlib.import_module("simulator.comparison")
REPS = 12
#: the dc's widget policy changed: dc/widget and (downstream) store/widget move; dc/gadget
#: has its own demand and lead-time streams, so with common random numbers it cannot move
CHANGED_YAML = edit(TWO_ECHELON_YAML, ("policy: {type: sS, s: 10, S: 40}",
                                       "policy: {type: sS, s: 16, S: 40}"),
                    ("name: two-echelon", "name: two-echelon-s16"))
ALL_METRICS = ["fill_rate", "total_cost", "avg_on_hand", "order_fill_rate", "avg_cycle_time"]


@pytest.fixture
def files(tmp_path):
    return {"a": write_scenario(tmp_path, TWO_ECHELON_YAML, "a.yaml"),
            "b": write_scenario(tmp_path, CHANGED_YAML, "b.yaml")}


def _half(row, kind):
    return (row[f"{kind}_high"] - row[f"{kind}_low"]) / 2


# -- statistics ------------------------------------------------------------------------------

def test_scenario_against_itself_is_exactly_zero(files):
    out = simulator.compare([files["a"], files["a"]], metrics=ALL_METRICS, replications=REPS)
    assert len(out) == 3 * 3 + 2 * 2  # 3 stock points x 3 metrics, 2 customers x 2 metrics
    assert (out["n"] == REPS).all()
    for col in ("diff", "paired_low", "paired_high"):
        assert (out[col] == 0.0).all(), col
    # the unpaired interval does not know the runs are the same: it is wide
    wide = out["welch_high"] > 0
    assert wide.sum() >= 10
    assert (out.loc[wide, "width_ratio"] == 0).all()
    assert out.loc[~wide, "width_ratio"].isna().all()  # constant values: 0 / 0
    assert out.attrs["left_out"] == {}


def test_seed_of_the_baseline_is_used_for_every_scenario(tmp_path, files):
    """A file with another seed is still run on the baseline's streams (else no pairing)."""
    other = write_scenario(tmp_path, edit(TWO_ECHELON_YAML, ("seed: 11", "seed: 99")), "c.yaml")
    out = simulator.compare([files["a"], other], replications=REPS)
    assert (out["diff"] == 0).all() and (out["paired_high"] == 0).all()


def test_policy_change_paired_interval_narrower_than_welch(files):
    out = simulator.compare([files["a"], files["b"]], metrics=ALL_METRICS, replications=REPS)
    moved = out[(out["product"] == "widget") | (out["customer"] == "shops")]
    assert (moved["diff"] != 0).all()
    for _, row in moved.iterrows():
        assert 0 < _half(row, "paired") < _half(row, "welch"), row.to_dict()
    # CRN: a stock point with its own streams, untouched by the change, moves not at all
    still = out[(out["product"] == "gadget") | (out["customer"] == "online")]
    assert len(still) == 5 and (still["diff"] == 0).all() and (still["paired_high"] == 0).all()


def test_paired_difference_is_the_difference_of_the_runs_means(files):
    out = simulator.compare([files["a"], files["b"]], metrics=["total_cost", "fill_rate"],
                            replications=REPS, seed=5)
    ra = simulator.run(files["a"], replications=REPS, seed=5, progress=False)
    rb = simulator.run(files["b"], replications=REPS, seed=5, progress=False)
    for _, row in out.iterrows():
        def mean(res, row=row):
            m = res.metrics
            sel = m[(m["warehouse"] == row["warehouse"]) & (m["product"] == row["product"])]
            return math.fsum(sel[row["metric"]]) / len(sel)
        assert row["diff"] == mean(rb) - mean(ra)  # exactly
        assert row["diff"] == row["scenario_mean"] - row["baseline_mean"]
        s = ra.summary.set_index(["warehouse", "product", "metric"]).loc[
            (row["warehouse"], row["product"], row["metric"])]
        assert row["baseline_mean"] == pytest.approx(s["mean"], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("n", [2, 3, 7, 30])
def test_intervals_agree_with_scipy(n):
    from scipy import stats
    rng = np.random.default_rng(n)
    a = rng.gamma(2.0, 3.0, n)
    b = a * 0.8 + rng.normal(1.0, 2.0 + n, n)  # correlated, unequal variances
    w = cmp.welch_interval(list(a), list(b))
    ci = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert (w.low, w.high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    p = cmp.paired_interval(list(a), list(b))
    ci = stats.ttest_rel(b, a).confidence_interval(0.95)
    assert (p.low, p.high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert p.diff == w.diff == pytest.approx(b.mean() - a.mean(), rel=1e-12)


def test_degenerate_samples():
    one = cmp.paired_interval([1.0], [3.0])
    assert one.diff == 2.0 and math.isnan(one.low) and math.isnan(one.high)
    assert math.isnan(cmp.welch_interval([1.0], [3.0, 4.0]).low)
    shift = cmp.paired_interval([1.0, 2.0, 5.0], [2.0, 3.0, 6.0])  # every difference 1
    assert (shift.low, shift.high) == (shift.diff, shift.diff) == (1.0, 1.0)
    flat = cmp.welch_interval([2.0, 2.0], [5.0, 5.0])
    assert (flat.low, flat.diff, flat.high) == (3.0, 3.0, 3.0)


def test_nan_replications_are_left_out_of_both_sides():
    """A fill rate without demand is NaN: that replication is dropped from the pair."""
    def table(values):
        return pd.DataFrame({"replication": range(4), "warehouse": "dc", "product": "w",
                             "fill_rate": values})

    class Run:
        def __init__(self, name, values):
            self.scenario = type("S", (), {"name": name})()
            self.metrics = table(values)
            self.customer_metrics = pd.DataFrame(columns=["replication", "customer"])

    out = cmp.compare_results([Run("a", [0.5, np.nan, 0.7, 0.9]),
                               Run("b", [0.6, 0.8, np.nan, 1.0])], ["fill_rate"])
    row = out.iloc[0]
    assert row["n"] == 2 and row["baseline_mean"] == 0.7 and row["scenario_mean"] == 0.8
    assert row["paired_low"] == row["paired_high"] == pytest.approx(0.1, abs=1e-15)


def test_stock_points_not_shared_are_left_out_and_named(tmp_path, files):
    extra = edit(TWO_ECHELON_YAML,
                 ("        policy: {type: base_stock, S: 8}\n",
                  "        policy: {type: base_stock, S: 8}\n"
                  "      gadget:\n        source: dc\n        policy: {type: base_stock, S: 3}\n"))
    c = write_scenario(tmp_path, extra, "c.yaml")
    out = simulator.compare([files["a"], c], metrics="fill_rate", replications=3)
    assert out.attrs["left_out"] == {str(c): ["store/gadget"]}  # same names: the files
    assert set(zip(out["warehouse"], out["product"])) == {
        ("dc", "widget"), ("dc", "gadget"), ("store", "widget")}
    assert f"not compared ({c} and the baseline do not share them): store/gadget" \
        in cmp.table(out)


def test_api_bad_arguments():
    with pytest.raises(simulator.UserError, match="metrics: unknown metric 'fillrate'"):
        simulator.compare([{}, {}], metrics=["fillrate"])
    with pytest.raises(simulator.UserError, match="at least two scenarios"):
        simulator.compare(["a.yaml"])


# -- command line ----------------------------------------------------------------------------

def test_cli_prints_table_and_writes_csv(tmp_path, files, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(files["a"]), str(files["b"]), "--replications", "4",
                 "--metrics", "fill_rate,order_fill_rate", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "two-echelon-s16 - two-echelon (4 paired replications" in text
    assert "± Welch 95%" in text and "customer shops" in text
    table = pd.read_csv(out / "comparison.csv", keep_default_na=False)
    assert list(table.columns) == cmp.COLUMNS and len(table) == 3 + 2
    assert set(table["metric"]) == {"fill_rate", "order_fill_rate"}


def _err(capsys):
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    return cap.err


def test_cli_default_folder(tmp_path, files, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "a.yaml", "a.yaml", "--replications", "2", "--quiet"]) == 0
    (folder,) = (tmp_path / "results" / "compare").iterdir()
    assert capsys.readouterr().out == \
        f"comparison written to {Path('results', 'compare', folder.name, 'comparison.csv')}\n"
    assert len(pd.read_csv(folder / "comparison.csv")) == 3 * 2


def test_cli_missing_file(tmp_path, files, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "a.yaml", "nope.yaml", "--out", "o"]) == 2
    assert _err(capsys).startswith("nope.yaml: (file): cannot read")
    assert not (tmp_path / "o").exists()


def test_cli_bad_scenario_names_file_and_line(tmp_path, files, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = edit(TWO_ECHELON_YAML, ("horizon: 30", "horizon: -30"))
    write_scenario(tmp_path, bad, "bad.yaml")
    assert main(["compare", "a.yaml", "bad.yaml", "--out", "o"]) == 2
    assert _err(capsys).startswith(f"bad.yaml:{line_of(bad, 'horizon: -30')}: horizon: ")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, message", [
    (["--metrics", "fill_rate,bogus"], "<command line>: --metrics: unknown metric 'bogus'"),
    (["--metrics", ","], "<command line>: --metrics: expected one or more metric names"),
    (["--replications", "0"], "replications: must be a whole number"),
    (["--jobs", "-1"], "jobs: must be a whole number >= 0"),
])
def test_cli_bad_options(tmp_path, files, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "a.yaml", "b.yaml", "--out", "o", *args]) == 2
    assert message in _err(capsys)
    assert not (tmp_path / "o").exists()


def test_cli_needs_two_scenarios_and_a_folder(tmp_path, files, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "a.yaml", "--out", "o"]) == 2
    assert "SCENARIO: give at least two scenario files" in _err(capsys)
    (tmp_path / "f").write_text("x")
    assert main(["compare", "a.yaml", "b.yaml", "--out", "f"]) == 2
    assert "--out: f exists and is not a folder" in _err(capsys)


@pytest.mark.parametrize("first", ["import simulator.comparison", "simulator.compare"])
def test_simulator_compare_is_callable_whatever_is_imported_first(first):
    code = (f"import simulator; {first}; import simulator.comparison; "
            "assert callable(simulator.compare); from simulator.comparison import welch_interval")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_compare_flag_is_documented():
    import argparse

    from simulator.cli import _parser
    docs = Path(__file__).resolve().parent.parent / "docs"
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    flags = [max(a.option_strings, key=len) for a in sub.choices["compare"]._actions
             if a.option_strings and not isinstance(a, argparse._HelpAction)]
    assert len(flags) == 6
    for name in ("scenario-reference.md", "compare.md"):
        text = (docs / name).read_text(encoding="utf-8")
        assert [f for f in flags if f not in text] == [], name
    assert all(f"`{c}`" in (docs / "compare.md").read_text(encoding="utf-8")
               for c in cmp.COLUMNS)
