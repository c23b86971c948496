"""Plots of a sweep table, headless (matplotlib's Agg canvas; no display, no pyplot state).

The table has the shape of ``sweep.parquet`` (SPEC section 9): one column per swept key,
named by its dotted key, then ``replication, warehouse, product`` and the metric columns;
one row per point x replication x stock point. The swept keys are the columns before
``replication``.

* :func:`line_plots` - one swept key: each metric's mean against the key, with its 95%
  t-interval over replications as a band, one line per stock point (or the network total);
* :func:`heatmaps` - two swept keys: each metric's mean (network total) over the grid;
* :func:`pareto_plot` - cost against fill rate, one dot per point, the Pareto front (lowest
  total cost, highest fill rate) marked;
* :func:`plot_sweep` - whichever of these fit the table.

Every function takes the table and a folder (created if missing) and returns the paths of
the PNG files it wrote.

Network totals per point and replication: costs, units and averages of levels are summed
over the stock points; the fill rate is the demand-weighted mean
``sum(fill_rate * demand_units) / sum(demand_units)``. Other metrics (turnover, bullwhip,
forecast errors) have no total and are plotted per stock point only.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.stats import t_quantile

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["ID_COLUMNS", "TOTAL", "heatmaps", "line_plots", "pareto_front", "pareto_plot",
           "plot_sweep", "point_summary", "swept_keys", "totals"]

ID_COLUMNS = ("replication", "warehouse", "product")
#: the warehouse and product of network totals in :func:`point_summary`
TOTAL = "total"
#: metrics that add up over stock points
ADDITIVE = ("demand_units", "lost_units", "avg_on_hand", "avg_backorders", "orders_placed",
            "holding_cost", "ordering_cost", "backorder_cost", "lost_sale_cost", "total_cost")
DEFAULT_METRICS = ("fill_rate", "total_cost")


def swept_keys(table: pd.DataFrame) -> list[str]:
    """The swept keys: the columns before ``replication``.

    Raises
    ------
    ValueError
        If the table has no ``replication``, ``warehouse`` and ``product`` columns or no
        swept key.
    """
    cols = list(table.columns)
    missing = [c for c in ID_COLUMNS if c not in cols]
    if missing:
        raise ValueError(f"not a sweep table: no column {', '.join(missing)}")
    keys = cols[:cols.index("replication")]
    if not keys:
        raise ValueError("not a sweep table: no swept-key column before 'replication'")
    return keys


def totals(table: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """Network totals per point and replication (``warehouse`` = ``product`` = ``total``).

    Additive metrics are summed; ``fill_rate`` is weighted by ``demand_units`` (NaN when
    the point had no demand); other metrics are left out.
    """
    import pandas as pd

    by = [*keys, "replication"]
    g = table.groupby(by, sort=False, dropna=False)
    out = g[[m for m in metrics if m in ADDITIVE]].sum(min_count=1)
    if "fill_rate" in metrics:
        served = (table["fill_rate"] * table["demand_units"]).groupby(
            [table[k] for k in by], sort=False, dropna=False).sum(min_count=1)
        demand = g["demand_units"].sum(min_count=1)
        out["fill_rate"] = (served / demand.where(demand > 0)).to_numpy()
    out = out.reset_index()
    out.insert(len(by), "warehouse", TOTAL)
    out.insert(len(by) + 1, "product", TOTAL)
    return pd.DataFrame(out)


def point_summary(table: pd.DataFrame, metric: str, keys: Sequence[str] | None = None,
                  total: bool = False) -> pd.DataFrame:
    """Mean and 95% t-interval of ``metric`` over replications, per point and stock point.

    Returns
    -------
    pandas.DataFrame
        Columns ``*keys, warehouse, product, n, mean, ci95_low, ci95_high`` (the interval
        is ``mean ± t(0.975, n-1) · sd / sqrt(n)``, NaN for n < 2); with ``total`` one row
        per point for the network total (:func:`totals`).
    """
    keys = list(keys) if keys is not None else swept_keys(table)
    source = totals(table, keys, [metric]) if total else table
    g = source.groupby([*keys, "warehouse", "product"], sort=False, dropna=False)[metric]
    out = g.agg(n="count", mean="mean", std="std").reset_index()
    t = np.array([t_quantile(0.975, n - 1) if n > 1 else math.nan for n in out["n"]])
    half = t * out["std"].to_numpy() / np.sqrt(out["n"].to_numpy().clip(1))
    out["ci95_low"] = out["mean"] - half
    out["ci95_high"] = out["mean"] + half
    return out.drop(columns="std")


def pareto_front(cost: Sequence[float], fill: Sequence[float]) -> np.ndarray:
    """Which points are on the Pareto front of lowest cost and highest fill rate.

    A point is on the front when no other point has a cost as low and a fill rate as high
    with at least one of the two strictly better. Identical points are all on it; points
    with a NaN are not.

    Returns
    -------
    numpy.ndarray of bool
        One flag per point, in the order given.
    """
    c, f = np.asarray(cost, dtype=float), np.asarray(fill, dtype=float)
    on = np.zeros(len(c), dtype=bool)
    ok = np.flatnonzero(~(np.isnan(c) | np.isnan(f)))
    order = ok[np.lexsort((-f[ok], c[ok]))]  # cheapest first; among equal cost, best fill
    best_fill, best_cost = -math.inf, math.nan
    for i in order:
        if f[i] > best_fill or (f[i] == best_fill and c[i] == best_cost):
            on[i] = True
            best_fill, best_cost = f[i], c[i]
    return on


# -- drawing -------------------------------------------------------------------------------

def _figure(width: float = 7.0, height: float = 4.5) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^A-Za-z0-9_.=-]+", "_", name) + ".png")
    fig.savefig(path, dpi=100)
    return path


def _positions(values: pd.Series) -> tuple[np.ndarray, list[Any], bool]:
    """x positions of a key's values: the numbers themselves, else 0, 1, ... in order of
    first appearance (e.g. policy types)."""
    import pandas as pd

    uniq = list(dict.fromkeys(values))
    numeric = all(isinstance(v, (int, float, np.integer, np.floating))
                  and not isinstance(v, bool) for v in uniq)
    if numeric:
        return values.to_numpy(dtype=float), sorted(uniq), True
    index = {v: i for i, v in enumerate(uniq)}
    return pd.Series([index[v] for v in values]).to_numpy(dtype=float), uniq, False


def _has_total(metric: str) -> bool:
    return metric in ADDITIVE or metric == "fill_rate"


def line_plots(table: pd.DataFrame, folder: str | os.PathLike[str],
               metrics: Sequence[str] = DEFAULT_METRICS, total: bool = False) -> list[Path]:
    """One swept key: ``sweep_METRIC.png`` per metric, the mean against the key with its
    95% interval band, one line per stock point (``total``: the network total instead,
    where the metric has one, in ``sweep_METRIC_total.png``).

    Raises
    ------
    ValueError
        If the table does not have exactly one swept key, or lacks a metric.
    """
    keys = swept_keys(table)
    if len(keys) != 1:
        raise ValueError(f"a line plot needs one swept key, the table has {len(keys)}")
    key, paths = keys[0], []
    for metric in _check(table, metrics):
        s = point_summary(table, metric, keys, total=total and _has_total(metric))
        fig = _figure()
        ax = fig.add_subplot()
        for (wh, prod), part in s.groupby(["warehouse", "product"], sort=False):
            x, ticks, numeric = _positions(part[key])
            order = np.argsort(x, kind="stable")
            label = "network total" if wh == TOTAL else f"{wh}/{prod}"
            (line,) = ax.plot(x[order], part["mean"].to_numpy()[order], marker="o", label=label)
            ax.fill_between(x[order], part["ci95_low"].to_numpy()[order],
                            part["ci95_high"].to_numpy()[order], color=line.get_color(),
                            alpha=0.2, linewidth=0)
            if not numeric:
                ax.set_xticks(range(len(ticks)), [str(t) for t in ticks])
        ax.set_xlabel(key)
        ax.set_ylabel(metric)
        ax.set_title(f"{metric}: mean and 95% interval over replications")
        ax.legend(fontsize="small")
        tail = "_total" if total and _has_total(metric) else ""
        paths.append(_save(fig, Path(folder), f"sweep_{metric}{tail}"))
    return paths


def heatmaps(table: pd.DataFrame, folder: str | os.PathLike[str],
             metrics: Sequence[str] = DEFAULT_METRICS) -> list[Path]:
    """Two swept keys: ``heatmap_METRIC.png`` per metric, the mean of its network total
    over replications in each cell of the grid (metrics without a total: skipped).

    Raises
    ------
    ValueError
        If the table does not have exactly two swept keys, or lacks a metric.
    """
    keys = swept_keys(table)
    if len(keys) != 2:
        raise ValueError(f"a heatmap needs two swept keys, the table has {len(keys)}")
    paths = []
    for metric in [m for m in _check(table, metrics) if _has_total(m)]:
        s = point_summary(table, metric, keys, total=True)
        rows, cols = (list(dict.fromkeys(sorted(s[k], key=_sort_key))) for k in keys)
        grid = np.full((len(rows), len(cols)), np.nan)
        for a, b, m in zip(s[keys[0]], s[keys[1]], s["mean"], strict=True):
            grid[rows.index(a), cols.index(b)] = m
        fig = _figure(7.0, 5.0)
        ax = fig.add_subplot()
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(cols)), [f"{c:g}" if isinstance(c, float) else str(c)
                                         for c in cols])
        ax.set_yticks(range(len(rows)), [f"{r:g}" if isinstance(r, float) else str(r)
                                         for r in rows])
        ax.set_xlabel(keys[1])
        ax.set_ylabel(keys[0])
        ax.set_title(f"{metric}, network total (mean over replications)")
        fig.colorbar(im, ax=ax, label=metric)
        if grid.size <= 150:
            mid = np.nanmean(grid)
            for (i, j), v in np.ndenumerate(grid):
                if not math.isnan(v):
                    ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7,
                            color="white" if v < mid else "black")
        paths.append(_save(fig, Path(folder), f"heatmap_{metric}"))
    return paths


def pareto_points(table: pd.DataFrame) -> pd.DataFrame:
    """One row per point: the swept keys, the network ``total_cost`` and ``fill_rate``
    (means over replications) and ``pareto`` (on the front, :func:`pareto_front`)."""
    keys = swept_keys(table)
    _check(table, ["total_cost", "fill_rate"])
    cost = point_summary(table, "total_cost", keys, total=True)
    fill = point_summary(table, "fill_rate", keys, total=True)
    out = cost[keys].copy()
    out["total_cost"] = cost["mean"].to_numpy()
    out["fill_rate"] = fill["mean"].to_numpy()
    out["pareto"] = pareto_front(out["total_cost"].tolist(), out["fill_rate"].tolist())
    return out


def pareto_plot(table: pd.DataFrame, folder: str | os.PathLike[str]) -> list[Path]:
    """``pareto.png``: network total cost against fill rate, one dot per point, the Pareto
    front (lowest cost, highest fill rate) joined and labelled with its keys' values."""
    pts = pareto_points(table)
    keys = swept_keys(table)
    fig = _figure()
    ax = fig.add_subplot()
    ax.scatter(pts["fill_rate"], pts["total_cost"], s=18, color="0.6", label="points")
    front = pts[pts["pareto"]].sort_values("total_cost")
    ax.plot(front["fill_rate"], front["total_cost"], marker="o", color="tab:red",
            label="Pareto front")
    if len(front) <= 12:
        for _, row in front.iterrows():
            ax.annotate(", ".join(f"{k.rsplit('.', 1)[-1]}={row[k]}" for k in keys),
                        (row["fill_rate"], row["total_cost"]), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("fill rate (network, demand-weighted)")
    ax.set_ylabel("total cost (network)")
    ax.set_title("cost against fill rate (means over replications)")
    ax.legend(fontsize="small")
    return [_save(fig, Path(folder), "pareto")]


def plot_sweep(table: pd.DataFrame, folder: str | os.PathLike[str],
               metrics: Sequence[str] = DEFAULT_METRICS) -> list[Path]:
    """Every plot that fits the table: line plots (one swept key, per stock point and the
    network total) or heatmaps (two keys), and the cost/fill-rate Pareto plot when both
    metrics are in the table."""
    keys = swept_keys(table)
    metrics = [m for m in metrics if m in table.columns]
    paths: list[Path] = []
    if len(keys) == 1:
        paths += line_plots(table, folder, metrics)
        with_total = [m for m in metrics if _has_total(m)]
        if table[["warehouse", "product"]].drop_duplicates().shape[0] > 1 and with_total:
            paths += line_plots(table, folder, with_total, total=True)
    elif len(keys) == 2:
        paths += heatmaps(table, folder, metrics)
    if {"total_cost", "fill_rate", "demand_units"} <= set(table.columns):
        paths += pareto_plot(table, folder)
    return paths


def _check(table: pd.DataFrame, metrics: Sequence[str]) -> list[str]:
    missing = [m for m in metrics if m not in table.columns]
    if missing:
        raise ValueError(f"the sweep table has no column {', '.join(missing)}")
    return list(metrics)


def _sort_key(v: Any) -> tuple[int, Any]:
    """Numbers in numeric order, then anything else by its text."""
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return (0, float(v))
    return (1, str(v))
