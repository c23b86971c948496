"""The experiment runner: progress reporting, overrides and worker counts never change numbers."""
from __future__ import annotations

from pathlib import Path

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


def test_target_ci_adds_replications_until_the_interval_is_tight_enough():
    # quickstart's widget fill rate: start with 2 replications, ask for a half-width of
    # 0.004; the run adds replications until every stock point's interval is that
    # tight, and its first replications are those of the plain run (same streams)
    import math

    from simulator.stats import t_quantile

    path = Path(__file__).resolve().parent.parent / "scenarios" / "quickstart.yaml"
    res = simulator.run(path, replications=2, target_ci={"fill_rate": 0.004},
                        max_replications=200, progress=False)
    n = res.scenario.replications
    info = res.info["target_ci"]
    assert info["reached"] and info["replications"] == n and n > 2
    fill = res.summary[res.summary["metric"] == "fill_rate"]
    half = t_quantile(0.975, n - 1) * fill["std"] / math.sqrt(n)
    assert (half <= 0.004 + 1e-12).all()
    plain = simulator.run(path, replications=n, progress=False)
    assert plain.metrics.equals(res.metrics)  # replication r: the same streams
    capped = simulator.run(path, replications=2, target_ci={"fill_rate": 1e-6},
                           max_replications=5, progress=False)
    assert capped.scenario.replications == 5 and not capped.info["target_ci"]["reached"]


def test_bad_target_ci_is_a_user_error(capsys):
    path = Path(__file__).resolve().parent.parent / "scenarios" / "quickstart.yaml"
    from simulator.cli import main
    assert main(["run", str(path), "--target-ci", "fillrate=0.01", "--out", "/nonexistent/x"]) == 2
    assert "--target-ci: unknown metric 'fillrate'" in capsys.readouterr().err
    assert main(["run", str(path), "--target-ci", "fill_rate=-1", "--out", "/nonexistent/x"]) == 2
    assert "half-width must be a number > 0" in capsys.readouterr().err
    with pytest.raises(simulator.errors.UserError, match="max_replications"):
        simulator.run(path, target_ci={"fill_rate": 0.01}, max_replications=1)


def test_progress_function_gets_the_share_done_and_one_at_the_end(monkeypatch):
    from simulator.experiment import progress

    monkeypatch.setattr(progress, "CALL_EVERY", 0.0)
    shares: list[float] = []
    sc = {"name": "p", "horizon": 50, "replications": 3,
          "products": [{"id": "p", "holding_cost": 1}],
          "suppliers": [{"id": "s", "lead_time": 1}],
          "warehouses": [{"id": "w", "inventory": {"p": {"source": "s", "policy": {
              "type": "sS", "s": 2, "S": 6}}}}],
          "customers": [{"id": "c", "warehouse": "w", "demand": {"p": {"rate": 2}}}]}
    plain = simulator.run(sc, progress=False)
    res = simulator.run(sc, progress=shares.append)
    assert res.metrics.equals(plain.metrics)
    assert shares == sorted(shares) and len(shares) > 3  # within replications too
    assert shares[-1] == 1.0 and shares.count(1.0) <= 2
    with pytest.raises(simulator.UserError, match="progress"):
        simulator.run(sc, progress="yes")


def test_progress_function_never_goes_backwards_nor_past_one(monkeypatch):
    """The parts of a replication add up to 1 only within rounding, so the count can pass
    the total and the runner's last update (``1 - parts``) can be negative; the page's bar
    still never moves back nor past 1 (the overshoot exaggerated here to 0.1)."""
    from simulator.experiment import progress

    monkeypatch.setattr(progress, "CALL_EVERY", 0.0)
    shares: list[float] = []
    with progress.CallbackProgress(2, shares.append) as bar:
        for part in (0.6, 0.5, 1.0 - 1.1, 1.1):  # a replication: parts, remainder; then one more
            bar.update(part)
    assert shares == sorted(shares) and max(shares) == 1.0 and shares[-1] == 1.0
    assert shares[:2] == [pytest.approx(0.3), pytest.approx(0.55)]
