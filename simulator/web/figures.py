"""The run plots the page shows, as PNG bytes (headless: Agg canvas, no pyplot).

The figures come from :mod:`simulator.plots.run` (``cost_figure``, ``fill_rate_figure``);
where that module is not there, a minimal bar chart of the metric's mean per stock point
stands in (to be removed once the run plots are merged).
"""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from simulator.results import Results

#: plot name -> the metric its stand-in shows
NAMES = {"cost": "total_cost", "fill_rate": "fill_rate"}


def _bars(results: Results, metric: str) -> Figure:
    """Mean of ``metric`` per warehouse and product, with its 95% interval."""
    s = results.summary[results.summary["metric"] == metric]
    labels = [f"{w}/{p}" for w, p in zip(s["warehouse"], s["product"], strict=True)]
    fig = Figure(figsize=(6.0, 3.2), dpi=100)
    ax = fig.add_subplot()
    low = (s["mean"] - s["ci95_low"]).fillna(0).clip(lower=0)
    high = (s["ci95_high"] - s["mean"]).fillna(0).clip(lower=0)
    ax.bar(labels, s["mean"], yerr=[low, high], color="#4878a8", capsize=3)
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(f"{results.scenario.name}: {metric.replace('_', ' ')} (mean, 95% CI)")
    ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    return fig


def _maker(name: str) -> Callable[[Results], Any]:
    """The figure function for plot ``name``: the run plots' own, else the stand-in."""
    try:
        from simulator.plots import run as plots  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        metric = NAMES[name]
        return lambda results: _bars(results, metric)
    return {"cost": plots.cost_figure, "fill_rate": plots.fill_rate_figure}[name]


def png(results: Results, name: str) -> bytes:
    """Plot ``name`` (one of :data:`NAMES`) of ``results`` as PNG bytes.

    Raises
    ------
    KeyError
        For a name not in :data:`NAMES`.
    """
    if name not in NAMES:
        raise KeyError(name)
    fig = _maker(name)(results)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
