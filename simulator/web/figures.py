"""The run plots the page shows, as PNG bytes (headless: Agg canvas, no pyplot).

The figures are the run plots of :mod:`simulator.plots.run` (``cost_figure``,
``fill_rate_figure``), the same as in ``simulator report``.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg

from simulator.plots import run as plots
from simulator.results import Results

#: plot name -> the function drawing it
NAMES: dict[str, Callable[[Results], Any]] = {"cost": plots.cost_figure,
                                              "fill_rate": plots.fill_rate_figure}


def png(results: Results, name: str) -> bytes:
    """Plot ``name`` (one of :data:`NAMES`) of ``results`` as PNG bytes.

    Raises
    ------
    KeyError
        For a name not in :data:`NAMES`.
    """
    fig = NAMES[name](results)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
