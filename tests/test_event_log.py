"""Exact event logs of small deterministic scenarios (in the style of SimPy's own tests).

Every scenario here has deterministic arrivals (gap exactly 1/rate, first order at t = 1/rate),
constant order sizes and constant lead times, so the whole sample path can be derived by hand.
Each expected log below is derived step by step in the comments from the rules of SPEC.md and
``simulator/model`` (shipping, FIFO backorders, same-instant order RECEIPT < DEMAND < REVIEW,
continuous review at t = 0 and after every demand, periodic review at 0, R, 2R, ...,
the run stops before the events at exactly ``until``).

Record layout (``simulator.observe.eventlog.EventLog``), levels *after* the change:

* ``(t, "demand", wh, product, qty, shipped, lost, on_hand, backorders, on_order)``
* ``(t, "order", wh, product, qty, on_hand, backorders, on_order)``
* ``(t, "receive", wh, product, qty, shipped_to_backorders, on_hand, backorders, on_order)``

All the times and quantities used are exactly representable binary floats (integers, halves),
so exact equality is meaningful.
"""
from __future__ import annotations

import math
from typing import Any

import pytest

import simulator
from simulator.model import Network
from simulator.observe.eventlog import EventLog
from simulator.scenario import load


# --------------------------------------------------------------------------- helpers
def one_point(policy: dict[str, Any], *, lead_time: float, rate: float, size: float,
              horizon: float, initial: float | None = None, unmet: str = "backorder",
              warmup: float = 0.0, costs: dict[str, float] | None = None) -> dict[str, Any]:
    """One product ``p`` at one warehouse ``w`` supplied by ``sup``, one customer ``c``."""
    inv: dict[str, Any] = {"source": "sup", "policy": policy}
    if initial is not None:
        inv["initial"] = initial
    return {
        "name": "log",
        "horizon": horizon,
        "warmup": warmup,
        "products": [{"id": "p", **(costs or {})}],
        "suppliers": [{"id": "sup", "lead_time": lead_time}],
        "warehouses": [{"id": "w", "inventory": {"p": inv}}],
        "customers": [{"id": "c", "warehouse": "w", "unmet": unmet,
                       "demand": {"p": {"rate": rate, "size": size,
                                        "arrivals": "deterministic"}}}],
    }


def event_log(data: dict[str, Any], until: float | None = None) -> list[tuple[Any, ...]]:
    sc = load(data)
    net = Network(sc, replication=0, seed=0)
    log = EventLog()
    net.attach(lambda sp: log)
    net.start()
    net.run(sc.horizon if until is None else until)
    return log.records


# Record builders: D(emand), O(rder), R(eceive), in the layout of the module docstring.
def D(t, qty, shipped, lost, oh, bo, oo, wh="w", p="p"):
    return (t, "demand", wh, p, qty, shipped, lost, oh, bo, oo)


def O(t, qty, oh, bo, oo, wh="w", p="p"):
    return (t, "order", wh, p, qty, oh, bo, oo)


def R(t, qty, shipped, oh, bo, oo, wh="w", p="p"):
    return (t, "receive", wh, p, qty, shipped, oh, bo, oo)


# --------------------------------------------------------------------------- (a) sS continuous
def test_ss_continuous_default_initial_stock():
    # sS s=4 S=10, continuous review; initial defaults to S = 10; lead time 2;
    # one customer order of 3 units every day from t=1; horizon 7.5.
    data = one_point({"type": "sS", "s": 4, "S": 10}, lead_time=2, rate=1, size=3, horizon=7.5)
    expected = [
        # t=0 review: position 10 > 4 -> nothing (no record)
        D(1, 3, 3, 0, 7, 0, 0),     # 10-3 = 7; position 7 > 4
        D(2, 3, 3, 0, 4, 0, 0),     # 7-3 = 4; position 4 <= s=4 -> order S-4 = 6
        O(2, 6, 4, 0, 6),           # arrives at 2+2 = 4
        D(3, 3, 3, 0, 1, 0, 6),     # 4-3 = 1; position 1+6 = 7 > 4
        R(4, 6, 0, 7, 0, 0),        # receipt before the demand of the same instant: 1+6 = 7
        D(4, 3, 3, 0, 4, 0, 0),     # 7-3 = 4 -> position 4 <= 4 -> order 6
        O(4, 6, 4, 0, 6),           # arrives at 6
        D(5, 3, 3, 0, 1, 0, 6),
        R(6, 6, 0, 7, 0, 0),
        D(6, 3, 3, 0, 4, 0, 0),
        O(6, 6, 4, 0, 6),           # arrives at 8 > horizon: never received
        D(7, 3, 3, 0, 1, 0, 6),     # the next demand (t=8) is after the horizon 7.5
    ]
    assert event_log(data) == expected


def test_ss_continuous_orders_at_time_zero_when_initial_at_or_below_s():
    # initial 3 <= s=4: the t=0 review orders S-3 = 7 at once (arrives at 2).
    data = one_point({"type": "sS", "s": 4, "S": 10}, lead_time=2, rate=1, size=3,
                     horizon=4, initial=3)
    expected = [
        O(0, 7, 3, 0, 7),
        D(1, 3, 3, 0, 0, 0, 7),     # 3-3 = 0; position 0+7 = 7 > 4
        R(2, 7, 0, 7, 0, 0),
        D(2, 3, 3, 0, 4, 0, 0),     # position 4 <= 4 -> order 6
        O(2, 6, 4, 0, 6),           # arrives at 4 = horizon: not simulated
        D(3, 3, 3, 0, 1, 0, 6),
        # t=4: receipt and demand at exactly the horizon are not simulated
    ]
    assert event_log(data) == expected


# --------------------------------------------------------------------------- (b) backorders
def test_backorders_partial_shipment_and_fifo_clearing():
    # sS s=1 S=14, initial 5, lead time 2.5, orders of 4 units every day, horizon 8.
    data = one_point({"type": "sS", "s": 1, "S": 14}, lead_time=2.5, rate=1, size=4,
                     horizon=8, initial=5)
    expected = [
        # t=0: position 5 > 1, no order
        D(1, 4, 4, 0, 1, 0, 0),        # 5-4 = 1; position 1 <= 1 -> order 14-1 = 13
        O(1, 13, 1, 0, 13),            # arrives at 3.5
        D(2, 4, 1, 0, 0, 3, 13),       # partial: ship the 1 on hand, backorder 3; pos 10
        D(3, 4, 0, 0, 0, 7, 13),       # nothing on hand: backorder 4 more (7); pos 6
        R(3.5, 13, 7, 6, 0, 0),        # serves 3 (t=2) then 4 (t=3) FIFO, 13-7 = 6 on hand
        D(4, 4, 4, 0, 2, 0, 0),        # 6-4 = 2; pos 2 > 1
        D(5, 4, 2, 0, 0, 2, 0),        # partial: ship 2, backorder 2; pos -2 -> order 16
        O(5, 16, 0, 2, 16),            # arrives at 7.5
        D(6, 4, 0, 0, 0, 6, 16),       # pos 10
        D(7, 4, 0, 0, 0, 10, 16),      # pos 6
        R(7.5, 16, 10, 6, 0, 0),       # clears all 10 owed, 6 on hand
        # t=8 = horizon: not simulated
    ]
    assert event_log(data) == expected


def test_backorder_metrics_match_the_log():
    # Same scenario through simulator.run, costs h=0.5, K=3, b=2 (no warm-up, [0, 8)).
    data = one_point({"type": "sS", "s": 1, "S": 14}, lead_time=2.5, rate=1, size=4,
                     horizon=8, initial=5,
                     costs={"holding_cost": 0.5, "ordering_cost": 3, "backorder_cost": 2})
    row = simulator.run(data, replications=1, seed=0).metrics.iloc[0]
    # demand: 7 orders (t=1..7) x 4 = 28; shipped at once 4+1+0+4+2+0+0 = 11
    # on hand: [0,1) 5, [1,2) 1, [2,3.5) 0, [3.5,4) 6, [4,5) 2, [5,7.5) 0, [7.5,8) 6
    #   area = 5 + 1 + 0 + 3 + 2 + 0 + 3 = 14
    # backorders: [2,3) 3, [3,3.5) 7, [5,6) 2, [6,7) 6, [7,7.5) 10
    #   area = 3 + 3.5 + 2 + 6 + 5 = 19.5
    # orders: t=1 and t=5 -> 2
    # shipped in total: 11 at once + 7 (t=3.5) + 10 (t=7.5) = 28
    area_oh, area_bo, days = 14.0, 19.5, 8.0
    assert row["demand_units"] == 28
    assert row["fill_rate"] == pytest.approx(11 / 28, rel=1e-12)
    assert row["lost_units"] == 0
    assert row["avg_on_hand"] == pytest.approx(area_oh / days, rel=1e-12)
    assert row["avg_backorders"] == pytest.approx(area_bo / days, rel=1e-12)
    assert row["orders_placed"] == 2
    assert row["holding_cost"] == pytest.approx(0.5 * area_oh, rel=1e-12)
    assert row["ordering_cost"] == pytest.approx(3 * 2, rel=1e-12)
    assert row["backorder_cost"] == pytest.approx(2 * area_bo, rel=1e-12)
    assert row["total_cost"] == pytest.approx(0.5 * area_oh + 6 + 2 * area_bo, rel=1e-12)
    assert row["inventory_turnover"] == pytest.approx(28 / (area_oh / days) * 365 / days,
                                                      rel=1e-12)


# --------------------------------------------------------------------------- (c) lost sales
def test_lost_sales():
    # As (b) but unmet: lost. sS s=1 S=14, initial 5, lead time 2.5, 4 units a day, horizon 9.
    data = one_point({"type": "sS", "s": 1, "S": 14}, lead_time=2.5, rate=1, size=4,
                     horizon=9, initial=5, unmet="lost",
                     costs={"lost_sale_cost": 7, "backorder_cost": 100})
    expected = [
        D(1, 4, 4, 0, 1, 0, 0),        # pos 1 <= 1 -> order 13
        O(1, 13, 1, 0, 13),            # arrives 3.5
        D(2, 4, 1, 3, 0, 0, 13),       # ship 1, lose 3; nothing backordered; pos 13
        D(3, 4, 0, 4, 0, 0, 13),       # lose all 4
        R(3.5, 13, 0, 13, 0, 0),       # nobody owed: all 13 on hand
        D(4, 4, 4, 0, 9, 0, 0),
        D(5, 4, 4, 0, 5, 0, 0),
        D(6, 4, 4, 0, 1, 0, 0),        # pos 1 -> order 13
        O(6, 13, 1, 0, 13),            # arrives 8.5
        D(7, 4, 1, 3, 0, 0, 13),
        D(8, 4, 0, 4, 0, 0, 13),
        R(8.5, 13, 0, 13, 0, 0),
        # t=9 = horizon: not simulated
    ]
    assert event_log(data) == expected
    row = simulator.run(data, replications=1, seed=0).metrics.iloc[0]
    # demand 8 x 4 = 32; shipped at once 4+1+0+4+4+4+1+0 = 18; lost 3+4+3+4 = 14
    assert row["demand_units"] == 32
    assert row["lost_units"] == 14
    assert row["fill_rate"] == pytest.approx(18 / 32, rel=1e-12)
    assert row["avg_backorders"] == 0
    assert row["backorder_cost"] == 0
    assert row["lost_sale_cost"] == pytest.approx(7 * 14, rel=1e-12)


# --------------------------------------------------------------------------- (d) same instant
def test_periodic_review_demand_before_review_at_same_instant():
    # base_stock S=10, review every R=2 days (t=0,2,4,...), lead time 2, 2 units every day.
    # An order placed at review 2k arrives at 2k+2: a receipt, a demand and a review at the
    # same instant. In scheduling (FIFO) order the review for 2k+2 (scheduled at 2k) would come
    # before the demand for 2k+2 (scheduled at 2k+1); the documented priorities put the demand
    # first, so the review sees the position after the demand.
    data = one_point({"type": "base_stock", "S": 10, "review_period": 2}, lead_time=2,
                     rate=1, size=2, horizon=6.5)
    expected = [
        # t=0 review: position 10, no order
        D(1, 2, 2, 0, 8, 0, 0),        # no review at t=1: no order even though 8 < 10
        D(2, 2, 2, 0, 6, 0, 0),        # demand before the review of t=2
        O(2, 4, 6, 0, 4),              # review: 10-6 = 4; arrives 4
        D(3, 2, 2, 0, 4, 0, 4),
        R(4, 4, 0, 8, 0, 0),           # RECEIPT first: 4+4 = 8
        D(4, 2, 2, 0, 6, 0, 0),        # then DEMAND: 8-2 = 6
        O(4, 4, 6, 0, 4),              # then REVIEW: position 6 -> order 4 (not 2)
        D(5, 2, 2, 0, 4, 0, 4),
        R(6, 4, 0, 8, 0, 0),
        D(6, 2, 2, 0, 6, 0, 0),
        O(6, 4, 6, 0, 4),
    ]
    assert event_log(data) == expected


def test_periodic_review_receipt_before_demand_at_same_instant():
    # base_stock S=10, R=2, initial 7, lead time 4, one order of 4 units every 4 days (t=4, 8).
    # The t=0 review orders 3, arriving at t=4. That receipt is scheduled (during the t=0 review)
    # *after* the customer's first order for t=4 was scheduled (at start), so FIFO alone would
    # put the demand first; the documented priority puts the RECEIPT first, then DEMAND, then
    # the REVIEW at t=4.
    data = one_point({"type": "base_stock", "S": 10, "review_period": 2}, lead_time=4,
                     rate=0.25, size=4, horizon=8.5, initial=7)
    expected = [
        O(0, 3, 7, 0, 3),              # t=0 review: 10-7 = 3, arrives at 4
        # t=2 review: position 7+3 = 10, nothing
        R(4, 3, 0, 10, 0, 0),          # receipt first: 7+3 = 10
        D(4, 4, 4, 0, 6, 0, 0),        # demand: 10-4 = 6 (FIFO would give 7-4 = 3)
        O(4, 4, 6, 0, 4),              # review: 10-6 = 4, arrives 8
        # t=6 review: position 10, nothing
        R(8, 4, 0, 10, 0, 0),
        D(8, 4, 4, 0, 6, 0, 0),
        O(8, 4, 6, 0, 4),
    ]
    assert event_log(data) == expected


def test_zero_lead_time_receipt_is_after_the_review_that_ordered_it():
    # base_stock S=10, R=2, lead time 0, 3 units a day. An order at a review arrives at the
    # same instant, after that review (it is scheduled by it): on hand back to 10 at once.
    data = one_point({"type": "base_stock", "S": 10, "review_period": 2}, lead_time=0,
                     rate=1, size=3, horizon=4.5)
    expected = [
        D(1, 3, 3, 0, 7, 0, 0),
        D(2, 3, 3, 0, 4, 0, 0),
        O(2, 6, 4, 0, 6),
        R(2, 6, 0, 10, 0, 0),
        D(3, 3, 3, 0, 7, 0, 0),
        D(4, 3, 3, 0, 4, 0, 0),
        O(4, 6, 4, 0, 6),
        R(4, 6, 0, 10, 0, 0),
    ]
    assert event_log(data) == expected


# --------------------------------------------------------------------------- (e) rQ multiples
def test_rq_orders_the_smallest_multiple_of_q_lifting_position_above_r():
    # rQ r=5 Q=4, initial 12, lead time 1.5, one order of 15 units a day, horizon 4.
    data = one_point({"type": "rQ", "r": 5, "Q": 4}, lead_time=1.5, rate=1, size=15,
                     horizon=4, initial=12)
    expected = [
        # t=0: position 12 > 5, nothing
        # t=1: ship 12, backorder 3; position -3. 2Q = 8 would lift it to 5 = r, which is not
        # *above* r, so 3Q = 12 (position 9).
        D(1, 15, 12, 0, 0, 3, 0),
        O(1, 12, 0, 3, 12),            # arrives 2.5
        # t=2: backorder 15 more (18); position 12-18 = -6: 2Q -> 2, 3Q -> 6 > 5: order 12
        D(2, 15, 0, 0, 0, 18, 12),
        O(2, 12, 0, 18, 24),           # arrives 3.5
        R(2.5, 12, 12, 0, 6, 12),      # serves 12 of the 18 owed
        # t=3: backorders 21; position 12-21 = -9: 3Q -> 3, 4Q -> 7 > 5: order 16
        D(3, 15, 0, 0, 0, 21, 12),
        O(3, 16, 0, 21, 28),           # arrives 4.5
        R(3.5, 12, 12, 0, 9, 16),
    ]
    assert event_log(data) == expected


def test_rq_position_exactly_r_orders_and_default_initial_is_zero():
    # rQ r=4 Q=4: no order-up-to level, so initial stock defaults to 0. At t=0 the position
    # is 0 <= 4: floor((4-0)/4)+1 = 2 -> order 8 (Q alone would give 4 = r, not above r).
    # lead time 1, 4 units every day from t=1.
    data = one_point({"type": "rQ", "r": 4, "Q": 4}, lead_time=1, rate=1, size=4, horizon=3.5)
    expected = [
        O(0, 8, 0, 0, 8),              # arrives 1
        R(1, 8, 0, 8, 0, 0),
        D(1, 4, 4, 0, 4, 0, 0),        # position 4 = r -> order 4 (position 8 > 4)
        O(1, 4, 4, 0, 4),              # arrives 2
        R(2, 4, 0, 8, 0, 0),
        D(2, 4, 4, 0, 4, 0, 0),
        O(2, 4, 4, 0, 4),
        R(3, 4, 0, 8, 0, 0),
        D(3, 4, 4, 0, 4, 0, 0),
        O(3, 4, 4, 0, 4),
    ]
    assert event_log(data) == expected


# --------------------------------------------------------------------------- (f) two echelons
def two_echelon(horizon: float) -> dict[str, Any]:
    # sup --2.5--> dc (sS s=2 S=12, initial 3) --1--> s1 (base_stock S=4)
    #                                          --1.5--> s2 (base_stock S=4)
    # c1 at s1: 3 units every day (t=1,2,...); c2 at s2: 4 units every 2 days (t=2,4,...)
    return {
        "name": "two",
        "horizon": horizon,
        "products": [{"id": "p"}],
        "suppliers": [{"id": "sup", "lead_time": 2.5}],
        "warehouses": [
            {"id": "dc", "inventory": {"p": {"source": "sup", "initial": 3,
                                             "policy": {"type": "sS", "s": 2, "S": 12}}}},
            {"id": "s1", "inventory": {"p": {"source": "dc", "lead_time": 1,
                                             "policy": {"type": "base_stock", "S": 4}}}},
            {"id": "s2", "inventory": {"p": {"source": "dc", "lead_time": 1.5,
                                             "policy": {"type": "base_stock", "S": 4}}}},
        ],
        "customers": [
            {"id": "c1", "warehouse": "s1",
             "demand": {"p": {"rate": 1, "size": 3, "arrivals": "deterministic"}}},
            {"id": "c2", "warehouse": "s2",
             "demand": {"p": {"rate": 0.5, "size": 4, "arrivals": "deterministic"}}},
        ],
    }


def test_two_echelon_upstream_backorders_downstream_fifo_and_ships_later():
    # Ties at the same instant and priority go in scheduling order: c2's first order (t=2)
    # was scheduled at the start, c1's order for t=2 only at t=1, so at t=2 c2 comes first.
    # A downstream order is logged ("order") before the upstream demand it causes.
    expected = [
        # t=0 reviews: dc position 3 > 2, stores at S=4: nothing.
        # t=1: c1 takes 3 at s1 (4 -> 1); s1 orders 3; dc ships 3 at once (3 -> 0, arrives
        # s1 at 2); dc position 0 <= 2 -> dc orders 12 (arrives 3.5)
        D(1, 3, 3, 0, 1, 0, 0, wh="s1"),
        O(1, 3, 1, 0, 3, wh="s1"),
        D(1, 3, 3, 0, 0, 0, 0, wh="dc"),
        O(1, 12, 0, 0, 12, wh="dc"),
        # t=2: s1's receipt, then c2 (4 -> 0 at s2, s2 orders 4, dc backorders it: dc pos 8),
        # then c1 (s1 4 -> 1, orders 3, dc backorders it: 7 owed, dc pos 5)
        R(2, 3, 0, 4, 0, 0, wh="s1"),
        D(2, 4, 4, 0, 0, 0, 0, wh="s2"),
        O(2, 4, 0, 0, 4, wh="s2"),
        D(2, 4, 0, 0, 0, 4, 12, wh="dc"),
        D(2, 3, 3, 0, 1, 0, 0, wh="s1"),
        O(2, 3, 1, 0, 3, wh="s1"),
        D(2, 3, 0, 0, 0, 7, 12, wh="dc"),
        # t=3: c1 takes 3 at s1: 1 shipped, 2 backordered; s1 pos 0+3-2 = 1 -> orders 3;
        # dc owes 10, dc pos 12-10 = 2 <= 2 -> dc orders 10 (arrives 5.5). s1's second
        # order joins its first in dc's queue (same claimant, adjacent): [s2 4, s1 6]
        D(3, 3, 1, 0, 0, 2, 3, wh="s1"),
        O(3, 3, 0, 2, 6, wh="s1"),
        D(3, 3, 0, 0, 0, 10, 12, wh="dc"),
        O(3, 10, 0, 10, 22, wh="dc"),
        # t=3.5: dc receives 12: FIFO 4 -> s2 (arrives 5.0), 6 -> s1 in one shipment (4.5);
        # 2 left on hand
        R(3.5, 12, 10, 2, 0, 10, wh="dc"),
        # t=4: c2 (scheduled at 2) then c1 (scheduled at 3).
        # c2: s2 has nothing: backorder 4; s2 pos 4-4 = 0 -> orders 4; dc ships its 2
        # (arrive s2 at 5.5) and backorders 2; dc pos 10-2 = 8
        D(4, 4, 0, 0, 0, 4, 4, wh="s2"),
        O(4, 4, 0, 4, 8, wh="s2"),
        D(4, 4, 2, 0, 0, 2, 10, wh="dc"),
        # c1: s1 owes 2+3 = 5; pos 6-5 = 1 -> orders 3; dc owes 5 ([s2 2, s1 3]), pos 5 > 2
        D(4, 3, 0, 0, 0, 5, 6, wh="s1"),
        O(4, 3, 0, 5, 9, wh="s1"),
        D(4, 3, 0, 0, 0, 5, 10, wh="dc"),
        # t=4.5: s1 receives the shipment of 6: its 5 backordered units first, 1 on hand
        R(4.5, 6, 5, 1, 0, 3, wh="s1"),
        # t=5: s2 receives 4 (shipped 3.5 + 1.5), all to its backorder; then c1: s1 ships 1,
        # backorders 2, pos 3-2 = 1 -> orders 3 (dc queue [s2 2, s1 6]); dc owes 8, pos 2 ->
        # dc orders 10 (arr. 7.5)
        R(5, 4, 4, 0, 0, 4, wh="s2"),
        D(5, 3, 1, 0, 0, 2, 3, wh="s1"),
        O(5, 3, 0, 2, 6, wh="s1"),
        D(5, 3, 0, 0, 0, 8, 10, wh="dc"),
        O(5, 10, 0, 8, 20, wh="dc"),
        # t=5.5: dc's receipt (scheduled at 3) before s2's (scheduled at 4).
        # dc receives 10: FIFO 2 -> s2, 6 -> s1, 2 left on hand
        R(5.5, 10, 8, 2, 0, 10, wh="dc"),
        # s2 receives the 2 units dc shipped at t=4: nothing owed, on hand 2, on order 2
        R(5.5, 2, 0, 2, 0, 2, wh="s2"),
        # t=6 = horizon: not simulated
    ]
    assert event_log(two_echelon(6)) == expected


def test_two_echelon_fifo_shipments_reach_the_right_store():
    # Continue (f) to t=7.5: the dc's t=5.5 shipments arrive at s1 at 6.5 (6, its two orders
    # merged in dc's queue) and at s2 at 7.0 (2), which only FIFO service across lanes explains.
    log = event_log(two_echelon(7.25))
    receipts = [(r[0], r[2], r[4]) for r in log if r[1] == "receive" and r[2] != "dc"]
    assert receipts == [
        (2, "s1", 3),
        (4.5, "s1", 6),
        (5, "s2", 4),
        (5.5, "s2", 2),
        (6.5, "s1", 6),
        (7, "s2", 2),
    ]


# --------------------------------------------------------------------------- (g) warm-up
@pytest.mark.parametrize("warmup", [3.5, 4.0])
def test_warmup_metrics_exact(warmup):
    # sS s=4 S=10 (initial 10), lead time 3, 3 units every day, horizon 10.
    # h = 0.1 per unit-day, K = 5 per order, b = 2 per unit-day backordered, lost 7 (unused).
    data = one_point({"type": "sS", "s": 4, "S": 10}, lead_time=3, rate=1, size=3,
                     horizon=10, warmup=warmup,
                     costs={"holding_cost": 0.1, "ordering_cost": 5,
                            "backorder_cost": 2, "lost_sale_cost": 7})
    # Sample path:
    #  t=1 oh 7 | t=2 oh 4, pos 4 -> order 6 (arr 5) | t=3 oh 1 (pos 7)
    #  t=4 ship 1, bo 2, pos 6-2 = 4 -> order 6 (arr 7)
    #  t=5 receive 6: 2 to backorders, oh 4; demand: oh 1 (pos 7)
    #  t=6 ship 1, bo 2, pos 4 -> order 6 (arr 9)
    #  t=7 receive: oh 4, demand: oh 1 | t=8 ship 1, bo 2, order (arr 11)
    #  t=9 receive: oh 4, demand: oh 1
    #  t=10 = horizon: the demand (ship 1, backorder 2, order) is NOT counted.
    if warmup == 3.5:
        # window [3.5, 10): 6.5 days
        days = 6.5
        # on hand: [3.5,4) 1, [4,5) 0, [5,6) 1, [6,7) 0, [7,8) 1, [8,9) 0, [9,10) 1
        area_oh = 0.5 + 1 + 1 + 1
    else:
        # window [4, 10): the demand at exactly t=4 is counted (the reset comes first)
        days = 6.0
        area_oh = 0 + 1 + 0 + 1 + 0 + 1
    # backorders: 2 during [4,5), [6,7), [8,9) in both cases
    area_bo = 6.0
    demand = 6 * 3          # t = 4, 5, 6, 7, 8, 9
    filled = 1 + 3 + 1 + 3 + 1 + 3   # on hand 1 at t=4,6,8; 4 after the receipt at t=5,7,9
    orders = 3              # t = 4, 6, 8 (t=2 is in the warm-up, t=10 at the horizon)
    shipped = filled + 3 * 2         # + 2 backordered units served at t=5, 7, 9
    holding, ordering, backorder = 0.1 * area_oh, 5.0 * orders, 2.0 * area_bo

    res = simulator.run(data, replications=2, seed=3)
    assert len(res.metrics) == 2
    for _, row in res.metrics.iterrows():
        assert row["warehouse"] == "w" and row["product"] == "p"
        assert row["demand_units"] == pytest.approx(demand, rel=1e-12)
        assert row["fill_rate"] == pytest.approx(filled / demand, rel=1e-12)
        assert row["lost_units"] == 0
        assert row["avg_on_hand"] == pytest.approx(area_oh / days, rel=1e-12)
        assert row["avg_backorders"] == pytest.approx(area_bo / days, rel=1e-12)
        assert row["orders_placed"] == orders
        assert row["holding_cost"] == pytest.approx(holding, rel=1e-12)
        assert row["ordering_cost"] == pytest.approx(ordering, rel=1e-12)
        assert row["backorder_cost"] == pytest.approx(backorder, rel=1e-12)
        assert row["lost_sale_cost"] == 0
        assert row["total_cost"] == pytest.approx(holding + ordering + backorder, rel=1e-12)
        assert row["inventory_turnover"] == pytest.approx(
            shipped / (area_oh / days) * 365 / days, rel=1e-12)


def test_no_demand_gives_nan_fill_rate_and_zero_counts():
    # A demand rate so low that the first order (t = 1/rate = 20) is after the horizon 10:
    # nothing happens; stock stays at 10 over [0, 10).
    data = one_point({"type": "sS", "s": 4, "S": 10}, lead_time=1, rate=0.05, size=1,
                     horizon=10, costs={"holding_cost": 0.25})
    assert event_log(data) == []
    row = simulator.run(data, replications=1, seed=0).metrics.iloc[0]
    assert row["demand_units"] == 0
    assert math.isnan(row["fill_rate"])
    assert row["avg_on_hand"] == pytest.approx(10.0, rel=1e-12)
    assert row["holding_cost"] == pytest.approx(0.25 * 10 * 10, rel=1e-12)
    assert row["inventory_turnover"] == 0


# --------------------------------------------------------------------------- exact instants
def test_deterministic_arrivals_land_exactly_on_k_over_rate():
    # rate 3 (gap 1/3), 1 unit per order, sS s=-5 S=100 (never orders), horizon 2.
    # Orders at 1/3, 2/3, 1, 4/3, 5/3; the 6th is at exactly t = 2 = horizon: not simulated.
    data = one_point({"type": "sS", "s": -5, "S": 100}, lead_time=1, rate=3, size=1, horizon=2)
    expected = [D(k / 3, 1, 1, 0, 100 - k, 0, 0) for k in range(1, 6)]
    assert event_log(data) == expected


# --------------------------------------------------------------------------- (h) review times
def test_periodic_reviews_land_exactly_on_multiples_of_the_period():
    # review_period 0.1 is not a binary fraction: accumulating t + 0.1 drifts by ulps
    # (0.1 * 3 != 0.1 + 0.1 + 0.1 in floats), k * 0.1 does not. One unit is demanded every
    # 0.05 days, so every review from t = 0.1 on orders what was taken since the last one.
    data = one_point({"type": "base_stock", "S": 50, "review_period": 0.1}, lead_time=1,
                     rate=20, size=1, horizon=30.05)
    orders = [r[0] for r in event_log(data) if r[1] == "order"]
    assert orders == [k * 0.1 for k in range(1, 301)]


def test_lost_sales_metrics_exact():
    # sS s=4 S=10 (initial 10), lead time 3, 3 units every day, unmet demand lost, horizon 10.
    # t=1 oh 7 | t=2 oh 4, pos 4 -> order 6 (arr 5) | t=3 oh 1 | t=4 ship 1, lose 2, pos 6
    # t=5 receive: oh 6; demand: oh 3, pos 3 -> order 7 (arr 8) | t=6 oh 0 | t=7 lose 3
    # t=8 receive: oh 7; demand: oh 4 -> order 6 | t=9 oh 1 | t=10 = horizon
    data = one_point({"type": "sS", "s": 4, "S": 10}, lead_time=3, rate=1, size=3,
                     horizon=10, unmet="lost",
                     costs={"holding_cost": 0.1, "ordering_cost": 5, "lost_sale_cost": 7})
    row = simulator.run(data, progress=False).metrics.iloc[0]
    area = 10 + 7 + 4 + 1 + 0 + 3 + 0 + 0 + 4 + 1
    assert row["demand_units"] == 27 and row["lost_units"] == 5
    assert row["fill_rate"] == pytest.approx(22 / 27)
    assert row["orders_placed"] == 3 and row["avg_backorders"] == 0
    assert row["holding_cost"] == pytest.approx(0.1 * area)
    assert row["lost_sale_cost"] == 35 and row["ordering_cost"] == 15
    assert row["total_cost"] == pytest.approx(0.1 * area + 15 + 35)
