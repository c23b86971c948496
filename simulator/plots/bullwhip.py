"""The bullwhip plot of a run: how much the orders swing at each stage of a supply chain.

Two panels, stock points ordered downstream -> upstream (the stage serving customers first):

* **per stage**: the metric ``bullwhip`` of each stock point (variance of the units it ordered
  per day / variance of the units demanded from it per day), mean over the replications with
  its 95% t-interval (the run's ``summary``);
* **against customer demand** (serial chains only): the amplification of the customer demand's
  variance up to that stage, the product of the stage ratios from the customer-facing stage up
  to it, computed per replication, then its mean and 95% t-interval. Without order delays a
  stage's demand is exactly the orders of the stage below it, day by day, so the product is
  exactly var(orders of the stage) / var(customer demand); with an ``order_delay`` of d days
  the demand is those orders d days later (the same values, the window shifted by d days).

A stock point supplying two or more others (a divergent network) has no single path to the
customers: its amplification is left out (NaN), its stage ratio is still shown.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.plots.sweep import _figure, _save

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["AMPLIFICATION", "STAGE", "bullwhip_figure", "bullwhip_table", "stages",
           "write_bullwhip_plot"]

#: the metric names of the two panels in :func:`bullwhip_table`
STAGE = "bullwhip"
AMPLIFICATION = "amplification"

StockKey = tuple[str, str]


def _downstream(scenario: Any) -> dict[StockKey, list[StockKey]]:
    """The stock points each stock point supplies (warehouse-sourced inventory entries)."""
    below: dict[StockKey, list[StockKey]] = {
        (w.id, pid): [] for w in scenario.warehouses for pid in w.inventory}
    for w in scenario.warehouses:
        for pid, inv in w.inventory.items():
            if (inv.source, pid) in below:
                below[(inv.source, pid)].append((w.id, pid))
    return below


def stages(scenario: Any) -> list[StockKey]:
    """The stock points ``(warehouse, product)`` ordered downstream -> upstream: by echelon
    (0: supplies no other stock point; k: supplies one of echelon k - 1 at most), then in the
    scenario's order."""
    below = _downstream(scenario)
    depth: dict[StockKey, int] = {}

    def echelon(key: StockKey) -> int:
        if key not in depth:  # sources form a tree (validated), so this terminates
            depth[key] = 1 + max((echelon(k) for k in below[key]), default=-1)
        return depth[key]

    order = list(below)
    return sorted(order, key=lambda k: (echelon(k), order.index(k)))


def _amplification(metrics: pd.DataFrame, scenario: Any) -> pd.DataFrame:
    """Per replication and stock point, the product of the stage ratios from the
    customer-facing stage up to it (NaN where the path is not serial)."""
    below = _downstream(scenario)
    ratio = metrics.set_index(["replication", "warehouse", "product"])["bullwhip"]
    rows = metrics[["replication", "warehouse", "product"]].copy()
    values = []
    for rep, wh, pid in rows.itertuples(index=False):
        key: StockKey = (str(wh), str(pid))
        value = 1.0
        while True:
            value *= float(ratio.loc[(rep, key[0], key[1])])
            if not below[key]:
                break
            if len(below[key]) > 1:
                value = math.nan
                break
            key = below[key][0]
        values.append(value)
    rows[AMPLIFICATION] = values
    return rows


def bullwhip_table(results: Any) -> pd.DataFrame:
    """The bars of the plot: per stock point (ordered downstream -> upstream, column
    ``stage`` = 0, 1, ...) and metric (``bullwhip``: the stage ratio; ``amplification``:
    against customer demand), the mean over replications and the 95% t-interval
    (``n, mean, std, ci95_low, ci95_high``, as in ``summary.csv``; dimensionless)."""
    import pandas as pd

    from simulator.results import summarize_by

    metrics = results.metrics
    table = _amplification(metrics, results.scenario).assign(bullwhip=metrics["bullwhip"])
    ranges = {STAGE: (0.0, math.inf), AMPLIFICATION: (0.0, math.inf)}
    out = summarize_by(table, ["warehouse", "product"], (STAGE, AMPLIFICATION), ranges)
    rank = {key: i for i, key in enumerate(stages(results.scenario))}
    out["stage"] = [rank[(str(w), str(p))] for w, p in zip(out["warehouse"], out["product"],
                                                             strict=True)]
    out = out.sort_values(["metric", "stage"], kind="stable", ignore_index=True)
    return pd.DataFrame(out[["stage", "warehouse", "product", "metric", "n", "mean", "std",
                             "ci95_low", "ci95_high"]])


def _bars(ax: Any, part: pd.DataFrame, title: str, multi: bool) -> None:
    """One panel: bars of ``mean`` with their 95% intervals, a line at 1 (no amplification)."""
    labels = [f"{w}/{p}" if multi else str(w) for w, p in zip(part["warehouse"], part["product"],
                                                                strict=True)]
    mean = part["mean"].to_numpy(dtype=float)
    low = np.nan_to_num(mean - part["ci95_low"].to_numpy(dtype=float))
    high = np.nan_to_num(part["ci95_high"].to_numpy(dtype=float) - mean)
    x = np.arange(len(labels))
    ax.bar(x, mean, yerr=np.vstack([low, high]), capsize=4, color="tab:blue", alpha=0.8)
    ax.axhline(1.0, color="grey", linewidth=1, linestyle="--")
    ax.set_xticks(x, labels, rotation=30 if len(labels) > 4 else 0)
    ax.set_title(title)
    ax.set_xlabel("stage (downstream -> upstream)")


def bullwhip_figure(results: Any) -> Figure:
    """The bullwhip figure of a run's :class:`~simulator.results.Results`: the per-stage
    ratio, and (when at least one stock point has a serial path to the customers) the
    amplification against customer demand; bars are means over the replications with 95%
    t-intervals, ordered downstream -> upstream (:func:`bullwhip_table`)."""
    table = bullwhip_table(results)
    multi = table["product"].nunique() > 1
    stage = table[table["metric"] == STAGE]
    amp = table[(table["metric"] == AMPLIFICATION) & table["mean"].notna()]
    panels = [(stage, "var(orders) / var(demand at the stage)")]
    if not amp.empty:
        panels.append((amp, "var(orders) / var(customer demand)"))
    fig = _figure(width=5.0 * len(panels), height=4.0)
    for ax, (part, title) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels,
                                 strict=True):
        _bars(ax, part, title, multi)
    fig.axes[0].set_ylabel("variance ratio (mean, 95% interval)")
    n = int(stage["n"].max()) if len(stage) else 0
    fig.suptitle(f"Bullwhip: {getattr(results.scenario, 'name', '')} ({n} replications)")
    return fig


def write_bullwhip_plot(results: Any, folder: str | os.PathLike[str]) -> Path:
    """Write :func:`bullwhip_figure` as ``bullwhip.png`` into ``folder`` (created if missing);
    return its path."""
    return _save(bullwhip_figure(results), Path(folder), "bullwhip")
