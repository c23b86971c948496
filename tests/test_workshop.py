"""The workshop material: order delays (an information lag between stages), the beer game
scenario and its bullwhip plot.

Event logs use the layout of tests/test_event_log.py (levels *after* the change):
``(t, "demand", wh, product, qty, shipped, lost, on_hand, backorders, on_order)``,
``(t, "order", wh, product, qty, on_hand, backorders, on_order)``,
``(t, "receive", wh, product, qty, shipped_to_backorders, on_hand, backorders, on_order)``.
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers_scenarios import stock_event_log

import simulator
from simulator.errors import UserError
from simulator.experiment.keys import apply_overrides
from simulator.model import Network
from simulator.observe.eventlog import EventLog
from simulator.plots.bullwhip import (
    AMPLIFICATION,
    STAGE,
    bullwhip_figure,
    bullwhip_table,
    stages,
    write_bullwhip_plot,
)
from simulator.scenario import load

ROOT = Path(__file__).resolve().parent.parent
BEER = ROOT / "scenarios" / "beer_game.yaml"
CHAIN = ["retailer", "wholesaler", "distributor", "factory"]


def two_stage(order_delay: float, *, source: str = "dc") -> dict[str, Any]:
    """Store ``w`` (sS 4/10, continuous, initial 10) ordering from ``source`` with the given
    order delay and a 3-day transit; ``dc`` (sS 0/100, initial 100) orders from ``sup``
    (lead time 1); a customer orders 3 units every day from t = 1."""
    store: dict[str, Any] = {"source": source, "order_delay": order_delay,
                             "policy": {"type": "sS", "s": 4, "S": 10}}
    if source == "dc":
        store["lead_time"] = 3
    return {
        "name": "delay", "horizon": 9.5, "warmup": 0,
        "products": [{"id": "p"}],
        "suppliers": [{"id": "sup", "lead_time": 1}],
        "warehouses": [
            {"id": "dc", "inventory": {"p": {"source": "sup",
                                             "policy": {"type": "sS", "s": 0, "S": 100}}}},
            {"id": "w", "inventory": {"p": store}}],
        "customers": [{"id": "c", "warehouse": "w",
                       "demand": {"p": {"rate": 1, "size": 3, "arrivals": "deterministic"}}}],
    }


event_log = stock_event_log


def D(t, qty, shipped, oh, bo, oo, wh="w"):
    return (t, "demand", wh, "p", qty, shipped, 0.0, oh, bo, oo)


def O(t, qty, oh, bo, oo, wh="w"):
    return (t, "order", wh, "p", qty, oh, bo, oo)


def R(t, qty, shipped, oh, bo, oo, wh="w"):
    return (t, "receive", wh, "p", qty, shipped, oh, bo, oo)


# -- order_delay -------------------------------------------------------------------------------

def test_order_delay_upstream_sees_the_order_later_receipt_after_delay_plus_transit():
    # The store (10 units) sells 3 a day. t=2: position 4 <= s=4, it orders 6 (on order at
    # once). The DC sees it at t=2+2=4 (ships 6 from its 100) and the store receives it at
    # t=4+3=7. t=4: the store is short 2 (backordered), orders 6 again -> DC at 6, receipt
    # at 9. t=6: position 10-... = 4 again -> order 6 -> DC at 8. Each receipt serves the
    # backorders first (3 owed each day after t=4).
    assert event_log(two_stage(2)) == [
        D(1.0, 3.0, 3.0, 7.0, 0.0, 0.0),
        D(2.0, 3.0, 3.0, 4.0, 0.0, 0.0),
        O(2.0, 6.0, 4.0, 0.0, 6.0),
        D(3.0, 3.0, 3.0, 1.0, 0.0, 6.0),
        D(4.0, 6.0, 6.0, 94.0, 0.0, 0.0, wh="dc"),   # the order of t=2, 2 days late
        D(4.0, 3.0, 1.0, 0.0, 2.0, 6.0),
        O(4.0, 6.0, 0.0, 2.0, 12.0),
        D(5.0, 3.0, 0.0, 0.0, 5.0, 12.0),
        D(6.0, 6.0, 6.0, 88.0, 0.0, 0.0, wh="dc"),   # the order of t=4
        D(6.0, 3.0, 0.0, 0.0, 8.0, 12.0),
        O(6.0, 6.0, 0.0, 8.0, 18.0),
        R(7.0, 6.0, 6.0, 0.0, 2.0, 12.0),            # t=2 + 2 (delay) + 3 (transit)
        D(7.0, 3.0, 0.0, 0.0, 5.0, 12.0),
        D(8.0, 6.0, 6.0, 82.0, 0.0, 0.0, wh="dc"),   # the order of t=6
        D(8.0, 3.0, 0.0, 0.0, 8.0, 12.0),
        O(8.0, 6.0, 0.0, 8.0, 18.0),
        R(9.0, 6.0, 6.0, 0.0, 2.0, 12.0),            # t=4 + 2 + 3
        D(9.0, 3.0, 0.0, 0.0, 5.0, 12.0),
    ]


def test_without_order_delay_the_upstream_sees_the_order_at_once():
    log = event_log(two_stage(0))
    assert D(2.0, 6.0, 6.0, 94.0, 0.0, 0.0, wh="dc") in log
    receipts = [r[0] for r in log if r[1] == "receive" and r[2] == "w"]
    assert receipts[0] == 5.0  # t=2 + 3 (transit)


def test_order_delay_from_a_supplier_delays_the_purchase_order():
    # the store orders from the supplier (lead time 1): the supplier gets the PO 2 days
    # later, so the order of t=2 arrives at t=2+2+1=5 (without the delay: t=3)
    log = event_log(two_stage(2, source="sup"))
    receipts = [r[0] for r in log if r[1] == "receive" and r[2] == "w"]
    assert receipts[:2] == [5.0, 7.0]
    log0 = event_log(two_stage(0, source="sup"))
    assert [r[0] for r in log0 if r[1] == "receive" and r[2] == "w"][0] == 3.0


def test_negative_order_delay_is_a_user_error_naming_the_key():
    data = two_stage(-1)
    with pytest.raises(UserError) as err:
        load(data)
    assert "warehouses.1.inventory.p.order_delay" in str(err.value)


# -- the beer game and its bullwhip plot -----------------------------------------------------

@pytest.fixture(scope="module")
def beer() -> Any:
    return simulator.run(BEER, progress=False)


def test_beer_game_stages_run_downstream_to_upstream():
    assert stages(load(BEER)) == [(w, "beer") for w in CHAIN]


def test_beer_game_has_the_delays_of_the_game():
    sc = load(BEER)
    inv = {w.id: w.inventory["beer"] for w in sc.warehouses}
    assert [inv[w].order_delay for w in CHAIN[:3]] == [2, 2, 2]
    assert [float(inv[w].lead_time.value) for w in CHAIN[:3]] == [2.0, 2.0, 2.0]
    assert sc.products[0].holding_cost == 0.5 and sc.products[0].backorder_cost == 1.0


def test_bar_heights_are_the_metrics_means(beer):
    fig = bullwhip_figure(beer)
    stage_ax, amp_ax = fig.axes[:2]
    s = beer.summary
    means = [float(s[(s.warehouse == w) & (s.metric == "bullwhip")]["mean"].iloc[0])
             for w in CHAIN]
    assert [p.get_height() for p in stage_ax.patches] == pytest.approx(means, rel=1e-12)
    assert [t.get_text() for t in stage_ax.get_xticklabels()] == CHAIN
    # the amplification bars: the per-replication product of the stage ratios, averaged
    wide = beer.metrics.pivot(index="replication", columns="warehouse", values="bullwhip")
    product = np.cumprod(wide[CHAIN].to_numpy(), axis=1).mean(axis=0)
    assert [p.get_height() for p in amp_ax.patches] == pytest.approx(product, rel=1e-12)


def test_bullwhip_grows_upstream_in_the_beer_game(beer):
    # A property of the model: every stage amplifies the variance of the orders it gets
    # (stage ratio > 1), so the amplification against customer demand grows stage by stage.
    # Paired over the replications, each step up must exceed 4 standard errors.
    table = bullwhip_table(beer)
    stage = table[table.metric == STAGE]
    assert (stage["mean"] - 4 * stage["std"] / np.sqrt(stage["n"]) > 1.0).all()
    wide = beer.metrics.pivot(index="replication", columns="warehouse", values="bullwhip")
    amp = np.cumprod(wide[CHAIN].to_numpy(), axis=1)
    steps = np.diff(amp, axis=1)
    se = steps.std(axis=0, ddof=1) / math.sqrt(len(steps))
    assert (steps.mean(axis=0) > 4 * se).all()


def paired_gap(a: Any, b: Any, warehouse: str, metric: str) -> tuple[float, float]:
    """Mean and standard error of ``a - b`` for one stock point's metric, paired by
    replication (the same seeds: common random numbers)."""
    x = a.metrics.set_index(["warehouse", "replication"]).loc[warehouse, metric]
    y = b.metrics.set_index(["warehouse", "replication"]).loc[warehouse, metric]
    diff = (x - y).to_numpy()
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff)))


def test_workshop_session_3_answers(beer):
    # docs/workshop.md session 3. A 12-week moving average: smoother forecasts, a smaller
    # factory bullwhip. No order delays: the rule's protection period (order delay + shipping
    # + review week) falls from 5 weeks to 3, so every stage's ratio falls, and the retailer
    # serves better. (When the rule ignored the delay, the retailer's ratio did not move at
    # all and its fill rate was the worst of the chain.)
    sc = load(BEER)
    smooth = simulator.run(apply_overrides(sc, {
        f"warehouses.{w}.inventory.beer.policy.forecast.window": 12 for w in CHAIN}),
        progress=False)
    mean, se = paired_gap(beer, smooth, "factory", "bullwhip")
    assert mean > 4 * se
    fast = simulator.run(apply_overrides(sc, {
        f"warehouses.{w}.inventory.beer.order_delay": 0 for w in CHAIN}), progress=False)
    for w in CHAIN:
        mean, se = paired_gap(beer, fast, w, "bullwhip")
        assert mean > 4 * se, w
    mean, se = paired_gap(fast, beer, "retailer", "fill_rate")
    assert mean > 4 * se


def test_beer_game_factory_has_the_worst_fill_rate(beer):
    # docs/workshop.md session 3: the factory gets the wildest orders and serves worst; each
    # other stage's fill rate exceeds it by more than 4 standard errors (paired by
    # replication within the run).
    wide = beer.metrics.pivot(index="replication", columns="warehouse", values="fill_rate")
    for w in CHAIN[:3]:
        diff = (wide[w] - wide["factory"]).to_numpy()
        assert diff.mean() > 4 * diff.std(ddof=1) / math.sqrt(len(diff)), w


def test_divergent_network_has_no_amplification_above_the_split():
    res = simulator.run(ROOT / "scenarios" / "two_echelon.yaml", replications=2,
                        progress=False)
    table = bullwhip_table(res)
    amp = table[table.metric == AMPLIFICATION].set_index("warehouse")["mean"]
    assert math.isnan(amp["central"]) and amp[["north", "south"]].notna().all()
    assert [k[0] for k in stages(res.scenario)][-1] == "central"


def test_write_bullwhip_plot(beer, tmp_path):
    path = write_bullwhip_plot(beer, tmp_path / "plots")
    assert path == tmp_path / "plots" / "bullwhip.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- docs/workshop.md: every command works and prints what the answers quote -----------------

WORKSHOP = (ROOT / "docs" / "workshop.md").read_text(encoding="utf-8")
#: the doc's text with its line breaks and indents as single spaces, for phrases
FLAT = " ".join(WORKSHOP.split())
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def doc_blocks(lang: str) -> list[str]:
    """The bodies of the doc's fenced blocks of one kind. Only ``bash`` and ``python`` blocks
    are run; ``text`` blocks (installing, and ``simulator serve``, which blocks until stopped)
    are shown to the reader only."""
    return [body for kind, body in FENCE.findall(WORKSHOP) if kind == lang]


def assert_quoted(label: str, value: float, quoted: str) -> None:
    """``value`` printed with as many decimals as ``quoted`` (thousands commas, so "4,893"
    has none) is ``quoted``, and the doc quotes it."""
    digits = len(quoted.partition(".")[2])
    assert (label, f"{value:,.{digits}f}") == (label, quoted)
    assert quoted in WORKSHOP, label


def run_workshop_commands(folder: Path) -> Path:
    """Run every ``bash`` then ``python`` block of docs/workshop.md, in order, in ``folder``
    holding (a link to) the scenarios, with this venv's ``simulator`` first on PATH; return
    the ``workshop`` folder they write."""
    (folder / "scenarios").symlink_to(ROOT / "scenarios")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for block in doc_blocks("bash"):
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{block}\n{done.stdout}\n{done.stderr}"
    for block in doc_blocks("python"):
        done = subprocess.run([sys.executable, "-c", block], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{block}\n{done.stderr}"
    return folder / "workshop"


def test_workshop_doc_has_commands_for_every_session():
    commands = [line for b in doc_blocks("bash") for line in b.splitlines()
                if line.startswith("simulator ")]
    assert [c.split()[1] for c in commands] == ["run", "report", "compare", "run", "run", "run",
                                                "run", "sweep", "optimize", "report", "compare"]


def test_the_server_is_started_only_in_blocks_the_test_does_not_run():
    # `simulator serve` runs until stopped: it must sit in a ```text block (shown, not run)
    assert any("simulator serve --host 0.0.0.0" in b for b in doc_blocks("text"))
    assert not any("serve" in b for lang in ("bash", "python") for b in doc_blocks(lang))


def summary_value(folder: Path, warehouse: str, metric: str) -> float:
    import pandas as pd
    s = pd.read_csv(folder / "summary.csv")
    row = s[(s.warehouse == warehouse) & (s.metric == metric)]
    return float(row["mean"].iloc[0])


#: (results folder, warehouse, metric, the value as docs/workshop.md quotes it)
QUOTED = [
    ("quickstart", "dc", "fill_rate", "0.996"),
    ("beer", "retailer", "bullwhip", "5.43"),
    ("beer", "factory", "bullwhip", "3.51"),
    ("beer", "retailer", "fill_rate", "0.86"),
    ("beer", "factory", "fill_rate", "0.52"),
    ("beer", "factory", "total_cost", "4,893"),
    ("beer_window12", "retailer", "bullwhip", "2.84"),
    ("beer_window12", "factory", "total_cost", "3,559"),
    ("beer_no_delay", "retailer", "bullwhip", "3.56"),
    ("beer_no_delay", "factory", "bullwhip", "2.80"),
    ("beer_no_delay", "retailer", "fill_rate", "0.92"),
    ("seasonal", "dc", "fill_rate", "0.805"),
]


def test_workshop_commands_work_and_print_what_the_answers_quote(tmp_path):
    # one test, so the commands run once even when the tests are spread over workers
    out = run_workshop_commands(tmp_path)
    assert (out / "compare" / "comparison.csv").is_file()
    assert (out / "beer_plots" / "bullwhip.png").is_file()
    assert (out / "sweep" / "points.csv").is_file()
    for name in ("quickstart", "optimize"):  # session 1's and session 5's reports
        page = (out / name / "report.html").read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page, name
    assert (out / "quickstart" / "timeseries.parquet").is_file()  # --record
    for run, warehouse, metric, quoted in QUOTED:
        assert_quoted(f"{run} {metric}", summary_value(out / run, warehouse, metric), quoted)
    check_optimize_answers(out)


def check_optimize_answers(out: Path) -> None:
    """Session 5's optimisation: the best point, its cost and fill rate, the scenario's own
    cost (candidate 0), and the paired comparison of the guess with the best."""
    import json

    import pandas as pd
    info = json.loads((out / "optimize" / "optimize.json").read_text(encoding="utf-8"))
    best, key = info["best"], "warehouses.dc.inventory.widget.policy."
    assert info["feasible"] and info["evaluations"] == 40
    assert (best[key + "s"], best[key + "S"]) == (61, 195)
    assert "best s = 61, S = 195" in FLAT
    assert_quoted("best cost", best["mean_cost"], "7,594")
    assert_quoted("best interval", best["ci_low"], "7,491")
    assert_quoted("best interval", best["ci_high"], "7,697")
    assert_quoted("best fill rate", best["metrics"]["fill_rate[dc/widget]"], "0.981")
    trace = pd.read_csv(out / "optimize" / "trace.csv")
    assert (trace.loc[0, key + "s"], trace.loc[0, key + "S"]) == (70, 150)
    assert_quoted("own 70/150", trace.loc[0, "mean_cost"], "7,943")
    cmp = pd.read_csv(out / "optimize_compare" / "comparison.csv").set_index(
        ["warehouse", "product", "metric"])
    for metric, diff, half in [("fill_rate", "-0.0076", "0.0031"),
                               ("total_cost", "-49.47", "11.37")]:
        row = cmp.loc[("dc", "widget", metric)]
        assert_quoted(f"best - guess {metric}", row["diff"], diff)
        assert_quoted(f"{metric} half-width", row["paired_high"] - row["diff"], half)
        assert f"{diff} ± {half}" in FLAT
    assert_quoted("guess fill rate", cmp.loc[("dc", "widget", "fill_rate"), "baseline_mean"],
                  "0.989")
    assert_quoted("guess cost", cmp.loc[("dc", "widget", "total_cost"), "baseline_mean"], "2,219")
    assert_quoted("best cost", cmp.loc[("dc", "widget", "total_cost"), "scenario_mean"], "2,169")


@pytest.mark.parametrize(("s", "S", "quoted"), [(61, 195, "0.980"), (65, 190, "0.990"),
                                               (70, 150, "0.995")])
def test_session_5_fill_rate_formula_as_quoted(s, S, quoted):
    # 1 - E[(D - s)+] / (S - s), D ~ Poisson(60): the lead-time demand of the widget
    from scipy.stats import poisson
    k = np.arange(0, 400)
    short = float(((k - s).clip(0) * poisson.pmf(k, 20 * 3)).sum())
    assert_quoted(f"formula {s}/{S}", 1 - short / (S - s), quoted)
    assert f"{quoted} for {s}/{S}" in FLAT


def test_amplification_is_the_variance_ratio_against_customer_demand_without_delays():
    # Without order delays a stage's demand is the orders of the stage below, day by day, so
    # the product of the stage ratios is exactly var(daily orders) / var(daily customer
    # demand): recount both from the event log of replication 0.
    sc = apply_overrides(load(BEER), {
        f"warehouses.{w}.inventory.beer.order_delay": 0 for w in CHAIN} | {"replications": 1})
    net = Network(sc, replication=0)
    log = EventLog()
    net.attach(lambda sp: log)
    net.start()
    net.run(sc.horizon)
    days = int(sc.horizon)

    def daily(kind: str, warehouse: str) -> np.ndarray:
        out = np.zeros(days)
        for r in log.records:
            if r[1] == kind and r[2] == warehouse:
                out[int(math.floor(r[0]))] += r[4]
        return out

    customer = daily("demand", "retailer").var(ddof=1)
    expected = [daily("order", w).var(ddof=1) / customer for w in CHAIN]
    table = bullwhip_table(simulator.run(sc, progress=False))
    amp = table[table.metric == AMPLIFICATION].set_index("warehouse")["mean"]
    assert amp[CHAIN].tolist() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("window", "first"), [(0, 5.0), (1, 6.0)])
def test_order_delay_before_a_consolidated_purchase_order(window, first):
    # The store's order of t=2 joins a purchase order only when it reaches the supplier's
    # consolidator, at t=2+2=4; the PO leaves at 4 + window and takes the lead time 1.
    data = two_stage(2, source="sup")
    data["suppliers"][0]["consolidation_window"] = window
    receipts = [r[0] for r in event_log(data) if r[1] == "receive" and r[2] == "w"]
    assert receipts[0] == first


def test_order_delay_adds_to_the_transit_time_in_a_serial_base_stock_chain():
    # THEORY 4 with an order delay d at the store: an order placed in (t - L1 - d, t] has not
    # reached the DC's books by t - L1, so it is independent of the DC's backorders B2(t - L1)
    # and IN1(t) = S1 - B2(t - L1) - D(L1 + d): the formula with L1 replaced by L1 + d. The
    # DC's demand is the store's orders shifted by d: still Poisson(lam).
    try:
        from . import test_against_theory as against
        from . import theory
    except ImportError:  # pragma: no cover - depends on how pytest imports the file
        import test_against_theory as against  # type: ignore[no-redef]
        import theory  # type: ignore[no-redef]
    lam, L1, d, L2, S1, S2 = 2.0, 1.0, 2.0, 3.0, 8, 6
    sc = {
        "name": "theory-serial-delay", "horizon": 3100.0, "warmup": 100.0, "seed": 1,
        "products": [{"id": "item"}],
        "suppliers": [{"id": "sup", "lead_time": L2}],
        "warehouses": [
            {"id": "dc", "inventory": {"item": {
                "source": "sup", "policy": {"type": "base_stock", "S": S2}}}},
            {"id": "store", "inventory": {"item": {
                "source": "dc", "lead_time": L1, "order_delay": d,
                "policy": {"type": "base_stock", "S": S1}}}}],
        "customers": [{"id": "cust", "warehouse": "store",
                       "demand": {"item": {"rate": lam, "size": 1}}}],
    }
    res = simulator.run(sc, replications=20, progress=False)
    ex = theory.serial_two_echelon(lam, L1 + d, L2, S1, S2)
    store, dc = against.rows(res, "store"), against.rows(res, "dc")
    against.check(store["fill_rate"], ex["stage1"]["fill_rate"], label="delay store fill",
                  abs_=0.02)
    against.check(store["avg_on_hand"], ex["stage1"]["avg_on_hand"],
                  label="delay store on hand", rel=0.05)
    against.check(dc["fill_rate"], ex["stage2"]["fill_rate"], label="delay dc fill", abs_=0.02)


def test_workshop_web_page_exercise_gives_the_quoted_comparison():
    # docs/workshop.md session 0: on the page, run quickstart as it is (A), then with the
    # widget's s = 50 (B), and compare B with A. The page posts exactly these requests
    # (simulator/web/static/app.js): the example's name and the changed form fields.
    pytest.importorskip("flask")
    pytest.importorskip("sqlalchemy")
    import time

    from simulator.web import create_app
    app = create_app("sqlite://")
    client = app.test_client()
    try:
        ids = [client.post("/api/runs", json={"scenario": "quickstart", "overrides": o})
               .get_json()["id"] for o in ({}, {"warehouses.dc.inventory.widget.policy.s": 50})]
        end = time.monotonic() + 120
        while any(client.get(f"/api/runs/{i}").get_json()["status"] != "done" for i in ids):
            assert time.monotonic() < end, "the page's runs did not finish"
            time.sleep(0.05)
        rows = client.get(f"/api/compare?a={ids[0]}&b={ids[1]}").get_json()
    finally:
        app.extensions["simulator"].executor.shutdown()
    got = {(r["product"], r["metric"]): r for r in rows}
    fill, cost = got[("widget", "fill_rate")], got[("widget", "total_cost")]
    assert_quoted("A fill rate", fill["baseline_mean"], "0.996")
    assert_quoted("B fill rate", fill["scenario_mean"], "0.898")
    assert_quoted("B - A fill rate", fill["diff"], "-0.098")
    assert_quoted("half-width", fill["paired_high"] - fill["diff"], "0.005")
    assert "-0.098 ± 0.005" in FLAT
    assert_quoted("B - A cost", cost["diff"], "-369")
    assert all(r["diff"] == 0 for r in rows if r["product"] in ("gadget", "gizmo"))
