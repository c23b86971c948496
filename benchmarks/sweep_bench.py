"""Cost of ``simulator sweep`` against the same runs of a hand-written SimPy model.

Issue 8, item 1: a 40-point sweep of a one-product, five-year scenario with 2 replications
each should cost within 1.3x of the same 80 runs of benchmarks/handwritten.py, start-up
included. Both are timed as fresh processes (wall clock, best of ``--repeat``):

* ``simulator sweep SCENARIO --workers 1 --quiet`` (validation, 40 derived scenarios,
  80 replications, part files, sweep.parquet and points.csv);
* ``python -c`` importing benchmarks/handwritten.py and calling its ``run`` 80 times with
  the 40 reorder points.

Usage::

    python benchmarks/sweep_bench.py [--rate 20] [--repeat 3]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
POINTS = list(range(40, 120, 2))  # 40 reorder points


def scenario(rate: float) -> str:
    values = ", ".join(str(s) for s in POINTS)
    return textwrap.dedent(f"""\
        name: sweep_bench
        horizon: 1825
        warmup: 0
        replications: 2
        seed: 1
        products: [{{id: w, holding_cost: 0.05, ordering_cost: 20, backorder_cost: 0.5}}]
        suppliers: [{{id: a, lead_time: 3}}]
        warehouses:
          - id: dc
            inventory: {{w: {{source: a, policy: {{type: sS, s: 70, S: 150}}}}}}
        customers: [{{id: c, warehouse: dc, demand: {{w: {{rate: {rate}}}}}}}]
        sweep: {{warehouses.dc.inventory.w.policy.s: [{values}]}}
        """)


HANDWRITTEN = """\
import sys
sys.path.insert(0, {here!r})
import handwritten
params = handwritten.load({path!r})
for s in {points!r}:
    params["products"][0]["s"] = s
    for r in range(2):
        handwritten.run(params, seed=r)
"""


def _time(cmd: list[str], repeat: int, cleanup: Path | None = None) -> float:
    best = float("inf")
    for _ in range(repeat):
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=20.0, help="orders per day (default 20)")
    ap.add_argument("--repeat", type=int, default=3, help="timings; the best is kept")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "sweep_bench.yaml")
        path.write_text(scenario(args.rate))
        out = Path(tmp, "out")
        sweep = _time([sys.executable, "-m", "simulator", "sweep", str(path), "--out",
                       str(out), "--workers", "1", "--quiet"], args.repeat, out)
        code = HANDWRITTEN.format(here=str(HERE), path=str(path), points=POINTS)
        hand = _time([sys.executable, "-c", code], args.repeat)
    print(f"40 points x 2 replications, 5 years, {args.rate:g} orders/day, one process each:")
    print(f"  simulator sweep:       {sweep:7.2f} s")
    print(f"  hand-written SimPy:    {hand:7.2f} s")
    print(f"  ratio:                 {sweep / hand:7.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()
