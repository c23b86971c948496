"""The warning monitor (simulator/observe/monitor.py, docs/warnings.md).

Scripted cases use deterministic demand (10 units a day, one unit every 0.1 day) and constant
lead times, so every warning time is exact and worked out by hand in the test's comment.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import simulator
from simulator.cli import main
from simulator.errors import ScenarioError, UserError
from simulator.model import Network
from simulator.observe.monitor import Monitor, Rolling, SmoothedDemand
from simulator.scenario.models import Warnings

ROOT = Path(__file__).resolve().parent.parent


def point(policy: dict[str, Any], initial: float, lead: float = 5.0, horizon: float = 30.0,
          disruptions: Any = None, warnings: Any = None, unmet: str = "backorder",
          arrivals: str = "deterministic", rate: float = 10.0,
          warmup: float = 0.0) -> dict[str, Any]:
    """One stock point fed by supplier ``s``; ``warnings`` None: no ``warnings:`` key."""
    sup: dict[str, Any] = {"id": "s", "lead_time": lead}
    if disruptions is not None:
        sup["disruptions"] = disruptions
    data: dict[str, Any] = {
        "name": "point", "horizon": horizon, "warmup": warmup,
        "products": [{"id": "p", "holding_cost": 1, "backorder_cost": 1}],
        "suppliers": [sup],
        "warehouses": [{"id": "w", "inventory": {"p": {"source": "s", "initial": initial,
                                                        "policy": policy}}}],
        "customers": [{"id": "c", "warehouse": "w", "unmet": unmet,
                       "demand": {"p": {"rate": rate, "arrivals": arrivals}}}],
    }
    if warnings is not None:
        data["warnings"] = warnings
    return data


def events(res: simulator.Results) -> list[tuple[float, str]]:
    return [(round(t, 9), k) for t, k in zip(res.warnings["time"], res.warnings["kind"])]


def run(data: dict[str, Any], **kw: Any) -> simulator.Results:
    return simulator.run(data, progress=False, **kw)


RQ50 = {"type": "rQ", "r": 50, "Q": 100}
#: reorder level 20 < lead-time demand 50: a stockout every cycle of 10 days
RQ20 = {"type": "rQ", "r": 20, "Q": 100}


# --------------------------------------------------------------------------- scripted stockout
def test_warnings_fire_ahead_of_a_supplier_delay_stockout_at_exact_times():
    # 100 on hand, 10/day: the position reaches r = 50 at t = 5.0 and 100 units are ordered,
    # expected at 10. The supplier is down from 4 to 12, so the order leaves at 12 and
    # arrives at 17. The monitor sees the supplier down at its check of day 4; at day 6 the
    # 40 units on hand cannot cover 5 days (a down supplier: a full lead time) of forecast
    # demand, 50; the last unit goes at 10.0 and the order of 10.1 waits: the stockout;
    # the order is overdue after day 10 + tolerance 1, seen at the check of day 12.
    res = run(point(RQ50, 100, disruptions=[{"from": 4, "to": 12}],
                    warnings={"disabled": ["service_drop"]}))
    assert events(res) == [(4.0, "supplier_disrupted"), (6.0, "projected_stockout"),
                           (10.1, "stockout"), (12.0, "late_delivery")]
    w = res.warnings.set_index("kind")
    assert w.loc["stockout", "severity"] == "critical"
    assert w.loc["supplier_disrupted", "warehouse"] == "s"
    assert w.loc["supplier_disrupted", "product"] in ("", None) or \
        pd.isna(w.loc["supplier_disrupted", "product"])
    assert "expected by day 10" in w.loc["late_delivery", "message"]


def test_each_stockout_episode_is_reported_once_and_predicted_ahead():
    # r = 20: orders at t = 8, 18, 28, 38 (position 20), each arriving 5 days later; stock
    # runs out at 10.0 and 30 orders wait from 10.1 to 13.0 in each cycle: one stockout
    # row per cycle (not 30). The projection starts at day 6, 16, ...: the position, 40, is
    # below the forecast lead-time demand, 50; it holds after the order of day 8 (20 on hand
    # cannot cover the 50 forecast until the arrival 5 days on) and clears at the receipt.
    res = run(point(RQ20, 100, horizon=45, warnings={"enabled": ["stockout",
                                                                  "projected_stockout"]}))
    assert events(res) == [(6.0, "projected_stockout"), (10.1, "stockout"),
                           (16.0, "projected_stockout"), (20.1, "stockout"),
                           (26.0, "projected_stockout"), (30.1, "stockout"),
                           (36.0, "projected_stockout"), (40.1, "stockout")]
    assert res.metrics.loc[0, "avg_backorders"] > 0  # the episodes are real shortages


@pytest.mark.parametrize("data", [
    # deterministic: a safety stock of 10 units; every kind watched
    point({"type": "rQ", "r": 60, "Q": 100}, 100, horizon=200,
          warnings={"enabled": list(simulator.scenario.models.WARNING_KINDS)}),
    # Poisson demand of 5 a day, lead time 2: s = 60 is 6 standard deviations above the
    # lead-time demand of 10; the default kinds
    point({"type": "sS", "s": 60, "S": 120}, 120, lead=2, horizon=365, arrivals="poisson",
          rate=5, warnings={}),
], ids=["deterministic", "poisson"])
def test_silent_when_well_stocked(data):
    res = run(data)
    assert res.warnings.empty, res.warnings.to_string()
    assert res.metrics.loc[0, "fill_rate"] == 1.0


# --------------------------------------------------------------------------- each kind
#: kind -> (a case made for it, its control); times worked out in the comments
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], float]] = {
    # (s, S) reviewed every 10 days, s = 70: the position is 70 at t = 8, two days before
    # the review; continuous review orders at once, so its position is never low at a check
    "low_stock": (point({"type": "sS", "s": 70, "S": 150, "review_period": 10}, 150, lead=1),
                  point({"type": "sS", "s": 70, "S": 150}, 150, lead=1), 8.0),
    # stock that lasts 200 days of forecast demand (limit 120) vs 100 days
    "overstock": (point(RQ50, 2000, lead=1), point(RQ50, 1000, lead=1), 1.0),
    # lost sales: the order of 10.1 is lost
    "stockout": (point(RQ20, 100, unmet="lost"), point(RQ50, 100, unmet="lost"), 10.1),
    # RQ20 with a 5-day window, target 0.9: the window 9.0-14.0 holds 50 units demanded,
    # 30 backordered (10.1-13.0): fill rate 0.4 at the check of day 11 (days 7-11: 20 of 50)
    "service_drop": (point(RQ20, 100, warnings={"service_window": 5}),
                     point(RQ50, 100, warnings={"service_window": 5}), 11.0),
    # the order of t = 5 is held by a disruption from 4 to 12: overdue after day 11
    "late_delivery": (point(RQ50, 100, disruptions=[{"from": 4, "to": 12}]),
                      point(RQ50, 100), 12.0),
    "supplier_disrupted": (point(RQ50, 100, disruptions=[{"from": 4.5, "to": 12}]),
                           point(RQ50, 100), 5.0),
    "projected_stockout": (point(RQ20, 100), point(RQ50, 100), 6.0),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_kind_fires_in_its_case_and_not_in_its_control(kind):
    case, control = copy.deepcopy(CASES[kind][0]), copy.deepcopy(CASES[kind][1])
    first = CASES[kind][2]
    for data in (case, control):
        data["warnings"] = {**data.get("warnings", {}), "enabled": [kind]}
    got = run(case).warnings
    assert list(got["kind"].unique()) == [kind]
    assert got["time"].iloc[0] == pytest.approx(first, abs=1e-9)
    assert run(control).warnings.empty


def test_low_stock_without_a_reorder_level_uses_days_of_cover():
    # base stock S: its reorder level is S itself, no "low" mark; 30 units cover 3 days of
    # demand (< 7), 100 cover 10
    low = run(point({"type": "base_stock", "S": 30}, 30, lead=1,
                    warnings={"enabled": ["low_stock"]}))
    assert events(low) == [(1.0, "low_stock")]
    assert "covers 3 days" in low.warnings["message"].iloc[0]
    assert run(point({"type": "base_stock", "S": 100}, 100, lead=1,
                     warnings={"enabled": ["low_stock"]})).warnings.empty


class Constant:
    """A plugged-in forecast of ``rate`` units a day (not updated by the monitor)."""

    def __init__(self, rate: float):
        self.rate = rate

    def total(self, days: float) -> float:
        return self.rate * days

    def error_variance(self) -> float:
        return 0.0


@pytest.mark.parametrize("rate,fires", [(5.0, True), (10.0, False)])
def test_forecast_bias_with_a_plugged_in_forecast(rate, fires):
    # demand is 10 a day: a forecast of 5 errs by +5 every day, so over the 28-day window the
    # tracking signal is 28 * 5 / 5 = +28 (> 4) at the first full window, day 28; an exact
    # forecast has no error (MAD 0): no signal
    sc = simulator.load(point(RQ50, 100, horizon=40))
    net = Network(sc, 0)
    mon = Monitor(net, Warnings(enabled=("forecast_bias",)), lambda sp: Constant(rate))
    net.start()
    net.run(40)
    assert [(r["time"], r["kind"]) for r in mon.rows] == ([(28.0, "forecast_bias")] if fires
                                                          else [])
    if fires:
        assert "+28.00" in mon.rows[0]["message"]


# --------------------------------------------------------------------------- never changes it
def _quickstart(**changes: Any) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "scenarios" / "quickstart.yaml").read_text())
    data.update(replications=3, **changes)
    # random disruptions, so the monitor reads a supplier whose down periods are drawn lazily
    data["suppliers"][1]["disruptions"] = {"mean_between": 40, "mean_duration": 4}
    return data


def test_metrics_are_identical_with_the_monitor_on_or_off():
    kinds = list(simulator.scenario.models.WARNING_KINDS)
    off = run(_quickstart())
    on = run(_quickstart(warnings={"enabled": kinds}))
    assert set(on.warnings["kind"]) >= {"stockout", "projected_stockout",
                                        "supplier_disrupted"}
    pd.testing.assert_frame_equal(on.metrics, off.metrics, check_exact=True)
    pd.testing.assert_frame_equal(on.supplier_metrics, off.supplier_metrics, check_exact=True)
    pd.testing.assert_frame_equal(on.customer_metrics, off.customer_metrics, check_exact=True)


# --------------------------------------------------------------------------- warm-up, API
def test_conditions_of_the_warm_up_are_reported_at_its_end_only_if_still_active():
    # RQ20: stockouts 10.1-13.0 and 20.1-23.0; a warm-up of 15 ends between them: the first
    # is not reported; the overstock-free, low-free run reports the second at 20.1
    res = run(point(RQ20, 100, horizon=25, warmup=15, warnings={"enabled": ["stockout"]}))
    assert events(res) == [(20.1, "stockout")]
    # 2000 units (200 days of demand) are overstock from day 1: reported at the warm-up's end
    res = run(point(RQ50, 2000, lead=1, horizon=10, warmup=5,
                    warnings={"enabled": ["overstock"]}))
    assert events(res) == [(5.0, "overstock")]


def test_on_warning_is_called_with_each_row_in_order_serial_and_parallel():
    data = point(RQ20, 100, horizon=45, arrivals="poisson", warnings={})
    data["replications"] = 3
    seen: list[dict[str, Any]] = []
    res = run(data, on_warning=seen.append)
    assert len(res.warnings) > 3
    assert pd.DataFrame(seen, columns=res.warnings.columns).equals(res.warnings)
    seen2: list[dict[str, Any]] = []
    run(data, on_warning=seen2.append, jobs=2)
    assert seen2 == seen


def test_on_warning_must_be_callable():
    with pytest.raises(UserError, match="on_warning: must be a function"):
        run(point(RQ50, 100, warnings={}), on_warning=3)


def test_warning_counts_and_the_terminal_table():
    data = point(RQ50, 100, disruptions=[{"from": 4, "to": 12}], warnings={})
    data["replications"] = 2
    res = run(data)
    counts = res.warning_counts.set_index("kind")
    assert dict(counts["count"]) == {"late_delivery": 2, "projected_stockout": 2,
                                     "service_drop": 2, "stockout": 2,
                                     "supplier_disrupted": 2}
    assert set(counts["per_replication"]) == {1.0}
    table = res.table()
    assert "warnings" in table and "stockout            critical      2" in table
    assert "warnings" not in run(point(RQ50, 100)).table().split("\n\n")[-1]


def test_no_warnings_key_means_no_monitor():
    assert run(point(RQ20, 100)).warnings.empty


# --------------------------------------------------------------------------- parts
def test_receipts_settle_the_oldest_order_first_when_orders_cross():
    # orders of 10 units (day 0, expected day 5) and 20 units (day 1, expected day 6); the
    # 20 arrive first, on day 3 (the orders crossed). FIFO by units: they settle the first
    # order and 10 units of the second, so what is outstanding is 10 units expected by day
    # 6: not late at 6.5 (tolerance 1), late at 7.5. (Matching the receipt to the 20-unit
    # order instead would call the 10-unit order of day 0 late at 6.5.)
    sc = simulator.load(point(RQ50, 100, warnings={"enabled": ["late_delivery"]}))
    net = Network(sc, 0)
    mon = Monitor(net, sc.warnings)
    sp, pt = net.stock[("w", "p")], mon.points[0]
    pt.order_placed(sp, 0.0, 10.0)
    pt.order_placed(sp, 1.0, 20.0)
    pt.received(sp, 3.0, 20.0, 0.0)
    assert [list(x) for x in pt.pending] == [[6.0, 10.0]]
    pt.daily(6.5)
    assert mon.rows == []
    pt.daily(7.5)
    assert [(r["time"], r["kind"]) for r in mon.rows] == [(7.5, "late_delivery")]
    assert "placed on day 1, was expected by day 6" in mon.rows[0]["message"]
    pt.received(sp, 8.0, 10.0, 0.0)  # the last units: the episode ends at the receipt
    assert not pt.pending and mon.active == {}


def test_rolling_sum_and_smoothing():
    r = Rolling(3)
    for x in (1.0, 2.0, 3.0, 4.0):
        r.push(x, -2 * x)
    assert r.full and (r.total_a, r.total_b) == (9.0, -18.0)
    f = SmoothedDemand(10.0, 0.5)
    f.update(14.0)  # error 4: level 12, variance 0.5 * 16
    assert (f.level, f.error_variance(), f.total(3)) == (12.0, 8.0, 36.0)


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("body,key,fragment", [
    ("  enabled: [stockout, low_stok]\n", "warnings.enabled.1", "'low_stock'"),
    ("  disabled: stockout\n", "warnings.disabled", "should be a list"),
    ("  service_target: 1.5\n", "warnings.service_target", "at most 1"),
    ("  bias_window: 2.5\n", "warnings.bias_window", "integer"),
    ("  service_window: 0\n", "warnings.service_window", "greater than or equal to 1"),
    ("  alpha: 0\n", "warnings.alpha", "greater than 0"),
    ("  overstock_days: -1\n", "warnings.overstock_days", "greater than 0"),
    ("  late_tolerance: yes\n", "warnings.late_tolerance", "number"),
    ("  low_stock_dayz: 3\n", "warnings.low_stock_dayz", "unknown key"),
    ("  enabled: [stockout]\n  disabled: [stockout]\n", "warnings", "both enabled and disabled"),
])
def test_bad_warnings_keys_are_reported_with_file_and_line(tmp_path, capsys, body, key,
                                                            fragment):
    text = (ROOT / "scenarios" / "quickstart.yaml").read_text() + "\nwarnings:\n" + body
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        simulator.load(path)
    problems = info.value.problems
    assert len(problems) == 1, problems
    p = problems[0]
    line = len(text.splitlines()) if key != "warnings" else len(text.splitlines()) - 2
    assert (p.key, p.line) == (key, line) and fragment in p.message, str(p)
    assert str(p) == f"{path}:{line}: {key}: {p.message}"
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr()
    assert f"{path}:{line}: {key}:" in out.err + out.out and "Traceback" not in out.err


def test_warnings_defaults_and_a_scenario_without_the_key_unchanged():
    w = Warnings()
    assert "forecast_bias" not in w.kinds and "stockout" in w.kinds
    assert Warnings(disabled=("stockout",)).kinds == w.kinds - {"stockout"}
    sc = simulator.load(point(RQ50, 100))
    assert sc.warnings is None and "warnings" not in sc.to_dict()


def test_seasonal_scenario_warns_ahead_of_its_stockouts():
    # the learners' scenario (scenarios/seasonal_promo.yaml): every stockout comes while a
    # projected_stockout warning is recent (a projection stays one episode while the season
    # ramps up, so the bound is generous), the stockouts that follow a warning come days after
    # it (median lead at least a day), and the strike is announced the day it starts
    import statistics

    import simulator

    path = Path(__file__).resolve().parent.parent / "scenarios" / "seasonal_promo.yaml"
    res = simulator.run(path, replications=2, progress=False)
    w = res.warnings
    leads = []
    for _, rows in w.groupby("replication"):
        warned = sorted(rows[rows["kind"] == "projected_stockout"]["time"])
        outs = sorted(rows[rows["kind"] == "stockout"]["time"])
        assert outs, "the scenario is made to run short"
        for t in outs:
            assert any(t - 60 <= u < t for u in warned), (t, warned)
        for u in warned:
            after = [t for t in outs if t > u]
            if after:
                leads.append(after[0] - u)
    assert statistics.median(leads) >= 1.0, leads
    strikes = w[w["kind"] == "supplier_disrupted"]
    assert len(strikes) == 2 and (strikes["time"] == 170.0).all()


def test_warning_counts_are_in_the_summary_with_intervals():
    # warnings_<kind> per stock point (or supplier) and kind that occurred: the mean over
    # replications of the per-replication counts (zeros included), as warnings.csv holds them
    import simulator

    path = Path(__file__).resolve().parent.parent / "scenarios" / "seasonal_promo.yaml"
    res = simulator.run(path, replications=3, progress=False)
    s = res.summary[res.summary["metric"].str.startswith("warnings_")]
    w = res.warnings
    assert len(s) > 0
    for row in s.itertuples(index=False):
        kind = row.metric.removeprefix("warnings_")
        mine = w[(w["kind"] == kind) & (w["warehouse"] == row.warehouse)
                 & (w["product"].fillna("") == row.product)]
        per_rep = [int((mine["replication"] == r).sum()) for r in range(3)]
        assert row.n == 3 and row.mean == pytest.approx(sum(per_rep) / 3)
        assert row.ci95_low <= row.mean <= row.ci95_high
    keys = {(r.warehouse, r.product, r.metric) for r in s.itertuples(index=False)}
    assert ("sun_factory", "", "warnings_supplier_disrupted") in keys
    assert ("sun_factory", "", "warnings_stockout") not in keys  # never occurred there
