"""Measure what each forecaster costs: ``python -m simulator.forecast.bench``.

For every method: the time of one ``update`` followed by one ``predict(1)`` (microseconds,
the median of 5 repeats over ``--updates`` periods, after a ``fit`` on a year of daily demand
with the smoothing constants given), and the time of the ``fit`` itself with the constants
left to estimate (milliseconds, median of 3 after one untimed fit that pays for importing
the libraries). Optional methods whose library is missing are skipped.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Sequence
from typing import Any

from simulator.forecast import METHODS, MissingDependency, make

#: constants given for the update timing (so that no estimation runs)
GIVEN: dict[str, dict[str, Any]] = {"ses": {"alpha": 0.2}, "holt": {"alpha": 0.2, "beta": 0.1},
         "holt_winters": {"alpha": 0.2, "beta": 0.1, "gamma": 0.1},
         "croston": {"alpha": 0.1}, "sba": {"alpha": 0.1}, "tsb": {"alpha": 0.1, "beta": 0.1},
         "arima": {"order": [1, 1, 1], "refit_every": 0},
         "regression": {"refit_every": 0}, "random_forest": {"refit_every": 0}}


def demand(days: int, seed: int = 1) -> list[float]:
    """Daily demand (units) with a weekly season and noise, zero on one day in five."""
    rng = random.Random(seed)
    week = (1.0, 1.1, 1.2, 0.9, 0.8, 1.4, 1.6)
    return [0.0 if rng.random() < 0.2 else max(0.0, rng.gauss(20 * week[t % 7], 4))
            for t in range(days)]


def update_cost(method: str, history: Sequence[float], future: Sequence[float]) -> float:
    """Median time (microseconds) of one update plus one predict(1)."""
    runs = []
    for _ in range(5):
        f = make({"method": method, **GIVEN.get(method, {})})
        f.fit(history)
        start = time.perf_counter()
        for y in future:
            f.update(y)
            f.predict(1)
        runs.append((time.perf_counter() - start) / len(future) * 1e6)
    return statistics.median(runs)


def fit_cost(method: str, history: Sequence[float]) -> float:
    """Median time (milliseconds) of 3 ``fit`` with every parameter that can be estimated
    left out, after one untimed fit (which pays for importing the libraries)."""
    make({"method": method}).fit(history)
    runs = []
    for _ in range(3):
        f = make({"method": method})
        start = time.perf_counter()
        f.fit(history)
        runs.append((time.perf_counter() - start) * 1e3)
    return statistics.median(runs)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000, help="periods timed per repeat")
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    args = parser.parse_args(argv)
    history = demand(365)
    future = demand(args.updates, seed=2)
    print(f"{'method':<26}{'us/update':>12}{'fit ms':>10}")
    for method in args.methods:
        try:
            upd = update_cost(method, history, future)
            fit = fit_cost(method, history)
        except MissingDependency as exc:
            print(f"{method:<26}  skipped: {exc}")
            continue
        print(f"{method:<26}{upd:>12.2f}{fit:>10.1f}")


if __name__ == "__main__":
    main()
