"""Solve time of the ``lp`` policy's MILP per review, for 10, 100 and 1,000 products.

Each review is a random warehouse plan (policies/lp_model.py): products with random demand
rates, positions, costs, case packs and minimum orders, one supplier with a major ordering
cost per purchase order and a capacity, a warehouse capacity in volume and a budget, all
binding at times; with whole units (no case packs) and with case packs and minimum orders.
Prints the median and 95th percentile of the solve time (s) and how the
solves ended (CPU time too: the machine may be shared); what the default gap costs: the plan's
cost at ``mip_rel_gap`` 0.01 and 0.001 on instances that finish; and how far the heuristic
plan is from the optimum on small plans.

    python benchmarks/lp_solve.py [--reviews 10] [--horizon 8] [--time-limit 2]
"""
from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter
from dataclasses import replace

from policies.lp_model import Item, Problem, Source, solve


def instance(n: int, horizon: int, seed: int, time_limit: float, gap: float,
             packs: bool = True) -> Problem:
    """A random plan of ``n`` products over ``horizon`` periods of 2 days, lead time 3 days."""
    rnd = random.Random(seed)
    items = []
    for i in range(n):
        rate = rnd.uniform(1, 20)        # units per day
        period, lead = 2.0, 3.0
        multiple = rnd.choice([1.0, 5.0, 10.0])
        if not packs:
            multiple = 1.0
        per = round(rate * period)      # the policy plans whole units
        items.append(Item(
            product=f"p{i}", position=float(round(rnd.uniform(-0.2, 1.5) * rate * (lead + period))),
            lead_demand=float(round(rate * lead)), demand=(per,) * horizon,
            before=tuple(float(per * t) for t in range(horizon)),
            holding=rnd.uniform(0.01, 0.3) * period, backorder=rnd.uniform(1, 5) * period,
            minor=rnd.uniform(2, 20), unit_cost=rnd.uniform(1, 50),
            volume=rnd.uniform(0.2, 3),
            min_order=multiple * rnd.choice([0, 1, 2]) if packs else 0.0,
            multiple=multiple, supplier="s"))
    demand = sum(it.demand[0] for it in items)
    space = sum(it.volume * max(it.position, it.lead_demand + 3 * it.demand[0]) for it in items)
    money = sum(it.unit_cost * it.demand[0] for it in items)
    return Problem(items=tuple(items), periods=horizon,
                   sources={"s": Source(major=100.0, capacity=1.5 * demand)},
                   capacity=1.2 * space, occupied=0.0, budget=1.3 * money,
                   time_limit=time_limit, mip_rel_gap=gap)


def times(n: int, reviews: int, horizon: int, time_limit: float, packs: bool) -> None:
    """Wall and CPU seconds per review (the machine may be shared: CPU time is the steadier
    measure), how the solves ended, the proven gap."""
    seconds, cpu, ends, gaps = [], [], Counter(), []
    for k in range(reviews):
        pb = instance(n, horizon, 1000 * n + k, time_limit, 0.01, packs)
        start = time.process_time()
        plan = solve(pb)
        cpu.append(time.process_time() - start)
        seconds.append(plan.seconds)
        if plan.orders is not None:
            gaps.append(plan.gap)
        end = plan.status if plan.orders is not None else f"{plan.status} (no plan)"
        ends[end + (" (heuristic)" if "heuristic" in plan.message else "")] += 1
    seconds.sort()
    p95 = seconds[min(len(seconds) - 1, round(0.95 * (len(seconds) - 1)))]
    print(f"{n:>5} products: median {statistics.median(seconds):.3f} s, p95 {p95:.3f} s, "
          f"max {seconds[-1]:.3f} s (CPU median {statistics.median(cpu):.3f} s) over "
          f"{reviews} reviews; {dict(ends)}; proven gap at the end: median "
          f"{100 * statistics.median(gaps) if gaps else float('nan'):.2f}%", flush=True)


def gap_cost(n: int, reviews: int, horizon: int, packs: bool, limit: float) -> None:
    extra = []
    for k in range(reviews):
        pb = instance(n, horizon, 7 * n + k, limit, 0.01, packs)
        loose, tight = solve(pb), solve(replace(pb, mip_rel_gap=0.001))
        if loose.status == tight.status == "optimal":
            extra.append((loose.cost - tight.cost) / tight.cost)
            print(f"  {n} products, review {k}: cost {loose.cost:.1f} at gap 1% "
                  f"({loose.seconds:.2f} s), {tight.cost:.1f} at 0.1% ({tight.seconds:.2f} s)",
                  flush=True)
    if extra:
        print(f"  gap 1% costs {100 * statistics.mean(extra):.3f}% more on average "
              f"(max {100 * max(extra):.3f}%)")


def heuristic_quality(instances: int) -> None:
    """The heuristic plan (policies/lp_heuristic.py, with the LP relaxation, and with own
    cycles only) against the MILP optimum on plans of 5 products x 5 periods (the source of
    tests/test_lp.py's HEURISTIC_WORST)."""
    from policies.lp_heuristic import best
    from policies.lp_model import _orders, _relaxation, build
    extra: dict[str, list[float]] = {"with the relaxation": [], "own cycles only": []}
    for packs in (False, True):
        for seed in range(instances):
            pb = instance(5, 5, seed, 60.0, 0.0, packs)
            optimum = solve(pb)
            if optimum.status != "optimal":
                continue
            cost, cons, _, bounds, v, _ = build(pb)
            relaxed = _relaxation(cost, cons, bounds, 60.0)
            with_lp = best(pb, None if relaxed is None else _orders(pb, v, relaxed.x, False))
            extra["with the relaxation"].append(with_lp[1] / optimum.cost - 1)
            extra["own cycles only"].append(best(pb)[1] / optimum.cost - 1)
    for name, values in extra.items():
        print(f"  heuristic plan, {name}: {100 * statistics.mean(values):.1f}% above the "
              f"optimum on average, at most {100 * max(values):.1f}% ({len(values)} plans)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reviews", type=int, default=10)
    ap.add_argument("--horizon", type=int, default=8)
    ap.add_argument("--time-limit", type=float, default=2.0)
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--gap-reviews", type=int, default=3,
                    help="instances for what the default gap costs (0: skip)")
    ap.add_argument("--gap-limit", type=float, default=120.0,
                    help="time limit (s) of those solves")
    ap.add_argument("--quality", type=int, default=8,
                    help="instances per kind for the heuristic's quality (0: skip)")
    args = ap.parse_args()
    if args.quality > 0:
        print("the heuristic plan against the optimum (5 products x 5 periods):")
        heuristic_quality(args.quality)
    for packs in (False, True):
        print("with case packs and minimum orders:" if packs else "whole units:")
        for n in (int(s) for s in args.sizes.split(",") if s):
            times(n, args.reviews, args.horizon, args.time_limit, packs)
        if args.gap_reviews > 0:
            print(f"what the default gap costs (0.01 against 0.001, time limit "
                  f"{args.gap_limit:g} s):")
            gap_cost(10, args.gap_reviews, args.horizon, packs, args.gap_limit)


if __name__ == "__main__":
    main()
