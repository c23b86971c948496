"""Every example scenario in scenarios/ validates, runs, and writes its results folder."""
from __future__ import annotations

from pathlib import Path

import pytest

import simulator
from simulator.cli import main

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))


def test_there_are_example_scenarios():
    names = {p.stem for p in SCENARIOS}
    assert {"quickstart", "two_echelon", "lost_sales"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_validates(path, capsys):
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "ok"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_runs(path, tmp_path):
    res = simulator.run(path, replications=2, progress=False)
    sc = simulator.load(path)
    stock_points = sum(len(w.inventory) for w in sc.warehouses)
    assert len(res.metrics) == 2 * stock_points
    assert res.metrics["demand_units"].sum() > 0
    out = res.save(tmp_path / "out")
    assert {p.name for p in out.iterdir()} == {
        "metrics.csv", "summary.csv", "scenario.yaml", "run.json", "warnings.csv",
        "supplier_metrics.csv", "customer_metrics.csv"}
