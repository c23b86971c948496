"""Customer orders (issue 6): multi-line orders, allocation across warehouses, outbound
merging, delivery times, shipping costs and customer_metrics.csv.

* exact event logs and metrics of small deterministic cases, derived by hand in comments;
* the fast path of single-product customers against the general order path (identical);
* hypothesis properties: units conserved per customer, the lines of an order add up to it;
* against theory: THEORY.md item 8 (order and line fill rates of multi-line orders with
  base-stock products) and the exact order cycle time (mean and 95th percentile) of
  one-for-one base stock with a constant lead time, delivery time included;
* the streaming p95 estimator against numpy.percentile; bounded memory under a shortage;
* the demand moments the policies see, the event budget, and validation of every new key.
"""
from __future__ import annotations

import functools
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import simulator
from simulator.cli import main
from simulator.errors import ScenarioError
from simulator.experiment import replication as replication_module
from simulator.experiment.budget import events_per_replication
from simulator.model import Network
from simulator.model import orders as orders_module
from simulator.model.orders import line_picks
from simulator.observe.customers import LogBins
from simulator.observe.eventlog import CustomerLog, EventLog
from simulator.scenario import load
from simulator.scenario.derived import policy_contexts

try:  # works whether or not tests/ is a package
    from .helpers_scenarios import BASE_YAML, edit, line_of, write_scenario
except ImportError:  # pragma: no cover - depends on how pytest imports the file
    from helpers_scenarios import BASE_YAML, edit, line_of, write_scenario


# --------------------------------------------------------------------------- helpers
def two_products(lines: dict[str, Any], *, horizon: float = 4.5, warmup: float = 0.0,
                 s_a: int = 1, s_b: int = 1, unmet: str = "backorder") -> dict[str, Any]:
    """Products a (supplier ``slow``, 3 days) and b (``fast``, 1 day), base stock, at w."""
    return {
        "name": "orders-log", "horizon": horizon, "warmup": warmup,
        "products": [{"id": "a"}, {"id": "b"}],
        "suppliers": [{"id": "slow", "lead_time": 3}, {"id": "fast", "lead_time": 1}],
        "warehouses": [{"id": "w", "inventory": {
            "a": {"source": "slow", "policy": {"type": "base_stock", "S": s_a}},
            "b": {"source": "fast", "policy": {"type": "base_stock", "S": s_b}}}}],
        "customers": [{"id": "web", "warehouse": "w", "unmet": unmet,
                       "orders": {"rate": 1, "arrivals": "deterministic", "lines": lines}}],
    }


DETERMINISTIC = {"a": {"probability": 1}, "b": {"probability": 1, "size": 2}}


def two_warehouses(allocation: str, **customer: Any) -> dict[str, Any]:
    """Product a at east (S = 1) and west (S = 2), both from a 2-day supplier; one order of
    2 units of a per day (t = 1, 2, ...); delivery 1 day from east, 2 from west; shipping
    0.5 per unit from east, 0.8 from west, 1 per shipment; promised in 2 days."""
    return {
        "name": "alloc", "horizon": 4.5,
        "products": [{"id": "a"}],
        "suppliers": [{"id": "sup", "lead_time": 2}],
        "warehouses": [
            {"id": "east", "inventory": {
                "a": {"source": "sup", "policy": {"type": "base_stock", "S": 1}}}},
            {"id": "west", "inventory": {
                "a": {"source": "sup", "policy": {"type": "base_stock", "S": 2}}}}],
        "customers": [{"id": "web", "warehouses": ["east", "west"], "allocation": allocation,
                       "delivery_time": {"east": 1, "west": 2},
                       "shipping_cost": {"east": 0.5, "west": 0.8}, "shipment_cost": 1,
                       "promised_time": 2,
                       "orders": {"rate": 1, "arrivals": "deterministic",
                                  "lines": {"a": {"probability": 1, "size": 2}}},
                       **customer}],
    }


def logged(data: dict[str, Any], seed: int = 0,
           fast: bool = True) -> tuple[list[tuple[Any, ...]], Network]:
    """Stock and customer events in one list, in the order they happened."""
    sc = load(data)
    net = Network(sc, replication=0, seed=seed, fast=fast)
    records: list[tuple[Any, ...]] = []
    net.attach(lambda sp: EventLog(records))
    net.attach_customers(lambda c: CustomerLog(records))
    net.start()
    net.run(sc.horizon)
    return records, net


def customer_row(data: dict[str, Any]) -> dict[str, Any]:
    res = simulator.run(data, progress=False)
    return res.customer_metrics.iloc[0].to_dict()  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- exact logs
def test_exact_log_with_backordered_lines_and_their_delivery():
    # S_a = S_b = 1 on hand at t = 0; each order (t = 1, 2, 3, 4) is 1 a + 2 b; base stock
    # reorders what was demanded: a arrives 3 days later, b 1 day later.
    # t=1: a ships (a on order, due t=4); b ships its 1, owes 1, orders 2 (due t=2); the
    #      2 units shipped leave as one shipment.
    # t=2: b's 2 arrive: 1 settles order 1 (delivered, cycle 1 day), 1 on hand. Order 2: a
    #      owed 1 (orders 1, due 5), b ships 1 and owes 1 (orders 2, due 3).
    # t=3: b's 2: 1 to order 2 (its a line still owed, so not done), 1 on hand. Order 3 as 2.
    # t=4: a's 1 (ordered at t=1) settles order 2's a line: order 2 done (cycle 2 days);
    #      b's 2: 1 to order 3 (a still owed). Order 4 as 2 and 3. The run ends at 4.5.
    records, _ = logged(two_products(DETERMINISTIC))
    order_rows = [
        ("demand", "w", "a", 1.0, 0.0, 0.0, 0.0, 2.0, 2.0),
        ("order", "w", "a", 1.0, 0.0, 2.0, 3.0),
        ("demand", "w", "b", 2.0, 1.0, 0.0, 0.0, 1.0, 0.0),
        ("order", "w", "b", 2.0, 0.0, 1.0, 2.0),
        ("order", "web", 2, 0, False, 0.0),
        ("shipment", "web", 0, 1.0, 0.0),
    ]
    assert records == [
        (1.0, "demand", "w", "a", 1.0, 1.0, 0.0, 0.0, 0.0, 0.0),
        (1.0, "order", "w", "a", 1.0, 0.0, 0.0, 1.0),
        (1.0, "demand", "w", "b", 2.0, 1.0, 0.0, 0.0, 1.0, 0.0),
        (1.0, "order", "w", "b", 2.0, 0.0, 1.0, 2.0),
        (1.0, "order", "web", 2, 1, False, 0.0),
        (1.0, "shipment", "web", 0, 2.0, 0.0),
        (2.0, "shipment", "web", 0, 1.0, 0.0),
        (2.0, "delivered", "web", 1, 1.0, 2.0),
        (2.0, "receive", "w", "b", 2.0, 1.0, 1.0, 0.0, 0.0),
        (2.0, "demand", "w", "a", 1.0, 0.0, 0.0, 0.0, 1.0, 1.0),
        (2.0, "order", "w", "a", 1.0, 0.0, 1.0, 2.0),
        (2.0, "demand", "w", "b", 2.0, 1.0, 0.0, 0.0, 1.0, 0.0),
        (2.0, "order", "w", "b", 2.0, 0.0, 1.0, 2.0),
        (2.0, "order", "web", 2, 0, False, 0.0),
        (2.0, "shipment", "web", 0, 1.0, 0.0),
        (3.0, "shipment", "web", 0, 1.0, 0.0),
        (3.0, "receive", "w", "b", 2.0, 1.0, 1.0, 0.0, 0.0),
        *[(3.0, *r) for r in order_rows],
        (4.0, "shipment", "web", 0, 1.0, 0.0),
        (4.0, "delivered", "web", 1, 2.0, 4.0),
        (4.0, "receive", "w", "a", 1.0, 1.0, 0.0, 1.0, 2.0),
        (4.0, "shipment", "web", 0, 1.0, 0.0),
        (4.0, "receive", "w", "b", 2.0, 1.0, 1.0, 0.0, 0.0),
        *[(4.0, *r) for r in order_rows],
    ]


def test_exact_customer_metrics():
    # the run above: 4 orders of 2 lines (3 units); only order 1's a line shipped at once;
    # cycle times 1 (order 1) and 2 (order 2); orders 3 and 4 open at the horizon;
    # shipments: 4 at once (every order shipped something) + releases at 2, 3, 4, 4
    row = customer_row(two_products(DETERMINISTIC))
    assert row == {"replication": 0, "customer": "web", "orders": 4, "lines": 8,
                   "order_fill_rate": 0.0, "line_fill_rate": 1 / 8,
                   "avg_cycle_time": 1.5, "p95_cycle_time": 2.0, "on_time_share": row[
                       "on_time_share"], "split_share": 0.0, "shipments": 8,
                   "shipping_cost": 0.0, "lost_units": 0.0, "open_orders": 2}
    assert math.isnan(row["on_time_share"])  # no promised time


def test_window_counts_orders_by_arrival():
    # warm-up 2.5: orders 3 and 4 arrive in the window, both open at the end; order 2's
    # completion at t=4 is not measured (it arrived before the window). Shipments in the
    # window: the release at 3, order 3 at once, two releases at 4, order 4 at once.
    row = customer_row(two_products(DETERMINISTIC, warmup=2.5))
    assert (row["orders"], row["lines"], row["open_orders"], row["shipments"]) == (2, 4, 2, 5)
    assert math.isnan(row["avg_cycle_time"]) and math.isnan(row["p95_cycle_time"])


def test_lost_lines_have_no_cycle_time():
    # unmet: lost, S_a = 1, S_b = 2, order = 1 a + 2 b. t=1: both ship (cycle 0).
    # t=2: a's reorder is due at 4, so a is lost; b's 2 arrived at 2 (before the demand)
    # and ship. t=3: a lost again, b ships. t=4: a arrives and ships, b ships.
    row = customer_row(two_products(DETERMINISTIC, s_b=2, unmet="lost"))
    assert (row["orders"], row["lines"], row["lost_units"], row["open_orders"]) == (4, 8, 2.0, 0)
    assert row["order_fill_rate"] == 0.5 and row["line_fill_rate"] == 6 / 8
    assert row["avg_cycle_time"] == 0.0 and row["p95_cycle_time"] == 0.0  # the 2 complete
    assert row["shipments"] == 4  # every order shipped something, once


def test_split_allocation_exact():
    # t=1: east has 1 of the 2: west ships the other (both reorder 1, due 3): two shipments,
    #      arriving at 2 (east) and 3 (west): delivered, cycle 2; split.
    # t=2: east 0, west 1: west ships 1 (reorders, due 4), east backorders 1 (due 4): split.
    # t=3: east's 1 settles order 2 (leaves at 3, arrives 4; west's part arrived at 4):
    #      cycle 2; west's 1 goes on hand. Order 3 as order 2.
    # t=4: west's 1 on hand, east's 1 settles order 3 (arrives 5): cycle 2. Order 4 as 2.
    # shipments: 2 + 1 + 2 + 2 = 7; east ships 3 units in 3 shipments (3 x 0.5 + 3), west 4
    # units in 4 (4 x 0.8 + 4): 11.7.
    row = customer_row(two_warehouses("split"))
    assert row.pop("customer") == "web"
    assert row == pytest.approx({
        "replication": 0, "orders": 4, "lines": 4,
        "order_fill_rate": 0.25, "line_fill_rate": 0.25, "avg_cycle_time": 2.0,
        "p95_cycle_time": 2.0, "on_time_share": 1.0, "split_share": 1.0, "shipments": 7,
        "shipping_cost": 11.7, "lost_units": 0.0, "open_orders": 1}, rel=1e-12)


def test_single_source_allocation_exact():
    # t=1: east has 1 of 2, west has 2: west ships the whole order (reorders 2, due 3);
    #      arrives at 3: cycle 2.
    # t=2: neither can ship 2: east (the first) ships its 1 and backorders 1 (due 4).
    # t=3: west's 2 arrive; west ships order 3 whole (arrives 5): cycle 2.
    # t=4: east's 2 arrive: 1 settles order 2 (leaves 4, arrives 5): cycle 3; 1 on hand.
    #      Order 4: east 1, west 0: east ships 1 and backorders 1.
    # shipments: west at 1 and 3 (2 units each: 2 x (1.6 + 1)), east at 2, 4, 4 (1 unit
    # each: 3 x 1.5): 9.7; on time (2 days): orders 1 and 3 of the 3 delivered.
    row = customer_row(two_warehouses("single_source"))
    assert row.pop("customer") == "web"
    assert row == pytest.approx({
        "replication": 0, "orders": 4, "lines": 4,
        "order_fill_rate": 0.5, "line_fill_rate": 0.5, "avg_cycle_time": 7 / 3,
        "p95_cycle_time": 3.0, "on_time_share": 2 / 3, "split_share": 0.0, "shipments": 5,
        "shipping_cost": 9.7, "lost_units": 0.0, "open_orders": 1}, rel=1e-12)


def test_ship_complete_allocation_exact():
    # As single_source, but order 2's unit taken from east at t=2 is held: at t=4 the
    # released unit joins it and both leave as one shipment (2 units, 1 + 1): cycle 3.
    # Order 4 (t=4): east has 1, takes it and holds it, backorders 1: no shipment.
    # shipments: west 1 and 3 (2 x 2.6), east 4 (2 units: 2.0): 7.2.
    records, _ = logged(two_warehouses("ship_complete"))
    shipments = [r for r in records if r[1] == "shipment"]
    assert shipments == [(1.0, "shipment", "web", 1, 2.0, 2.6),
                         (3.0, "shipment", "web", 1, 2.0, 2.6),
                         (4.0, "shipment", "web", 0, 2.0, 2.0)]
    assert [r for r in records if r[1] == "delivered"] == [
        (1.0, "delivered", "web", 1, 1.0, 3.0), (3.0, "delivered", "web", 1, 3.0, 5.0),
        (4.0, "delivered", "web", 1, 2.0, 5.0)]
    row = customer_row(two_warehouses("ship_complete"))
    assert (row["order_fill_rate"], row["shipments"], row["open_orders"]) == (0.5, 3, 1)
    assert row["shipping_cost"] == pytest.approx(7.2, rel=1e-12)


def test_ship_complete_under_lost_sales_loses_the_whole_order():
    # t=2: no warehouse can ship 2 units: the order is lost whole; east keeps its unit
    # (refused lines take no stock), so at t=3 west (2 on hand again) ships order 3 whole.
    records, net = logged(two_warehouses("ship_complete", unmet="lost"))
    orders = [r for r in records if r[1] == "order" and r[2] == "web"]
    assert orders[1] == (2.0, "order", "web", 1, 0, False, 2.0)
    east = [r for r in records if r[1] == "demand" and r[2] == "east"]
    assert east[0] == (2.0, "demand", "east", "a", 2.0, 0.0, 2.0, 1.0, 0.0, 0.0)


def test_merge_window_exact():
    # 4 orders a day at t = 0.25, 0.5, ...; window 0.5 days; 1 day delivery. The order at
    # 0.25 opens a window closing at 0.75, after the order arriving then: one shipment of
    # 3 orders at 0.75 (arrives 1.75: cycles 1.5, 1.25, 1.0); likewise 1.0-1.5.
    data = {"name": "merge", "horizon": 1.6,
            "products": [{"id": "a"}], "suppliers": [{"id": "sup", "lead_time": 1}],
            "warehouses": [{"id": "w", "inventory": {
                "a": {"source": "sup", "policy": {"type": "base_stock", "S": 100}}}}],
            "customers": [{"id": "c", "warehouse": "w", "merge_window": 0.5, "delivery_time": 1,
                           "orders": {"rate": 4, "arrivals": "deterministic",
                                      "lines": {"a": {"probability": 1}}}}]}
    records, _ = logged(data)
    assert [r for r in records if r[1] in ("shipment", "delivered")] == [
        (0.75, "shipment", "c", 0, 3.0, 0.0),
        (0.75, "delivered", "c", 1, 0.25, 1.75), (0.75, "delivered", "c", 1, 0.5, 1.75),
        (0.75, "delivered", "c", 1, 0.75, 1.75),
        (1.5, "shipment", "c", 0, 3.0, 0.0),
        (1.5, "delivered", "c", 1, 1.0, 2.5), (1.5, "delivered", "c", 1, 1.25, 2.5),
        (1.5, "delivered", "c", 1, 1.5, 2.5)]
    row = customer_row(data)
    assert (row["shipments"], row["avg_cycle_time"], row["p95_cycle_time"]) == (2, 1.25, 1.5)


# --------------------------------------------------------------------------- fast path
def scenario_for_paths(unmet: str, customers: int = 2) -> dict[str, Any]:
    return {"name": "paths", "horizon": 300, "warmup": 50.5, "replications": 2, "seed": 3,
            "products": [{"id": "p"}, {"id": "q"}],
            "suppliers": [{"id": "sup", "lead_time": {"dist": "exponential", "mean": 2}}],
            "warehouses": [{"id": "w", "inventory": {
                "p": {"source": "sup", "policy": {"type": "base_stock", "S": 4}},
                "q": {"source": "sup", "policy": {"type": "sS", "s": 2, "S": 6}}}}],
            "customers": [
                {"id": f"c{i}", "warehouse": "w", "unmet": unmet if i == 0 else "backorder",
                 "demand": {"p": {"rate": 1.5, "size": {"dist": "poisson", "mean": 1.2}},
                            "q": {"rate": 0.7}}} for i in range(customers)]}


@pytest.mark.parametrize("unmet", ["backorder", "lost"])
def test_fast_path_equals_general_order_path(unmet, monkeypatch):
    # The fast path of single-product customers (a counter per order, only short orders
    # announced) must give exactly what the general path (every order placed as a one-line
    # order) gives: same draws, same events, same metrics, stock and customer.
    data = scenario_for_paths(unmet)
    fast = simulator.run(data, progress=False)
    monkeypatch.setattr(replication_module, "Network", functools.partial(Network, fast=False))
    general = simulator.run(data, progress=False)
    assert fast.metrics.equals(general.metrics)
    pd_fast, pd_general = fast.customer_metrics, general.customer_metrics
    assert pd_fast.equals(pd_general), (pd_fast.T, pd_general.T)
    row = pd_fast.iloc[0]
    assert 0 < row["order_fill_rate"] < 1 and row["orders"] > 300
    assert (row["avg_cycle_time"] > 0) == (unmet == "backorder")


def test_demand_customers_get_a_row_each():
    # two customers at one stock point, one backordering, one losing sales: one row each,
    # adding up to the stock point's own metrics
    data = {
        "name": "two", "horizon": 400, "warmup": 20, "replications": 2,
        "products": [{"id": "p"}],
        "suppliers": [{"id": "sup", "lead_time": 2}],
        "warehouses": [{"id": "w", "inventory": {
            "p": {"source": "sup", "policy": {"type": "base_stock", "S": 3}}}}],
        "customers": [
            {"id": "shops", "warehouse": "w", "demand": {"p": {"rate": 1}}},
            {"id": "web", "warehouse": "w", "unmet": "lost", "demand": {"p": {"rate": 0.5}}}],
    }
    res = simulator.run(data, progress=False)
    cm = res.customer_metrics
    assert list(cm["customer"]) == ["shops", "web", "shops", "web"]
    for rep in (0, 1):
        rows = cm[cm["replication"] == rep].set_index("customer")
        stock = res.metrics[res.metrics["replication"] == rep].iloc[0]
        assert rows["orders"].sum() == stock["demand_units"]  # unit sizes
        assert rows.loc["shops", "lost_units"] == 0
        assert rows.loc["web", "lost_units"] == stock["lost_units"] > 0
        assert rows.loc["web", "open_orders"] == 0
        assert 0 < rows.loc["shops", "order_fill_rate"] < 1
        assert rows.loc["shops", "avg_cycle_time"] > 0
        assert (rows["orders"] == rows["lines"]).all()
    summary = res.customer_summary
    assert set(summary["customer"]) == {"shops", "web"}
    fill = summary[summary["metric"] == "order_fill_rate"]
    assert (fill["ci95_high"] <= 1).all() and (fill["n"] == 2).all()


def test_results_folder_has_customer_metrics(tmp_path):
    res = simulator.run(two_products(DETERMINISTIC), progress=False)
    out = res.save(tmp_path / "out")
    text = (out / "customer_metrics.csv").read_text().splitlines()
    assert text[0] == ("replication,customer,orders,lines,order_fill_rate,line_fill_rate,"
                       "avg_cycle_time,p95_cycle_time,on_time_share,split_share,shipments,"
                       "shipping_cost,lost_units,open_orders")
    assert text[1] == "0,web,4,8,0.0,0.125,1.5,2.0,,0.0,8,0.0,0.0,2"
    assert "order_fill_rate" in res.table()


# --------------------------------------------------------------------------- properties
@st.composite
def small_order_scenarios(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(1, 3))
    products = [f"p{i}" for i in range(n)]
    lines = {}
    for p in products:
        size: Any = draw(st.sampled_from([1, 2, 3, {"dist": "poisson", "mean": 1.5},
                                          {"dist": "uniform", "low": 0.5, "high": 2.5}]))
        prob = draw(st.sampled_from([1.0, 0.7, 0.3, 0.05]))
        lines[p] = {"probability": prob, "size": size}
    n_wh = draw(st.integers(1, 2))
    warehouses = [{"id": f"w{j}", "inventory": {
        p: {"source": "sup", "policy": {"type": "base_stock", "S": draw(st.integers(0, 4))}}
        for p in products}} for j in range(n_wh)]
    customer: dict[str, Any] = {
        "id": "c", "warehouses": [w["id"] for w in warehouses],
        "unmet": draw(st.sampled_from(["backorder", "lost"])),
        "allocation": draw(st.sampled_from(["single_source", "split", "ship_complete"])),
        "orders": {"rate": draw(st.sampled_from([0.5, 2.0, 6.0])),
                   "arrivals": draw(st.sampled_from(["poisson", "deterministic"])),
                   "lines": lines}}
    if draw(st.booleans()):
        customer["delivery_time"] = {"dist": "exponential", "mean": 1}
    return {
        "name": "prop", "horizon": draw(st.sampled_from([5.0, 20.0, 40.0])),
        "seed": draw(st.integers(0, 10_000)),
        "products": [{"id": p} for p in products],
        "suppliers": [{"id": "sup", "lead_time": draw(st.sampled_from(
            [0, 1, 2.5, {"dist": "exponential", "mean": 2}]))}],
        "warehouses": warehouses,
        "customers": [customer],
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_order_scenarios())
def test_units_conserved_and_lines_add_up(data):
    sc = load(data)
    net = Network(sc, replication=0, seed=sc.seed)
    records: list[tuple[Any, ...]] = []
    net.attach(lambda sp: EventLog(records))
    net.attach_customers(lambda c: CustomerLog(records))
    cust = net.customers["c"]
    products = list(data["customers"][0]["orders"]["lines"])
    place = cust.place

    def tapped(lines: list[tuple[int, float]]) -> None:  # the order as drawn, before placing
        records.append((net.env.now, "drawn", [(products[k], q) for k, q in lines]))
        place(lines)

    cust.place = tapped  # type: ignore[method-assign]
    net.start()
    net.run(sc.horizon)
    rule = data["customers"][0]["allocation"]
    ordered = shipped = lost = 0.0
    drawn: list[tuple[str, float]] = []
    pending: list[tuple[Any, ...]] = []  # stock demand records of the order being placed
    for r in records:
        kind = r[1]
        if kind == "drawn":
            drawn, pending = r[2], []
        elif kind == "demand":
            pending.append(r)
        elif kind == "order" and r[2] == "c":
            _, _, _, lines, filled, split, lost_now = r
            # the demands the order made at the stock points add up to its lines, product by
            # product (a split line is taken from several warehouses)
            assert lines == len(drawn) >= 1
            asked: dict[str, float] = {}
            for p in pending:
                asked[p[3]] = asked.get(p[3], 0.0) + p[4]
            assert asked == pytest.approx(dict(drawn), abs=1e-9)
            assert lost_now == pytest.approx(sum(p[6] for p in pending), abs=1e-9)
            # split: units leave (or are owed) from more than one warehouse
            serving = {p[2] for p in pending if p[5] > 0 or p[4] - p[5] - p[6] > 1e-9}
            assert split == (len(serving) > 1)
            if rule != "split":
                assert not split
            ordered += sum(q for _, q in drawn)
            lost += lost_now
            pending = []
        elif kind == "shipment":
            shipped += r[4]
        elif kind == "delivered":
            assert r[5] >= r[4] / r[3] - 1e-9  # never delivered before it arrived
    assert not pending
    owed = sum(b.owed() for b in cust.backlogs)
    records_open = {id(e[1]): e[1] for b in cust.backlogs for e in b.entries}
    held = sum(o.held for o in records_open.values())
    # every unit ordered is shipped exactly once, lost, held, or still owed at the end
    assert ordered == pytest.approx(shipped + lost + owed + held, abs=1e-6)
    # ... and what is owed is what the first warehouse owes (one customer, one echelon)
    first = data["customers"][0]["warehouses"][0]
    assert owed == pytest.approx(sum(sp.backorders for (w, _), sp in net.stock.items()
                                     if w == first), abs=1e-6)
    assert cust.records == len(records_open)  # every open record is owed something
    if rule != "ship_complete":
        assert held == 0
    if data["customers"][0]["unmet"] == "lost":
        assert owed == 0 and cust.records == 0


def test_line_draws_match_their_probabilities():
    # conditioned on "at least one line": P(A | nonempty) for every set A, within 4 SE
    p = [0.5, 0.2, 0.05]
    picks = line_picks(p, np.random.default_rng(3))
    n = 200_000
    counts: dict[tuple[int, ...], int] = {}
    for lines in itertools.islice(picks, n):
        counts[tuple(lines)] = counts.get(tuple(lines), 0) + 1
    nonempty = 1 - math.prod(1 - x for x in p)
    for k in range(1, 4):
        for a in itertools.combinations(range(3), k):
            pa = math.prod(p[i] if i in a else 1 - p[i] for i in range(3)) / nonempty
            se = math.sqrt(pa * (1 - pa) / n)
            assert abs(counts.get(a, 0) / n - pa) <= 4 * se, (a, counts.get(a, 0) / n, pa)
    assert () not in counts


def test_records_stay_bounded_under_a_permanent_shortage(monkeypatch):
    # a product that never comes back (a supplier disrupted for the whole run): every order
    # is backordered; beyond MAX_RECORDS (lowered to 50) they join the newest record
    monkeypatch.setattr(orders_module, "MAX_RECORDS", 50)
    data = two_products({"a": {"probability": 1}, "b": {"probability": 0.5}}, horizon=400)
    data["suppliers"][0]["disruptions"] = [{"from": 0, "to": 1e6}]
    data["customers"][0]["orders"]["rate"] = 5
    _, net = logged(data)
    cust = net.customers["web"]
    assert cust.records == 50
    assert len(cust.backlogs[0].entries) == 50  # product a: one entry per record
    tail = cust.backlogs[0].entries[-1][1]
    assert tail.count > 1000  # the rest of the 2,000 orders, as one cohort


# --------------------------------------------------------------------------- theory
def _poisson_pmf(k: int, mean: float) -> float:
    return math.exp(-mean) * mean ** k / math.factorial(k)


def exact_fill_rates(rate: float, lead: float, p: list[float],
                     s: list[int]) -> tuple[float, list[float]]:
    """THEORY.md item 8: the order fill rate and each product's line fill rate."""
    n = len(p)
    nonempty = 1 - math.prod(1 - x for x in p)
    sets = [a for k in range(1, n + 1) for a in itertools.combinations(range(n), k)]
    prob = {a: math.prod(p[i] if i in a else 1 - p[i] for i in range(n)) / nonempty
            for a in sets}
    mean = {a: rate * lead * prob[a] for a in sets}

    def all_on_hand(a: tuple[int, ...]) -> float:
        # P(D_i(L) <= S_i - 1 for every i in a), D_i = sum of the N_B with i in B:
        # enumerate the N_B of the sets B meeting a (each at most min S_i - 1 over i in B & a)
        meeting = [b for b in sets if set(b) & set(a)]
        ranges = [range(min(s[i] for i in set(b) & set(a))) for b in meeting]
        total = 0.0
        for counts in itertools.product(*ranges):
            d = [0] * n
            for b, c in zip(meeting, counts, strict=True):
                for i in b:
                    d[i] += c
            if all(d[i] <= s[i] - 1 for i in a):
                total += math.prod(_poisson_pmf(c, mean[b])
                                   for b, c in zip(meeting, counts, strict=True))
        return total

    order_fill = sum(prob[a] * all_on_hand(a) for a in sets)
    lines = [all_on_hand((i,)) for i in range(n)]
    return order_fill, lines


def test_exact_formula_single_product_is_poisson_cdf():
    # one product present in every order: the classic base-stock fill rate P(D(L) <= S-1)
    fill, lines = exact_fill_rates(2.0, 1.5, [1.0], [3])
    cdf = sum(_poisson_pmf(k, 3.0) for k in range(3))
    assert fill == pytest.approx(cdf, rel=1e-12) and lines[0] == pytest.approx(cdf, rel=1e-12)


def test_order_and_line_fill_rates_against_theory():
    rate, lead, p, s = 2.0, 1.0, [0.5, 0.4, 0.3], [2, 2, 1]
    order_fill, line_fill = exact_fill_rates(rate, lead, p, s)
    data = {
        "name": "theory", "horizon": 1000, "warmup": 10, "replications": 16, "seed": 5,
        "products": [{"id": f"p{i}"} for i in range(3)],
        "suppliers": [{"id": "sup", "lead_time": lead}],
        "warehouses": [{"id": "w", "inventory": {
            f"p{i}": {"source": "sup", "policy": {"type": "base_stock", "S": s[i]}}
            for i in range(3)}}],
        "customers": [{"id": "web", "warehouse": "w", "orders": {"rate": rate, "lines": {
            f"p{i}": {"probability": p[i]} for i in range(3)}}}],
    }
    res = simulator.run(data, progress=False)
    sim = res.customer_metrics["order_fill_rate"].to_numpy(dtype=float)
    se = sim.std(ddof=1) / math.sqrt(len(sim))
    assert se < 0.01  # small enough for the check to mean something
    assert abs(sim.mean() - order_fill) <= 4 * se, (sim.mean(), order_fill, se)
    for i in range(3):
        fr = res.metrics.loc[res.metrics["product"] == f"p{i}", "fill_rate"].to_numpy(float)
        se_i = fr.std(ddof=1) / math.sqrt(len(fr))
        assert abs(fr.mean() - line_fill[i]) <= 4 * se_i, (i, fr.mean(), line_fill[i], se_i)
    # and the orders arrive at `rate` (empty orders are redrawn, not counted)
    orders = res.customer_metrics["orders"].to_numpy(float)
    days = data["horizon"] - data["warmup"]
    assert abs(orders.mean() - rate * days) <= 4 * orders.std(ddof=1) / math.sqrt(len(orders))


def test_cycle_time_against_theory():
    # One-for-one base stock S, Poisson unit demand at rate lam, constant lead time L, FIFO
    # backorders: the n-th demand is filled by the order placed S demands earlier, which
    # arrives at t_{n-S} + L, so its wait is W = (L - G)^+ with G ~ Gamma(S, lam) (the sum
    # of S gaps). E[W] = L F_S(L) - (S / lam) F_{S+1}(L) (F_k the Gamma(k, lam) cdf), and
    # P(W <= w) = 1 - F_S(L - w), so the 95th percentile is L - F_S^{-1}(0.05) when
    # P(W > 0) > 5%. A delivery time d adds d to every cycle time (and takes the order
    # through the general order path, not the fast one).
    lam, lead, s, d = 2.0, 3.0, 6, 0.5
    f = functools.partial(stats.gamma.cdf, scale=1 / lam)
    mean_wait = lead * f(lead, s) - s / lam * f(lead, s + 1)
    p95 = lead - stats.gamma.ppf(0.05, s, scale=1 / lam)
    assert f(lead, s) > 0.05  # the percentile is in the continuous part
    data = {"name": "cycle", "horizon": 1500, "warmup": 20, "replications": 12, "seed": 11,
            "products": [{"id": "p"}], "suppliers": [{"id": "sup", "lead_time": lead}],
            "warehouses": [{"id": "w", "inventory": {
                "p": {"source": "sup", "policy": {"type": "base_stock", "S": s}}}}],
            "customers": [{"id": "c", "warehouse": "w", "delivery_time": d,
                           "demand": {"p": {"rate": lam}}}]}
    cm = simulator.run(data, progress=False).customer_metrics
    for col, exact, binning in (("avg_cycle_time", mean_wait + d, 0.0),
                                ("p95_cycle_time", p95 + d, 0.01 * (p95 + d))):
        x = cm[col].to_numpy(float)
        se = x.std(ddof=1) / math.sqrt(len(x))
        assert se < 0.05 * exact
        assert abs(x.mean() - exact) <= 4 * se + binning, (col, x.mean(), exact, se)


# --------------------------------------------------------------------------- p95 estimator
def test_log_bins_p95_against_numpy_percentile():
    rng = np.random.default_rng(20261126)  # the stored sample: fixed seed, fixed numpy PCG64
    sample = np.concatenate([np.zeros(3000), rng.lognormal(0.0, 1.5, 7000),
                             rng.uniform(1e-12, 1e-10, 5)])
    rng.shuffle(sample)
    bins = LogBins()
    for x in sample.tolist():
        bins.add(x)
    for q in (0.5, 0.9, 0.95, 0.99, 1.0):
        exact = float(np.percentile(sample, 100 * q, method="inverted_cdf"))
        assert bins.quantile(q) == pytest.approx(exact, rel=0.01), q
    assert bins.quantile(0.2) == 0.0  # 30% zeros
    assert len(bins.bins) <= 6300


def test_log_bins_exact_for_repeated_values_and_empty():
    bins = LogBins()
    assert math.isnan(bins.quantile(0.95))
    for x in [1.0] * 10 + [2.0] * 9 + [7.25]:
        bins.add(x)
    # k = ceil(0.95 * 20) = 19: the 19th smallest is 2.0, exactly (one value in its bin)
    assert bins.quantile(0.95) == 2.0 == np.percentile([1.0] * 10 + [2.0] * 9 + [7.25], 95,
                                                        method="inverted_cdf")
    assert bins.quantile(1.0) == 7.25
    bins.add(3.0, count=5)  # weighted: as five values
    assert bins.n == 25 and bins.quantile(0.9) == 3.0


# --------------------------------------------------------------------------- derived, budget
def test_policy_context_demand_of_order_lines():
    data = two_products({"a": {"probability": 0.5, "size": 2},
                         "b": {"probability": 0.5, "size": {"dist": "poisson", "mean": 3}}})
    data["customers"][0]["orders"].update(rate=6.0, arrivals="poisson")
    ctx = policy_contexts(load(data))
    q = 0.5 / 0.75  # P(line | nonempty)
    assert ctx[("w", "a")].demand_rate == pytest.approx(6 * q * 2)
    assert ctx[("w", "a")].demand_var_rate == pytest.approx(6 * q * 4)
    assert ctx[("w", "b")].demand_rate == pytest.approx(6 * q * 3)
    assert ctx[("w", "b")].demand_var_rate == pytest.approx(6 * q * (3 + 9))
    data["customers"][0]["orders"]["arrivals"] = "deterministic"
    ctx = policy_contexts(load(data))
    assert ctx[("w", "a")].demand_var_rate == pytest.approx(6 * (q * 4 - (q * 2) ** 2))


def test_policy_context_demand_goes_to_the_first_warehouse():
    data = two_warehouses("split")
    ctx = policy_contexts(load(data))
    assert ctx[("east", "a")].demand_rate == 2.0 and ctx[("west", "a")].demand_rate == 0.0


def test_budget_counts_order_lines():
    data = two_products({"a": {"probability": 1}, "b": {"probability": 0.5}}, horizon=100)
    assert events_per_replication(load(data)) == pytest.approx(100 * 2.5)


# --------------------------------------------------------------------------- validation
ORDERS_YAML = edit(BASE_YAML, ("    demand:\n      widget: {rate: 2}\n",
                               "    orders:\n      rate: 3\n      lines:\n"
                               "        widget: {probability: 0.5, size: 2}\n"))


def problems(folder: Path, text: str) -> tuple[Path, list[Any]]:
    path = write_scenario(folder, text)
    with pytest.raises(ScenarioError) as info:
        simulator.load(path)
    return path, info.value.problems


def check(folder: Path, text: str, key: str, marker: str, fragment: str) -> None:
    path, found = problems(folder, text)
    assert len(found) == 1, "\n".join(map(str, found))
    p = found[0]
    assert (p.key, p.line) == (key, line_of(text, marker)), str(p)
    assert fragment in p.message, str(p)
    assert str(p) == f"{path}:{p.line}: {key}: {p.message}"


def test_orders_template_is_valid(tmp_path):
    sc = simulator.load(write_scenario(tmp_path, ORDERS_YAML))
    assert sc.customers[0].orders.lines["widget"].probability == 0.5
    assert "demand" not in sc.to_dict()["customers"][0]  # scenario.yaml loads again
    simulator.load(sc.to_dict())


def test_multi_warehouse_template_is_valid():
    sc = simulator.load(two_warehouses("split"))
    assert sc.customers[0].sources == ("east", "west")
    simulator.load(sc.to_dict())


BAD = [
    pytest.param(("widget: {probability: 0.5", "gadget: {probability: 0.5"),
                 "customers.0.orders.lines.gadget", "gadget: {probability",
                 "warehouse 'dc' does not stock 'gadget'", id="line-not-stocked"),
    pytest.param(("probability: 0.5", "probability: 0"),
                 "customers.0.orders.lines.widget.probability", "probability: 0",
                 "greater than 0", id="probability-zero"),
    pytest.param(("probability: 0.5", "probability: 1.5"),
                 "customers.0.orders.lines.widget.probability", "probability: 1.5",
                 "at most 1", id="probability-above-one"),
    pytest.param(("probability: 0.5", "probability: -0.1"),
                 "customers.0.orders.lines.widget.probability", "probability: -0.1",
                 "greater than 0", id="probability-negative"),
    pytest.param(("probability: 0.5", "probability: yes"),
                 "customers.0.orders.lines.widget.probability", "probability: yes",
                 "valid number", id="probability-not-a-number"),
    pytest.param(("    orders:\n", "    demand: {widget: {rate: 1}}\n    orders:\n"),
                 "customers.0.orders", "orders:", "not both", id="both"),
    pytest.param(("      rate: 3\n", "      rate: 3\n      rte: 4\n"),
                 "customers.0.orders.rte", "rte: 4",
                 "unknown key; valid keys: rate, arrivals, lines", id="unknown-orders-key"),
    pytest.param(("size: 2}", "size: 2, sise: 3}"),
                 "customers.0.orders.lines.widget.sise", "sise: 3",
                 "unknown key; valid keys: probability, size", id="unknown-line-key"),
    pytest.param(("      rate: 3\n", "      rate: 3\n      arrivals: bursty\n"),
                 "customers.0.orders.arrivals", "arrivals: bursty",
                 "'poisson' or 'deterministic'", id="arrivals"),
    pytest.param(("      rate: 3\n", "      rate: 0\n"), "customers.0.orders.rate", "rate: 0",
                 "greater than 0", id="rate-zero"),
    pytest.param(("      rate: 3\n", ""), "customers.0.orders.rate", "    orders:",
                 "required key is missing", id="rate-missing"),
    pytest.param(("size: 2}", "size: -2}"), "customers.0.orders.lines.widget.size",
                 "size: -2", ">= 0", id="size-negative"),
    pytest.param(("    orders:\n", "    allocation: nearest\n    orders:\n"),
                 "customers.0.allocation", "allocation: nearest",
                 "'single_source', 'split' or 'ship_complete'", id="allocation"),
    pytest.param(("    orders:\n", "    merge_window: -1\n    orders:\n"),
                 "customers.0.merge_window", "merge_window: -1", "greater than or equal to 0",
                 id="merge-window"),
    pytest.param(("    orders:\n", "    delivery_time: {dist: gamma, mean: -1, cv: 1}\n"
                                    "    orders:\n"),
                 "customers.0.delivery_time.mean", "delivery_time:", "greater than 0",
                 id="delivery-bad"),
    pytest.param(("    orders:\n", "    delivery_time: {dc: {dist: normal, mean: 1}}\n"
                                    "    orders:\n"),
                 "customers.0.delivery_time.dc.std", "delivery_time:", "required key",
                 id="delivery-per-warehouse-bad"),
    pytest.param(("    orders:\n", "    shipping_cost: -1\n    orders:\n"),
                 "customers.0.shipping_cost", "shipping_cost:", "greater than or equal to 0",
                 id="shipping-negative"),
    pytest.param(("    orders:\n", "    delivery_time: {dc: 1, north: 1}\n    orders:\n"),
                 "customers.0.delivery_time.north", "delivery_time:",
                 "not one of this customer's warehouses (dc); it cannot ship",
                 id="delivery-unreachable"),
    pytest.param(("    orders:\n", "    shipping_cost: {dc: 1, north: 1}\n    orders:\n"),
                 "customers.0.shipping_cost.north", "shipping_cost:",
                 "not one of this customer's warehouses", id="shipping-unreachable"),
    pytest.param(("    warehouse: dc\n", "    warehouses: [dc, north]\n"),
                 "customers.0.warehouses.1", "warehouses: [dc, north]", "unknown warehouse 'north'",
                 id="warehouses-unknown"),
    pytest.param(("    warehouse: dc\n", "    warehouses: [dc, dc]\n"),
                 "customers.0.warehouses.1", "warehouses: [dc, dc]", "listed twice",
                 id="warehouses-twice"),
    pytest.param(("    warehouse: dc\n", "    warehouses: []\n"),
                 "customers.0.warehouses", "warehouses: []", "at least 1",
                 id="warehouses-empty"),
    pytest.param(("    warehouse: dc\n", "    warehouse: dc\n    warehouses: [dc]\n"),
                 "customers.0.warehouses", "warehouses: [dc]", "not both",
                 id="warehouse-both"),
    pytest.param(("    orders:\n", "    promised_time: -2\n    orders:\n"),
                 "customers.0.promised_time", "promised_time: -2", "greater than or equal to 0",
                 id="promised-negative"),
    pytest.param(("    orders:\n", "    shipment_cost: yes\n    orders:\n"),
                 "customers.0.shipment_cost", "shipment_cost: yes", "valid number",
                 id="shipment-cost-not-a-number"),
    pytest.param(("      rate: 3\n", "      rate: 3\n      bootstrap: true\n"),
                 "customers.0.orders.bootstrap", "bootstrap:", "only for an order log",
                 id="bootstrap-without-log"),
]


@pytest.mark.parametrize("change, key, marker, fragment", BAD)
def test_bad_orders_are_reported(tmp_path, change, key, marker, fragment):
    check(tmp_path, edit(ORDERS_YAML, change), key, marker, fragment)


def test_neither_demand_nor_orders(tmp_path):
    text = edit(ORDERS_YAML, ("    orders:\n      rate: 3\n      lines:\n"
                              "        widget: {probability: 0.5, size: 2}\n", ""))
    check(tmp_path, text, "customers.0.demand", "- id: shops", "required key is missing")


def test_empty_lines(tmp_path):
    text = edit(ORDERS_YAML, ("      lines:\n        widget: {probability: 0.5, size: 2}\n",
                              "      lines: {}\n"))
    check(tmp_path, text, "customers.0.orders.lines", "lines: {}", "at least 1")


def test_bad_orders_exit_2_from_the_cli(tmp_path, capsys):
    text = edit(ORDERS_YAML, ("probability: 0.5", "probability: 2"))
    path = write_scenario(tmp_path, text)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line_of(text, 'probability: 2')}: customers.0.orders.lines.widget." \
           "probability: " in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- order logs
LOG = """time,order,product,quantity
0.5,A1,a,1
0.5,A1,b,2
1.25,A2,a,1
1.75,A3,b,1
2.5,A4,a,3
"""


def log_scenario(folder: Path, bootstrap: bool = False, text: str = LOG,
                 horizon: float = 3) -> Path:
    (folder / "orders.csv").write_text(text)
    data = two_products(DETERMINISTIC, horizon=horizon)
    data["customers"][0]["orders"] = {"file": "orders.csv", "bootstrap": bootstrap}
    data["replications"] = 3
    import yaml
    path = folder / "log.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_order_log_is_replayed_exactly(tmp_path):
    path = log_scenario(tmp_path)
    sc = simulator.load(path)
    records, _ = logged(sc)  # type: ignore[arg-type]
    demands = [(r[0], r[3], r[4]) for r in records if r[1] == "demand"]
    assert demands == [(0.5, "a", 1.0), (0.5, "b", 2.0), (1.25, "a", 1.0), (1.75, "b", 1.0),
                       (2.5, "a", 3.0)]
    orders = [r for r in records if r[1] == "order" and r[2] == "web"]
    assert [r[3] for r in orders] == [2, 1, 1, 1]
    res = simulator.run(path, progress=False)
    assert (res.customer_metrics["orders"] == 4).all()  # the same log in every replication
    # the results folder's scenario.yaml names the log by its absolute path: it runs as is
    out = res.save(tmp_path / "out")
    again = simulator.run(out / "scenario.yaml", progress=False)
    assert again.customer_metrics.equals(res.customer_metrics)


def test_order_log_bootstrap_varies_between_replications(tmp_path):
    data = log_scenario(tmp_path, bootstrap=True, horizon=60)
    res = simulator.run(data, progress=False)
    res2 = simulator.run(data, progress=False)
    assert res.customer_metrics.equals(res2.customer_metrics)  # same seed: same draws
    orders = res.customer_metrics["orders"].tolist()
    assert len(set(orders)) > 1, orders  # whole days drawn at random: replications differ
    # 60 days drawn from days of 1, 2 and 1 orders: 80 orders expected, sd sqrt(60 * 2/9)
    assert all(abs(n - 80) <= 4 * math.sqrt(60 * 2 / 9) for n in orders), orders
    ctx = policy_contexts(simulator.load(data))
    # a: days 0, 1, 2 carry 1, 1, 3 units: mean 5/3 per day, variance 8/9
    assert ctx[("w", "a")].demand_rate == pytest.approx(5 / 3)
    assert ctx[("w", "a")].demand_var_rate == pytest.approx(8 / 9)


def test_bad_order_log_is_reported_with_file_and_line(tmp_path, capsys):
    path = log_scenario(tmp_path, text=LOG.replace("1.75,A3,b,1", "1.75,A3,zz,-1"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    log = tmp_path / "orders.csv"
    assert f"{log}:5: product: 'zz' is not stocked" in err
    assert f"{log}:5: quantity: " in err
    assert f"{path}:" in err and "customers.0.orders.file: the order log" in err
    assert "Traceback" not in err
    path.write_text(path.read_text().replace("orders.csv", "missing.csv"))
    assert main(["validate", str(path)]) == 2
    assert "missing.csv" in capsys.readouterr().err
