"""Limits of the core (issue 5): bounded memory under long shortages, deep supply chains,
the work estimate and its bound, progress without a terminal, sanity warnings, and API
arguments checked with the CLI's messages."""
from __future__ import annotations

import io
import math
import sys
import textwrap
from typing import Any

import pytest

import simulator
from simulator.experiment import budget, progress
from simulator.model import Network
from simulator.observe.eventlog import EventLog
from simulator.scenario import load


def one_point(policy: dict[str, Any], rate: float = 5.0, horizon: float = 50.0,
              arrivals: str = "poisson", lead_time: float = 2.0) -> dict[str, Any]:
    return {
        "name": "point", "horizon": horizon,
        "products": [{"id": "p", "holding_cost": 1, "backorder_cost": 1}],
        "suppliers": [{"id": "sup", "lead_time": lead_time}],
        "warehouses": [{"id": "w", "inventory": {"p": {"source": "sup", "initial": 0,
                                                        "policy": policy}}}],
        "customers": [{"id": "c", "warehouse": "w",
                       "demand": {"p": {"rate": rate, "arrivals": arrivals}}}],
    }


#: an (s, S) policy whose reorder level is never reached: permanent shortage
NEVER = {"type": "sS", "s": -1_000_000, "S": -999_999}


# --------------------------------------------------------------------------- memory
def test_a_long_shortage_keeps_one_backorder_entry_not_one_per_order():
    net = Network(load(one_point(NEVER, rate=20, horizon=500)))
    net.start()
    net.run(500)
    sp = net.stock[("w", "p")]
    assert sp.backorders > 9_000  # ~10,000 orders went unfilled
    assert len(sp.queue) == 1 and sp.queue[0][0] == sp.backorders


def test_adjacent_orders_of_one_lane_merge_but_fifo_across_lanes_is_kept():
    # two stores ordering alternately from a DC without stock: entries stay separate
    # (FIFO across claimants), but a store's consecutive orders merge
    data = {
        "name": "fifo", "horizon": 10,
        "products": [{"id": "p"}],
        "suppliers": [{"id": "sup", "lead_time": 1}],
        "warehouses": [
            {"id": "dc", "inventory": {"p": {"source": "sup", "initial": 0, "policy": NEVER}}},
            {"id": "a", "inventory": {"p": {"source": "dc", "lead_time": 1, "initial": 0,
                                             "policy": {"type": "base_stock", "S": 0}}}},
            {"id": "b", "inventory": {"p": {"source": "dc", "lead_time": 1, "initial": 0,
                                             "policy": {"type": "base_stock", "S": 0}}}},
        ],
        "customers": [
            {"id": "ca", "warehouse": "a",
             "demand": {"p": {"rate": 1, "size": 2, "arrivals": "deterministic"}}},
            {"id": "cb", "warehouse": "b",
             "demand": {"p": {"rate": 0.5, "size": 3, "arrivals": "deterministic"}}},
        ],
    }
    net = Network(load(data))
    net.start()
    net.run(4.5)
    dc = net.stock[("dc", "p")]
    lanes = {id(sp.replenish.__self__): wid for (wid, _), sp in net.stock.items()}
    # t=1 a:2 | t=2 b:3 (scheduled first), a:2 | t=3 a:2 | t=4 b:3, a:2
    owed = [(lanes[id(lane)], qty) for qty, lane in dc.queue]
    assert owed == [("a", 2), ("b", 3), ("a", 4), ("b", 3), ("a", 2)]


def test_a_serial_chain_of_a_thousand_warehouses_validates_and_runs():
    n = 1000
    warehouses = [{"id": "w0", "inventory": {"p": {"source": "sup", "initial": 1,
                                                    "policy": {"type": "base_stock", "S": 1}}}}]
    for i in range(1, n):
        warehouses.append({"id": f"w{i}", "inventory": {"p": {
            "source": f"w{i - 1}", "lead_time": 0.5, "initial": 1,
            "policy": {"type": "base_stock", "S": 1}}}})
    data = {"name": "chain", "horizon": 3, "products": [{"id": "p"}],
            "suppliers": [{"id": "sup", "lead_time": 1}], "warehouses": warehouses,
            "customers": [{"id": "c", "warehouse": f"w{n - 1}",
                           "demand": {"p": {"rate": 1, "arrivals": "deterministic"}}}]}
    sc = load(data)
    log = EventLog()
    net = Network(sc)
    net.attach(lambda sp: log)
    net.start()
    net.run(sc.horizon)
    # the order at t=1 travels up the whole chain at once: every stage ships its unit
    # and orders one from its source, downstream first
    at_one = [r for r in log.records if r[0] == 1 and r[1] == "order"]
    assert [r[2] for r in at_one] == [f"w{i}" for i in range(n - 1, -1, -1)]


# --------------------------------------------------------------------------- work bound
def test_the_event_estimate_matches_the_orders_simulated():
    # Poisson orders: the estimate is their expectation, so the count simulated must be
    # within 4 standard deviations (sqrt of the mean) of it
    data = one_point({"type": "sS", "s": 5, "S": 20}, rate=40, horizon=200)
    data["replications"] = 3
    sc = load(data)
    expected = budget.estimate_events(sc)
    assert expected == 40 * 200 * 3
    res = simulator.run(sc, progress=False)
    orders = res.metrics["demand_units"].sum()  # unit sizes: units = customer orders
    assert abs(orders - expected) < 4 * math.sqrt(expected)


def test_periodic_reviews_count_in_the_estimate():
    data = one_point({"type": "base_stock", "S": 5, "review_period": 1e-6}, horizon=10)
    assert budget.events_per_replication(load(data)) == pytest.approx(5 * 10 + 10 / 1e-6 + 1)


@pytest.mark.parametrize("change", [{"horizon": 1e9}, {"horizon": 1e5, "replications": 1_000_000}])
def test_a_huge_run_is_refused_before_it_starts(change):
    data = {**one_point({"type": "sS", "s": 5, "S": 20}), **change}
    with pytest.raises(simulator.UserError) as exc:
        simulator.run(data, progress=False)
    text = str(exc.value)
    assert "events" in text and "max_events=" in text and "the limit is 5e+08" in text


def test_a_tiny_review_period_is_refused_too():
    data = one_point({"type": "base_stock", "S": 5, "review_period": 1e-9}, horizon=365)
    with pytest.raises(simulator.UserError, match="about"):
        simulator.run(data, progress=False)


def test_the_bound_can_be_raised_or_lifted():
    data = one_point({"type": "sS", "s": 5, "S": 20}, rate=10, horizon=100)
    with pytest.raises(simulator.UserError):
        simulator.run(data, progress=False, max_events=999)
    assert len(simulator.run(data, progress=False, max_events=1001).metrics) == 1
    assert len(simulator.run(data, progress=False, max_events=None).metrics) == 1
    assert len(simulator.run(data, progress=False, max_events=math.inf).metrics) == 1


def test_the_cli_refuses_a_huge_run_and_names_its_flag(tmp_path, capsys):
    from simulator.cli import main

    path = tmp_path / "long.yaml"
    path.write_text(textwrap.dedent("""\
        name: long
        horizon: 1e9
        products: [{id: p}]
        suppliers: [{id: sup, lead_time: 1}]
        warehouses: [{id: w, inventory: {p: {source: sup, policy: {type: sS, s: 1, S: 5}}}}]
        customers: [{id: c, warehouse: w, demand: {p: {rate: 3}}}]
        """))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--max-events 3e9" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- progress
def test_progress_without_a_terminal_prints_lines_with_an_eta(monkeypatch):
    clock = iter([0.0, 0.0, 12.0, 13.0, 50.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    bar = progress.progress(10, None, stream=out)
    assert isinstance(bar, progress.LineProgress)
    bar.update(1)    # t=0: too early
    bar.update(2)    # t=12: 3 of 10 done in 12 s -> about 28 s left
    bar.update(1)    # t=13: within 30 s of the last line
    bar.update(1)    # t=50: 5 of 10 in 50 s -> 50 s left
    lines = out.getvalue().splitlines()
    assert lines == ["progress: 30% (3.0/10 replications), 0:12 elapsed, about 0:28 left",
                     "progress: 50% (5.0/10 replications), 0:50 elapsed, about 0:50 left"]


def test_progress_choice():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(progress.progress(3, False), progress.NoProgress)
    assert isinstance(progress.progress(3, None, stream=io.StringIO()), progress.LineProgress)
    assert not isinstance(progress.progress(3, None, stream=Tty()), progress.LineProgress)


# --------------------------------------------------------------------------- sanity
def test_a_policy_that_never_orders_is_warned_about():
    res = simulator.run(one_point(NEVER, rate=5, horizon=30), progress=False)
    w = res.warnings
    assert list(w["kind"]) == ["never_orders"]
    assert w.iloc[0]["warehouse"] == "w" and w.iloc[0]["severity"] == "warning"


def test_a_healthy_run_has_no_warnings():
    res = simulator.run(one_point({"type": "sS", "s": 10, "S": 30}), progress=False)
    assert res.warnings.empty


def test_absurd_orders_and_infinite_costs_are_warned_about(tmp_path, monkeypatch):
    (tmp_path / "absurd_policy.py").write_text(textwrap.dedent("""\
        class Huge:
            review_period = 1.0
            def order_quantity(self, view):
                return 1e308 if view.time == 1.0 else 0.0
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("absurd_policy", None)
    res = simulator.run(one_point({"type": "absurd_policy:Huge"}, horizon=5, lead_time=0),
                        progress=False)
    kinds = dict(zip(res.warnings["kind"], res.warnings["message"]))
    assert "1e+308 units" in kinds["absurd_order"]
    assert "holding_cost" in kinds["non_finite"] and "total_cost" in kinds["non_finite"]
    assert res.warnings.set_index("kind").loc["absurd_order", "time"] == 1.0


# --------------------------------------------------------------------------- API arguments
@pytest.mark.parametrize("kwargs, message", [
    ({"jobs": -1}, "jobs: must be a whole number >= 0 (0: one per core), got -1"),
    ({"jobs": "2"}, "jobs: must be a whole number >= 0 (0: one per core), got '2'"),
    ({"jobs": True}, "jobs: must be a whole number >= 0"),
    ({"max_events": "many"}, "max_events: must be a number > 0"),
    ({"progress": "yes"}, "progress: must be True, False, None or a function of the share done"),
    ({"replications": 10**400}, "replications: must be a whole number from 1 to 1000000"),
])
def test_api_arguments_are_user_errors_with_the_cli_messages(kwargs, message):
    with pytest.raises(simulator.UserError) as exc:
        simulator.run("scenarios/quickstart.yaml", **kwargs)
    assert str(exc.value).startswith("<arguments>: " + message)


@pytest.mark.parametrize("bad", [123, None, 1.5, ["scenarios/quickstart.yaml"]])
def test_a_scenario_of_the_wrong_type_is_a_user_error(bad):
    with pytest.raises(simulator.UserError) as exc:
        simulator.run(bad)
    assert str(exc.value).startswith("<arguments>: scenario: expected a scenario file")


def test_the_cli_rejects_negative_jobs_with_the_same_message(capsys):
    from simulator.cli import main

    assert main(["run", "scenarios/quickstart.yaml", "--jobs", "-1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "<arguments>: jobs: must be a whole number >= 0 (0: one per core), got -1"


# --------------------------------------------------------------------------- blame
RQ_YAML = """\
name: rq
horizon: 20
products: [{id: p, holding_cost: 1}]
suppliers: [{id: sup, lead_time: 1}]
warehouses:
  - id: w
    inventory:
      p:
        source: sup
        policy: {type: rQ, r: 5, Q: 10}
customers: [{id: c, warehouse: w, demand: {p: {rate: 3}}}]
"""


def _in_policies_code() -> Any:
    """A math.floor that fails as if inside policies/classic.py (a bug in a built-in)."""
    import policies.classic

    code = "def floor(x):\n    raise OverflowError('cannot convert float infinity to integer')\n"
    ns: dict[str, Any] = {}
    exec(compile(code, policies.classic.__file__, "exec"), ns)
    return ns["floor"]


def test_a_built_in_policy_failing_blames_the_scenario_line_not_our_code(tmp_path,
                                                                           monkeypatch):
    import policies.classic

    path = tmp_path / "rq.yaml"
    path.write_text(RQ_YAML)
    monkeypatch.setattr(policies.classic.math, "floor", _in_policies_code())
    with pytest.raises(simulator.UserError) as exc:
        simulator.run(str(path), progress=False)
    (problem,) = exc.value.problems
    assert (problem.file, problem.line) == (str(path), 10)
    assert problem.key == "warehouses.0.inventory.p.policy"
    assert "OverflowError" in problem.message and "classic.py" not in str(problem)


def test_overrides_keep_the_scenario_file_for_messages(tmp_path, monkeypatch):
    import policies.classic

    path = tmp_path / "rq.yaml"
    path.write_text(RQ_YAML)
    sc = simulator.load(path)
    monkeypatch.setattr(policies.classic.math, "floor", _in_policies_code())
    with pytest.raises(simulator.UserError) as exc:
        simulator.run(sc, replications=2, seed=3, jobs=2, progress=False)
    assert (exc.value.problems[0].file, exc.value.problems[0].line) == (str(path), 10)


def test_random_disruptions_count_in_the_estimate():
    data = one_point({"type": "sS", "s": 5, "S": 20}, rate=5, horizon=100)
    data["suppliers"][0]["disruptions"] = {"mean_between": 1e-7, "mean_duration": 1e-7}
    assert budget.events_per_replication(load(data)) == pytest.approx(5 * 100 + 2 * 100 / 2e-7)
    with pytest.raises(simulator.UserError, match="events"):
        simulator.run(data, progress=False)
