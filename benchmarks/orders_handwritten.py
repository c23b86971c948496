"""A minimal hand-written SimPy model of benchmarks/orders_bench.yaml (the multi-line baseline).

This is what a competent SimPy user would write for exactly this scenario, without our
simulator: one customer placing Poisson multi-line orders (each product's line present
independently with its probability, constant size; an order with no line is drawn again),
split over warehouses in preference order, every warehouse stocking every product from one
supplier with a constant lead time under continuous-review one-for-one base stock.

* one generator process for the customer's order stream (``yield env.timeout(gap)``);
* split rule, each present line in product order: ship min(q, on hand) from the first
  warehouse, then min(rest, on hand) from the next, ...; the rest is backordered at the first
  warehouse and served (FIFO, so a count is enough) when that warehouse receives stock;
* the units a warehouse ships or backorders are "allocated" to it: its inventory position
  drops by them and it orders them again at once (base stock S: order S - position); every
  replenishment order is its own process that waits the lead time, then fills backorders and
  puts the rest on hand;
* statistics are running sums over [warmup, horizon): per warehouse x product demand_units
  (units allocated to it), fill_rate (share of those shipped at once), time-weighted
  avg_on_hand and avg_backorders, orders_placed; per customer orders, lines,
  order_fill_rate (orders all of whose lines shipped complete at once, from any warehouses)
  and line_fill_rate (lines shipped complete at once).

Two ways to draw the randomness (one stream for the gaps, one for the lines):

* ``batch=False``: one ``rng.exponential()`` call per order and one ``rng.random(n)`` call
  (n products) per line draw, as typical code does;
* ``batch=True``: gaps and line draws for thousands of orders at a time in vectorised numpy
  calls, iterated as Python lists -- the strongest reasonable baseline.

Both consume the two streams in the same order, so they give identical results.

It only handles what orders_bench uses (constant lead time, base stock, constant line sizes,
split allocation, backorders) and does not validate its input.  ``--check`` compares the model,
with one warehouse, against the exact order fill rate of THEORY.md item 8.  Usage::

    python benchmarks/orders_handwritten.py [--batch] [--scenario benchmarks/orders_bench.yaml]
    python benchmarks/orders_handwritten.py --check
"""
from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import simpy
import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_SCENARIO = HERE / "orders_bench.yaml"
CHUNK = 4096  # orders per vectorised draw in batch mode


# -- scenario -------------------------------------------------------------------------------

def load(path: str | Path = DEFAULT_SCENARIO) -> dict[str, Any]:
    """Pull the numbers this model needs out of a SPEC-format scenario file."""
    with open(path) as fh:
        sc = yaml.safe_load(fh)
    lead_times = {s["id"]: float(s["lead_time"]) for s in sc["suppliers"]}
    (cust,) = sc["customers"]
    assert cust.get("allocation") == "split" and cust.get("unmet", "backorder") == "backorder"
    orders = cust["orders"]
    assert orders.get("arrivals", "poisson") == "poisson"
    stock_at = {w["id"]: w["inventory"] for w in sc["warehouses"]}
    products = []
    for pid, line in orders["lines"].items():
        assert isinstance(line.get("size", 1), int)
        stock = {}
        for wid in cust["warehouses"]:
            inv = stock_at[wid][pid]
            pol = inv["policy"]
            assert pol["type"] == "base_stock" and pol.get("review_period", 0) == 0
            stock[wid] = {"S": pol["S"], "initial": inv.get("initial", pol["S"]),
                          "lead_time": lead_times[inv["source"]]}
        products.append({"id": pid, "probability": float(line["probability"]),
                         "size": line.get("size", 1), "stock": stock})
    return {"customer": cust["id"], "warehouses": list(cust["warehouses"]),
            "rate": float(orders["rate"]), "horizon": float(sc["horizon"]),
            "warmup": float(sc.get("warmup", 0)), "products": products}


# -- model ----------------------------------------------------------------------------------

class Stock:
    """One product at one warehouse: state, one-for-one base stock and running statistics."""

    def __init__(self, env: simpy.Environment, warehouse: str, product: str,
                 p: dict[str, Any], warmup: float) -> None:
        self.env, self.warehouse, self.product, self.warmup = env, warehouse, product, warmup
        self.lead_time = p["lead_time"]
        self.on_hand, self.backorders = p["initial"], 0
        # base stock S: the first demand tops the position up to S, then one-for-one
        self.on_order = p["S"] - p["initial"]
        if self.on_order > 0:
            env.process(self.replenish(self.on_order))
        # statistics over [warmup, horizon)
        self.last = 0.0
        self.area_on_hand = self.area_backorders = 0.0
        self.demand = self.filled = self.orders = 0
        self.deliveries = 0  # whole run, for the events count

    def _advance(self) -> None:
        """Add the time-weighted areas since the last change (clipped to the warmup)."""
        now = self.env.now
        if now > self.warmup:
            dt = now - (self.last if self.last > self.warmup else self.warmup)  # noqa: FURB136
            self.area_on_hand += self.on_hand * dt
            self.area_backorders += self.backorders * dt
        self.last = now

    def allocate(self, shipped: int, backordered: int, counted: bool) -> None:
        """Ship ``shipped`` units now, backorder ``backordered``, and order them all again."""
        self._advance()
        self.on_hand -= shipped
        self.backorders += backordered
        qty = shipped + backordered
        self.on_order += qty  # position was S, is S - qty: order S - position = qty
        if counted:
            self.demand += qty
            self.filled += shipped
            self.orders += 1
        self.env.process(self.replenish(qty))

    def replenish(self, qty: int):  # noqa: ANN201 (a SimPy process)
        yield self.env.timeout(self.lead_time)
        self.deliveries += 1
        self._advance()
        self.on_order -= qty
        served = min(self.backorders, qty)
        self.backorders -= served
        self.on_hand += qty - served


class Customer:
    """The order stream and the customer's running statistics."""

    def __init__(self, env: simpy.Environment, chains: list[list[Stock]], sizes: list[int],
                 warmup: float) -> None:
        self.env, self.chains, self.sizes, self.warmup = env, chains, sizes, warmup
        self.orders = self.lines = self.orders_filled = self.lines_filled = 0
        self.arrivals = 0  # whole run, for the events count

    def place(self, orders: Iterator[tuple[float, list[int]]]):  # noqa: ANN201
        """SimPy process: wait for each order, then allocate its lines (split rule)."""
        env, chains, sizes = self.env, self.chains, self.sizes
        for gap, lines in orders:
            yield env.timeout(gap)
            self.arrivals += 1
            counted = env.now >= self.warmup
            complete = 0
            for j in lines:
                rest = sizes[j]
                first, *others = chains[j]
                on_hand = first.on_hand
                first_take = 0 if on_hand <= 0 else rest if rest <= on_hand else on_hand
                rest -= first_take
                for st in others:
                    if rest == 0:
                        break
                    if st.on_hand > 0:
                        take = rest if rest <= st.on_hand else st.on_hand
                        rest -= take
                        st.allocate(take, 0, counted)
                if first_take or rest:  # the rest is backordered at the first warehouse
                    first.allocate(first_take, rest, counted)
                if rest == 0:
                    complete += 1
            if counted:
                self.orders += 1
                self.lines += len(lines)
                self.lines_filled += complete
                if complete == len(lines):
                    self.orders_filled += 1


def scalar_orders(gap_rng: np.random.Generator, line_rng: np.random.Generator, mean: float,
                  probs: np.ndarray) -> Iterator[tuple[float, list[int]]]:
    """One numpy call per gap and one per line draw (an empty draw is drawn again)."""
    n = len(probs)
    while True:
        while True:
            lines = np.flatnonzero(line_rng.random(n) < probs)
            if lines.size:
                break
        yield gap_rng.exponential(mean), lines.tolist()


def batched_orders(gap_rng: np.random.Generator, line_rng: np.random.Generator, mean: float,
                   probs: np.ndarray, chunk: int = CHUNK) -> Iterator[tuple[float, list[int]]]:
    """CHUNK line draws per numpy call, empty ones dropped; one gap call per chunk."""
    n = len(probs)
    while True:
        rows, cols = np.nonzero(line_rng.random((chunk, n)) < probs)
        counts = np.bincount(rows, minlength=chunk)
        counts = counts[counts > 0]
        gaps = gap_rng.exponential(mean, len(counts)).tolist()
        cols_list = cols.tolist()
        ends = np.cumsum(counts).tolist()
        yield from zip(gaps, (cols_list[a:b] for a, b in zip([0, *ends[:-1]], ends)))


@dataclass
class Result:
    """What one replication returns."""

    metrics: pd.DataFrame     # per warehouse x product
    customers: pd.DataFrame   # per customer
    events: int               # order arrivals + replenishment deliveries, whole run
    lines: int                # order lines over [warmup, horizon)


def run(params: dict[str, Any] | str | Path | None = None, seed: int = 1,
        batch: bool = False) -> Result:
    """One replication of the scenario (a path, or a mapping from :func:`load`)."""
    if params is None or isinstance(params, (str, Path)):
        params = load(params or DEFAULT_SCENARIO)
    env, stocks, customer = build(params, seed, batch)
    env.run(until=params["horizon"])
    return _result(params, stocks, customer)


def build(params: dict[str, Any], seed: int,
          batch: bool) -> tuple[simpy.Environment, dict[str, list[Stock]], Customer]:
    """The SimPy environment with every stock point and the customer's order process."""
    warmup = params["warmup"]
    env = simpy.Environment()
    gap_seed, line_seed = np.random.SeedSequence(seed).spawn(2)
    gap_rng, line_rng = np.random.default_rng(gap_seed), np.random.default_rng(line_seed)
    stocks = {w: [Stock(env, w, p["id"], p["stock"][w], warmup) for p in params["products"]]
              for w in params["warehouses"]}
    chains = [[stocks[w][j] for w in params["warehouses"]]
              for j in range(len(params["products"]))]
    customer = Customer(env, chains, [p["size"] for p in params["products"]], warmup)
    probs = np.array([p["probability"] for p in params["products"]])
    draw = batched_orders if batch else scalar_orders
    env.process(customer.place(draw(gap_rng, line_rng, 1.0 / params["rate"], probs)))
    return env, stocks, customer


def _result(params: dict[str, Any], stocks: dict[str, list[Stock]], customer: Customer) -> Result:
    """Close the time-weighted areas at the horizon and build the tables."""
    length = params["horizon"] - params["warmup"]
    rows = []
    for st in itertools.chain.from_iterable(stocks.values()):
        st._advance()
        rows.append({
            "replication": 0, "warehouse": st.warehouse, "product": st.product,
            "demand_units": st.demand,
            "fill_rate": st.filled / st.demand if st.demand else float("nan"),
            "avg_on_hand": st.area_on_hand / length,
            "avg_backorders": st.area_backorders / length,
            "orders_placed": st.orders,
        })
    c = customer
    cust = pd.DataFrame([{
        "replication": 0, "customer": params["customer"], "orders": c.orders, "lines": c.lines,
        "order_fill_rate": c.orders_filled / c.orders if c.orders else float("nan"),
        "line_fill_rate": c.lines_filled / c.lines if c.lines else float("nan"),
    }])
    events = c.arrivals + sum(st.deliveries for w in stocks.values() for st in w)
    return Result(pd.DataFrame(rows), cust, events, c.lines)


# -- check against THEORY.md item 8 ---------------------------------------------------------

CHECK = {  # small case: 3 products, one warehouse; many orders are redrawn (P(empty) = 0.168)
    "rate": 10.0, "lead_time": 2.0, "probabilities": [0.6, 0.4, 0.3], "S": [19, 13, 10],
    "horizon": 2000.0, "warmup": 50.0, "replications": 20,
}


def _poisson_pmf(mean: float, kmax: int) -> np.ndarray:
    """P(N = k) for k = 0..kmax, N ~ Poisson(mean)."""
    k = np.arange(kmax + 1)
    logs = k * math.log(mean) - mean - np.array([math.lgamma(x + 1) for x in k])
    return np.exp(logs)


def _all_available(mean_by_set: dict[frozenset[int], float], members: list[int],
                   S: list[int]) -> float:
    """P(D_i <= S_i - 1 for every i in ``members``), D_i = sum of N_B over sets B containing i.

    The counts N_B are independent Poisson(mean_by_set[B]).  Only B's intersection C with
    ``members`` matters; each C adds M_C ~ Poisson(sum of its B's means) to every D_i, i in C.
    The joint pmf of (D_i) is built on the box [0, S_i - 1] by convolution (mass that leaves
    the box can never return, so truncation is exact for this event).
    """
    means: dict[frozenset[int], float] = {}
    for b, mu in mean_by_set.items():
        c = b & frozenset(members)
        if c:
            means[c] = means.get(c, 0.0) + mu
    shape = tuple(S[i] for i in members)
    pmf = np.zeros(shape)
    pmf[(0,) * len(shape)] = 1.0
    for c, mu in means.items():
        axes = [a for a, i in enumerate(members) if i in c]
        kmax = min(shape[a] for a in axes) - 1
        weights = _poisson_pmf(mu, kmax)
        new = np.zeros(shape)
        for k, w in enumerate(weights):
            dst = tuple(slice(k, None) if a in axes else slice(None) for a in range(len(shape)))
            src = tuple(slice(None, shape[a] - k) if a in axes else slice(None)
                        for a in range(len(shape)))
            new[dst] += w * pmf[src]
        pmf = new
    return float(pmf.sum())


def exact(rate: float, lead_time: float, probs: list[float], S: list[int]) -> dict[str, Any]:
    """THEORY.md item 8: order fill rate and line fill rates (orders with no line redrawn)."""
    n = len(probs)
    empty = math.prod(1 - p for p in probs)
    prob_set = {}
    for present in itertools.product([False, True], repeat=n):
        if any(present):
            prob_set[frozenset(i for i in range(n) if present[i])] = math.prod(
                p if x else 1 - p for p, x in zip(probs, present)) / (1 - empty)
    mean_by_set = {a: rate * lead_time * pa for a, pa in prob_set.items()}
    order_fill = sum(pa * _all_available(mean_by_set, sorted(a), S) for a, pa in prob_set.items())
    line_fill = [_all_available(mean_by_set, [i], S) for i in range(n)]
    lines = [prob_set[a] * len(a) for a in prob_set]
    per_product = [sum(pa for a, pa in prob_set.items() if i in a) for i in range(n)]
    total_line_fill = sum(f * q for f, q in zip(line_fill, per_product)) / sum(lines)
    return {"order_fill_rate": order_fill, "line_fill": line_fill,
            "line_fill_rate": total_line_fill}


def check_params(case: dict[str, Any] = CHECK) -> dict[str, Any]:
    """The small case as a one-warehouse model mapping (the ``--check`` variant)."""
    products = [{"id": f"q{i + 1}", "probability": p, "size": 1,
                 "stock": {"dc": {"S": s, "initial": s, "lead_time": case["lead_time"]}}}
                for i, (p, s) in enumerate(zip(case["probabilities"], case["S"]))]
    return {"customer": "web", "warehouses": ["dc"], "rate": case["rate"],
            "horizon": case["horizon"], "warmup": case["warmup"], "products": products}


def check(case: dict[str, Any] = CHECK, batch: bool = True, k: float = 4.0) -> bool:
    """Simulate the small case (independent replications) and compare with :func:`exact`."""
    params = check_params(case)
    ex = exact(case["rate"], case["lead_time"], case["probabilities"], case["S"])
    reps = [run(params, seed=r + 1, batch=batch) for r in range(case["replications"])]
    rows = [("order_fill_rate", ex["order_fill_rate"],
             [float(r.customers["order_fill_rate"].iloc[0]) for r in reps]),
            ("line_fill_rate", ex["line_fill_rate"],
             [float(r.customers["line_fill_rate"].iloc[0]) for r in reps])]
    for i, p in enumerate(params["products"]):
        rows.append((f"fill_rate {p['id']}", ex["line_fill"][i],
                     [float(r.metrics["fill_rate"].iloc[i]) for r in reps]))
    print(f"THEORY.md item 8, one warehouse: rate {case['rate']}/day, lead time "
          f"{case['lead_time']} d, p = {case['probabilities']}, S = {case['S']}; "
          f"{len(reps)} replications of {case['horizon'] - case['warmup']:.0f} days")
    print(f"{'metric':18} {'exact':>8} {'simulated':>10} {'SE':>8} {'z':>6}")
    ok = True
    for name, want, values in rows:
        mean = float(np.mean(values))
        se = float(np.std(values, ddof=1) / math.sqrt(len(values)))
        z = (mean - want) / se
        ok &= abs(z) <= k
        print(f"{name:18} {want:8.4f} {mean:10.4f} {se:8.4f} {z:6.2f}")
    print(f"{'ok' if ok else 'FAILED'}: every |z| <= {k:g}")
    return ok


def check_split(path: str | Path = DEFAULT_SCENARIO, horizon: float = 200.0,
                batch: bool = True) -> bool:
    """Pathwise bookkeeping identities of the two-warehouse split model (no statistics).

    With warmup 0, initial stock S and one-for-one orders of constant lead time L, the net
    inventory of every stock point is IN(t) = S - (units allocated to it in (t - L, t]),
    so its time average over [0, T] lies in [S - L N / T, S - L N / T + L O / T], where N is
    the units allocated over the run and O those still on order at T.  Every line's units
    are allocated exactly once (east + west demand = ordered units); the later warehouses
    never backorder; no stock point ends with units on hand while it owes backorders.
    """
    params = {**load(path), "horizon": horizon, "warmup": 0.0}
    env, stocks, customer = build(params, 1, batch)
    env.run(until=horizon)
    res = _result(params, stocks, customer)
    within = mixed = 0
    worst = 0.0
    for st, row in zip(itertools.chain.from_iterable(stocks.values()),
                       res.metrics.to_dict("records")):
        p = next(q for q in params["products"] if q["id"] == st.product)["stock"][st.warehouse]
        low = p["S"] - st.lead_time * row["demand_units"] / horizon
        high = low + st.lead_time * st.on_order / horizon
        net = row["avg_on_hand"] - row["avg_backorders"]
        within += low - 1e-9 <= net <= high + 1e-9
        worst = max(worst, low - net, net - high)
        mixed += st.on_hand > 0 and st.backorders > 0  # stock left while customers wait
    ok = within == len(res.metrics) and mixed == 0
    allocated = int(res.metrics["demand_units"].sum())
    assert set(customer.sizes) == {1}, "the identity below counts lines as units"
    units = customer.lines
    later = res.metrics[res.metrics["warehouse"] != params["warehouses"][0]]
    ok &= allocated == units and float(later["avg_backorders"].abs().max()) == 0.0
    print(f"split model, {horizon:g} days, warmup 0: average net inventory within its pathwise "
          f"bounds at {within} of {len(res.metrics)} stock points (worst excess "
          f"{max(worst, 0):.2e}); {mixed} with stock on hand and backorders at the end; units "
          f"allocated {allocated:,}, units on lines {units:,}; {'ok' if ok else 'FAILED'}")
    return ok


# -- command line ---------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(DEFAULT_SCENARIO))
    ap.add_argument("--batch", action="store_true", help="draw gaps and lines in numpy batches")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check", action="store_true",
                    help="compare the one-warehouse model with THEORY.md item 8 and exit")
    args = ap.parse_args(argv)
    if args.check:
        ok = check(batch=args.batch)
        return 0 if check_split(args.scenario, batch=args.batch) and ok else 1
    params = load(args.scenario)
    t0 = time.perf_counter()
    res = run(params, seed=args.seed, batch=args.batch)
    wall = time.perf_counter() - t0
    with pd.option_context("display.width", 140, "display.max_rows", 500):
        print(res.metrics.round(4).to_string(index=False))
        print()
        print(res.customers.round(4).to_string(index=False))
    print(f"\n{'batch' if args.batch else 'scalar'} draws: {wall:.2f} s, {res.lines:,} order "
          f"lines measured, {res.events:,} model events (order arrivals + deliveries), "
          f"{res.events / wall:,.0f} events/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
