"""Cheap runs: no SciPy on the common path (exact Student-t and normal quantiles without
it), a cheap ``import simulator``, validation and build linear in the catalogue size, and
no recursion over supply chains (a 1,000-warehouse serial chain validates)."""
from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
from scipy import stats as sps

import policies
import simulator
from policies.base import PolicyContext
from policies.classic import eoq_reorder_point
from simulator.model import Network
from simulator.observe.metrics import MetricsCollector
from simulator.scenario.derived import policy_contexts
from simulator.stats import t_quantile, t_quantiles

# every df 1..200, then about 12 per decade up to 10**6, plus non-integers and the switch
# to the large-df expansion at 1000
DFS = [*range(1, 201), *sorted({round(10 ** (2.3 + k / 12)) for k in range(47)}),
       0.5, 1.5, 2.5, 999, 999.5, 1000, 1000.5, 10 ** 6]


@pytest.mark.parametrize("p", [0.975, 0.995, 0.95, 0.9, 0.75, 0.6, 0.025, 0.0005])
def test_t_quantile_matches_scipy(p):
    got = t_quantiles(p, DFS)
    want = sps.t.ppf(p, DFS)
    for df, g, w in zip(DFS, got, want):
        assert abs(g - w) <= 1e-10 * max(1.0, abs(w)), (p, df, g, w)


def test_t_quantile_edges():
    assert t_quantile(0.5, 7) == 0.0
    assert t_quantile(0.975, 1) == pytest.approx(12.706204736174698, rel=1e-14)
    for bad in [(0.0, 3), (1.0, 3), (0.9, 0), (0.9, -1)]:
        with pytest.raises(ValueError):
            t_quantile(*bad)


@pytest.mark.parametrize("level", [0.5, 0.8, 0.95, 0.999, 1e-6])
def test_eoq_reorder_point_uses_the_exact_normal_quantile(level):
    ctx = PolicyContext("w", "p", demand_rate=4.0, demand_var_rate=6.0, lead_time_mean=3.0,
                        lead_time_var=0.5)
    var = 6.0 * 5.0 + 16.0 * 0.5
    want = 4.0 * 5.0 + sps.norm.ppf(level) * math.sqrt(var)
    assert eoq_reorder_point(ctx, level, 2.0) == pytest.approx(want, rel=1e-14, abs=1e-12)


def _fresh(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    return out.stdout.strip()


HEAVY = ("pandas", "pydantic", "scipy", "simpy", "numpy")
LOADED = "print(sorted(m for m in {!r} if m in sys.modules))"


def test_importing_the_cli_loads_no_heavy_package():
    assert _fresh("import sys, simulator.cli\n" + LOADED.format(HEAVY)) == "[]"
    # policies.classic needs pydantic (its models), but neither it nor stats needs scipy
    code = "import sys, simulator.stats, policies.classic\n" + LOADED.format(("scipy",))
    assert _fresh(code) == "[]"


def test_eoq_scenario_validates_without_scipy():
    code = ("import sys, simulator\n"
            "simulator.load('scenarios/quickstart.yaml')\n"
            "simulator.load({'name': 'e', 'horizon': 5, 'products': [{'id': 'p', "
            "'holding_cost': 1.0, 'ordering_cost': 4.0}], 'suppliers': [{'id': 's', "
            "'lead_time': 1.0}], 'warehouses': [{'id': 'w', 'inventory': {'p': {'source': "
            "'s', 'policy': {'type': 'eoq'}}}}], 'customers': [{'id': 'c', 'warehouse': 'w', "
            "'demand': {'p': {'rate': 2.0}}}]})\n"
            "print('scipy' in sys.modules)")
    assert _fresh(code) == "False"


def test_lazy_public_api():
    assert callable(simulator.run) and callable(simulator.load)
    assert simulator.Results.__name__ == "Results"
    assert simulator.Scenario.__name__ == "Scenario"
    assert isinstance(simulator.__version__, str)
    assert set(simulator.__all__) <= set(dir(simulator))
    with pytest.raises(AttributeError):
        simulator.no_such_name  # noqa: B018


def catalogue(n: int, mix: bool = False) -> dict:
    """``n`` products at one warehouse (as benchmarks/gen.py makes them)."""
    inv = {}
    for i in range(n):
        pol = {"type": "eoq"} if mix and i % 2 else {"type": "sS", "s": 5, "S": 20}
        inv[f"p{i}"] = {"source": "s", "policy": pol}
    return {"name": "cat", "horizon": 2,
            "products": [{"id": f"p{i}", "holding_cost": 0.1, "ordering_cost": 5.0}
                         for i in range(n)],
            "suppliers": [{"id": "s", "lead_time": 2.0}],
            "warehouses": [{"id": "w", "inventory": inv}],
            "customers": [{"id": "c", "warehouse": "w",
                           "demand": {f"p{i}": {"rate": 1.0} for i in range(n)}}]}


OURS = (os.path.dirname(simulator.__file__), os.path.dirname(policies.__file__))


def _work(n: int) -> int:
    """Lines of our own code (simulator/, policies/) executed to validate, build and
    tabulate an ``n``-product catalogue: a deterministic measure of work (every turn of a
    loop counts, a linear search inside a generator expression included)."""
    data = catalogue(n, mix=True)
    count = 0

    def local(frame, event, arg):
        nonlocal count
        count += 1
        return local

    def enter(frame, event, arg):
        return local if frame.f_code.co_filename.startswith(OURS) else None

    sys.settrace(enter)
    try:
        sc = simulator.load(data)
        MetricsCollector(Network(sc)).rows(1.0)
    finally:
        sys.settrace(None)
    return count


def test_validation_and_build_are_linear_in_products():
    # 8x the products: linear work gives 8x the lines run; one linear search of the
    # catalogue per stock point (Scenario.product, as before) gave far more
    simulator.load(catalogue(2, mix=True))  # one-time imports and caches out of the count
    small, large = _work(200), _work(1600)
    assert large / small < 9, (small, large)


def test_each_policy_is_built_at_most_three_times(monkeypatch):
    """Reading (parameters, default initial stock) and one network build: not five."""
    calls = []
    real = policies.build

    def counting(params, cls):
        calls.append(cls)
        return real(params, cls)

    monkeypatch.setattr(policies, "build", counting)
    sc = simulator.load(catalogue(10))
    Network(sc)
    assert len(calls) <= 3 * 10


def serial_chain(n: int) -> dict:
    """Warehouses w0 <- w1 <- ... <- w{n-1}; customers at every 100th warehouse."""
    whs = [{"id": "w0", "inventory": {"p": {"source": "s", "policy": {"type": "eoq"}}}}]
    whs += [{"id": f"w{i}", "inventory": {"p": {"source": f"w{i - 1}", "lead_time": 1.0,
                                                "policy": {"type": "base_stock", "S": 3}}}}
            for i in range(1, n)]
    custs = [{"id": f"c{i}", "warehouse": f"w{i}", "demand": {"p": {"rate": 1.0 + i / 100}}}
             for i in range(n - 1, -1, -100)]
    return {"name": "chain", "horizon": 5,
            "products": [{"id": "p", "holding_cost": 1.0, "ordering_cost": 3.0}],
            "suppliers": [{"id": "s", "lead_time": 2.0}], "warehouses": whs,
            "customers": custs}


def test_a_1000_warehouse_serial_chain_validates():
    data = serial_chain(1000)
    sc = simulator.load(data)
    ctx = policy_contexts(sc)
    rates = {c["warehouse"]: c["demand"]["p"]["rate"] for c in data["customers"]}
    # echelon demand: a warehouse sees every customer at or below it in the chain
    for i in (0, 1, 99, 100, 500, 899, 900, 901, 999):
        want = sum(r for w, r in rates.items() if int(w[1:]) >= i)
        assert ctx[(f"w{i}", "p")].demand_rate == pytest.approx(want, rel=1e-12)
    # the EOQ at the top derived its parameters from the whole chain's demand
    assert sc.warehouses[0].inventory["p"].policy["type"] == "eoq"


def test_a_long_sourcing_loop_is_reported_once():
    data = serial_chain(1000)
    data["warehouses"][0]["inventory"]["p"]["source"] = "w999"
    data["warehouses"][0]["inventory"]["p"]["lead_time"] = 1.0
    with pytest.raises(simulator.ScenarioError) as exc:
        simulator.load(data)
    (problem,) = exc.value.problems
    assert problem.key == "warehouses.0.inventory.p.source"
    loop = problem.message.removeprefix("sourcing cycle for 'p': ").split(" -> ")
    assert loop == [f"w{i}" for i in (0, *range(999, 0, -1), 0)]
