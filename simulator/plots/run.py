"""Plots of one run, headless (matplotlib's Agg canvas; no display, no pyplot state).

* :func:`stock_figure` - a stock point's recorded time series (``--record``): on hand,
  inventory position and backorders over time (steps), replenishment orders and receipts
  marked, warnings as vertical lines, the end of the warm-up shaded;
* :func:`cost_figure` - the cost breakdown per stock point (mean per replication, stacked:
  holding, ordering, backorder, lost sales), and customers' shipping costs if any;
* :func:`fill_rate_figure` - fill rate per stock point and line / order fill rate per
  customer, mean with its 95% t-interval over replications (from the summaries);
* :func:`write_run_plots` - all of these for a results folder, as ``plots/*.png``.

The figure functions return a :class:`matplotlib.figure.Figure` (for the web app, the report
and tests); nothing is imported from matplotlib until one is called.
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.plots.sweep import _figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["COSTS", "MAX_STOCK_PLOTS", "cost_figure", "fill_rate_figure", "save_png",
           "stock_choice", "stock_figure", "write_run_plots"]

#: the cost metrics stacked in :func:`cost_figure`, bottom to top
COSTS = ("holding_cost", "ordering_cost", "backorder_cost", "lost_sale_cost")
#: stock plots drawn by :func:`write_run_plots` at most (the first stock points recorded)
MAX_STOCK_PLOTS = 24


def stock_figure(series: pd.DataFrame, warehouse: str, product: str, replication: int = 0,
                 warnings: pd.DataFrame | None = None, warmup: float = 0.0) -> Figure:
    """On hand, inventory position and backorders (units) against time (days) for one stock
    point and replication, with its orders (▲ on the inventory position), receipts (▼ on
    on hand) and warnings (vertical lines) marked.

    Parameters
    ----------
    series : pandas.DataFrame
        :attr:`simulator.Results.series` (``timeseries.parquet``).
    warehouse, product : str
        The stock point.
    replication : int
        A recorded replication.
    warnings : pandas.DataFrame, optional
        :attr:`simulator.Results.warnings`; those of this stock point and replication are
        drawn.
    warmup : float
        The warm-up (days), shaded when > 0.

    Raises
    ------
    ValueError
        If nothing was recorded for that stock point and replication.
    """
    mine = series[(series["warehouse"] == warehouse) & (series["product"] == product)
                  & (series["replication"] == replication)]
    level = mine[mine["kind"] == "level"]
    if level.empty:
        raise ValueError(f"no time series recorded for {warehouse}/{product} in replication "
                         f"{replication}")
    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    t = level["time"].to_numpy(dtype=float)
    for col, label, color in (("on_hand", "on hand", "tab:blue"),
                              ("inventory_position", "inventory position", "tab:green"),
                              ("backorders", "backorders", "tab:red")):
        ax.step(t, level[col].to_numpy(dtype=float), where="post", label=label, color=color,
                linewidth=1.0)
    orders, receipts = mine[mine["kind"] == "order"], mine[mine["kind"] == "receipt"]
    if not orders.empty:
        ax.scatter(orders["time"], orders["inventory_position"], marker="^", s=18,
                   color="tab:green", zorder=3, label=f"orders ({len(orders)})")
    if not receipts.empty:
        ax.scatter(receipts["time"], receipts["on_hand"], marker="v", s=18,
                   color="tab:blue", zorder=3, label=f"receipts ({len(receipts)})")
    _mark_warnings(ax, warnings, warehouse, product, replication)
    if warmup > 0:
        ax.axvspan(0.0, warmup, color="0.9", zorder=0, label="warm-up")
    ax.set_xlabel("time (days)")
    ax.set_ylabel("units")
    ax.set_title(f"{warehouse}/{product}, replication {replication}")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def _mark_warnings(ax: Any, warnings: pd.DataFrame | None, warehouse: str, product: str,
                   replication: int) -> None:
    """Warnings of the stock point as dotted vertical lines (one legend entry)."""
    if warnings is None or warnings.empty:
        return
    w = warnings[(warnings["warehouse"].astype(str) == warehouse)
                 & (warnings["product"].astype(str) == product)
                 & (warnings["replication"] == replication)]
    times = w["time"].dropna().to_numpy(dtype=float)
    for i, x in enumerate(times):
        ax.axvline(x, color="tab:orange", linestyle=":", linewidth=1.0,
                   label=f"warnings ({len(times)})" if i == 0 else None)



def cost_figure(results: Any) -> Figure:
    """Mean cost per replication of each stock point, stacked by kind (:data:`COSTS`), and
    each customer's shipping cost when there is any (``results``: a :class:`simulator.Results`).
    """
    m = results.metrics
    means = m.groupby(["warehouse", "product"], sort=False)[list(COSTS)].mean()
    labels = [f"{w}/{p}" for w, p in means.index]
    shipping = _shipping(results.customer_metrics)
    fig = _figure(8.0, max(3.0, 0.35 * (len(labels) + len(shipping)) + 1.5))
    ax = fig.add_subplot()
    y = np.arange(len(labels))
    left = np.zeros(len(labels))
    for cost in COSTS:
        v = means[cost].to_numpy(dtype=float)
        ax.barh(y, v, left=left, label=cost.replace("_", " "))
        left += np.nan_to_num(v)
    if shipping:
        ys = np.arange(len(labels), len(labels) + len(shipping))
        ax.barh(ys, list(shipping.values()), label="shipping cost (customers)")
        labels += [f"customer {c}" for c in shipping]
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("cost per replication (mean over replications)")
    ax.set_title("cost breakdown")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def _shipping(customers: pd.DataFrame) -> dict[str, float]:
    """Mean shipping cost per replication of each customer that had any."""
    if customers is None or customers.empty or "shipping_cost" not in customers:
        return {}
    means = customers.groupby("customer", sort=False)["shipping_cost"].mean()
    return {str(c): float(v) for c, v in means.items() if v > 0}


def fill_rate_figure(results: Any) -> Figure:
    """Fill rate per stock point and line / order fill rate per customer: mean and 95%
    t-interval over replications (the summaries' ``ci95_low``/``ci95_high``)."""
    rows = _intervals(results.summary, ["warehouse", "product"], ("fill_rate",))
    rows += _intervals(results.customer_summary, ["customer"],
                       ("line_fill_rate", "order_fill_rate"))
    fig = _figure(8.0, max(3.0, 0.35 * len(rows) + 1.5))
    ax = fig.add_subplot()
    for i, (label, mean, low, high) in enumerate(rows):
        err = [[mean - low], [high - mean]] if low == low and high == high else None
        ax.errorbar([mean], [i], xerr=err, fmt="o", capsize=3,
                    color="tab:blue" if label.startswith("stock") else "tab:purple")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(min([0.9, *[v for r in rows for v in r[1:3] if v == v]]) - 0.02, 1.01)
    ax.set_xlabel("fill rate (mean and 95% interval over replications)")
    ax.set_title("fill rates")
    return fig


def _intervals(summary: pd.DataFrame, keys: list[str], metrics: tuple[str, ...],
               ) -> list[tuple[str, float, float, float]]:
    """``(label, mean, ci95_low, ci95_high)`` of each key and metric (NaN means left out)."""
    out = []
    s = summary[summary["metric"].isin(metrics)]
    for _, row in s.iterrows():
        if row["mean"] != row["mean"]:
            continue
        who = "stock " + "/".join(str(row[k]) for k in keys) if keys[0] == "warehouse" \
            else f"customer {row['customer']}"
        label = who if row["metric"] == "fill_rate" else f"{who} ({row['metric']})"
        out.append((label, float(row["mean"]), float(row["ci95_low"]),
                    float(row["ci95_high"])))
    return out


def save_png(fig: Figure, folder: Path, name: str) -> Path:
    """Write ``fig`` as ``folder/NAME.png`` (a safe file name) atomically: to a hidden temporary
    file first, renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^A-Za-z0-9_.=-]+", "_", name) + ".png")
    tmp = folder / f".{path.name}.tmp-{os.getpid()}"
    try:
        fig.savefig(tmp, dpi=100, format="png")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def stock_choice(res: Any, stock: Sequence[str] | None = None,
                 replication: int | None = None) -> tuple[int, float, list[tuple[str, str]]]:
    """Which recorded stock points to draw: ``(replication, warmup, [(warehouse, product)])``.

    ``stock``: ``"WAREHOUSE/PRODUCT"`` names (default: the first :data:`MAX_STOCK_PLOTS`
    recorded); ``replication``: a recorded replication (default: the first).

    Raises
    ------
    UserError
        ``<arguments>: stock`` or ``replication`` naming one that was not recorded (the
        message lists those that were).
    """
    from simulator.errors import Problem, UserError

    series = res.series
    reps = sorted(int(r) for r in series["replication"].unique())
    rep = reps[0] if replication is None else replication
    if rep not in reps:
        raise UserError([Problem("<arguments>", None, "replication",
                                 f"{replication!r} was not recorded; recorded: "
                                 f"{', '.join(map(str, reps[:20]))}"
                                 " (simulator run --record-all records every one)")])
    warmup = float(res.scenario.get("warmup", 0.0) or 0.0) if isinstance(res.scenario, dict) \
        else float(getattr(res.scenario, "warmup", 0.0) or 0.0)
    points = series.loc[series["replication"] == rep, ["warehouse", "product"]]
    keys = list(dict.fromkeys(zip(points["warehouse"], points["product"], strict=True)))
    if not stock:
        return rep, warmup, keys[:MAX_STOCK_PLOTS]
    known = {f"{w}/{p}": (w, p) for w, p in keys}
    bad = [name for name in stock if name not in known]
    if bad:
        listed = ", ".join(list(known)[:20]) + (", ..." if len(known) > 20 else "")
        raise UserError([Problem("<arguments>", None, "stock",
                                 f"{bad[0]!r} was not recorded (WAREHOUSE/PRODUCT); recorded: "
                                 f"{listed}")])
    return rep, warmup, [known[name] for name in dict.fromkeys(stock)]


def write_run_plots(folder: str | os.PathLike[str], results: Any = None,
                    stock: Sequence[str] | None = None,
                    replication: int | None = None) -> list[Path]:
    """Draw ``plots/cost.png``, ``plots/fill_rate.png`` and, if the run recorded time series,
    ``plots/stock_WAREHOUSE_PRODUCT_rREP.png`` for the stock points and replication chosen
    by :func:`stock_choice` (default: the first recorded replication, at most
    :data:`MAX_STOCK_PLOTS` stock points) in the results folder ``folder``.

    ``results`` is the folder's :class:`simulator.Results` if already loaded.
    """
    from simulator.results import Results

    res = Results.load(folder) if results is None else results
    out = Path(folder) / "plots"
    series = res.series
    if series is None or series.empty:
        return [save_png(cost_figure(res), out, "cost"),
                save_png(fill_rate_figure(res), out, "fill_rate")]
    rep, warmup, keys = stock_choice(res, stock, replication)  # bad names: before drawing
    paths = [save_png(cost_figure(res), out, "cost"),
             save_png(fill_rate_figure(res), out, "fill_rate")]
    for wh, prod in keys:
        fig = stock_figure(series, wh, prod, rep, res.warnings, warmup)
        paths.append(save_png(fig, out, f"stock_{wh}_{prod}_r{rep}"))
    return paths
