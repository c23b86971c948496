"""``simulator optimize`` (SPEC 9): it finds THEORY 1's exact optimum, is deterministic,
resumes to the same result, and refuses bad params and constraints with a clear message."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

try:  # works whether or not tests/ is a package
    from . import theory
except ImportError:  # pragma: no cover - depends on how pytest imports the file
    import theory

import simulator
from simulator import cli
from simulator.optimizer import core

LAM, L, H, K, B = 4.0, 2.0, 1.0, 20.0, 9.0  # units/day, days, money/unit/day, money/order
S_KEY = "warehouses.dc.inventory.item.policy.s"
BIG_S_KEY = "warehouses.dc.inventory.item.policy.S"
BOX = [f"{S_KEY}=0:20", f"{BIG_S_KEY}=1:60"]


def scenario(reps: int = 3, horizon: float = 2100.0, warmup: float = 100.0) -> dict:
    """One product, Poisson unit demand, constant lead time, continuous-review (s,S) with
    backorders (THEORY 1), starting far from the optimum (s=2, S=6)."""
    return {"name": "opt-theory", "horizon": horizon, "warmup": warmup, "replications": reps,
            "seed": 1,
            "products": [{"id": "item", "holding_cost": H, "ordering_cost": K,
                          "backorder_cost": B}],
            "suppliers": [{"id": "sup", "lead_time": L}],
            "warehouses": [{"id": "dc", "inventory": {"item": {
                "source": "sup", "policy": {"type": "sS", "s": 2, "S": 6}}}}],
            "customers": [{"id": "cust", "warehouse": "dc", "unmet": "backorder",
                           "demand": {"item": {"rate": LAM, "size": 1}}}]}


def exact_cost(s: int, big_s: int) -> float:
    """THEORY 1 cost per day of (s,S) = (r,Q) with r = s, Q = S - s: holding + backorder +
    ordering (lambda / Q orders a day)."""
    e = theory.rq_poisson(LAM, L, s, big_s - s)
    return H * e["avg_on_hand"] + B * e["avg_backorders"] + K * LAM / (big_s - s)


def exact_optimum(ss: range, big_ss: range) -> tuple[float, int, int]:
    return min((exact_cost(s, b), s, b) for s in ss for b in big_ss if b > s)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    status = cli.main(["optimize", *args])
    out, err = capsys.readouterr()
    return status, out, err


def write(tmp_path: Path, data: dict, name: str = "sc.yaml") -> str:
    import yaml
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


# -- closeness to the exact optimum -------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 5])
def test_annealing_ends_near_the_exact_optimum(seed):
    """From (2, 6), whose exact cost is over twice the optimum's, 40 candidates of 3
    replications reach an (s,S) whose exact cost is within 3% of the exact optimum over the
    whole box."""
    best_cost, *_ = exact_optimum(range(0, 21), range(1, 61))
    assert exact_cost(2, 6) > 2 * best_cost  # the start is far off
    res = simulator.optimize(scenario(), BOX, budget=40, seed=seed, progress=False)
    s, big_s = res.best[S_KEY], res.best[BIG_S_KEY]
    assert isinstance(s, int) and isinstance(big_s, int)
    assert len(res.trace) == 40
    assert exact_cost(s, big_s) <= 1.03 * best_cost, (s, big_s)


def test_grid_finds_the_exact_grid_best():
    """On a 3 x 3 grid with steps, the candidate marked best is the exact best grid point
    (the runner-up is 10% dearer; 3 replications of 2000 days on common random numbers), and
    every grid point is in the trace."""
    from simulator.stats import t_quantile
    res = simulator.optimize(scenario(), [f"{S_KEY}=3:11:4", f"{BIG_S_KEY}=14:30:8"],
                             method="grid", budget=100, progress=False)
    tr = res.trace
    assert set(zip(tr[S_KEY], tr[BIG_S_KEY], strict=True)) == \
        {(s, b) for s in (3, 7, 11) for b in (14, 22, 30)}
    cost, s, b = exact_optimum(range(3, 12, 4), range(14, 31, 8))
    assert (res.best[S_KEY], res.best[BIG_S_KEY]) == (s, b)
    # mean_cost is the cost of the 2000 measured days: the exact rate within 4 SE
    row = tr[tr["best"]].iloc[0]
    se = (row["ci_high"] - row["mean_cost"]) / t_quantile(0.975, 2) / 2000
    assert abs(row["mean_cost"] / 2000 - cost) <= 4 * se


def test_constraint_is_met_by_the_best():
    """``fill_rate>=0.96`` moves the best to a dearer (s,S) whose exact fill rate meets the
    bound, at an exact cost within 3% of the exact constrained optimum (the grid's fill
    rates are at least 0.014 from the bound, several standard errors)."""
    grid_s, grid_b = range(3, 16, 4), range(22, 39, 8)
    free, *_ = exact_optimum(grid_s, grid_b)
    fill = {(s, b): theory.rq_poisson(LAM, L, s, b - s)["fill_rate"]
            for s in grid_s for b in grid_b}
    bound = 0.96
    best_ok = min(exact_cost(s, b) for (s, b), f in fill.items() if f >= bound)
    assert best_ok > 1.1 * free  # the constraint binds
    res = simulator.optimize(scenario(), [f"{S_KEY}=3:15:4", f"{BIG_S_KEY}=22:38:8"],
                             method="grid", budget=100, constraints=[f"fill_rate>={bound}"],
                             progress=False)
    s, b = res.best[S_KEY], res.best[BIG_S_KEY]
    assert res.info["feasible"]
    assert fill[(s, b)] >= bound
    assert exact_cost(s, b) <= 1.03 * best_ok
    assert list(res.trace.columns)[-3:] == ["fill_rate", "feasible", "best"]
    assert (res.trace["feasible"] == (res.trace["fill_rate"] >= bound)).all()


# -- determinism, trace, best.yaml ----------------------------------------------------------------

SHORT = dict(reps=2, horizon=400.0, warmup=20.0)


def test_trace_columns_and_best_yaml_runs(tmp_path, capsys):
    sc = write(tmp_path, scenario(**SHORT))
    out = tmp_path / "opt"
    status, text, err = run_cli(capsys, sc, "--param", BOX[0], "--param", BOX[1], "--budget",
                                "9", "--workers", "1", "--quiet", "--out", str(out),
                                "--constraint", "fill_rate[dc/item]>=0.5")
    assert status == 0, err
    tr = pd.read_csv(out / "trace.csv")
    assert list(tr.columns) == ["candidate", S_KEY, BIG_S_KEY, "mean_cost", "ci_low", "ci_high",
                                "replications", "fill_rate[dc/item]", "feasible", "best"]
    assert list(tr["candidate"]) == list(range(9))
    assert tr["best"].sum() == 1 and (tr["replications"] == 2).all()
    assert (tr["ci_low"] < tr["mean_cost"]).all() and (tr["mean_cost"] < tr["ci_high"]).all()
    best = tr[tr["best"]].iloc[0]
    assert best["mean_cost"] == tr[tr["feasible"]]["mean_cost"].min()
    info = json.loads((out / "optimize.json").read_text())
    assert info["best"][S_KEY] == best[S_KEY] and info["evaluations"] == 9
    assert not list(tmp_path.glob(".*partial"))  # the part folder is removed
    # best.yaml runs as is and gives the best candidate's mean cost
    status = cli.main(["run", str(out / "best.yaml"), "--quiet", "--out", str(tmp_path / "r")])
    assert status == 0, capsys.readouterr().err
    m = pd.read_csv(tmp_path / "r" / "metrics.csv")
    assert m["total_cost"].mean() == pytest.approx(best["mean_cost"], rel=1e-9)
    run = simulator.load(str(out / "best.yaml"))
    policy = run.warehouses[0].inventory["item"].policy
    assert (policy["s"], policy["S"]) == (best[S_KEY], best[BIG_S_KEY])


def test_same_seed_same_trace_any_workers(tmp_path, capsys):
    sc = write(tmp_path, scenario(**SHORT))
    traces = []
    for name, workers, seed in (("a", "1", "3"), ("b", "2", "3"), ("c", "1", "4")):
        status, _, err = run_cli(capsys, sc, "--param", BOX[0], "--param", BOX[1],
                                 "--budget", "10", "--seed", seed, "--workers", workers,
                                 "--quiet", "--out", str(tmp_path / name))
        assert status == 0, err
        traces.append((tmp_path / name / "trace.csv").read_text())
    assert traces[0] == traces[1]
    assert traces[0] != traces[2]  # the search's seed is used


def test_resume_gives_the_uninterrupted_result(tmp_path, monkeypatch):
    """A search stopped after 5 candidates (the part file's last line cut short, as by a
    kill) resumes without rerunning them and ends with the same trace."""
    sc = scenario(**SHORT)
    kw = dict(budget=12, seed=2, progress=False)
    whole = simulator.optimize(sc, BOX, out=tmp_path / "whole", **kw)
    out = tmp_path / "cut"
    real = core.evaluate
    calls = []

    def stop_after_five(scenarios, constraints, jobs, dask, on_done, client=None):
        def counted(n, ev):
            if len(calls) == 5:
                raise KeyboardInterrupt
            calls.append(n)
            on_done(n, ev)
        real(scenarios, constraints, jobs, dask, counted, client)

    monkeypatch.setattr(core, "evaluate", stop_after_five)
    with pytest.raises(KeyboardInterrupt):
        simulator.optimize(sc, BOX, out=out, **kw)
    part = core.partial_folder(out.resolve()) / "candidates.jsonl"
    lines = part.read_text().splitlines()
    assert len(lines) == 5
    part.write_text("\n".join(lines) + '\n{"values": [3, ')  # a line cut short
    monkeypatch.setattr(core, "evaluate", real)
    with pytest.raises(simulator.UserError, match="--resume"):
        simulator.optimize(sc, BOX, out=out, **kw)
    res = simulator.optimize(sc, BOX, out=out, resume=True, **kw)
    assert res.info["resumed"] == 5
    assert (out / "trace.csv").read_text() == (tmp_path / "whole" / "trace.csv").read_text()
    assert res.best == whole.best


# -- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("flag, value, expected", [
    ("--param", "warehouses.dc.inventory.nothing.policy.s=1:5",
     "--param: warehouses.dc.inventory.nothing.policy.s: "),
    ("--param", "warehouses.dc.inventory.item.source=1:5",
     "--param: warehouses.dc.inventory.item.source: is not a number"),
    ("--param", f"{S_KEY}=9:3", f"--param: {S_KEY}: LOW must be at most HIGH"),
    ("--param", f"{S_KEY}=1-5", f"--param: {S_KEY}: '1-5' is not LOW:HIGH"),
    ("--param", f"{S_KEY}=1:5:0", f"--param: {S_KEY}: STEP must be a number > 0"),
    ("--param", "horizon", "--param: 'horizon': expected KEY=LOW:HIGH"),
    ("--constraint", "fill_ratio>=0.9", "--constraint: 'fill_ratio>=0.9': unknown metric"),
    ("--constraint", "fill_rate[dc/gizmo]>=0.9", "no stock point dc/gizmo"),
    ("--constraint", "fill_rate>0.9", "--constraint: 'fill_rate>0.9': expected METRIC>=X"),
    ("--constraint", "bullwhip<=2", "bullwhip has no network total"),
    ("--budget", "0", "--budget: must be a whole number >= 1"),
])
def test_bad_input_is_named(tmp_path, capsys, flag, value, expected):
    sc = write(tmp_path, scenario(**SHORT))
    args = [sc, "--out", str(tmp_path / "o"), "--quiet"]
    args += [] if flag == "--param" else ["--param", BOX[0]]
    status, _, err = run_cli(capsys, *args, flag, value)
    assert status == 2
    assert err.startswith("<command line>: ") and expected in err, err
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def test_refused_candidates_are_not_evaluated():
    """Points the scenario refuses (s >= S) are skipped, not run or counted."""
    res = simulator.optimize(scenario(**SHORT), [f"{S_KEY}=4:8:2", f"{BIG_S_KEY}=5:9:2"],
                             method="grid", budget=100, progress=False)
    pairs = set(zip(res.trace[S_KEY], res.trace[BIG_S_KEY], strict=True))
    assert pairs == {(4, 5), (4, 7), (4, 9), (6, 7), (6, 9), (8, 9)}
    assert res.info["refused"] == 3 and not math.isnan(res.trace["mean_cost"].sum())


def test_network_fill_rate_constraint_is_the_demand_weighted_fill_rate_of_a_run():
    """The network ``fill_rate`` of a constraint weights each stock point by its demand (as
    ``simulator sweep``'s totals): a fast mover well stocked and a slow one starved give a
    weighted fill rate far from their plain mean, and the trace's column equals the weighted
    one of ``simulator run`` with the candidate's values (same streams: exactly)."""
    data = scenario(**SHORT)
    data["products"].append({"id": "slow", "holding_cost": H, "ordering_cost": K,
                             "backorder_cost": B})
    data["warehouses"][0]["inventory"]["slow"] = {
        "source": "sup", "policy": {"type": "sS", "s": -3, "S": -2}}
    data["customers"][0]["demand"]["slow"] = {"rate": 0.4, "size": 1}
    res = simulator.optimize(data, [f"{BIG_S_KEY}=20:30"], method="grid", levels=2,
                             budget=2, constraints=["fill_rate>=0.5"], progress=False)
    for _, cand in res.trace.iterrows():
        m = simulator.run(simulator.experiment.keys.apply_overrides(
            simulator.load(data), {BIG_S_KEY: int(cand[BIG_S_KEY])}), progress=False).metrics
        per_rep = m.groupby("replication").apply(
            lambda g: (g["fill_rate"] * g["demand_units"]).sum() / g["demand_units"].sum(),
            include_groups=False)
        plain = m.groupby("replication")["fill_rate"].mean().mean()
        assert cand["fill_rate"] == pytest.approx(per_rep.mean(), rel=1e-12)
        assert abs(cand["fill_rate"] - plain) > 0.2  # the weights matter here


def test_an_infeasible_candidate_is_worse_than_a_dearer_feasible_one():
    """Annealing walks on the energy: a candidate missing a constraint, even barely, counts
    worse than a feasible one dearer by up to the first candidate's cost (the penalty's
    scale), so the walk does not settle where the constraint fails."""
    from simulator.optimizer.evaluate import Evaluation
    from simulator.optimizer.params import parse_constraint

    bound = parse_constraint("fill_rate>=0.9", {("dc", "item")})
    search = core._Search(simulator.load(scenario(**SHORT)), [], [bound], 1, None, None, None)

    def energy(cost: float, fill: float) -> float:
        return search.energy(Evaluation(cost, cost - 1, cost + 1, 2, {"fill_rate": fill}))

    first = energy(100.0, 0.95)  # sets the scale: 101
    assert first == 100.0
    barely = energy(50.0, 0.899)
    assert barely > energy(150.0, 0.9) and barely > energy(50.0 + 100.0, 1.0)
    assert energy(50.0, 0.5) > barely  # further from the bound: worse still


def test_whole_number_bounds_give_whole_numbers_and_others_floats():
    """Bounds written as whole numbers give whole numbers (``S``: 10:14); bounds with a
    decimal point give floats (the lead time 1.5:3.5; ``s`` 0.5:3.5), even on a value the
    scenario holds as a float."""
    lead = "suppliers.sup.lead_time"
    res = simulator.optimize(scenario(**SHORT), [f"{lead}=1.5:3.5", f"{S_KEY}=0.5:3.5",
                                                 f"{BIG_S_KEY}=10:14"],
                             method="grid", levels=3, budget=100, progress=False)
    assert sorted(set(res.trace[lead])) == [1.5, 2.5, 3.5]
    assert sorted(set(res.trace[S_KEY])) == [0.5, 2.0, 3.5]
    assert sorted(set(res.trace[BIG_S_KEY])) == [10, 12, 14]
    assert res.trace[BIG_S_KEY].dtype.kind == "i" and res.trace[lead].dtype.kind == "f"
    assert isinstance(res.best[BIG_S_KEY], int) and isinstance(res.best[lead], float)


def test_every_flag_is_documented():
    import argparse
    doc = (Path(__file__).resolve().parents[1] / "docs" / "optimize.md").read_text()
    sub = next(a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction))
    flags = [max(a.option_strings, key=len) for a in sub.choices["optimize"]._actions
             if a.option_strings and not isinstance(a, argparse._HelpAction)]
    assert len(flags) > 10
    assert [f for f in flags if f"`{f}" not in doc] == []
