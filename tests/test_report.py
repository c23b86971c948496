"""Run plots (simulator.plots.run) and ``simulator report``: the figures draw the run's numbers,
the report is self-contained (opens offline) and shows runs, sweeps and optimisations."""
from __future__ import annotations

import base64
import math
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.cli import main
from simulator.experiment.keys import apply_overrides
from simulator.plots.run import (
    COSTS,
    cost_figure,
    fill_rate_figure,
    stock_figure,
    write_run_plots,
)
from simulator.report import trace_figure, write_report
from simulator.results import Results

ROOT = Path(__file__).resolve().parent.parent
TWO_ECHELON = ROOT / "scenarios" / "two_echelon.yaml"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A recorded run of a scenario whose name needs escaping in HTML."""
    sc = apply_overrides(simulator.load(TWO_ECHELON),
                         {"name": "kettles <b>&</b>", "horizon": 400})
    res = simulator.run(sc, replications=3, progress=False, record=True)
    return res.save(tmp_path_factory.mktemp("run") / "res")


class Page(HTMLParser):
    """Collects tags, their attributes and the text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> tuple[str, Page]:
    raw = path.read_text(encoding="utf-8")
    page = Page()
    page.feed(raw)
    page.close()
    return raw, page


def assert_offline(page: Page) -> int:
    """Every resource is inside the page: images are data: URIs, no scripts, styles sheets,
    frames or links to anything. Returns the number of images."""
    images = 0
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag
        for name in ("src", "href", "srcset", "data"):
            value = attrs.get(name)
            if value is None:
                continue
            assert value.startswith("data:image/png;base64,"), (tag, name, value[:60])
        if tag == "img":
            images += 1
            data = base64.b64decode(attrs["src"].split(",", 1)[1])
            assert data.startswith(PNG) and len(data) > 1000
        assert "url(" not in str(attrs.get("style", ""))
    return images


# -- figures -------------------------------------------------------------------------------

def test_stock_figure_draws_the_recorded_series(run_dir):
    res = Results.load(run_dir)
    s = res.series
    level = s[(s["warehouse"] == "north") & (s["replication"] == 0) & (s["kind"] == "level")]
    orders = s[(s["warehouse"] == "north") & (s["kind"] == "order")]
    fig = stock_figure(s, "north", "kettle", 0, res.warnings, warmup=60.0)
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    for col, label in (("on_hand", "on hand"), ("inventory_position", "inventory position"),
                       ("backorders", "backorders")):
        np.testing.assert_array_equal(lines[label].get_xdata(), level["time"].to_numpy())
        np.testing.assert_array_equal(lines[label].get_ydata(), level[col].to_numpy())
    marks = [c for c in ax.collections if c.get_label().startswith("orders")]
    np.testing.assert_array_equal(marks[0].get_offsets(),
                                  orders[["time", "inventory_position"]].to_numpy())
    with pytest.raises(ValueError, match="no time series"):
        stock_figure(s, "north", "kettle", 2)


def test_stock_figure_marks_the_stock_points_warnings():
    series = pd.DataFrame({"replication": 0, "warehouse": "w", "product": "p", "kind": "level",
                           "time": [0.0, 1.0, 2.0], "on_hand": [5.0, 3.0, 0.0],
                           "inventory_position": [5.0, 3.0, 8.0], "backorders": 0.0,
                           "qty": math.nan})
    warnings = pd.DataFrame({"replication": [0, 0, 1], "time": [1.5, 0.5, 1.0],
                             "warehouse": ["w", "x", "w"], "product": ["p", "p", "p"],
                             "kind": "stockout", "severity": "warning", "message": "m"})
    ax = stock_figure(series, "w", "p", 0, warnings).axes[0]
    marked = [ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert marked == [1.5]  # only this stock point's, in this replication


def test_cost_figure_stacks_the_mean_costs_of_each_stock_point(run_dir):
    res = Results.load(run_dir)
    ax = cost_figure(res).axes[0]
    means = res.metrics.groupby(["warehouse", "product"], sort=False)[list(COSTS)].mean()
    bars = ax.containers[:len(COSTS)]
    for cost, bars_of in zip(COSTS, bars, strict=True):
        np.testing.assert_allclose([b.get_width() for b in bars_of], means[cost].to_numpy())
    totals = np.sum([[b.get_width() for b in c] for c in bars], axis=0)
    np.testing.assert_allclose(totals, res.metrics.groupby(["warehouse", "product"],
                                                           sort=False)["total_cost"].mean())


def test_fill_rate_figure_shows_each_mean_and_interval_of_the_summaries(run_dir):
    res = Results.load(run_dir)
    ax = fill_rate_figure(res).axes[0]
    shown = {t.get_text(): i for i, t in enumerate(ax.get_yticklabels())}
    fr = res.summary[res.summary["metric"] == "fill_rate"]
    cust = res.customer_summary[res.customer_summary["metric"] == "line_fill_rate"]
    want = {f"stock {r.warehouse}/{r.product}": r for r in fr.itertuples()}
    want |= {f"customer {r.customer} (line_fill_rate)": r for r in cust.itertuples()}
    points = {}
    for container in ax.containers:  # one errorbar per row: (data line, caps, bars)
        line = container.lines[0]
        points[int(line.get_ydata()[0])] = (line.get_xdata()[0], container.lines[2])
    for label, row in want.items():
        x, bars = points[shown[label]]
        assert x == pytest.approx(row.mean)
        if bars:
            seg = bars[0].get_segments()[0]
            assert (seg[0][0], seg[1][0]) == pytest.approx((row.ci95_low, row.ci95_high))


def test_write_run_plots_writes_png_files(run_dir):
    paths = write_run_plots(run_dir)
    names = sorted(p.name for p in paths)
    assert names == ["cost.png", "fill_rate.png", "stock_central_kettle_r0.png",
                     "stock_north_kettle_r0.png", "stock_south_kettle_r0.png"]
    for p in paths:
        assert p.parent == run_dir / "plots"
        data = p.read_bytes()
        assert data.startswith(PNG) and len(data) > 1000
    assert not [p for p in (run_dir / "plots").iterdir() if p.name.startswith(".")]


# -- report --------------------------------------------------------------------------------

def test_run_report_is_self_contained_and_shows_the_kpis(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    assert "report written to" in capsys.readouterr().out
    raw, page = parse(run_dir / "report.html")
    assert assert_offline(page) == 2 + 3  # cost, fill rate, one per recorded stock point
    assert "http://" not in raw and "https://" not in raw
    summary = pd.read_csv(run_dir / "summary.csv")
    text = "".join(page.text)
    for row in summary[summary["metric"].isin(["fill_rate", "total_cost"])].itertuples():
        for v in (row.mean, row.ci95_low, row.ci95_high):
            assert f"<td>{v:.6g}</td>" in raw, (row.warehouse, row.metric, v)
    assert "<b>&</b>" not in raw and "kettles &lt;b&gt;&amp;&lt;/b&gt;" in raw
    assert (run_dir / "scenario.yaml").read_text(encoding="utf-8") in text
    assert '"producer": "simulator"' in text
    assert "Customers" in text and "Warnings" in text


@pytest.fixture(scope="module")
def plain_dir(tmp_path_factory):
    """A run without time series."""
    res = simulator.run(TWO_ECHELON, replications=2, progress=False)
    return res.save(tmp_path_factory.mktemp("plain") / "res")


def test_report_of_a_run_without_series_says_how_to_record(plain_dir):
    raw, page = parse(write_report(plain_dir))
    assert assert_offline(page) == 2
    assert "simulator run --record" in raw


def test_report_replaces_an_old_report_whole_and_leaves_no_temporary_file(plain_dir, tmp_path):
    old = plain_dir / "report.html"
    old.write_text("old", encoding="utf-8")
    assert write_report(plain_dir) == old
    assert old.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not [p for p in plain_dir.iterdir() if p.name.startswith(".")]
    other = tmp_path / "elsewhere.html"
    assert write_report(plain_dir, other) == other
    assert other.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def sweep_table() -> pd.DataFrame:
    rows = []
    rng = np.random.default_rng(3)
    for s in (10, 20, 30):
        for r in range(3):
            rows.append({"warehouses.w.inventory.p.policy.s": s, "replication": r,
                         "warehouse": "w", "product": "p", "demand_units": 100.0,
                         "fill_rate": 0.8 + s / 200 + rng.normal(0, 0.01),
                         "total_cost": 50.0 + s + rng.normal(0, 1)})
    return pd.DataFrame(rows)


def test_sweep_folder_report_embeds_the_sweep_plots_and_points(tmp_path):
    from simulator.plots.sweep import plot_sweep

    folder = tmp_path / "sweep"
    folder.mkdir()
    table = sweep_table()
    table.to_parquet(folder / "sweep.parquet", index=False)
    pd.DataFrame({"point": [0, 1, 2], "s": [10, 20, 30]}).to_csv(folder / "points.csv",
                                                                index=False)
    raw, page = parse(write_report(folder))
    assert assert_offline(page) == len(plot_sweep(table, tmp_path / "plots")) > 0
    assert "Points (first 3 of 3)" in raw


def trace() -> pd.DataFrame:
    return pd.DataFrame({
        "candidate": [0, 1, 2, 3, 4],
        "warehouses.w.inventory.p.policy.s": [10, 20, 30, 25, 22],
        "mean_cost": [120.0, 95.0, 99.0, 90.0, 80.0],
        "ci_low": [110.0, 90.0, 95.0, 85.0, 70.0],
        "ci_high": [130.0, 100.0, 103.0, 95.0, 90.0],
        "replications": 10,
        "fill_rate": [0.9, 0.95, 0.97, 0.96, 0.85],
        "feasible": [True, True, True, True, False],
        "best": [False, False, False, True, False]})


def test_trace_figure_shows_each_candidate_and_the_best_feasible_so_far():
    ax = trace_figure(trace()).axes[0]
    best = next(ln for ln in ax.get_lines() if ln.get_label() == "best so far")
    np.testing.assert_array_equal(best.get_xdata(), [0, 1, 2, 3, 4])
    # candidate 4 is cheaper but infeasible: it does not count
    np.testing.assert_array_equal(best.get_ydata(), [120.0, 95.0, 95.0, 90.0, 90.0])
    infeasible = next(c for c in ax.containers if c.get_label() == "infeasible")
    np.testing.assert_array_equal(infeasible.lines[0].get_ydata(), [80.0])


def test_optimize_folder_report_shows_the_trace_plot_and_the_best_row(tmp_path):
    folder = tmp_path / "opt"
    folder.mkdir()
    trace().to_csv(folder / "trace.csv", index=False)
    raw, page = parse(write_report(folder))
    assert assert_offline(page) == 1
    best = raw.split("Best candidate", 1)[1].split("</table>", 1)[0]
    assert "<td>3</td><td>25</td><td>90</td>" in best
    assert best.count("<tr>") == 2  # header and the one best row


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing", "no such folder"),
    (lambda p: (p / "empty").mkdir() or p / "empty",
     "not a results folder: no metrics.csv, sweep.parquet or trace.csv"),
    (lambda p: ((p / "t").mkdir(), (p / "t" / "trace.csv").write_text("a,b\n1,2\n"))
     and p / "t", "trace.csv has no column candidate, mean_cost"),
    (lambda p: ((p / "m").mkdir(), (p / "m" / "metrics.csv").write_text("x\n1\n"))
     and p / "m", "not the results folder of a run: no summary.csv"),
])
def test_a_bad_folder_is_one_line_and_exit_2(tmp_path, capsys, make, message):
    folder = make(tmp_path)
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"<command line>: RESULTS_DIR: {folder}: {message}")
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_out_that_is_a_folder_is_refused(run_dir, tmp_path, capsys):
    assert main(["report", str(run_dir), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"<command line>: --out: {tmp_path}: is a folder")


def test_report_draws_the_chosen_stock_point_and_replication(tmp_path, capsys):
    sc = apply_overrides(simulator.load(TWO_ECHELON), {"horizon": 200})
    folder = simulator.run(sc, replications=2, progress=False, record="all").save(
        tmp_path / "all")
    series = pd.read_parquet(folder / "timeseries.parquet")
    wh, prod = series[["warehouse", "product"]].iloc[-1]
    name = f"{wh}/{prod}"
    assert main(["report", str(folder), "--stock", name, "--replication", "1",
                 "--plots"]) == 0
    raw, page = parse(folder / "report.html")
    assert assert_offline(page) == 2 + 1  # cost, fill rate, the one stock point asked for
    alts = [a.get("alt") for tag, a in page.tags if tag == "img"]
    assert f"{name} over time" in alts
    assert "Time series (replication 1)" in raw
    stock_pngs = sorted(p.name for p in (folder / "plots").glob("stock_*.png"))
    assert stock_pngs == [f"stock_{wh}_{prod}_r1.png"]


@pytest.mark.parametrize("args, message", [
    (["--stock", "nowhere/nothing"], "--stock: 'nowhere/nothing' was not recorded"),
    (["--replication", "1"], "--replication: 1 was not recorded; recorded: 0"),
])
def test_report_refuses_a_stock_point_or_replication_not_recorded(run_dir, args, message,
                                                                  capsys):
    assert main(["report", str(run_dir), *args]) == 2
    assert f"<command line>: {message}" in capsys.readouterr().err


def test_report_stock_choice_needs_recorded_series(plain_dir, capsys):
    assert main(["report", str(plain_dir), "--stock", "dc/item"]) == 2
    assert "--stock: the run recorded no time series" in capsys.readouterr().err
