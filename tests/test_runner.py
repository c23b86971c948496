"""The experiment runner: progress reporting, overrides and worker counts never change numbers."""
from __future__ import annotations

import pandas as pd
import pytest

import simulator
from simulator.experiment import run_replication

SCENARIO = "scenarios/quickstart.yaml"


def test_progress_steps_do_not_change_results():
    sc = simulator.load(SCENARIO)
    plain = run_replication(sc, 3, 11)
    shares: list[float] = []
    stepped = run_replication(sc, 3, 11, progress=shares.append)
    assert stepped.rows == plain.rows
    assert len(shares) == 20 + 20  # warm-up and measured window, 20 steps each
    assert sum(shares) == pytest.approx(1.0)


def test_progress_bar_on_and_off_give_identical_tables():
    on = simulator.run(SCENARIO, replications=2, progress=True)
    off = simulator.run(SCENARIO, replications=2, progress=False)
    pd.testing.assert_frame_equal(on.metrics, off.metrics)


def test_overrides_are_applied_and_recorded():
    res = simulator.run(SCENARIO, replications=3, seed=5, progress=False)
    assert res.scenario.replications == 3 and res.scenario.seed == 5
    assert sorted(res.metrics["replication"].unique()) == [0, 1, 2]
    assert res.info["seed"] == 5 and res.info["replications"] == 3


@pytest.mark.parametrize("kwargs", [{"replications": 0}, {"seed": -1}, {"replications": 1.5}])
def test_bad_overrides_are_user_errors(kwargs):
    with pytest.raises(simulator.ScenarioError) as exc:
        simulator.run(SCENARIO, progress=False, **kwargs)
    assert str(exc.value).startswith("<arguments>: ")


def test_all_cores_equals_serial():
    serial = simulator.run(SCENARIO, replications=3, jobs=1, progress=False)
    every = simulator.run(SCENARIO, replications=3, jobs=0, progress=False)
    pd.testing.assert_frame_equal(serial.metrics, every.metrics)
    pd.testing.assert_frame_equal(serial.summary, every.summary)
