"""Determinism and common random numbers (SPEC section 5).

* same scenario + seed + replication -> identical results; a different seed -> different ones;
* replication i is the same whether run alone or among N, serially or in worker processes;
* each random source has its own stream from (seed, replication, source id): changing a policy,
  adding a product or adding a customer leaves every other source's draws unchanged;
* the stream construction itself is pinned against an independent derivation from
  ``numpy.random.SeedSequence`` (docs/architecture.md: ``SeedSequence(seed,
  spawn_key=(replication, *sha256(source id)))``).
"""
from __future__ import annotations

import copy
import hashlib
import struct
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import simulator
from simulator import rng
from simulator.experiment import run_replication
from simulator.model import Network
from simulator.observe.eventlog import EventLog
from simulator.scenario import load


def base() -> dict[str, Any]:
    """Two products at a DC and a store, random everything (Poisson arrivals, random sizes,
    gamma / uniform / empirical lead times), warm-up, costs."""
    return {
        "name": "det", "horizon": 80, "warmup": 10, "seed": 5,
        "products": [
            {"id": "a", "holding_cost": 0.1, "ordering_cost": 4, "backorder_cost": 1},
            {"id": "b", "holding_cost": 0.2, "ordering_cost": 2, "backorder_cost": 0.5,
             "lost_sale_cost": 3},
        ],
        "suppliers": [{"id": "sup", "lead_time": {"dist": "gamma", "mean": 3, "cv": 0.5}}],
        "warehouses": [
            {"id": "dc", "inventory": {
                "a": {"source": "sup", "policy": {"type": "sS", "s": 20, "S": 60}},
                "b": {"source": "sup", "policy": {"type": "rQ", "r": 10, "Q": 15}}}},
            {"id": "st", "inventory": {
                "a": {"source": "dc", "lead_time": {"dist": "uniform", "low": 0.5, "high": 2},
                      "policy": {"type": "base_stock", "S": 15, "review_period": 2}},
                "b": {"source": "dc", "lead_time": {"dist": "empirical", "values": [1, 2, 4],
                                                    "weights": [3, 2, 1]},
                      "policy": {"type": "sS", "s": 4, "S": 12}}}},
        ],
        "customers": [
            {"id": "shop", "warehouse": "st",
             "demand": {"a": {"rate": 3, "size": {"dist": "poisson", "mean": 1.5}},
                        "b": {"rate": 2, "size": {"dist": "empirical", "values": [1, 2, 3]}}}},
            {"id": "web", "warehouse": "dc", "unmet": "lost",
             "demand": {"b": {"rate": 1, "size": {"dist": "gamma", "mean": 2, "cv": 0.7}}}},
        ],
    }


def metrics(data: Any, **kw: Any) -> pd.DataFrame:
    return simulator.run(data, progress=False, **kw).metrics


def rows_of(df: pd.DataFrame, **where: Any) -> pd.DataFrame:
    mask = np.ones(len(df), dtype=bool)
    for col, val in where.items():
        mask &= (df[col] == val).to_numpy()
    return df[mask].reset_index(drop=True)


class SourceTap:
    """Stands between a DemandSource and its stock point; records (time, qty) of each order."""

    def __init__(self, sp: Any, records: list[tuple[float, float]]):
        self.sp, self.records = sp, records

    def demand(self, qty: float, lose: bool, lane: Any = None) -> float:
        self.records.append((self.sp.env.now, qty))
        return self.sp.demand(qty, lose, lane)  # type: ignore[no-any-return]


def run_logged(data: dict[str, Any], seed: int, replication: int = 0):
    """The full event log, and each (customer, product)'s own order stream (time, qty)."""
    sc = load(data)
    net = Network(sc, replication=replication, seed=seed)
    log = EventLog()
    net.attach(lambda sp: log)
    # sources are built customer by customer, product by product, in scenario order
    keys = [(c.id, p) for c in sc.customers for p in c.demand]
    assert len(keys) == len(net.sources)
    streams: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for key, src in zip(keys, net.sources):
        assert src.sp.product == key[1]
        src.sp = SourceTap(src.sp, streams.setdefault(key, []))
    net.start()
    net.run(sc.horizon)
    return log.records, streams


def of(records: list[tuple[Any, ...]], wh: str, product: str) -> list[tuple[Any, ...]]:
    return [r for r in records if r[2] == wh and r[3] == product]


# --------------------------------------------------------------------------- same seed
def test_same_seed_identical_metrics():
    first = metrics(base(), replications=3, seed=11)
    second = metrics(base(), replications=3, seed=11)
    assert len(first) == 3 * 4
    assert_frame_equal(first, second, check_exact=True)


def test_seed_from_scenario_equals_seed_argument():
    data = base()
    data["seed"] = 11
    assert_frame_equal(metrics(data, replications=2), metrics(base(), replications=2, seed=11),
                       check_exact=True)


def test_different_seed_different_metrics():
    a = metrics(base(), replications=2, seed=11)
    b = metrics(base(), replications=2, seed=12)
    cols = ["demand_units", "avg_on_hand", "total_cost"]
    for col in cols:
        assert not np.array_equal(a[col].to_numpy(), b[col].to_numpy()), col


def test_replications_differ_from_each_other():
    m = metrics(base(), replications=2, seed=11)
    r0 = rows_of(m, replication=0).drop(columns="replication")
    r1 = rows_of(m, replication=1).drop(columns="replication")
    assert not r0.equals(r1)


def test_same_seed_identical_event_log():
    a, sa = run_logged(base(), seed=3, replication=2)
    b, sb = run_logged(base(), seed=3, replication=2)
    assert a == b and sa == sb
    assert len(a) > 100


# --------------------------------------------------------------------------- replications
def test_replication_alone_equals_replication_among_n():
    sc = load(base())
    together = metrics(sc, replications=5, seed=21)
    assert sorted(together["replication"].unique()) == [0, 1, 2, 3, 4]
    for i in range(5):
        alone = pd.DataFrame(run_replication(sc, i, 21).rows)
        expected = rows_of(together, replication=i)[list(alone.columns)]
        assert_frame_equal(alone, expected, check_exact=True, check_dtype=False)


def test_serial_equals_parallel():
    serial = metrics(base(), replications=4, seed=8, jobs=1)
    parallel = metrics(base(), replications=4, seed=8, jobs=2)
    assert_frame_equal(serial, parallel, check_exact=True)


def test_progress_steps_with_events_on_step_boundaries_change_nothing():
    # With a progress callback the run advances in 20 steps per window: warm-up [0, 10) in
    # steps of 0.5, then [10, 80) in steps of 3.5. Deterministic orders every 0.5 days and a
    # review every 3.5 days land exactly on the step boundaries, where a stop/restart must not
    # change the same-instant order of events.
    data = base()
    data["warehouses"][1]["inventory"]["a"]["policy"]["review_period"] = 3.5
    data["customers"].append({"id": "tick", "warehouse": "st",
                              "demand": {"a": {"rate": 2, "size": 1,
                                               "arrivals": "deterministic"}}})
    sc = load(data)
    for rep in (0, 1):
        shares: list[float] = []
        stepped = pd.DataFrame(run_replication(sc, rep, 4, progress=shares.append).rows)
        plain = pd.DataFrame(run_replication(sc, rep, 4).rows)
        assert_frame_equal(stepped, plain, check_exact=True)
        assert len(shares) == 40


def test_run_replication_is_repeatable_in_one_process():
    sc = load(base())
    a = run_replication(sc, 3, 9)
    b = run_replication(sc, 3, 9)
    assert pd.DataFrame(a.rows).equals(pd.DataFrame(b.rows))


# --------------------------------------------------------------------------- common random numbers
def test_changing_a_policy_leaves_other_products_and_demand_unchanged():
    changed = base()
    changed["warehouses"][1]["inventory"]["a"]["policy"] = {"type": "sS", "s": 3, "S": 25}
    changed["warehouses"][0]["inventory"]["a"]["policy"] = {"type": "base_stock", "S": 80}
    log0, streams0 = run_logged(base(), seed=4)
    log1, streams1 = run_logged(changed, seed=4)
    # product a's own customer orders are exogenous: same times, same sizes
    assert streams1[("shop", "a")] == streams0[("shop", "a")]
    assert len(streams0[("shop", "a")]) > 100
    # the store's demand events for a: same times and quantities (levels differ)
    assert ([r[:5] for r in of(log1, "st", "a") if r[1] == "demand"]
            == [r[:5] for r in of(log0, "st", "a") if r[1] == "demand"])
    # ...while a's sample path did change (so the check above means something)
    assert of(log1, "st", "a") != of(log0, "st", "a")
    # product b: every record, at both stock points, identical
    for wh in ("dc", "st"):
        assert of(log1, wh, "b") == of(log0, wh, "b")
        assert len(of(log0, wh, "b")) > 50


def test_changing_ss_of_a_leaves_metrics_of_b_identical():
    changed = base()
    changed["warehouses"][0]["inventory"]["a"]["policy"] = {"type": "sS", "s": 35, "S": 90}
    m0 = metrics(base(), replications=3, seed=2)
    m1 = metrics(changed, replications=3, seed=2)
    for wh in ("dc", "st"):
        assert_frame_equal(rows_of(m1, product="b", warehouse=wh),
                           rows_of(m0, product="b", warehouse=wh), check_exact=True)
    assert not rows_of(m1, product="a", warehouse="dc").equals(
        rows_of(m0, product="a", warehouse="dc"))


def test_adding_a_product_leaves_other_products_unchanged():
    more = copy.deepcopy(base())
    more["products"].insert(0, {"id": "c", "holding_cost": 1})
    more["suppliers"].insert(0, {"id": "sup2", "lead_time": {"dist": "exponential", "mean": 2}})
    for w in more["warehouses"]:
        # the new product comes first in every inventory
        w["inventory"] = {"c": {"source": "sup2", "policy": {"type": "sS", "s": 5, "S": 20}},
                          **w["inventory"]}
    more["customers"][0]["demand"] = {"c": {"rate": 5}, **more["customers"][0]["demand"]}
    more["customers"].insert(0, {"id": "new", "warehouse": "dc", "demand": {"c": {"rate": 2}}})
    log0, streams0 = run_logged(base(), seed=6)
    log1, streams1 = run_logged(more, seed=6)
    for wh in ("dc", "st"):
        for p in ("a", "b"):
            assert of(log1, wh, p) == of(log0, wh, p), (wh, p)
    for key, stream in streams0.items():
        assert streams1[key] == stream, key
    m0 = metrics(base(), replications=2, seed=6)
    m1 = metrics(more, replications=2, seed=6)
    for p in ("a", "b"):
        assert_frame_equal(rows_of(m1, product=p).sort_values(["replication", "warehouse"])
                           .reset_index(drop=True),
                           rows_of(m0, product=p).sort_values(["replication", "warehouse"])
                           .reset_index(drop=True), check_exact=True)


def test_adding_a_customer_leaves_other_customers_streams_unchanged():
    more = copy.deepcopy(base())
    # a new customer ordering product b at the store (first in the file), and product a at dc
    more["customers"].insert(0, {"id": "kiosk", "warehouse": "st",
                                 "demand": {"b": {"rate": 4, "size": 2}}})
    more["customers"].append({"id": "bulk", "warehouse": "dc", "unmet": "lost",
                              "demand": {"a": {"rate": 0.5, "size": 10}}})
    _, streams0 = run_logged(base(), seed=7)
    log1, streams1 = run_logged(more, seed=7)
    for key, stream in streams0.items():
        assert streams1[key] == stream, key
        assert len(stream) > 20
    # the new customer's stream is its own: the same as when it is the only customer
    alone = copy.deepcopy(base())
    alone["customers"] = [more["customers"][0]]
    _, streams_alone = run_logged(alone, seed=7)
    assert streams1[("kiosk", "b")] == streams_alone[("kiosk", "b")]
    # the demand events logged at the store for b are exactly the union of both customers'
    merged = sorted(streams1[("shop", "b")] + streams1[("kiosk", "b")])
    # (the store supplies nobody, so every demand record there is a customer's order)
    logged = sorted((r[0], r[4]) for r in of(log1, "st", "b") if r[1] == "demand")
    assert logged == merged


def test_lead_times_of_a_lane_do_not_depend_on_other_lanes():
    # the supplier lane of dc/b draws from "lead_time/dc/b" only: with product a removed
    # entirely, b's whole sample path is unchanged
    fewer = copy.deepcopy(base())
    fewer["products"] = [p for p in fewer["products"] if p["id"] != "a"]
    for w in fewer["warehouses"]:
        w["inventory"].pop("a")
    fewer["customers"][0]["demand"].pop("a")
    log0, _ = run_logged(base(), seed=8)
    log1, _ = run_logged(fewer, seed=8)
    for wh in ("dc", "st"):
        assert of(log1, wh, "b") == of(log0, wh, "b")


# --------------------------------------------------------------------------- the streams
def _independent_stream(seed: int, replication: int, source: str) -> np.random.Generator:
    # docs/architecture.md: SeedSequence(seed, spawn_key=(replication, *sha256(source id)));
    # sha256 words: the first 16 bytes of the digest as four little-endian uint32.
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    words = struct.unpack("<4I", digest[:16])
    seq = np.random.SeedSequence(entropy=seed, spawn_key=(replication, *words))
    return np.random.Generator(np.random.PCG64(seq))


def test_stream_matches_independent_seedsequence_construction():
    got = rng.stream(1, 0, "demand/c/p/arrivals").random(3)
    want = _independent_stream(1, 0, "demand/c/p/arrivals").random(3)
    assert got.tolist() == want.tolist()
    # pinned: computed once from the independent construction above in a Python session that
    # did not import simulator (numpy's PCG64 + SeedSequence streams are stable by policy)
    assert got.tolist() == [0.47069612930461324, 0.08224098424241211, 0.37516225813446946]


@pytest.mark.parametrize("args", [(0, 0, "x"), (2**40, 7, "lead_time/dc/a"),
                                  (5, 123, "demand/shop/b/sizes")])
def test_stream_matches_independent_construction_for_other_ids(args):
    assert (rng.stream(*args).random(5).tolist()
            == _independent_stream(*args).random(5).tolist())


def test_streams_differ_by_seed_replication_and_source():
    ref = rng.stream(1, 0, "demand/c/p/arrivals").random(4).tolist()
    assert rng.stream(1, 0, "demand/c/p/arrivals").random(4).tolist() == ref
    for other in [(2, 0, "demand/c/p/arrivals"), (1, 1, "demand/c/p/arrivals"),
                  (1, 0, "demand/c/p/sizes"), (1, 0, "demand/c/q/arrivals")]:
        assert rng.stream(*other).random(4).tolist() != ref, other


def test_network_arrival_times_come_from_the_named_stream():
    # Customer "shop", product "a": Poisson arrivals at rate 3 -> exponential gaps of mean 1/3
    # drawn from stream (seed, replication, "demand/shop/a/arrivals"); the i-th order arrives
    # at the sum of the first i gaps.
    seed, rep = 13, 2
    _, streams = run_logged(base(), seed=seed, replication=rep)
    gaps = _independent_stream(seed, rep, "demand/shop/a/arrivals").exponential(1 / 3, 40)
    sizes = _independent_stream(seed, rep, "demand/shop/a/sizes").poisson(1.5, 40)
    times, t = [], 0.0
    for g in gaps:
        t = t + float(g)
        times.append(t)
    expected = [(ti, float(s)) for ti, s in zip(times, sizes) if s > 0]  # size 0: no order
    assert times[-1] < 80 and len(expected) > 20
    assert streams[("shop", "a")][:20] == expected[:20]
