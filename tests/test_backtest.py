"""Forecast backtesting (issue 7, item 3): rolling-origin scores, choosing by MASE, the
`simulator forecast` command and `forecast: {method: auto}` in a scenario."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import simulator
from simulator import backtest
from simulator.cli import main
from simulator.errors import ScenarioError


def weekly_series(days: int = 280, seed: int = 3) -> np.ndarray:
    """Poisson demand with a strong weekly profile (weekends three times weekdays)."""
    profile = np.array([10, 10, 10, 10, 10, 30, 30], dtype=float)
    rng = np.random.default_rng(seed)
    return rng.poisson(profile[np.arange(days) % 7]).astype(float)


def test_scores_by_hand():
    # naive on 1, 2, 3, 4, 5, 6 with 4 training days: origins 4, 5 forecast 4 and 5 for
    # actual 5 and 6: errors -1, -1; the training days change by 1 a day: MASE 1
    s = backtest.score([1, 2, 3, 4, 5, 6], "naive", horizon=1, initial=4)
    assert s == {"mae": 1.0, "rmse": 1.0, "mase": 1.0, "bias": -1.0, "n": 2}
    # horizon 2: origin 4 forecasts 4, 4 for 5, 6; origin 5 forecasts 5 for 6 (cut at the end)
    s = backtest.score([1, 2, 3, 4, 5, 6], "naive", horizon=2, initial=4)
    assert s["n"] == 3 and s["mae"] == pytest.approx(4 / 3) and s["bias"] == pytest.approx(-4 / 3)
    assert math.isnan(backtest.score([1, 2, 3], "naive", initial=5)["mae"])  # too short


def test_seasonal_data_picks_a_seasonal_method():
    spec, scores = backtest.choose(weekly_series())
    assert spec["method"] in ("seasonal_naive", "holt_winters"), (spec, scores)
    assert scores["mase"] < 1  # better than the naive forecast
    naive = backtest.score(weekly_series(), "naive")
    assert scores["mase"] < naive["mase"]


def test_stationary_data_does_not_pick_a_seasonal_method():
    rng = np.random.default_rng(5)
    spec, scores = backtest.choose(rng.poisson(20, 300).astype(float))
    assert spec["method"] in ("ses", "moving_average", "holt", "croston", "sba", "tsb"), spec
    # iid data: the naive forecast's errors have twice the variance of the level's
    assert backtest.score(rng.poisson(20, 300).astype(float), "naive")["mase"] > scores["mase"]


def test_table_lists_every_method_and_marks_the_best():
    t = backtest.table({"a": weekly_series(), "b": weekly_series(seed=4)},
                       ["naive", "seasonal_naive", {"method": "ses", "alpha": 0.3}])
    assert list(t.columns) == ["product", "method", "mae", "rmse", "mase", "bias", "n", "best"]
    assert len(t) == 6 and t.groupby("product")["best"].sum().tolist() == [1, 1]
    best = t[t["best"]]
    assert set(best["method"]) == {"seasonal_naive"}
    assert "ses(alpha=0.3)" in set(t["method"])


def test_auto_in_a_scenario_needs_a_warmup():
    data = {"name": "auto", "horizon": 100, "warmup": 10, "products": [{"id": "p"}],
            "suppliers": [{"id": "s", "lead_time": 1}],
            "warehouses": [{"id": "w", "inventory": {"p": {"source": "s", "policy": {
                "type": "order_up_to", "forecast": {"method": "auto"}}}}}],
            "customers": [{"id": "c", "warehouse": "w", "demand": {"p": {"rate": 5}}}]}
    with pytest.raises(ScenarioError, match="warm-up of at least 28 days"):
        simulator.load(data)
    data["warmup"] = 56
    res = simulator.run(data, progress=False)
    chosen = res.info["policies"]["w/p"]["forecast"]["chosen"]
    assert chosen in backtest.DEFAULT_METHODS
    data["warehouses"][0]["inventory"]["p"]["policy"]["forecast"] = {
        "method": "auto", "methods": ["naive", "nonsense"]}
    with pytest.raises(ScenarioError, match="nonsense"):
        simulator.load(data)


def test_forecast_command_unknown_method(tmp_path: Path, capsys):
    hist = tmp_path / "h.csv"
    hist.write_text("day,a\n0,1\n1,2\n")
    assert main(["forecast", str(hist), "--methods", "naive,psychic"]) == 2
    err = capsys.readouterr().err
    assert "--methods: unknown method 'psychic'" in err and "Traceback" not in err


def test_forecast_command_writes_and_prints_the_table(tmp_path: Path, capsys):
    hist = tmp_path / "sales.csv"
    a, b = weekly_series(140), weekly_series(140, seed=9)
    hist.write_text("day,tees,mugs\n" + "".join(f"{t},{x:g},{y:g}\n"
                                                for t, (x, y) in enumerate(zip(a, b))))
    assert main(["forecast", str(hist), "--methods", "naive,seasonal_naive,ses",
                 "--horizon", "7"]) == 0
    out = capsys.readouterr().out
    assert "<- best" in out and "MASE" in out
    import pandas as pd
    table = pd.read_csv(tmp_path / "sales-backtest.csv")
    assert set(table["product"]) == {"tees", "mugs"} and len(table) == 6
    assert table[table["best"]]["method"].tolist() == ["seasonal_naive", "seasonal_naive"]
    expect = backtest.score(a, "ses", horizon=7)
    row = table[(table["product"] == "tees") & (table["method"] == "ses")].iloc[0]
    assert row["mase"] == pytest.approx(expect["mase"], rel=1e-9)


def test_forecast_command_bad_history(tmp_path: Path, capsys):
    hist = tmp_path / "bad.csv"
    hist.write_text("day,tees\n0,3\n1,lots\n")
    assert main(["forecast", str(hist)]) == 2
    err = capsys.readouterr().err
    assert f"{hist}:3: tees: " in err and "Traceback" not in err
