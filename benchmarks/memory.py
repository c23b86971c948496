"""Peak memory of a run under a permanent shortage, at two horizons (issue 5, item 4).

A stock point whose policy never reorders backorders every customer order for the whole
run. Memory must follow the state (one backorder entry per claimant), not the history (one
entry per unfilled order). Each case runs in a fresh process, which reports its peak
resident set (``ru_maxrss``) and the peak of Python allocations during the run
(``tracemalloc``, which sees the backorder queue directly).

    .venv/bin/python benchmarks/memory.py [--rate 200] [--horizons 100 10000] [--orders]

``--orders``: the customer places multi-line orders (two products, split over two warehouses
that never reorder), so every order keeps a record while it is owed: memory must stay flat
beyond the bound on open records (10,000 per customer, then cohorts; docs/orders.md).

This is a benchmark, not a test: it asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, tracemalloc
import simulator
rate, horizon, kind = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
data = {
    "name": "shortage", "horizon": horizon,
    "products": [{"id": "p", "holding_cost": 1, "backorder_cost": 1}],
    "suppliers": [{"id": "sup", "lead_time": 1}],
    "warehouses": [{"id": "w", "inventory": {"p": {
        "source": "sup", "initial": 0,
        "policy": {"type": "sS", "s": -1000000, "S": -999999}}}}],
    "customers": [{"id": "c", "warehouse": "w", "demand": {"p": {"rate": rate}}}],
}
if kind == "orders":
    never = {"source": "sup", "initial": 0, "policy": {"type": "sS", "s": -1000000, "S": -999999}}
    data["products"].append({"id": "q"})
    data["warehouses"] = [{"id": w, "inventory": {"p": never, "q": never}} for w in ("a", "b")]
    data["customers"] = [{"id": "c", "warehouses": ["a", "b"], "allocation": "split",
                          "orders": {"rate": rate, "lines": {"p": {"probability": 1},
                                                             "q": {"probability": 0.5}}}}]
sc = simulator.load(data)
simulator.run(sc, progress=False)  # warm: imports and first-call costs
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
t0 = time.perf_counter()
res = simulator.run(sc, progress=False, max_events=None)
wall = time.perf_counter() - t0
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "before_run_mb": base / 1024, "traced_peak_mb": peak / 2**20,
                  "wall_s": wall, "orders": float(res.customer_metrics["orders"].sum())}))
"""


def measure(rate: float, horizon: float, kind: str = "demand") -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(rate), str(horizon), kind],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=200.0, help="customer orders per day")
    ap.add_argument("--horizons", type=float, nargs="+", default=[100.0, 10_000.0])
    ap.add_argument("--orders", action="store_true",
                    help="multi-line orders split over two warehouses (order records)")
    args = ap.parse_args()
    kind = "orders" if args.orders else "demand"
    where = "2-line orders over two warehouses" if args.orders else "one stock point"
    print(f"permanent shortage, {args.rate:g} orders/day, {where}")
    print(f"{'horizon':>8} {'orders':>10} {'peak RSS MB':>12} {'traced peak MB':>15} "
          f"{'run s':>7}")
    for h in args.horizons:
        m = measure(args.rate, h, kind)
        print(f"{h:>8g} {m['orders']:>10,.0f} {m['maxrss_mb']:>12.1f} "
              f"{m['traced_peak_mb']:>15.2f} {m['wall_s']:>7.2f}")


if __name__ == "__main__":
    main()
