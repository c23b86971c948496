"""A minimal hand-written SimPy model of benchmarks/bench20.yaml (the baseline).

This is what a competent SimPy user would write for exactly this scenario, without our
simulator: one warehouse, products sourced from one supplier with a constant lead time,
continuous-review (s, S) on the inventory position, Poisson unit-size demand, backorders.

* one generator process per product's customer stream (``yield env.timeout(gap)``);
* each unit demand ships if there is stock, otherwise it is backordered;
* after each demand, if position <= s, order S - position; every replenishment order is
  its own process that waits the lead time, then fills backorders and puts the rest on hand;
* statistics are simple running sums over [warmup, horizon] (time-weighted areas for
  on hand / backorders, counters for demand, immediate shipments and orders).

Two ways to draw the inter-arrival gaps:

* ``batch=False``: one ``rng.exponential()`` call per arrival, as typical code does;
* ``batch=True``:  all gaps of a stream drawn up front in one vectorised numpy call and
  iterated as Python floats -- the strongest reasonable baseline.

It only handles what bench20 uses (constant supplier lead time, sS, unit Poisson demand,
backorders) and does not validate its input.  Usage::

    python benchmarks/handwritten.py [--batch] [--scenario benchmarks/bench20.yaml]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import simpy
import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_SCENARIO = HERE / "bench20.yaml"


def load(path=DEFAULT_SCENARIO) -> dict:
    """Pull the numbers this model needs out of a SPEC-format scenario file."""
    with open(path) as fh:
        sc = yaml.safe_load(fh)
    lead_times = {s["id"]: float(s["lead_time"]) for s in sc["suppliers"]}
    (wh,) = sc["warehouses"]
    (cust,) = sc["customers"]
    products = []
    for pid, inv in wh["inventory"].items():
        pol = inv["policy"]
        assert pol["type"] == "sS" and pol.get("review_period", 0) == 0
        dem = cust["demand"][pid]
        assert dem.get("size", 1) == 1 and dem.get("arrivals", "poisson") == "poisson"
        products.append({"id": pid, "rate": float(dem["rate"]), "s": pol["s"], "S": pol["S"],
                         "initial": inv.get("initial", pol["S"]),
                         "lead_time": lead_times[inv["source"]]})
    return {"warehouse": wh["id"], "horizon": float(sc["horizon"]),
            "warmup": float(sc.get("warmup", 0)), "products": products}


class Stock:
    """One product at the warehouse: state, (s, S) policy and running statistics."""

    def __init__(self, env, p, warmup):
        self.env, self.id, self.warmup = env, p["id"], warmup
        self.s, self.S, self.lead_time = p["s"], p["S"], p["lead_time"]
        self.on_hand, self.on_order, self.backorders = p["initial"], 0, 0
        # statistics over [warmup, horizon]
        self.last = 0.0
        self.area_on_hand = self.area_backorders = 0.0
        self.demand = self.filled = self.orders = 0
        self.arrivals = self.deliveries = 0  # whole run, for the events count

    def _advance(self):
        """Add the time-weighted areas since the last change (clipped to the warmup)."""
        now = self.env.now
        if now > self.warmup:
            # (a conditional expression is cheaper than max() on this hot path)
            dt = now - (self.last if self.last > self.warmup else self.warmup)  # noqa: FURB136
            self.area_on_hand += self.on_hand * dt
            self.area_backorders += self.backorders * dt
        self.last = now

    def customers(self, gaps):
        env = self.env
        for gap in gaps:
            yield env.timeout(gap)
            self.arrivals += 1
            self._advance()
            counted = env.now >= self.warmup
            if counted:
                self.demand += 1
            if self.on_hand > 0:
                self.on_hand -= 1
                if counted:
                    self.filled += 1
            else:
                self.backorders += 1
            position = self.on_hand + self.on_order - self.backorders
            if position <= self.s:
                qty = self.S - position
                self.on_order += qty
                if counted:
                    self.orders += 1
                env.process(self.replenish(qty))

    def replenish(self, qty):
        yield self.env.timeout(self.lead_time)
        self.deliveries += 1
        self._advance()
        self.on_order -= qty
        served = min(self.backorders, qty)
        self.backorders -= served
        self.on_hand += qty - served


def scalar_gaps(rng, mean):
    """One numpy call per arrival."""
    while True:
        yield rng.exponential(mean)


def batched_gaps(rng, mean, n):
    """All gaps in one numpy call (n ~ expected arrivals + margin); more chunks if ever needed."""
    while True:
        yield from rng.exponential(mean, n).tolist()


def run(params=None, seed=1, batch=False):
    """One replication. Returns (metrics DataFrame, number of model events)."""
    if params is None or isinstance(params, (str, Path)):
        params = load(params or DEFAULT_SCENARIO)
    horizon, warmup = params["horizon"], params["warmup"]
    env = simpy.Environment()
    seeds = np.random.SeedSequence(seed).spawn(len(params["products"]))
    rngs = [np.random.default_rng(s) for s in seeds]
    stocks = []
    for p, rng in zip(params["products"], rngs):
        st = Stock(env, p, warmup)
        mean = 1.0 / p["rate"]
        if batch:
            n = int(p["rate"] * horizon + 6 * np.sqrt(p["rate"] * horizon) + 100)
            gaps = batched_gaps(rng, mean, n)
        else:
            gaps = scalar_gaps(rng, mean)
        env.process(st.customers(gaps))
        stocks.append(st)
    env.run(until=horizon)

    length = horizon - warmup
    rows = []
    for st in stocks:
        st._advance()  # close the areas at the horizon
        rows.append({
            "replication": 0, "warehouse": params["warehouse"], "product": st.id,
            "demand_units": st.demand,
            "fill_rate": st.filled / st.demand if st.demand else float("nan"),
            "avg_on_hand": st.area_on_hand / length,
            "avg_backorders": st.area_backorders / length,
            "orders_placed": st.orders,
        })
    events = sum(st.arrivals + st.deliveries for st in stocks)
    return pd.DataFrame(rows), events


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(DEFAULT_SCENARIO))
    ap.add_argument("--batch", action="store_true", help="draw gaps in one numpy call per stream")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    params = load(args.scenario)
    t0 = time.perf_counter()
    df, events = run(params, seed=args.seed, batch=args.batch)
    wall = time.perf_counter() - t0
    with pd.option_context("display.width", 140, "display.max_rows", 100):
        print(df.round(4).to_string(index=False))
    print(f"\n{'batch' if args.batch else 'scalar'} draws: {wall:.2f} s, "
          f"{events:,} model events (arrivals + deliveries), {events / wall:,.0f} events/s")


if __name__ == "__main__":
    main()
