"""One conformance suite run over every registered policy (like scikit-learn's
check_estimator): the contract of policies/base.py, checked on examples."""
from __future__ import annotations

import math
import pickle

import pytest
from pydantic import ValidationError

import policies
import simulator
from policies.base import PolicyContext

# Example parameters for every registered policy: a new policy must add itself here.
EXAMPLES: dict[str, list[dict]] = {
    "sS": [{"s": 5, "S": 20}, {"s": -2, "S": 3, "review_period": 2}],
    "rQ": [{"r": 5, "Q": 10}, {"r": 0, "Q": 1, "review_period": 1}],
    "base_stock": [{"S": 10}, {"S": 0}, {"S": 7, "review_period": 3}],
    "eoq": [{}, {"Q": 12}, {"r": 3}, {"service_level": 0.5, "review_period": 1}],
    "order_up_to": [{"review_period": 1},
                    {"review_period": 2, "service_level": 0.9,
                     "forecast": {"method": "ses", "alpha": 0.2}},
                    {"review_period": 0, "forecast": {"method": "croston", "alpha": 0.1}}],
    "annealing": [{"iterations": 50, "sample_days": 200},
                  {"review_period": 2, "retune_every": 10, "iterations": 30, "sample_days": 100}],
    "lp": [{"review_period": 2, "horizon": 3, "service_level": 0.5}],
}

CONTEXT = PolicyContext(warehouse="w", product="p", demand_rate=4.0, demand_var_rate=4.0,
                        lead_time_mean=2.0, lead_time_var=0.5, holding_cost=0.1,
                        ordering_cost=10.0, backorder_cost=1.0, lost_sale_cost=0.0)


class FakeView:
    """A stand-in stock view with a settable position (on_order carries the difference)."""

    def __init__(self, position: float, on_hand: float = 0.0, backorders: float = 0.0):
        self.time = 0.0
        self.on_hand = on_hand
        self.backorders = backorders
        self.on_order = position - on_hand + backorders
        self.context = CONTEXT

    @property
    def position(self) -> float:
        return self.on_hand + self.on_order - self.backorders


CASES = [(name, params) for name, examples in EXAMPLES.items() for params in examples]


def make(name: str, params: dict):
    policy = policies.build(dict(params), policies.resolve(name))
    if hasattr(policy, "prepare"):
        policy.prepare(CONTEXT)
    return policy


def test_every_registered_policy_has_examples():
    assert set(policies.available()) <= set(EXAMPLES)


@pytest.mark.parametrize("name,params", CASES)
def test_order_quantity_is_a_nonnegative_number(name, params):
    policy = make(name, params)
    for pos in range(-50, 80):
        q = policy.order_quantity(FakeView(pos))
        assert isinstance(q, (int, float)) and math.isfinite(q) and q >= 0, (pos, q)


@pytest.mark.parametrize("name,params", CASES)
def test_no_order_when_position_is_high(name, params):
    assert make(name, params).order_quantity(FakeView(10_000)) == 0


@pytest.mark.parametrize("name,params", CASES)
def test_ordering_what_it_asks_satisfies_it(name, params):
    """Right after placing the order it asked for, the policy asks for nothing more."""
    policy = make(name, params)
    for pos in range(-50, 80):
        q = policy.order_quantity(FakeView(pos))
        assert policy.order_quantity(FakeView(pos + q)) == 0, (pos, q)


@pytest.mark.parametrize("name,params", CASES)
def test_pure_and_reads_only(name, params):
    policy = make(name, params)
    view = FakeView(-3, on_hand=0, backorders=3)
    before = dict(vars(view))
    assert policy.order_quantity(view) == policy.order_quantity(view)
    assert vars(view) == before


@pytest.mark.parametrize("name,params", CASES)
def test_review_period_and_pickle(name, params):
    policy = make(name, params)
    assert policy.review_period >= 0
    assert policy.review_period == params.get("review_period", 0)
    clone = pickle.loads(pickle.dumps(policy))
    assert clone.order_quantity(FakeView(-5)) == policy.order_quantity(FakeView(-5))


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_unknown_parameter_rejected(name):
    with pytest.raises(ValidationError):
        policies.build({**EXAMPLES[name][0], "bogus": 1}, policies.resolve(name))


@pytest.mark.parametrize("name,params", CASES)
def test_runs_in_a_scenario(name, params):
    sc = {
        "name": "conformance", "horizon": 60, "warmup": 5, "replications": 2,
        "products": [{"id": "p", "holding_cost": 0.1, "ordering_cost": 10}],
        "suppliers": [{"id": "sup", "lead_time": 2}],
        "warehouses": [{"id": "w", "inventory": {
            "p": {"source": "sup", "policy": {"type": name, **params}}}}],
        "customers": [{"id": "c", "warehouse": "w", "demand": {"p": {"rate": 4}}}],
    }
    m = simulator.run(sc, progress=False).metrics
    assert len(m) == 2
    assert (m["orders_placed"] > 0).all()
    assert ((m["fill_rate"] >= 0) & (m["fill_rate"] <= 1)).all()


def test_unknown_name_lists_valid_ones():
    with pytest.raises(policies.UnknownPolicy) as exc:
        policies.resolve("Ss")
    for name in EXAMPLES:
        assert name in str(exc.value)


@pytest.mark.parametrize("name,params", CASES)
def test_reorder_level_promise_holds(name, params):
    """A policy that declares a reorder_level orders nothing above it (the model relies on it
    to skip consulting the policy), and does order somewhere at or below it."""
    policy = make(name, params)
    level = getattr(policy, "reorder_level", None)
    if level is None:
        pytest.skip("no reorder_level declared")
    for k in range(1, 200):
        assert policy.order_quantity(FakeView(level + k * 0.25)) == 0
    assert policy.order_quantity(FakeView(math.floor(level) - 1)) > 0


def test_eoq_rounds_halves_up():
    from policies.classic import eoq_quantity

    # sqrt(2 * 1 * 3.125 / 1) = 2.5 exactly: rounds to 3 (Python's round() would give 2)
    ctx = PolicyContext(warehouse="w", product="p", demand_rate=1.0, demand_var_rate=1.0,
                        lead_time_mean=1.0, lead_time_var=0.0, holding_cost=1.0,
                        ordering_cost=3.125)
    assert eoq_quantity(ctx) == 3.0
