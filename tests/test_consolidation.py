"""Inbound consolidation (issue 6, item 4): replenishment orders of one warehouse to one
supplier within ``consolidation_window`` days become one purchase order (PO).

* Exact logs of small deterministic cases (deterministic unit demands, constant lead times;
  every record derived by hand in the comments): which orders joined which PO, when the PO went
  to the supplier, when its lines were received, and the costs.
* Against theory (``THEORY.md`` item 10): the cost rate of joint replenishment on a shared
  review calendar with zero lead time, consolidated and not.
* A hypothesis property: a PO carries exactly the orders merged into it, and its units are
  received once.
* Capacity works through a PO's total units; validation of the new key.

Records: ``O(t, product, qty)`` a stock point placed a replenishment order, ``PO(t, lines)`` a
PO reached the supplier (lines ``{product: units}`` in line order), ``SHIP(t, units, lead)`` it
left, ``R(t, product, qty)`` a line was received. Same-instant order: receipts, then demand,
then reviews, then the POs closing at that instant (scheduled after the reviews).
"""
from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import rng
from simulator.cli import main
from simulator.experiment.replication import run_replication
from simulator.model import Network
from simulator.model.events import StockListener, SupplierListener
from simulator.model.purchasing import PurchaseOrder
from simulator.scenario import load

try:  # works whether or not tests/ is a package
    from .helpers_scenarios import BASE_YAML, line_of, write_scenario
except ImportError:  # pragma: no cover - depends on how pytest imports the file
    from helpers_scenarios import BASE_YAML, line_of, write_scenario


# --------------------------------------------------------------------------- helpers
class Log(StockListener, SupplierListener):
    """Orders, receipts and POs in one list (see the module docstring)."""

    def __init__(self, records: list[tuple[Any, ...]]):
        self.records = records

    def order_placed(self, sp, now, qty):
        self.records.append(O(now, sp.product, qty))

    def received(self, sp, now, qty, shipped):
        self.records.append(R(now, sp.product, qty))

    def supplier_ordered(self, supplier, now, qty, dest):
        lines = {sp.product: q for sp, q in dest.lines.items()}
        assert qty == dest.units
        self.records.append(PO(now, lines))

    def supplier_shipped(self, supplier, now, qty, dest, ordered, lead_time):
        self.records.append(SHIP(now, qty, lead_time))


def O(t, p, qty):
    return (t, "order", p, qty)


def R(t, p, qty):
    return (t, "receive", p, qty)


def PO(t, lines):
    return (t, "po", lines)


def SHIP(t, units, lead):
    return (t, "ship", units, lead)


def scenario(products: dict[str, dict[str, Any]], *, horizon: float, supplier: dict[str, Any],
             warmup: float = 0.0) -> dict[str, Any]:
    """Products at warehouse ``w`` from supplier ``sup``; ``products[p]`` has ``policy``,
    ``rate`` and optionally ``size``, ``holding_cost``, ``ordering_cost``: one customer orders
    ``size`` units of p at t = 1/rate, 2/rate, ... Initial stock: the policy's default."""
    return {
        "name": "consolidation", "horizon": horizon, "warmup": warmup,
        "products": [{"id": p, "holding_cost": d.get("holding_cost", 0.0),
                      "ordering_cost": d.get("ordering_cost", 0.0)}
                     for p, d in products.items()],
        "suppliers": [{"id": "sup", **supplier}],
        "warehouses": [{"id": "w", "inventory": {
            p: {"source": "sup", "policy": d["policy"]} for p, d in products.items()}}],
        "customers": [{"id": "c", "warehouse": "w", "demand": {
            p: {"rate": d["rate"], "size": d.get("size", 1), "arrivals": "deterministic"}
            for p, d in products.items()}}],
    }


def event_log(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    sc = load(data)
    net = Network(sc, replication=0, seed=0)
    records: list[tuple[Any, ...]] = []
    net.attach(lambda sp: Log(records))
    net.attach_suppliers(lambda s: Log(records))
    net.start()
    net.run(sc.horizon)
    return records


def costs(data: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    """``ordering_cost`` per product from metrics.csv, and the supplier row."""
    res = run_replication(load(data), 0, 0)
    (row,) = res.suppliers
    return {r["product"]: r["ordering_cost"] for r in res.rows}, row


def base_stock(S: float, review: float = 0) -> dict[str, Any]:
    return {"type": "base_stock", "S": S, "review_period": review}


# --------------------------------------------------------------------------- exact logs
SHARED_CALENDAR = {
    # a and b reviewed every 2 days, c every 3 days; lead time 1; window 0
    "a": {"policy": base_stock(4, 2), "rate": 1, "ordering_cost": 1},
    "b": {"policy": base_stock(6, 2), "rate": 2, "ordering_cost": 2},
    "c": {"policy": base_stock(5, 3), "rate": 1, "ordering_cost": 3},
}


def test_window_0_merges_the_orders_of_one_review_instant():
    # Initial stock = S; demand a 1/day, b 2/day, c 1/day. The t = 0 reviews find every
    # position at S: no order. t=2: after the demands at 2, a's position is 4-2 = 2 and b's
    # 6-4 = 2: a orders 2 (opens PO1, closing at 2 after the reviews already scheduled), b orders
    # 4 (joins). PO1 leaves at once, lead 1: received at 3 (lines in their order: a, b).
    # t=3: c's review: 5-3 = 2 -> orders 3: PO2 alone. Received at 4.
    # t=4: a, b order 2 and 4 again: PO3, received at 5.
    # t=6: c's review for 6 was scheduled at t=3, before a's and b's (scheduled at 4), so it
    # runs first: c orders 5-6+3 = 2... position 5 - 6 demanded + 3 received = 2 -> 3 units;
    # then a 2, b 4: PO4 with lines c, a, b. It leaves at 6; its receipt (7) is past the horizon.
    data = scenario(SHARED_CALENDAR, horizon=6.5,
                    supplier={"lead_time": 1, "consolidation_window": 0, "ordering_cost": 12})
    assert event_log(data) == [
        O(2, "a", 2), O(2, "b", 4), PO(2, {"a": 2, "b": 4}), SHIP(2, 6, 1),
        R(3, "a", 2), R(3, "b", 4),
        O(3, "c", 3), PO(3, {"c": 3}), SHIP(3, 3, 1),
        R(4, "c", 3),
        O(4, "a", 2), O(4, "b", 4), PO(4, {"a": 2, "b": 4}), SHIP(4, 6, 1),
        R(5, "a", 2), R(5, "b", 4),
        O(6, "c", 3), O(6, "a", 2), O(6, "b", 4), PO(6, {"c": 3, "a": 2, "b": 4}),
        SHIP(6, 9, 1),
    ]


def test_window_0_costs_split_the_major_cost_over_the_lines():
    # The case above: K = 12 per PO. PO1 and PO3 (a, b): 6 each; PO2 (c): 12; PO4 (c, a, b): 4.
    # a: 3 lines x k=1 + 6+6+4 = 19; b: 3 x 2 + 16 = 22; c: 2 x 3 + 12+4 = 22.
    # Sum 63 = 4 POs x 12 + 3x1 + 3x2 + 2x3 (the true joint-replenishment total).
    data = scenario(SHARED_CALENDAR, horizon=6.5,
                    supplier={"lead_time": 1, "consolidation_window": 0, "ordering_cost": 12})
    ordering, row = costs(data)
    assert ordering == {"a": 19.0, "b": 22.0, "c": 22.0}
    assert (row["purchase_orders"], row["lines"], row["units"]) == (4, 8, 24.0)
    # placement to receipt: PO1..PO3 lines wait exactly the lead time 1 (PO4 not received)
    assert row["avg_replenishment_time"] == 1.0


def test_without_a_window_every_order_is_its_own_purchase_order():
    # The same case without consolidation: 3 + 2 + 3 orders, each paying K = 12 and its k.
    data = scenario(SHARED_CALENDAR, horizon=6.5, supplier={"lead_time": 1, "ordering_cost": 12})
    ordering, row = costs(data)
    assert ordering == {"a": 3 * 13.0, "b": 3 * 14.0, "c": 2 * 15.0}
    assert (row["purchase_orders"], row["lines"]) == (8, 8)


CONTINUOUS = {
    # continuous review base stock: every demand triggers an order of its size
    "a": {"policy": base_stock(3), "rate": 1, "ordering_cost": 1},
    "b": {"policy": base_stock(2), "rate": 0.5, "ordering_cost": 2},
}


def test_window_collects_orders_up_to_and_including_its_end():
    # W = 1, lead time 1. Demand a at 1, 2, 3, ...; b at 2, 4, 6.
    # t=1: a orders 1: PO1 opens, closes at 2 (after the demands at 2: the window is closed
    # [1, 2]). t=2: b's demand (scheduled at t=0) comes before a's (scheduled at t=1): b orders
    # 1 (a new line, after a's), a orders 1 (adds to its line: a=2). PO1 {a: 2, b: 1} leaves at 2,
    # received at 3. t=3: after the receipt, a orders 1: PO2 [3, 4] takes a at 3, b and a at 4,
    # received at 5; PO3 [5, 6] likewise, received at 7; a's order at 7 opens PO4, closing at 8
    # (past the horizon 7.5).
    data = scenario(CONTINUOUS, horizon=7.5,
                    supplier={"lead_time": 1, "consolidation_window": 1, "ordering_cost": 10})
    assert event_log(data) == [
        O(1, "a", 1),
        O(2, "b", 1), O(2, "a", 1), PO(2, {"a": 2, "b": 1}), SHIP(2, 3, 1),
        R(3, "a", 2), R(3, "b", 1), O(3, "a", 1),
        O(4, "b", 1), O(4, "a", 1), PO(4, {"a": 2, "b": 1}), SHIP(4, 3, 1),
        R(5, "a", 2), R(5, "b", 1), O(5, "a", 1),
        O(6, "b", 1), O(6, "a", 1), PO(6, {"a": 2, "b": 1}), SHIP(6, 3, 1),
        R(7, "a", 2), R(7, "b", 1), O(7, "a", 1),
    ]


def test_a_review_at_the_end_of_the_window_joins_it():
    # a reviewed every day (base stock 1, one unit a day), W = 1: the review at 1 opens PO1, and
    # the review at 2, scheduled after PO1 opened, still joins it (the window is [1, 2]); PO1
    # {a: 2} leaves at 2. The review at 3 opens PO2 [3, 4]. Lead time 0.5.
    data = scenario({"a": {"policy": base_stock(1, 1), "rate": 1}}, horizon=4.6,
                    supplier={"lead_time": 0.5, "consolidation_window": 1})
    assert event_log(data) == [
        O(1, "a", 1), O(2, "a", 1), PO(2, {"a": 2}), SHIP(2, 2, 0.5), R(2.5, "a", 2),
        O(3, "a", 1), O(4, "a", 1), PO(4, {"a": 2}), SHIP(4, 2, 0.5), R(4.5, "a", 2),
    ]


def test_window_costs_and_replenishment_time_per_order():
    # The case above: 3 POs reached the supplier, each with lines a (k=1) and b (k=2) sharing
    # K=10: a 3 x (1 + 5) = 18, b 3 x (2 + 5) = 21 (sum 39 = 3 x 10 + 3 x 3).
    # Replenishment time per merged order (placement to receipt): a at 1 -> 2 days, a and b at
    # 2 -> 1 day each: mean 4/3 per PO, the same for all three.
    data = scenario(CONTINUOUS, horizon=7.5,
                    supplier={"lead_time": 1, "consolidation_window": 1, "ordering_cost": 10})
    ordering, row = costs(data)
    assert ordering == {"a": 18.0, "b": 21.0}
    assert (row["purchase_orders"], row["lines"], row["units"]) == (3, 6, 9.0)
    assert row["avg_replenishment_time"] == pytest.approx(4 / 3, rel=1e-12)


def test_costs_cover_the_purchase_orders_received_after_the_warmup():
    # The case above measured over [2.5, 7.5): PO1 reached the supplier at 2, before the window;
    # PO2 (at 4) and PO3 (at 6) count: a 2 x (1 + 5) = 12, b 2 x (2 + 5) = 14.
    data = scenario(CONTINUOUS, horizon=7.5, warmup=2.5,
                    supplier={"lead_time": 1, "consolidation_window": 1, "ordering_cost": 10})
    ordering, row = costs(data)
    assert ordering == {"a": 12.0, "b": 14.0}
    assert (row["purchase_orders"], row["lines"], row["units"]) == (2, 4, 6.0)


def test_capacity_works_through_the_whole_purchase_order():
    # a and b reviewed every 4 days (S = 4, 1 unit a day each): at t=4 both order 4 -> one PO of
    # 8 units; capacity 4/day makes it in [4, 6), lead time 1: both lines arrive at 7.
    # (Separately, a's order would be made in [4, 5) and arrive at 6, b's in [5, 6) at 7.)
    prods = {"a": {"policy": base_stock(4, 4), "rate": 1},
             "b": {"policy": base_stock(4, 4), "rate": 1}}
    data = scenario(prods, horizon=7.5, supplier={"lead_time": 1, "consolidation_window": 0,
                                                  "capacity": 4})
    assert event_log(data) == [
        O(4, "a", 4), O(4, "b", 4), PO(4, {"a": 4, "b": 4}),
        SHIP(6, 8, 1),
        R(7, "a", 4), R(7, "b", 4),
    ]
    _, row = costs(data)
    assert row["utilisation"] == pytest.approx(2 / 7.5, rel=1e-12)
    assert row["avg_replenishment_time"] == 3.0


def test_a_disruption_delays_the_whole_purchase_order():
    # The same calendar (a, b: S = 4 every 4 days), no capacity, disrupted in [3, 5): the PO of
    # t=4 {a: 4, b: 4} reaches the supplier during the disruption and leaves whole at 5; lead
    # time 1: both lines arrive at 6, 2 days after they were ordered.
    prods = {"a": {"policy": base_stock(4, 4), "rate": 1},
             "b": {"policy": base_stock(4, 4), "rate": 1}}
    data = scenario(prods, horizon=7.5, supplier={
        "lead_time": 1, "consolidation_window": 0, "disruptions": [{"from": 3, "to": 5}]})
    assert event_log(data) == [
        O(4, "a", 4), O(4, "b", 4), PO(4, {"a": 4, "b": 4}),
        SHIP(5, 8, 1),
        R(6, "a", 4), R(6, "b", 4),
    ]
    _, row = costs(data)
    assert (row["avg_replenishment_time"], row["days_disrupted"]) == (2.0, 2.0)


def test_purchase_orders_of_two_warehouses_stay_apart():
    # Two warehouses with the same calendar order from one consolidating supplier at the same
    # instant: one PO each (grouping is per destination warehouse).
    data = scenario({"a": {"policy": base_stock(2, 2), "rate": 1}}, horizon=2.5,
                    supplier={"consolidation_window": 0})
    data["warehouses"].append({"id": "v", "inventory": {
        "a": {"source": "sup", "policy": base_stock(2, 2)}}})
    data["customers"].append({"id": "d", "warehouse": "v", "demand": {
        "a": {"rate": 1, "size": 1, "arrivals": "deterministic"}}})
    _, row = costs(data)
    assert (row["purchase_orders"], row["lines"]) == (2, 2)


# --------------------------------------------------------------------------- theory
JOINT = {  # D_i = rate x size (units/day), h_i, k_i; all dyadic, so the arithmetic is exact
    "a": {"rate": 1, "size": 1, "holding_cost": 0.5, "ordering_cost": 3},
    "b": {"rate": 2, "size": 1, "holding_cost": 0.25, "ordering_cost": 1},
    "c": {"rate": 4, "size": 0.5, "holding_cost": 1.0, "ordering_cost": 2},
}
K, T, N = 20.0, 4.0, 10  # major cost, review period (days), review cycles measured


def joint_data(window: float | None) -> dict[str, Any]:
    prods = {p: {**d, "policy": base_stock(d["rate"] * d["size"] * T, T)}
             for p, d in JOINT.items()}
    supplier: dict[str, Any] = {"lead_time": 0, "ordering_cost": K}
    if window is not None:
        supplier["consolidation_window"] = window
    # window [T/2, T/2 + N T): N reviews (T, 2T, ..., N T), N whole cycles of the stock
    return scenario(prods, horizon=T / 2 + N * T, warmup=T / 2, supplier=supplier)


def cost_rate(window: float | None) -> float:
    res = run_replication(load(joint_data(window)), 0, 0)
    return sum(r["total_cost"] for r in res.rows) / (N * T)


def test_joint_replenishment_cost_rate_matches_theory():
    # THEORY item 10: (K + sum k_i)/T + sum h_i D_i T/2. The demand here comes in steps of
    # s_i units, not as a fluid: after each receipt of D_i T units the stock falls by s_i at
    # 1/rate_i, 2/rate_i, ..., so its mean is D_i T/2 + s_i/2 exactly (a staircase, sum over
    # j = 0..D_i T/s_i - 1 of (D_i T - j s_i), divided by D_i T / s_i). The term -> 0 with s_i.
    fluid = (K + sum(d["ordering_cost"] for d in JOINT.values())) / T + sum(
        d["holding_cost"] * d["rate"] * d["size"] * T / 2 for d in JOINT.values())
    steps = sum(d["holding_cost"] * d["size"] / 2 for d in JOINT.values())
    assert cost_rate(0) == pytest.approx(fluid + steps, rel=1e-12)


def test_ordering_separately_pays_the_major_cost_per_product():
    # Without consolidation: sum over i of (K + k_i)/T + h_i D_i T/2 (+ the same steps term).
    separate = sum((K + d["ordering_cost"]) / T + d["holding_cost"] * d["rate"] * d["size"] * T
                   / 2 for d in JOINT.values())
    steps = sum(d["holding_cost"] * d["size"] / 2 for d in JOINT.values())
    assert cost_rate(None) == pytest.approx(separate + steps, rel=1e-12)
    # consolidating saves (n - 1) K / T exactly
    assert cost_rate(None) - cost_rate(0) == pytest.approx((len(JOINT) - 1) * K / T, rel=1e-12)


# --------------------------------------------------------------------------- property
class Recorder(StockListener, SupplierListener):
    def __init__(self) -> None:
        self.orders: list[tuple[float, Any, float]] = []  # (time, sp, qty)
        self.receipts: list[tuple[float, Any, float]] = []  # (time, sp, qty)
        self.pos: list[tuple[float, PurchaseOrder, dict[Any, float], float]] = []
        self.shipped: list[tuple[float, PurchaseOrder, float]] = []

    def order_placed(self, sp, now, qty):
        self.orders.append((now, sp, qty))

    def received(self, sp, now, qty, shipped):
        self.receipts.append((now, sp, qty))

    def supplier_ordered(self, supplier, now, qty, dest):
        self.pos.append((now, dest, dict(dest.lines), qty))

    def supplier_shipped(self, supplier, now, qty, dest, ordered, lead_time):
        self.shipped.append((now + lead_time, dest, qty))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(window=st.sampled_from([0.0, 0.25, 1.0, 3.0]),
       periodic=st.lists(st.sampled_from([0.0, 1.0, 2.0]), min_size=3, max_size=3),
       capacity=st.sampled_from([None, 5.0, 40.0]),
       random_lead=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_a_purchase_order_carries_exactly_the_orders_merged_into_it(
        window, periodic, capacity, random_lead, seed):
    horizon = 30.0
    prods = {p: {"policy": base_stock(6 + i, periodic[i]), "rate": 1 + i}
             for i, p in enumerate("abc")}
    supplier: dict[str, Any] = {"consolidation_window": window, "multiple": 2,
                                "lead_time": {"dist": "exponential", "mean": 1.5}
                                if random_lead else 1.5}
    if capacity is not None:
        supplier["capacity"] = capacity
    data = scenario(prods, horizon=horizon, supplier=supplier)
    for c in data["customers"]:
        for d in c["demand"].values():
            d["arrivals"] = "poisson"
    data["warehouses"].append({"id": "v", "inventory": {
        "a": {"source": "sup", "policy": base_stock(5, 1.0)}}})
    data["customers"].append({"id": "d", "warehouse": "v", "demand": {"a": {"rate": 2}}})
    sc = load(data)
    net = Network(sc, replication=0, seed=seed)
    rec = Recorder()
    net.attach(lambda sp: rec)
    net.attach_suppliers(lambda s: rec)
    net.start()
    net.run(horizon)

    claimed: set[int] = set()
    for sent, po, lines, qty in rec.pos:
        assert sent == po.opened + window  # capacity acts after the PO reached the supplier
        assert sum(lines.values()) == pytest.approx(qty, abs=1e-9)
        # exactly the orders of this warehouse placed in [opened, opened + W] not in another PO
        mine = [i for i, (t, sp, _) in enumerate(rec.orders) if i not in claimed
                and sp.warehouse == po.warehouse and po.opened <= t <= po.opened + window]
        expect: dict[Any, float] = {}
        for i in mine:
            _, sp, q = rec.orders[i]
            expect[sp] = expect.get(sp, 0.0) + q
        assert lines == pytest.approx(expect, abs=1e-9)
        claimed.update(mine)
    # every order placed is in exactly one PO, or in a PO still open at the end
    unclaimed = [t for i, (t, _, _) in enumerate(rec.orders) if i not in claimed]
    assert all(t >= horizon - window for t in unclaimed)
    # every line is received once, at its PO's arrival (one lead time per PO), and nothing else
    expected = []
    for arrive, po, qty in rec.shipped:
        assert qty == pytest.approx(sum(po.lines.values()), abs=1e-9)
        if arrive < horizon:
            expected += [(arrive, id(sp), q) for sp, q in po.lines.items()]
    assert sorted((t, id(sp), q) for t, sp, q in rec.receipts) == sorted(expected)


def test_purchase_orders_draw_their_lead_times_from_their_own_stream():
    # Window 0 on a shared calendar (a and b every 2 days): one PO per review instant, each
    # drawing the next lead time of purchase/sup/w (not of lead_time/w/a or lead_time/w/b).
    lead = {"dist": "exponential", "mean": 0.5}
    prods = {"a": {"policy": base_stock(4, 2), "rate": 1},
             "b": {"policy": base_stock(4, 2), "rate": 1}}
    data = scenario(prods, horizon=20.5, supplier={"lead_time": lead, "consolidation_window": 0})
    sc = load(data)
    draws = sc.suppliers[0].lead_time.stream(rng.stream(0, 0, "purchase/sup/w"))
    leads = [r[3] for r in event_log(data) if r[1] == "ship"]
    assert len(leads) == 10  # reviews at 2, 4, ..., 20 (one PO each, none at t = 0)
    assert leads == [next(draws) for _ in leads]


# --------------------------------------------------------------------------- validation
def with_window(value: str) -> str:
    return BASE_YAML.replace("    lead_time: 2\n",
                             f"    lead_time: 2\n    consolidation_window: {value}\n")


@pytest.mark.parametrize("value, message", [
    ("-1", "greater than or equal to 0"),
    ("two", "number"),
    (".inf", "finite"),
])
def test_bad_window_is_reported_with_file_and_line(tmp_path, capsys, value, message):
    text = with_window(value)
    path = write_scenario(tmp_path, text)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    line = line_of(text, "consolidation_window:")
    assert f"{path}:{line}: suppliers.0.consolidation_window: " in err
    assert message in err
    assert "Traceback" not in err


def test_window_is_optional_and_kept_in_the_scenario():
    sc = load(scenario(CONTINUOUS, horizon=1, supplier={"consolidation_window": 2.5}))
    assert sc.suppliers[0].consolidation_window == 2.5
    assert sc.to_dict()["suppliers"][0]["consolidation_window"] == 2.5
    assert "consolidation_window" not in load(scenario(CONTINUOUS, horizon=1, supplier={})
                                              ).to_dict()["suppliers"][0]
    assert math.isfinite(sc.horizon)
