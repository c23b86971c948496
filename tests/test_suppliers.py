"""Supplier limits (SPEC section 7, issue 6 item 5): capacity, minimum order, multiples,
ordering cost per purchase order, disruptions, and the supplier metrics.

* Exact event logs of small deterministic cases (deterministic arrivals, constant lead times:
  every record derived by hand in the comments, in the style of ``tests/test_event_log.py``).
* Hypothesis properties: nothing leaves a supplier while it is disrupted, production is first
  come first served at the capacity, and every purchase order leaves and is received once.
* Against theory (``THEORY.md`` item 9): a capacity-limited supplier is an M/D/1 queue.
* Validation: every new key, in the core's ``FILE:LINE: key: message`` form.

Stock records are those of ``simulator.observe.eventlog.EventLog`` (levels after the change):
``D(t, qty, shipped, lost, oh, bo, oo)``, ``O(t, qty, oh, bo, oo)``,
``R(t, qty, to_backorders, oh, bo, oo)``; supplier records (this file's ``SupplierLog``):
``PO(t, qty)`` a purchase order arrives, ``SHIP(t, qty, ordered, lead)`` it leaves.
Same-instant order: receipts and supplier dispatches, then demand, then reviews.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import simulator
from simulator.cli import main
from simulator.errors import ScenarioError
from simulator.experiment.replication import run_replication
from simulator.model import Network
from simulator.model.events import SupplierListener
from simulator.model.supplier import Downtime, Supplier
from simulator.observe.eventlog import EventLog
from simulator.scenario import load

try:  # works whether or not tests/ is a package
    from .helpers_scenarios import BASE_YAML, edit, line_of, write_scenario
except ImportError:  # pragma: no cover - depends on how pytest imports the file
    from helpers_scenarios import BASE_YAML, edit, line_of, write_scenario


# --------------------------------------------------------------------------- helpers
class SupplierLog(SupplierListener):
    def __init__(self, records: list[tuple[Any, ...]]):
        self.records = records

    def supplier_ordered(self, supplier, now, qty, dest):
        self.records.append((now, "po", supplier.id, qty))

    def supplier_shipped(self, supplier, now, qty, dest, ordered, lead_time):
        self.records.append((now, "ship", supplier.id, qty, ordered, lead_time))


def one_point(policy: dict[str, Any], *, lead_time: float, horizon: float,
              supplier: dict[str, Any], initial: float | None = None, rate: float = 1,
              warmup: float = 0.0) -> dict[str, Any]:
    """Product ``p`` at warehouse ``w`` from supplier ``sup`` (with the extra ``supplier``
    keys); one customer ordering 1 unit at t = 1/rate, 2/rate, ..."""
    inv: dict[str, Any] = {"source": "sup", "policy": policy}
    if initial is not None:
        inv["initial"] = initial
    return {
        "name": "suppliers", "horizon": horizon, "warmup": warmup,
        "products": [{"id": "p"}],
        "suppliers": [{"id": "sup", "lead_time": lead_time, **supplier}],
        "warehouses": [{"id": "w", "inventory": {"p": inv}}],
        "customers": [{"id": "c", "warehouse": "w",
                       "demand": {"p": {"rate": rate, "size": 1, "arrivals": "deterministic"}}}],
    }


def event_log(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    sc = load(data)
    net = Network(sc, replication=0, seed=0)
    records: list[tuple[Any, ...]] = []
    net.attach(lambda sp: EventLog(records))
    net.attach_suppliers(lambda s: SupplierLog(records))
    net.start()
    net.run(sc.horizon)
    return records


def D(t, qty, shipped, lost, oh, bo, oo):
    return (t, "demand", "w", "p", qty, shipped, lost, oh, bo, oo)


def O(t, qty, oh, bo, oo):
    return (t, "order", "w", "p", qty, oh, bo, oo)


def R(t, qty, shipped, oh, bo, oo):
    return (t, "receive", "w", "p", qty, shipped, oh, bo, oo)


def PO(t, qty):
    return (t, "po", "sup", qty)


def SHIP(t, qty, ordered, lead):
    return (t, "ship", "sup", qty, ordered, lead)


def supplier_row(data: dict[str, Any]) -> dict[str, Any]:
    (row,) = run_replication(load(data), 0, 0).suppliers
    return row


# --------------------------------------------------------------------------- exact logs
def test_capacity_produces_fifo_then_the_lead_time_runs():
    # base_stock S=3 (initial 3), lead time 1, capacity 0.5 units/day: a unit takes 2 days.
    # One unit demanded at t = 1, 2, 3, ...; each demand triggers an order of 1.
    # Production is FIFO: the order of t=1 is made in [1,3), t=2 in [3,5), t=3 in [5,7),
    # t=4 in [7,9), ...; each leaves when made and arrives 1 day later (4, 6, 8, ...).
    data = one_point({"type": "base_stock", "S": 3}, lead_time=1, horizon=6.5,
                     supplier={"capacity": 0.5})
    assert event_log(data) == [
        D(1, 1, 1, 0, 2, 0, 0), O(1, 1, 2, 0, 1), PO(1, 1),
        D(2, 1, 1, 0, 1, 0, 1), O(2, 1, 1, 0, 2), PO(2, 1),
        SHIP(3, 1, 1, 1),  # made in [1, 3)
        D(3, 1, 1, 0, 0, 0, 2), O(3, 1, 0, 0, 3), PO(3, 1),
        R(4, 1, 0, 1, 0, 2),
        D(4, 1, 1, 0, 0, 0, 2), O(4, 1, 0, 0, 3), PO(4, 1),
        SHIP(5, 1, 2, 1),  # waited for the first, made in [3, 5)
        D(5, 1, 0, 0, 0, 1, 3), O(5, 1, 0, 1, 4), PO(5, 1),  # out of stock: backordered
        R(6, 1, 1, 0, 0, 3),  # serves the backorder
        D(6, 1, 0, 0, 0, 1, 3), O(6, 1, 0, 1, 4), PO(6, 1),
    ]


def test_capacity_metrics_over_the_window():
    # The case above measured over [2.5, 6.5): POs at 3, 4, 5, 6; the orders of t=1 and t=2
    # left in the window (at 3 and 5) and arrived at 4 and 6: replenishment times 3 and 4.
    # The supplier produced all the time from t=1: utilisation 1.
    data = one_point({"type": "base_stock", "S": 3}, lead_time=1, horizon=6.5, warmup=2.5,
                     supplier={"capacity": 0.5})
    assert supplier_row(data) == {"replication": 0, "supplier": "sup", "purchase_orders": 4,
                                  "lines": 4, "units": 4.0, "avg_replenishment_time": 3.5,
                                  "utilisation": 1.0, "days_disrupted": 0.0}


def test_utilisation_counts_only_production():
    # capacity 4/day, an order of 1 unit every day from t=1 (base_stock S=2): each takes 0.25
    # days. Window [0.5, 10.5): orders at 1..10, all made by 10.25: 10 x 0.25 = 2.5 days of 10.
    data = one_point({"type": "base_stock", "S": 2}, lead_time=0, horizon=10.5, warmup=0.5,
                     supplier={"capacity": 4})
    row = supplier_row(data)
    assert row["utilisation"] == 0.25
    assert row["avg_replenishment_time"] == 0.25  # made in a quarter day, no lead time


def test_min_order_is_booked_and_seen_by_the_policy():
    # base_stock S=2 (initial 2), lead time 2, min_order 3. t=1: demand -> position 1 -> the
    # policy wants 1, the supplier takes 3: on_order 3 (no capacity: it leaves at once).
    # t=2: position 0 + 3 = 3 >= S: no order (it would order 1 if the wish had been booked).
    # t=3: the 3 arrive, then demand; position 2: no order. t=4: wants 1 -> 3 again.
    data = one_point({"type": "base_stock", "S": 2}, lead_time=2, horizon=5.5,
                     supplier={"min_order": 3})
    assert event_log(data) == [
        D(1, 1, 1, 0, 1, 0, 0), O(1, 3, 1, 0, 3), PO(1, 3), SHIP(1, 3, 1, 2),
        D(2, 1, 1, 0, 0, 0, 3),
        R(3, 3, 0, 3, 0, 0), D(3, 1, 1, 0, 2, 0, 0),
        D(4, 1, 1, 0, 1, 0, 0), O(4, 3, 1, 0, 3), PO(4, 3), SHIP(4, 3, 4, 2),
        D(5, 1, 1, 0, 0, 0, 3),
    ]


def test_multiple_rounds_the_order_up():
    # sS s=2 S=7 (initial 7), lead time 1, multiple 4. Demand 1 a day: on hand 6, 5, 4, 3, 2;
    # at t=5 the position is 2 <= s: the policy wants 5, rounded up to 8 (two cases of 4).
    data = one_point({"type": "sS", "s": 2, "S": 7}, lead_time=1, horizon=6.5,
                     supplier={"multiple": 4})
    assert event_log(data) == [
        D(1, 1, 1, 0, 6, 0, 0), D(2, 1, 1, 0, 5, 0, 0), D(3, 1, 1, 0, 4, 0, 0),
        D(4, 1, 1, 0, 3, 0, 0),
        D(5, 1, 1, 0, 2, 0, 0), O(5, 8, 2, 0, 8), PO(5, 8), SHIP(5, 8, 5, 1),
        R(6, 8, 0, 10, 0, 0), D(6, 1, 1, 0, 9, 0, 0),
    ]


@pytest.mark.parametrize("wish, min_order, multiple, placed", [
    (1, 0, None, 1),          # nothing set: the wish
    (1, 4, None, 4),          # raised to the minimum
    (5, 4, None, 5),          # above the minimum: unchanged
    (1, 4, 3, 6),             # minimum 4, then up to a multiple of 3
    (6, 4, 3, 6),             # already a multiple
    (6.5, 0, 3, 9),
    (3 * 0.1, 0, 0.1, 3 * 0.1),  # 0.30000000000000004 / 0.1 is 3 up to rounding: no 4th case
    (0.7, 0, 0.25, 0.75),
])
def test_adjust(wish, min_order, multiple, placed):
    spec = load(one_point({"type": "base_stock", "S": 2}, lead_time=0, horizon=1, supplier={
        "min_order": min_order, **({} if multiple is None else {"multiple": multiple})}))
    sup = Supplier(None, spec.suppliers[0], None)  # type: ignore[arg-type]
    assert sup.adjust(wish) == pytest.approx(placed, abs=1e-12)


def test_fixed_disruption_holds_orders_until_it_ends():
    # base_stock S=2, lead time 1, no capacity, disrupted in [2, 4).
    # t=1: order 1 leaves at once, arrives 2. t=2: receipt, demand, order -> disrupted: waits.
    # t=3: another order waits. t=4: the disruption ends: both leave (in order, before the
    # demand at 4), arrive at 5; the demand at 4 finds no stock (backorder), its order leaves
    # at once (the supplier is up at 4: periods are [from, to)) and also arrives at 5.
    data = one_point({"type": "base_stock", "S": 2}, lead_time=1, horizon=5.5,
                     supplier={"disruptions": [{"from": 2, "to": 4}]})
    assert event_log(data) == [
        D(1, 1, 1, 0, 1, 0, 0), O(1, 1, 1, 0, 1), PO(1, 1), SHIP(1, 1, 1, 1),
        R(2, 1, 0, 2, 0, 0), D(2, 1, 1, 0, 1, 0, 0), O(2, 1, 1, 0, 1), PO(2, 1),
        D(3, 1, 1, 0, 0, 0, 1), O(3, 1, 0, 0, 2), PO(3, 1),
        SHIP(4, 1, 2, 1), SHIP(4, 1, 3, 1),
        D(4, 1, 0, 0, 0, 1, 2), O(4, 1, 0, 1, 3), PO(4, 1), SHIP(4, 1, 4, 1),
        R(5, 1, 1, 0, 0, 2), R(5, 1, 0, 1, 0, 1), R(5, 1, 0, 2, 0, 0),
        D(5, 1, 1, 0, 1, 0, 0), O(5, 1, 1, 0, 1), PO(5, 1), SHIP(5, 1, 5, 1),
    ]
    # measured over [0, 5.5): 2 days disrupted; the five orders (of t = 1, 2, 3, 4, 5) left
    # in the window; replenishment times 1, 3, 2, 1, 1: mean 8/5
    row = supplier_row(data)
    assert row["days_disrupted"] == 2.0
    assert row["avg_replenishment_time"] == 1.6
    assert math.isnan(row["utilisation"])  # no capacity


def test_disruption_pauses_production():
    # base_stock S=1, capacity 1 (a unit a day), lead time 0, disrupted in [1.5, 3).
    # t=1: order 1, made in [1, 1.5) and, after the pause, [3, 3.5): leaves and arrives at 3.5.
    # t=2 (backordered), t=3 (backordered): their orders wait; made in [3.5, 4.5), [4.5, 5.5).
    data = one_point({"type": "base_stock", "S": 1}, lead_time=0, horizon=5.75,
                     supplier={"capacity": 1, "disruptions": [{"from": 1.5, "to": 3}]})
    ships = [r for r in event_log(data) if r[1] == "ship"]
    assert ships == [SHIP(3.5, 1, 1, 0), SHIP(4.5, 1, 2, 0), SHIP(5.5, 1, 3, 0)]
    row = supplier_row(data)
    # produced in [1, 1.5) and [3, 5.75): 3.25 days of 5.75
    assert row["utilisation"] == 3.25 / 5.75
    assert row["days_disrupted"] == 1.5


def test_order_exactly_at_the_start_of_a_disruption_waits():
    # base_stock S=1, no capacity, disrupted [1, 2): the order of t=1 waits until 2.
    data = one_point({"type": "base_stock", "S": 1}, lead_time=0, horizon=1.5,
                     supplier={"disruptions": [{"from": 1, "to": 2}]})
    assert [r for r in event_log(data) if r[1] in ("po", "ship")] == [PO(1, 1)]


def test_downtime_cursors():
    # periods [2, 4), [4, 5) (touching) and [10, 11): uptime, next_up and release by hand
    d = Downtime(iter([(2.0, 4.0), (4.0, 5.0), (10.0, 11.0)]))
    assert [d.uptime(t) for t in (0, 2, 3, 5, 10, 10.5, 12)] == [0, 2, 2, 2, 7, 7, 8]
    d = Downtime(iter([(2.0, 4.0), (4.0, 5.0), (10.0, 11.0)]))
    assert [d.next_up(t) for t in (1, 2, 4.5, 5, 10, 11)] == [1, 5, 5, 5, 11, 11]
    d = Downtime(iter([(2.0, 4.0), (4.0, 5.0), (10.0, 11.0)]))
    # uptime 1 is reached at t=1; uptime 2 at t=2, which is down: released at 5; 7 -> 11
    assert [d.release(u) for u in (1, 2, 3, 7, 8)] == [1, 5, 6, 11, 12]


def test_supplier_ordering_cost_is_charged_per_order():
    # deterministic: the same orders with and without the supplier's ordering cost
    base = one_point({"type": "sS", "s": 2, "S": 7}, lead_time=1, horizon=40,
                     supplier={"min_order": 0})
    base["products"][0]["ordering_cost"] = 3
    costly = {**base, "suppliers": [{**base["suppliers"][0], "ordering_cost": 10}]}
    (a,), (b,) = run_replication(load(base), 0, 0).rows, run_replication(load(costly), 0, 0).rows
    n = a["orders_placed"]
    assert n == b["orders_placed"] > 0
    assert a["ordering_cost"] == 3 * n and b["ordering_cost"] == (3 + 10) * n
    assert b["total_cost"] - a["total_cost"] == 10 * n


def test_every_supplier_gets_a_row(tmp_path):
    data = one_point({"type": "base_stock", "S": 2}, lead_time=1, horizon=20,
                     supplier={"capacity": 5})
    data["suppliers"].append({"id": "idle"})
    res = simulator.run(data, replications=2, seed=3)
    assert list(res.supplier_metrics["supplier"]) == ["sup", "idle", "sup", "idle"]
    idle = res.supplier_metrics[res.supplier_metrics["supplier"] == "idle"]
    assert (idle["purchase_orders"] == 0).all() and idle["avg_replenishment_time"].isna().all()
    out = res.save(tmp_path / "out")
    assert (out / "supplier_metrics.csv").read_text().splitlines()[0] == (
        "replication,supplier,purchase_orders,lines,units,avg_replenishment_time,utilisation,"
        "days_disrupted")
    s = res.supplier_summary
    row = s[(s["supplier"] == "sup") & (s["metric"] == "purchase_orders")].iloc[0]
    assert row["n"] == 2 and row["ci95_low"] <= row["mean"] <= row["ci95_high"]


# --------------------------------------------------------------------------- randomness
def test_random_disruptions_leave_other_streams_unchanged():
    # common random numbers: adding a random up/down process changes no other draw, so the
    # demand (which does not depend on the supplier) is identical replication by replication
    data = one_point({"type": "base_stock", "S": 5}, lead_time={"dist": "exponential", "mean": 2},
                     horizon=300, supplier={})
    data["customers"][0]["demand"]["p"] = {"rate": 2}
    disrupted = {**data, "suppliers": [{**data["suppliers"][0],
                                        "disruptions": {"mean_between": 20, "mean_duration": 3}}]}
    a = simulator.run(data, replications=3, seed=5)
    b = simulator.run(disrupted, replications=3, seed=5)
    assert list(a.metrics["demand_units"]) == list(b.metrics["demand_units"])
    assert (b.supplier_metrics["days_disrupted"] > 0).all()
    assert list(a.metrics["avg_on_hand"]) != list(b.metrics["avg_on_hand"])


def test_random_disruptions_share_of_time_down():
    # alternating renewal process: long-run share of time down = d / (b + d), b = 10, d = 2
    data = one_point({"type": "base_stock", "S": 1}, lead_time=0, horizon=6000, supplier={
        "disruptions": {"mean_between": 10, "mean_duration": 2}})
    data["customers"] = []
    res = simulator.run(data, replications=20, seed=2)
    share = res.supplier_metrics["days_disrupted"].to_numpy() / 6000
    se = share.std(ddof=1) / math.sqrt(share.size)
    assert 4 * se < 0.01  # would detect an error of 1 point (6% of the share)
    assert abs(share.mean() - 2 / 12) <= 4 * se, (share.mean(), se)


# --------------------------------------------------------------------------- properties
@st.composite
def limited_scenarios(draw: Any) -> dict[str, Any]:
    starts = draw(st.lists(st.integers(0, 60), max_size=4, unique=True))
    periods, end = [], -1
    for s in sorted(starts):  # non-overlapping, integer days
        if s >= end:
            end = s + draw(st.integers(1, 8))
            periods.append({"from": s, "to": end})
    sup: dict[str, Any] = {"disruptions": periods}
    if draw(st.booleans()):
        sup["capacity"] = draw(st.sampled_from([0.5, 1, 3, 7.5]))
    if draw(st.booleans()):
        sup["multiple"] = draw(st.sampled_from([1, 2, 5]))
    sup["min_order"] = draw(st.sampled_from([0, 3]))
    policy = draw(st.sampled_from([{"type": "base_stock", "S": 4},
                                   {"type": "sS", "s": 2, "S": 9},
                                   {"type": "rQ", "r": 3, "Q": 4}]))
    data = one_point(policy, lead_time=draw(st.sampled_from([0, 1.5, 3])), horizon=70,
                     supplier=sup)
    data["customers"][0]["demand"]["p"] = {"rate": draw(st.sampled_from([0.5, 1, 2]))}
    return data


ROUNDED_ONTO_A_START = (  # found by hypothesis: production ending at uptime 2 - 2e-16, after
    # 4 days down, computed to leave at 6.0, the start of the disruption [6, 7)
    {"name": "suppliers", "horizon": 70, "warmup": 0.0, "products": [{"id": "p"}],
     "suppliers": [{"id": "sup", "lead_time": 0, "capacity": 3, "min_order": 0,
                    "disruptions": [{"from": 0, "to": 1}, {"from": 1, "to": 4},
                                    {"from": 6, "to": 7}]}],
     "warehouses": [{"id": "w", "inventory": {"p": {"source": "sup", "policy": {
         "type": "base_stock", "S": 4}}}}],
     "customers": [{"id": "c", "warehouse": "w", "demand": {"p": {"rate": 1}}}]}, 0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limited_scenarios(), st.integers(0, 2**32 - 1))
@example(*ROUNDED_ONTO_A_START)
def test_nothing_leaves_a_disrupted_supplier_and_every_order_arrives_once(data, seed):
    sc = load(data)
    net = Network(sc, replication=0, seed=seed)
    records: list[tuple[Any, ...]] = []
    net.attach(lambda sp: EventLog(records))
    net.attach_suppliers(lambda s: SupplierLog(records))
    net.start()
    net.run(sc.horizon)
    periods = [(p["from"], p["to"]) for p in data["suppliers"][0]["disruptions"]]
    pos = [r for r in records if r[1] == "po"]
    ships = [r for r in records if r[1] == "ship"]
    receipts = [r for r in records if r[1] == "receive"]
    orders = [r for r in records if r[1] == "order"]
    # no shipment leaves while disrupted ([from, to), 1e-9 days for float rounding)
    for t, *_ in ships:
        assert not any(a + 1e-9 < t < b - 1e-9 or t == a for a, b in periods), (t, periods)
    # every stock order is one purchase order of the same (adjusted) quantity
    assert [(r[0], r[4]) for r in orders] == [(r[0], r[3]) for r in pos]
    # shipments leave in purchase-order order, each once, never before ordered
    assert [(r[4], r[3]) for r in ships] == [(r[0], r[3]) for r in pos[:len(ships)]]
    assert all(r[0] >= r[4] for r in ships)
    # capacity: each order takes qty / capacity days of production after the previous one
    cap = data["suppliers"][0].get("capacity")
    done = -math.inf
    for t, _, _, qty, ordered, _ in ships:
        if cap is not None:
            assert t >= max(done, ordered) + qty / cap - 1e-9
        done = t
    # every shipment is received exactly once, after its lead time, if before the horizon
    due = sorted((r[0] + r[5], r[3]) for r in ships if r[0] + r[5] < sc.horizon)
    got = sorted((r[0], r[4]) for r in receipts)
    assert len(got) == len(due)
    assert all(abs(a[0] - b[0]) < 1e-9 and a[1] == b[1] for a, b in zip(got, due, strict=True))
    # what is still on order is what was ordered and not yet received
    sp = net.stock[("w", "p")]
    left = sum(r[3] for r in pos) - sum(r[4] for r in receipts)
    assert sp.on_order == pytest.approx(left, abs=1e-9)


# --------------------------------------------------------------------------- theory
@pytest.mark.slow
def test_capacity_limited_supplier_against_md1_theory():
    """THEORY.md item 9: base stock S, Poisson unit demand at rate λ, capacity c, lead time L:
    the supplier is an M/D/1 queue (ρ = λ/c), T = ρ/(2c(1-ρ)) + 1/c + L, and by Little's law
    average on hand - average backorders = S - λT. λ = 0.7, c = 1, L = 2, S = 6:
    T = 1.1667 + 1 + 2 = 4.1667, net = 6 - 2.9167 = 3.0833; the supplier is busy a share
    ρ = 0.7 of the time (utilisation)."""
    lam, c, lead, s_level = 0.7, 1.0, 2.0, 6
    rho = lam / c
    exact_t = rho / (2 * c * (1 - rho)) + 1 / c + lead
    exact_net = s_level - lam * exact_t
    data = one_point({"type": "base_stock", "S": s_level}, lead_time=lead, horizon=10100,
                     warmup=100, supplier={"capacity": c})
    data["customers"][0]["demand"]["p"] = {"rate": lam}
    res = simulator.run(data, replications=30, seed=7, jobs=2)
    t_sim = res.supplier_metrics["avg_replenishment_time"].to_numpy()
    net = (res.metrics["avg_on_hand"] - res.metrics["avg_backorders"]).to_numpy()
    busy = res.supplier_metrics["utilisation"].to_numpy()  # M/D/1: busy a share ρ of the time
    for label, x, exact in (("T", t_sim, exact_t), ("net inventory", net, exact_net),
                            ("utilisation", busy, rho)):
        se = float(x.std(ddof=1) / math.sqrt(x.size))
        print(f"{label}: sim {x.mean():.4f} exact {exact:.4f} SE {se:.4f}")
        assert 0 < 4 * se < 0.05 * abs(exact), f"{label}: SE {se} too large to mean anything"
        assert abs(x.mean() - exact) <= 4 * se, (label, x.mean(), exact, se)
    # the queue matters: without the wait T would be 3 (about 60 SE away)
    assert abs(float(np.mean(t_sim)) - (1 / c + lead)) > 20 * float(t_sim.std(ddof=1)) / 30**.5


# --------------------------------------------------------------------------- validation
def problem_of(folder: Path, text: str) -> Any:
    path = write_scenario(folder, text)
    with pytest.raises(ScenarioError) as info:
        simulator.load(path)
    problems = info.value.problems
    assert len(problems) == 1, "\n".join(map(str, problems))
    p = problems[0]
    assert str(p) == f"{path}:{p.line}: {p.key}: {p.message}"
    return p


def with_supplier(block: str) -> str:
    """BASE_YAML with ``block`` (lines indented 4) added to supplier acme."""
    return edit(BASE_YAML, ("    lead_time: 2\n", "    lead_time: 2\n" + block))


VALID = [
    "    capacity: 50\n",
    "    min_order: 10\n    multiple: 6\n",
    "    ordering_cost: 100\n",
    "    disruptions:\n      - {from: 3, to: 5}\n      - {from: 5, to: 6}\n",
    "    disruptions: {mean_between: 120, mean_duration: 5}\n",
    "    disruptions: []\n",
]


@pytest.mark.parametrize("block", VALID)
def test_valid_supplier_keys(tmp_path, block):
    sc = simulator.load(write_scenario(tmp_path, with_supplier(block)))
    assert load(sc.to_dict()) == sc  # scenario.yaml round trip (`from` keeps its name)
    simulator.run(sc, replications=1)


BAD = [  # (block, dotted key, line marker, message fragment)
    ("    capacity: 0\n", "suppliers.0.capacity", "capacity: 0", "greater than 0"),
    ("    capacity: -3\n", "suppliers.0.capacity", "capacity: -3", "greater than 0"),
    ("    capacity: '5'\n", "suppliers.0.capacity", "capacity: '5'", "number"),
    ("    capacity: 1e13\n", "suppliers.0.capacity", "capacity: 1e13", "at most 1e12"),
    ("    min_order: -1\n", "suppliers.0.min_order", "min_order", "greater than or equal to 0"),
    ("    min_order: true\n", "suppliers.0.min_order", "min_order", "number"),
    ("    multiple: 0\n", "suppliers.0.multiple", "multiple", "greater than 0"),
    ("    ordering_cost: -5\n", "suppliers.0.ordering_cost", "ordering_cost: -5",
     "greater than or equal to 0"),
    ("    capcity: 5\n", "suppliers.0.capcity", "capcity", "unknown key; valid keys: id, "
     "lead_time, capacity, min_order, multiple, ordering_cost, disruptions"),
    ("    disruptions: 5\n", "suppliers.0.disruptions", "disruptions", "expected a list"),
    ("    disruptions:\n      - {from: 5, to: 3}\n", "suppliers.0.disruptions.0.to",
     "{from: 5, to: 3}", "must be greater than 'from' (5): a disruption ends after it starts"),
    ("    disruptions:\n      - {from: 5, to: 5}\n", "suppliers.0.disruptions.0.to",
     "{from: 5, to: 5}", "must be greater than 'from'"),
    ("    disruptions:\n      - {from: 10, to: 20}\n      - {from: 1, to: 3}\n"
     "      - {from: 15, to: 30}\n", "suppliers.0.disruptions.2.from", "{from: 15, to: 30}",
     "overlaps disruption 0 (10 to 20)"),
    ("    disruptions:\n      - {from: 1, to: 9}\n      - {from: 0, to: 2}\n",
     "suppliers.0.disruptions.1.from", "{from: 0, to: 2}", "overlaps disruption 0 (1 to 9)"),
    ("    disruptions:\n      - {from: -1, to: 3}\n", "suppliers.0.disruptions.0.from",
     "{from: -1, to: 3}", "greater than or equal to 0"),
    ("    disruptions:\n      - {from: 1, to: 3, until: 4}\n", "suppliers.0.disruptions.0.until",
     "until", "unknown key"),
    ("    disruptions:\n      - {from: 1}\n", "suppliers.0.disruptions.0.to",
     "{from: 1}", "required key is missing"),
    ("    disruptions: {mean_between: 0, mean_duration: 5}\n",
     "suppliers.0.disruptions.mean_between", "mean_between", "greater than 0"),
    ("    disruptions: {mean_between: 10, mean_duration: -5}\n",
     "suppliers.0.disruptions.mean_duration", "mean_between", "greater than 0"),
    ("    disruptions: {mean_between: 10, mean_duraton: 5}\n",
     "suppliers.0.disruptions.mean_duraton", "mean_between",
     "unknown key; valid keys: mean_between, mean_duration"),
]


@pytest.mark.parametrize("block, key, marker, fragment", BAD, ids=[b[1] + ":" + b[0].strip()
                                                                    for b in BAD])
def test_bad_supplier_keys(tmp_path, block, key, marker, fragment):
    if "mean_duraton" in block:  # the unknown key and the missing one: two problems
        block = block.replace("mean_duraton: 5", "mean_duration: 5, mean_duraton: 5")
    text = with_supplier(block)
    p = problem_of(tmp_path, text)
    assert p.key == key and fragment in p.message, str(p)
    assert p.line == line_of(text, marker)


def test_bad_supplier_key_exits_2_from_the_command_line(tmp_path, capsys):
    path = write_scenario(tmp_path, with_supplier("    disruptions:\n      - {from: 5, to: 3}\n"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line_of(BASE_YAML, 'lead_time: 2') + 2}: suppliers.0.disruptions.0.to: " \
        in err
    assert "Traceback" not in err


def test_the_terminal_table_shows_limited_suppliers_only():
    data = {"name": "cap", "horizon": 120, "warmup": 20, "replications": 3,
            "products": [{"id": "p", "holding_cost": 1}, {"id": "q"}],
            "suppliers": [{"id": "acme", "lead_time": 2, "capacity": 8,
                           "disruptions": [{"from": 50, "to": 60}]},
                          {"id": "free", "lead_time": 1}],
            "warehouses": [{"id": "w", "inventory": {
                "p": {"source": "acme", "policy": {"type": "sS", "s": 20, "S": 60}},
                "q": {"source": "free", "policy": {"type": "sS", "s": 5, "S": 20}}}}],
            "customers": [{"id": "c", "warehouse": "w", "demand": {"p": {"rate": 5}}}]}
    res = simulator.run(data, progress=False)
    lines = res.table().splitlines()
    head = next(i for i, line in enumerate(lines) if "utilisation" in line)
    assert lines[head].split() == ["purchase_orders", "lines", "avg_replenishment_time",
                                   "utilisation", "days_disrupted"]
    rows = [line.split()[0] for line in lines[head + 2:]]
    assert rows == ["acme"]  # the unlimited supplier adds nothing worth a row
    s = res.supplier_summary.set_index(["supplier", "metric"])
    days = s.loc[("acme", "days_disrupted"), "mean"]
    assert days == 10.0 and lines[head + 2].endswith("10.0 ± 0.0")
    del data["suppliers"][0]["capacity"], data["suppliers"][0]["disruptions"]
    assert "utilisation" not in simulator.run(data, progress=False).table()
    data["suppliers"][1]["consolidation_window"] = 0  # consolidation is worth a row too
    lines = simulator.run(data, progress=False).table().splitlines()
    head = next(i for i, line in enumerate(lines) if "purchase_orders" in line)
    assert [line.split()[0] for line in lines[head + 2:]] == ["free"]


def test_a_cut_interval_shows_the_t_half_width():
    from simulator.results import _cell

    row = {"mean": 0.002, "ci95_low": 0.0, "ci95_high": 0.006}  # cut at 0 from -0.002
    assert _cell(row) == "0.002 ± 0.004"
