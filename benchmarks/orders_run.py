"""Time `simulator.run` against a hand-written SimPy model of the multi-line-order benchmark.

    python benchmarks/orders_run.py [--repeat 5] [--scenario benchmarks/orders_bench.yaml]
                                    [--horizon DAYS] [--hand-only] [--no-warmup]

Same protocol as benchmarks/run.py: each round runs, in this order, one replication of our
simulator, the hand-written model drawing one numpy call per order ("hand scalar") and the
hand-written model drawing thousands of orders per numpy call ("hand batch"); the median over
the rounds is reported (wall and CPU time); an untimed warm-up round runs first.  Every timing
covers the whole call from the scenario path to the metrics tables, YAML parsing included.

Multi-line orders (``orders:``, ``warehouses:``, ``allocation:``; SPEC section 7) are issue 6
work: a simulator that does not have them yet rejects the scenario.  The script then says so,
prints the simulator's problems, and times the hand-written model alone.  ``--horizon DAYS``
runs a shorter copy of the scenario (warmup 10 % of it) for a quick try.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))           # for `import orders_handwritten`
sys.path.insert(0, str(HERE.parent))    # for `import simulator` when run from anywhere

import numpy as np
import orders_handwritten as hand
import pandas as pd
import simpy
import yaml

import simulator
from simulator.errors import UserError

DEFAULT_SCENARIO = HERE / "orders_bench.yaml"
SHOW = ["p001", "p002", "p003", "p004", "p100", "p200"]  # products for the agreement check
PRODUCT_COLS = ["demand_units", "fill_rate", "avg_on_hand", "avg_backorders", "orders_placed"]
CUSTOMER_COLS = ["orders", "lines", "order_fill_rate", "line_fill_rate"]


class Tables:
    """The tables the agreement check reads, from either side."""

    def __init__(self, metrics: pd.DataFrame, customers: pd.DataFrame | None) -> None:
        self.metrics, self.customers = metrics, customers


def run_ours(path: Path, seed: int) -> Tables:
    res = simulator.run(str(path), replications=1, seed=seed)
    return Tables(res.metrics, getattr(res, "customer_metrics", None))


def run_hand(path: Path, seed: int, batch: bool) -> Tables:
    res = hand.run(path, seed=seed, batch=batch)
    return Tables(res.metrics, res.customers)


def timed(fn: Callable[..., Tables], *args: Any) -> tuple[float, float, Tables]:
    """(wall seconds, CPU seconds of this process, result)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, time.process_time() - c0, out


def ours_supported(path: Path) -> bool:
    """Whether this simulator accepts the scenario; if not, say why (once, clearly)."""
    try:
        simulator.load(str(path))  # reads and validates, as simulator.run does first
    except UserError as exc:
        print("\nours: NOT RUN. This simulator rejects the scenario; multi-line customer orders")
        print("(`orders:`, `warehouses:`, `allocation:`, SPEC section 7, issue 6) are not in this")
        print("build yet. Timing the hand-written model alone. The simulator said:")
        for line in str(exc).splitlines()[:8]:
            print(f"    {line}")
        return False
    return True


def shorter_copy(path: Path, horizon: float, folder: str) -> Path:
    """A copy of the scenario with the given horizon and a warmup of 10 % of it."""
    with open(path) as fh:
        sc = yaml.safe_load(fh)
    sc["horizon"], sc["warmup"] = horizon, horizon / 10
    out = Path(folder) / path.name
    out.write_text(yaml.safe_dump(sc, sort_keys=False), encoding="utf-8")
    return out


def _row(df: pd.DataFrame, warehouse: str, product: str) -> pd.Series:
    return df[(df["warehouse"] == warehouse) & (df["product"] == product)].iloc[0]


def _totals(df: pd.DataFrame, warehouse: str) -> dict[str, float]:
    """Demand-weighted fill rate and sums over all products at one warehouse."""
    w = df[df["warehouse"] == warehouse]
    d = w["demand_units"].astype(float)
    return {"demand_units": float(d.sum()),
            "fill_rate": float((w["fill_rate"] * d).sum() / d.sum()),
            "avg_on_hand": float(w["avg_on_hand"].sum()),
            "avg_backorders": float(w["avg_backorders"].sum()),
            "orders_placed": float(w["orders_placed"].sum())}


def _line(label: str, values: list[float | None]) -> str:
    def fmt(v: float | None) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return f"{'n/a':>12}"
        return f"{v:12.0f}" if abs(v) >= 1000 or float(v).is_integer() else f"{v:12.4f}"
    return f"{label:34}" + "".join(fmt(v) for v in values)


def _customer_value(tables: Tables | None, customer: str, col: str) -> float | None:
    """One customer's metric, or None when that side has no customer table (yet)."""
    if tables is None or tables.customers is None:
        return None
    rows = tables.customers[tables.customers["customer"] == customer]
    return None if rows.empty or col not in rows else float(rows.iloc[0][col])


def agreement(ours: Tables | None, hand1: Tables, hand2: Tables, customer: str,
              warehouses: list[str]) -> None:
    """Print ours vs hand-written seed 1 vs seed 2 (the seed-to-seed spread of noise alone)."""
    print("\nAgreement (one replication each; different random streams, so the models agree")
    print("only within noise -- 'hand seed 2' shows the hand-written model's own spread):")
    print(f"{'':34}{'ours':>12}{'hand seed 1':>12}{'hand seed 2':>12}")
    tabs: list[Tables | None] = [ours, hand1, hand2]
    for col in CUSTOMER_COLS:
        print(_line(f"customer {col}", [_customer_value(t, customer, col) for t in tabs]))
    for w in warehouses:
        for col in PRODUCT_COLS:
            vals = [None if t is None else _totals(t.metrics, w)[col] for t in tabs]
            print(_line(f"{w} all products {col}", vals))
    for p in SHOW:
        for w, col in _per_product(warehouses):
            vals = [None if t is None else float(_row(t.metrics, w, p)[col]) for t in tabs]
            print(_line(f"{w} {p} {col}", vals))


def _per_product(warehouses: list[str]) -> list[tuple[str, str]]:
    """(warehouse, column) rows shown per product.

    Later warehouses only get the units they ship at once (split rule), so their fill rate is
    1 and their backorders 0 by construction; their demand and stock are what is informative.
    """
    first, *others = warehouses
    rows = [(first, c) for c in ("fill_rate", "avg_on_hand", "avg_backorders")]
    return rows + [(w, c) for w in others for c in ("demand_units", "avg_on_hand")]


def report(names: list[str], wall: dict[str, list[float]], cpu: dict[str, list[float]],
           events: int, lines: int) -> None:
    """Medians, events/s and ratios against the first program."""
    print(f"\nWorkload: {events:,} model events in the hand-written run (order arrivals + "
          f"replenishment deliveries\nover the whole horizon; {lines:,} order lines measured); "
          "used as the event count for all.")
    med = {n: statistics.median(wall[n]) for n in names}
    medc = {n: statistics.median(cpu[n]) for n in names}
    ref = names[0]
    print(f"{'':12} {'median wall s':>13} {'min wall s':>10} {'median CPU s':>12} "
          f"{'events/s':>10} {ref + '/this wall':>16} {ref + '/this CPU':>15}")
    for n in names:
        print(f"{n:12} {med[n]:13.2f} {min(wall[n]):10.2f} {medc[n]:12.2f} "
              f"{events / med[n]:10,.0f} {med[ref] / med[n]:16.2f} {medc[ref] / medc[n]:15.2f}")
    if "ours" in names:
        print(f"ratio ours/hand-written (median wall): {med['ours'] / med['hand scalar']:.2f}x "
              f"vs scalar draws, {med['ours'] / med['hand batch']:.2f}x vs batch draws "
              "(>1 = ours slower)")


def bench(path: Path, seed: int, repeat: int, no_warmup: bool, hand_only: bool) -> None:
    """The timed rounds, the table and the agreement check."""
    with_ours = not hand_only and ours_supported(path)
    programs: dict[str, Callable[[], Tables]] = {}
    if with_ours:
        programs["ours"] = lambda: run_ours(path, seed)
    programs["hand scalar"] = lambda: run_hand(path, seed, False)
    programs["hand batch"] = lambda: run_hand(path, seed, True)
    names = list(programs)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    results: dict[str, Tables] = {}
    for i in range(0 if no_warmup else -1, repeat):
        times = []
        for n in names:
            t, c, results[n] = timed(programs[n])
            times.append(f"{n} {t:6.2f} s")
            if i >= 0:
                wall[n].append(t)
                cpu[n].append(c)
        label = "warm-up (not counted)" if i < 0 else f"round {i + 1}"
        print(f"  {label:22} " + "   ".join(times) + "   (wall)", flush=True)
    params = hand.load(path)
    one = hand.run(params, seed=seed, batch=True)
    report(names, wall, cpu, one.events, one.lines)
    two = hand.run(params, seed=seed + 1, batch=True)
    agreement(results.get("ours"), results["hand batch"], Tables(two.metrics, two.customers),
              params["customer"], params["warehouses"])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="rounds (median reported); default 5")
    ap.add_argument("--scenario", default=str(DEFAULT_SCENARIO))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--horizon", type=float, default=None,
                    help="run a copy of the scenario with this horizon (warmup 10%% of it)")
    ap.add_argument("--hand-only", action="store_true", help="time the hand-written model only")
    ap.add_argument("--no-warmup", action="store_true",
                    help="count the first round too (by default an untimed warm-up round runs "
                         "first so one-time costs such as lazy imports are excluded)")
    args = ap.parse_args(argv)
    path = Path(args.scenario)
    print(f"Python {platform.python_version()} ({platform.machine()}), simpy {simpy.__version__}, "
          f"numpy {np.__version__}, scenario {path.name}, seed {args.seed}, {args.repeat} rounds")
    with tempfile.TemporaryDirectory() as folder:
        if args.horizon is not None:
            path = shorter_copy(path, args.horizon, folder)
            print(f"(a copy with horizon {args.horizon:g} days, warmup {args.horizon / 10:g})")
        bench(path, args.seed, args.repeat, args.no_warmup, args.hand_only)


if __name__ == "__main__":
    main()
