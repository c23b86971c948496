"""FIFO service of several downstream claimants at an upstream warehouse (exact event log).

An upstream warehouse (``dc``) with no stock receives replenishment orders from three stores at
different times; its own stock then arrives in lots that cover the owed orders only partially.
SPEC.md: arriving stock serves the backorder queue first, oldest first. The stores' shipments
(and hence their receipts, their levels and every downstream metric) depend on that order, so
serving the newest claim first (LIFO), or one store before another, changes the log below.

The existing two-echelon log test (tests/test_event_log.py) cannot see the order: each of its
upstream receipts covers everything owed at once. Here each receipt covers only part of the
queue, and the queue holds claims from three different lanes.

A last test checks that each downstream lane draws its own random lead times.

Record layout as in tests/test_event_log.py (levels *after* the change):

* ``(t, "demand", wh, product, qty, shipped, lost, on_hand, backorders, on_order)``
* ``(t, "order", wh, product, qty, on_hand, backorders, on_order)``
* ``(t, "receive", wh, product, qty, shipped_to_backorders, on_hand, backorders, on_order)``

All times are exact binary floats (4, 5, 6 = 1/0.25, 1/0.2, 1/(1/6) in floating point; quarters
and halves), so exact equality is meaningful.
"""
from __future__ import annotations

from typing import Any

from helpers_scenarios import stock_event_log


def scenario(horizon: float) -> dict[str, Any]:
    """sup --2.25--> dc (RQ r=-1 Q=3, initial 0) --0.5--> s1, s2, s3 (base stock 3, 5, 2).

    One customer per store, deterministic: c1 takes 3 at s1 at t=4 (rate 1/4), c2 takes 5 at s2
    at t=5 (rate 1/5), c3 takes 2 at s3 at t=6 (rate 1/6); their next orders come at t=8, 10, 12.
    """
    def store(wid: str, S: float) -> dict[str, Any]:
        return {"id": wid, "inventory": {"p": {"source": "dc", "lead_time": 0.5,
                                               "policy": {"type": "base_stock", "S": S}}}}

    def customer(cid: str, wid: str, rate: float, size: float) -> dict[str, Any]:
        return {"id": cid, "warehouse": wid,
                "demand": {"p": {"rate": rate, "size": size, "arrivals": "deterministic"}}}

    return {
        "name": "fifo-upstream",
        "horizon": horizon,
        "products": [{"id": "p"}],
        "suppliers": [{"id": "sup", "lead_time": 2.25}],
        "warehouses": [
            {"id": "dc", "inventory": {"p": {"source": "sup", "initial": 0,
                                             "policy": {"type": "rQ", "r": -1, "Q": 3}}}},
            store("s1", 3), store("s2", 5), store("s3", 2),
        ],
        "customers": [
            customer("c1", "s1", 0.25, 3),
            customer("c2", "s2", 0.2, 5),
            customer("c3", "s3", 1 / 6, 2),
        ],
    }


event_log = stock_event_log


def D(t, qty, shipped, lost, oh, bo, oo, wh):
    return (t, "demand", wh, "p", qty, shipped, lost, oh, bo, oo)


def O(t, qty, oh, bo, oo, wh):
    return (t, "order", wh, "p", qty, oh, bo, oo)


def R(t, qty, shipped, oh, bo, oo, wh):
    return (t, "receive", wh, "p", qty, shipped, oh, bo, oo)


def test_upstream_serves_three_stores_first_come_first_served():
    # rQ at dc: when the position p <= r = -1, order (floor((r - p) / Q) + 1) * Q.
    # base stock at a store: when the position is below S, order S - position.
    expected = [
        # t=0 reviews: dc position 0 > -1; every store at its S: no orders.
        # t=4: c1 takes 3 at s1 (3 -> 0); s1 orders 3; dc has nothing: owes s1 3 (queue [s1:3]);
        # dc position -3 -> (floor(2/3) + 1) * 3 = 3 ordered, arrives 6.25; dc position 0.
        D(4, 3, 3, 0, 0, 0, 0, "s1"),
        O(4, 3, 0, 0, 3, "s1"),
        D(4, 3, 0, 0, 0, 3, 0, "dc"),
        O(4, 3, 0, 3, 3, "dc"),
        # t=5: c2 takes 5 at s2; s2 orders 5; dc owes 8 (queue [s1:3, s2:5]);
        # dc position 3 - 8 = -5 -> (floor(4/3) + 1) * 3 = 6, arrives 7.25; position 1.
        D(5, 5, 5, 0, 0, 0, 0, "s2"),
        O(5, 5, 0, 0, 5, "s2"),
        D(5, 5, 0, 0, 0, 8, 3, "dc"),
        O(5, 6, 0, 8, 9, "dc"),
        # t=6: c3 takes 2 at s3; s3 orders 2; dc owes 10 (queue [s1:3, s2:5, s3:2]);
        # dc position 9 - 10 = -1 -> (floor(0/3) + 1) * 3 = 3, arrives 8.25 (after the horizon).
        D(6, 2, 2, 0, 0, 0, 0, "s3"),
        O(6, 2, 0, 0, 2, "s3"),
        D(6, 2, 0, 0, 0, 10, 9, "dc"),
        O(6, 3, 0, 10, 12, "dc"),
        # t=6.25: dc receives 3: the oldest claim, s1's 3, is settled (ships at once, arrives
        # s1 at 6.75); dc still owes s2 5 and s3 2 = 7.  (LIFO would give s3 2 and s2 1.)
        R(6.25, 3, 3, 0, 7, 9, "dc"),
        R(6.75, 3, 0, 3, 0, 0, "s1"),
        # t=7.25: dc receives 6: s2's 5 settled, then 1 of s3's 2 (partial); dc owes s3 1.
        # Both shipments leave now and arrive at 7.75, s2's first (shipped first).
        R(7.25, 6, 6, 0, 1, 3, "dc"),
        R(7.75, 5, 0, 5, 0, 0, "s2"),
        R(7.75, 1, 0, 1, 0, 1, "s3"),
        # t=8 = horizon (c1's next order): not simulated.
    ]
    assert event_log(scenario(8)) == expected


def test_upstream_shipments_reach_each_store_in_claim_order():
    # The same run, only the stores' receipts: (time, store, units). Shipment time = receipt
    # time - 0.5. FIFO: s1's whole claim first (t=6.25), then s2's, then part of s3's (7.25).
    log = event_log(scenario(8))
    receipts = [(r[0], r[2], r[4]) for r in log if r[1] == "receive" and r[2] != "dc"]
    assert receipts == [(6.75, "s1", 3), (7.75, "s2", 5), (7.75, "s3", 1)]
    # what the dc still owes at the horizon is the tail of the newest claim (s3)
    net_owed = [r for r in log if r[1] == "receive" and r[2] == "dc"][-1][7]
    assert net_owed == 1


def test_each_downstream_lane_draws_its_own_lead_times():
    # Two identical stores fed by one well-stocked dc over lanes with the same random lead-time
    # distribution (gamma mean 1, cv 0.5). Each lane has its own random stream (rng.py: one
    # stream per source), so the stores' receipts come at different times. Were the lanes to
    # share a stream, their k-th shipments would take identical lead times and, with identical
    # deterministic demand, the two stores' receipt times would coincide exactly.
    lt = {"dist": "gamma", "mean": 1, "cv": 0.5}
    data = {
        "name": "lanes", "horizon": 20, "products": [{"id": "p"}],
        "suppliers": [{"id": "sup", "lead_time": 1}],
        "warehouses": [
            {"id": "dc", "inventory": {"p": {"source": "sup", "initial": 1000,
                                             "policy": {"type": "sS", "s": 0, "S": 1000}}}},
            *({"id": w, "inventory": {"p": {"source": "dc", "lead_time": lt,
                                            "policy": {"type": "base_stock", "S": 2}}}}
              for w in ("s1", "s2")),
        ],
        "customers": [{"id": f"c{w}", "warehouse": w,
                       "demand": {"p": {"rate": 1, "arrivals": "deterministic"}}}
                      for w in ("s1", "s2")],
    }
    log = event_log(data)
    times = {w: [r[0] for r in log if r[1] == "receive" and r[2] == w] for w in ("s1", "s2")}
    assert len(times["s1"]) >= 10 and len(times["s2"]) >= 10
    n = min(len(times["s1"]), len(times["s2"]))
    assert sum(a == b for a, b in zip(times["s1"][:n], times["s2"][:n])) == 0
