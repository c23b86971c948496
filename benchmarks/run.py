"""Time `simulator.run` against a minimal hand-written SimPy model of the same scenario.

    python benchmarks/run.py [--repeat 5] [--profile] [--warnings] [--forecast METHOD]
                              [--scenario benchmarks/bench20.yaml]

Each round runs, in this order, one replication of: our simulator, the hand-written model
drawing one random number per numpy call ("scalar"), and the hand-written model drawing
each stream's gaps in one vectorised call ("batch").  Rounds alternate so that machine
noise hits all three alike; the median over the rounds is reported (wall and CPU time).
An untimed warm-up round runs first (lazy imports etc.; --no-warmup counts it).  Every timing covers
the whole call from the scenario path to the metrics table (YAML parsing included on both
sides).  See benchmarks/README.md for what is and is not comparable.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))           # for `import handwritten`
sys.path.insert(0, str(HERE.parent))    # for `import simulator` when run from anywhere

import handwritten
import numpy as np
import simpy

import simulator

DEFAULT_SCENARIO = HERE / "bench20.yaml"
SHOW = ["p01", "p04", "p09", "p12", "p21", "p24"]  # a few products for the agreement check


def run_ours(source, seed, record=False):
    return simulator.run(source, replications=1, seed=seed, record=record).metrics


def ours_source(path, warnings=False, forecast=None):
    """The scenario as our simulator runs it: the file, or (``--warnings``, ``--forecast``) a
    mapping read from it with the warning monitor on and/or every policy forecasting."""
    if not warnings and not forecast:
        return str(path)
    import yaml
    data = yaml.safe_load(Path(path).read_text())
    if warnings:
        data["warnings"] = {}
    if forecast:
        for w in data["warehouses"]:
            for inv in w["inventory"].values():
                inv["policy"]["forecast"] = {"method": forecast}
    return data


def run_hand(path, seed, batch):
    df, _ = handwritten.run(path, seed=seed, batch=batch)
    return df


def timed(fn, *args):
    """(wall seconds, CPU seconds of this process, result)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, time.process_time() - c0, out


def totals(df):
    """Demand-weighted fill rate and sums over all products."""
    d = df["demand_units"].astype(float)
    return {"fill_rate": float((df["fill_rate"] * d).sum() / d.sum()),
            "avg_on_hand": float(df["avg_on_hand"].sum()),
            "avg_backorders": float(df["avg_backorders"].sum()),
            "orders_placed": int(df["orders_placed"].sum()),
            "demand_units": int(d.sum())}


def agreement(ours, hand1, hand2):
    """Print ours vs hand-written (same seed number, different streams) and a noise reference."""
    cols = ["fill_rate", "avg_on_hand", "avg_backorders", "orders_placed"]
    o = ours.set_index("product")
    h1 = hand1.set_index("product")
    h2 = hand2.set_index("product")
    print("\nAgreement (one replication each; the models use different random streams, so they")
    print("agree only within noise -- 'hand seed 2' shows the hand-written model's own "
          "seed-to-seed spread):")
    print(f"{'product':8} {'metric':15} {'ours':>10} {'hand seed 1':>12} {'hand seed 2':>12}")
    for p in SHOW:
        for c in cols:
            fmt = "{:>10.0f}" if c == "orders_placed" else "{:>10.4f}"
            print(f"{p:8} {c:15} " + fmt.format(o.at[p, c]) + "  "
                  + fmt.format(h1.at[p, c]) + "   " + fmt.format(h2.at[p, c]))
    to, t1, t2 = totals(ours), totals(hand1), totals(hand2)
    for c in ["demand_units", "fill_rate", "avg_on_hand", "avg_backorders", "orders_placed"]:
        fmt = "{:>10.4f}" if isinstance(to[c], float) else "{:>10d}"
        print(f"{'ALL':8} {c:15} " + fmt.format(to[c]) + "  " + fmt.format(t1[c])
              + "   " + fmt.format(t2[c]))
    worst = (o["fill_rate"] - h1["fill_rate"]).abs().max()
    rel = ((o["avg_on_hand"] - h1["avg_on_hand"]) / h1["avg_on_hand"]).abs().max()
    print(f"max |fill_rate diff| over all 24 products: {worst:.4f}; "
          f"max relative avg_on_hand diff: {rel:.1%}")


def profile_ours(path, seed, record=False, top=25):
    pr = cProfile.Profile()
    pr.enable()
    run_ours(str(path) if isinstance(path, Path) else path, seed, record)
    pr.disable()
    buf = io.StringIO()
    pstats.Stats(pr, stream=buf).sort_stats("tottime").print_stats(top)
    print(f"\ncProfile of simulator.run (top {top} by tottime; profiling inflates times):")
    print(buf.getvalue())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="rounds (median reported); default 5")
    ap.add_argument("--scenario", default=str(DEFAULT_SCENARIO))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", action="store_true",
                    help="also cProfile one run of our simulator, print top 25 by tottime")
    ap.add_argument("--warnings", action="store_true",
                    help="run ours with the warning monitor on (warnings: {})")
    ap.add_argument("--forecast", metavar="METHOD",
                    help="run ours with every policy forecasting (forecast: {method: METHOD}): "
                         "s moves with the forecast; the hand-written model keeps its fixed s")
    ap.add_argument("--record", action="store_true",
                    help="run ours with the time-series recorder on (simulator run --record)")
    ap.add_argument("--no-warmup", action="store_true",
                    help="count the first round too (by default an untimed warm-up round runs "
                         "first so one-time costs such as lazy imports are excluded)")
    args = ap.parse_args(argv)
    path = Path(args.scenario)
    source = ours_source(path, args.warnings, args.forecast)

    print(f"Python {platform.python_version()} ({platform.machine()}), simpy {simpy.__version__}, "
          f"numpy {np.__version__}, scenario {path.name}, seed {args.seed}, {args.repeat} rounds")
    names = ["ours", "hand scalar", "hand batch"]
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    results = {}
    first = 0 if args.no_warmup else -1
    for i in range(first, args.repeat):
        t_o, c_o, results["ours"] = timed(run_ours, source, args.seed, args.record)
        t_s, c_s, results["hand scalar"] = timed(run_hand, path, args.seed, False)
        t_b, c_b, results["hand batch"] = timed(run_hand, path, args.seed, True)
        label = "warm-up (not counted)" if i < 0 else f"round {i + 1}"
        print(f"  {label:22} ours {t_o:6.2f} s   hand scalar {t_s:6.2f} s   "
              f"hand batch {t_b:6.2f} s   (wall)", flush=True)
        if i >= 0:
            for n, t, c in zip(names, (t_o, t_s, t_b), (c_o, c_s, c_b)):
                wall[n].append(t)
                cpu[n].append(c)

    _, events = handwritten.run(path, seed=args.seed, batch=True)
    print(f"\nWorkload: {events:,} model events in the hand-written run (customer arrivals + "
          "replenishment deliveries\nover the whole horizon); used as the event count for all "
          "three.")
    med = {n: statistics.median(wall[n]) for n in names}
    medc = {n: statistics.median(cpu[n]) for n in names}
    print(f"{'':12} {'median wall s':>13} {'min wall s':>10} {'median CPU s':>12} "
          f"{'events/s':>10} {'ours/this wall':>14} {'ours/this CPU':>13}")
    for n in names:
        print(f"{n:12} {med[n]:13.2f} {min(wall[n]):10.2f} {medc[n]:12.2f} "
              f"{events / med[n]:10,.0f} {med['ours'] / med[n]:14.2f} "
              f"{medc['ours'] / medc[n]:13.2f}")
    print(f"ratio ours/hand-written (median wall): {med['ours'] / med['hand scalar']:.2f}x vs "
          f"scalar draws, {med['ours'] / med['hand batch']:.2f}x vs batch draws "
          "(>1 = ours slower)")

    hand2, _ = handwritten.run(path, seed=args.seed + 1, batch=True)
    agreement(results["ours"], results["hand batch"], hand2)

    if args.profile:
        profile_ours(source, args.seed, args.record)


if __name__ == "__main__":
    main()
