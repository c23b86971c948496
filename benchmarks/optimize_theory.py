"""How close ``simulator optimize`` gets to THEORY 1's exact optimum, in how many evaluations
and how long (docs/optimize.md, "What to expect").

One product, Poisson demand (4 a day), lead time 2 days, continuous-review (s,S) with holding
1, backorder 9 and ordering 20 per order; the exact cost per day of (s,S) is
``h E[on hand] + b E[backorders] + K lambda / (S - s)`` (THEORY 1; the scenario and the exact
cost are those of tests/test_optimize.py). The box
is s in 0..SMAX, S in 1..3 SMAX; the search starts at (2, 6). For each method, seed and budget
it prints the found (s,S), its exact cost relative to the exact optimum over the box, the
evaluations run and the wall time.

Usage::

    python benchmarks/optimize_theory.py [--seeds 5] [--budgets 20,40,80] [--workers 1]
        [--reps 3] [--horizon 2100] [--smax 20]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from test_optimize import BIG_S_KEY, S_KEY, exact_cost, scenario  # noqa: E402

import simulator  # noqa: E402

KEYS = (S_KEY, BIG_S_KEY)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budgets", default="20,40,80")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--horizon", type=float, default=2100.0)
    p.add_argument("--smax", type=int, default=20)
    a = p.parse_args()
    box = [f"{KEYS[0]}=0:{a.smax}", f"{KEYS[1]}=1:{3 * a.smax}"]
    best = min(exact_cost(s, b) for s in range(a.smax + 1) for b in range(1, 3 * a.smax + 1)
               if b > s)
    print(f"exact optimum over the box: {best:.4f} per day")
    print("method     budget seed  (s,S)      exact/opt  evaluations  seconds")
    sc = scenario(reps=a.reps, horizon=a.horizon)
    runs = [("annealing", int(n), seed) for n in a.budgets.split(",")
            for seed in range(a.seeds)]
    runs += [("grid", int(n), 0) for n in a.budgets.split(",")]
    for method, budget, seed in runs:
        t0 = time.perf_counter()
        res = simulator.optimize(sc, box, method=method, budget=budget, seed=seed,
                                 jobs=a.workers, progress=False)
        wall = time.perf_counter() - t0
        s, b = res.best[KEYS[0]], res.best[KEYS[1]]
        print(f"{method:10} {budget:6} {seed:4}  ({s:2},{b:3})   {exact_cost(s, b) / best:8.4f}"
              f"  {res.info['evaluations']:11}  {wall:7.1f}")


if __name__ == "__main__":
    main()
