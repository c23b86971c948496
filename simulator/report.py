"""``report.html``: one self-contained page for a results folder (``simulator report``).

The page opens offline: the plots are PNG images inside it (``data:`` URIs), the style is
inline, and there is no script, font or link to anything outside the file. It shows whatever
the folder holds:

* a run (``metrics.csv``, ``summary.csv``, ...): the KPI tables with their 95% intervals
  (stock points, customers, suppliers), the cost and fill-rate plots, the recorded time series
  (``timeseries.parquet``, from ``--record``) of the first recorded replication, the warnings
  (counts per kind and the first rows);
* a sweep (``sweep.parquet``, ``points.csv``): the sweep's plots (:mod:`simulator.plots.sweep`)
  and its points;
* an optimisation (``trace.csv``): the mean cost of each candidate with its interval and the
  best so far, and the best candidate's row;
* always, when present: the scenario (``scenario.yaml``) and the provenance (``run.json``).

The file is written next to its final name and renamed into place, so an existing
``report.html`` is replaced whole or not at all.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.errors import Problem, UserError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: rows of a long table shown (warnings, points, trace); the files hold them all
MAX_ROWS = 50
#: bytes of scenario.yaml / run.json shown at most
MAX_TEXT = 200_000

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em;
color:#222;max-width:1100px}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
img{max-width:100%;display:block;margin:.8em 0;border:1px solid #eee}
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:.85em}
.note{color:#666;font-size:.9em}
"""


def _bad(folder: Path, message: str) -> UserError:
    """The folder cannot be reported: ``<arguments>: folder: FOLDER: message``."""
    return UserError([Problem("<arguments>", None, "folder", f"{folder}: {message}")])


def write_report(folder: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
                 stock: Sequence[str] | None = None, replication: int | None = None) -> Path:
    """Write the report of the results folder ``folder`` to ``out`` (default
    ``FOLDER/report.html``) and return its path.

    ``stock`` (``"WAREHOUSE/PRODUCT"`` names) and ``replication`` choose the recorded time
    series drawn (default: the first recorded replication, its first 24 stock points).

    Raises
    ------
    UserError
        If ``folder`` is not a results folder of a run, sweep or optimisation, or the report
        cannot be written.
    """
    src = Path(folder)
    target = Path(out) if out is not None else src / "report.html"
    if target.is_dir():
        raise UserError([Problem("<arguments>", None, "out", f"{target}: is a folder")])
    if not src.is_dir():
        raise _bad(src, "no such folder" if not src.exists() else "not a folder")
    sections = _sections(src, stock, replication)
    if not sections:
        raise _bad(src, "not a results folder: no metrics.csv, sweep.parquet or trace.csv")
    title = _title(src)
    page = _page(title, sections + _provenance(src))
    _write_atomic(target, page)
    return target


def _sections(src: Path, stock: Sequence[str] | None = None,
              replication: int | None = None) -> list[str]:
    parts: list[str] = []
    if (src / "metrics.csv").is_file():
        parts += _run_sections(src, stock, replication)
    if (src / "sweep.parquet").is_file():
        parts += _sweep_sections(src)
    if (src / "trace.csv").is_file():
        parts += _optimize_sections(src)
    return parts


def _title(src: Path) -> str:
    info = _json(src / "run.json")
    name = info.get("scenario_name") if isinstance(info, dict) else None
    return f"{name or src.name}: simulation report"


# -- run -----------------------------------------------------------------------------------

def _run_sections(src: Path, stock: Sequence[str] | None,
                  replication: int | None) -> list[str]:
    from simulator.plots.run import cost_figure, fill_rate_figure
    from simulator.results import Results

    res = Results.load(src)
    reps = len(res.metrics["replication"].unique()) if not res.metrics.empty else 0
    parts = [f"<h2>Key figures</h2><p class=note>{reps} replication{'s' * (reps != 1)}; "
             "mean and 95% t-interval over replications (columns as in summary.csv)</p>",
             _summary_table(res.summary, ["warehouse", "product"], "Stock points")]
    if not res.customer_summary.empty:
        parts.append(_summary_table(res.customer_summary, ["customer"], "Customers"))
    if not res.supplier_summary.empty:
        parts.append(_summary_table(res.supplier_summary, ["supplier"], "Suppliers"))
    parts.append("<h2>Costs and service</h2>" + _img(cost_figure(res), "cost breakdown")
                 + _img(fill_rate_figure(res), "fill rates"))
    parts.append(_series_section(res, stock, replication))
    parts.append(_warnings_section(res))
    return parts


def _summary_table(summary: pd.DataFrame, keys: list[str], caption: str) -> str:
    cols = [*keys, "metric", "n", "mean", "ci95_low", "ci95_high"]
    return f"<h3>{html.escape(caption)}</h3>" + _table(summary[cols], left=len(keys) + 1)


def _series_section(res: Any, stock: Sequence[str] | None, replication: int | None) -> str:
    from simulator.plots.run import stock_choice, stock_figure

    series = res.series
    if series is None or series.empty:
        if stock or replication is not None:
            raise UserError([Problem("<arguments>", None, "stock" if stock else "replication",
                                     "the run recorded no time series (simulator run "
                                     "--record)")])
        return ("<h2>Time series</h2><p class=note>None recorded: run with "
                "<code>simulator run --record</code> to see stock levels over time.</p>")
    rep, warmup, keys = stock_choice(res, stock, replication)
    total = series.loc[series["replication"] == rep, ["warehouse", "product"]] \
        .drop_duplicates().shape[0]
    imgs = [_img(stock_figure(series, wh, prod, rep, res.warnings, warmup),
                 f"{wh}/{prod} over time") for wh, prod in keys]
    more = (f"<p class=note>{total - len(keys)} more stock points are in timeseries.parquet "
            "(simulator report --stock WAREHOUSE/PRODUCT draws those named).</p>"
            if total > len(keys) else "")
    return (f"<h2>Time series (replication {rep})</h2><p class=note>on hand, inventory "
            "position and backorders; ▲ orders placed, ▼ receipts, dotted lines: warnings</p>"
            + "".join(imgs) + more)


def _warnings_section(res: Any) -> str:
    counts = res.warning_counts
    if counts.empty:
        return "<h2>Warnings</h2><p>None.</p>"
    w = res.warnings
    return ("<h2>Warnings</h2>" + _table(counts, left=2)
            + f"<h3>First {min(MAX_ROWS, len(w))} of {len(w)}</h3>"
            + _table(w.head(MAX_ROWS), left=len(w.columns)))


# -- sweep ---------------------------------------------------------------------------------

def _sweep_sections(src: Path) -> list[str]:
    import pandas as pd

    from simulator.plots.sweep import plot_sweep

    try:
        table = pd.read_parquet(src / "sweep.parquet")
        with tempfile.TemporaryDirectory() as tmp:
            imgs = [_png_tag(p.read_bytes(), p.stem) for p in plot_sweep(table, tmp)]
    except (OSError, ValueError) as exc:
        raise _bad(src, f"sweep.parquet cannot be read or plotted: {exc}") from None
    parts = ["<h2>Sweep</h2>", *imgs]
    if (src / "points.csv").is_file():
        points = _csv(src, "points.csv")
        parts.append(f"<h3>Points (first {min(MAX_ROWS, len(points))} of {len(points)})</h3>"
                     + _table(points.head(MAX_ROWS), left=0))
    return parts


# -- optimisation --------------------------------------------------------------------------

#: the columns trace.csv must have (the swept parameters come between candidate and mean_cost)
TRACE_COLUMNS = ("candidate", "mean_cost", "ci_low", "ci_high", "best")


def _optimize_sections(src: Path) -> list[str]:
    trace = _csv(src, "trace.csv")
    missing = [c for c in TRACE_COLUMNS if c not in trace.columns]
    if missing:
        raise _bad(src, f"trace.csv has no column {', '.join(missing)}")
    best = trace[trace["best"].astype(str).str.lower().isin(("true", "1"))]
    return ["<h2>Optimisation</h2>", _img(trace_figure(trace), "cost per candidate"),
            "<h3>Best candidate</h3>" + (_table(best, left=0) if not best.empty
                                         else "<p>None marked best.</p>"),
            f"<h3>Candidates (first {min(MAX_ROWS, len(trace))} of {len(trace)})</h3>"
            + _table(trace.head(MAX_ROWS), left=0)]


def trace_figure(trace: pd.DataFrame) -> Figure:
    """Mean cost of each candidate (in the order tried) with its interval, and the lowest
    mean cost among the feasible candidates so far (all, without a ``feasible`` column)."""
    import numpy as np

    from simulator.plots.sweep import _figure

    x = trace["candidate"].to_numpy(dtype=float)
    mean = trace["mean_cost"].to_numpy(dtype=float)
    low, high = trace["ci_low"].to_numpy(dtype=float), trace["ci_high"].to_numpy(dtype=float)
    ok = (trace["feasible"].astype(str).str.lower().isin(("true", "1")).to_numpy()
          if "feasible" in trace.columns else np.ones(len(trace), dtype=bool))
    fig = _figure()
    ax = fig.add_subplot()
    err = np.vstack([np.clip(mean - low, 0, None), np.clip(high - mean, 0, None)])
    for sel, label, color in ((ok, "feasible", "tab:blue"), (~ok, "infeasible", "0.6")):
        if sel.any():
            ax.errorbar(x[sel], mean[sel], yerr=err[:, sel], fmt="o", capsize=2, markersize=4,
                        color=color, label=label)
    so_far = np.fmin.accumulate(np.where(ok, mean, np.inf))
    ax.step(x, np.where(np.isfinite(so_far), so_far, np.nan), where="post", color="tab:red",
            label="best so far")
    ax.set_xlabel("candidate")
    ax.set_ylabel("mean cost (95% interval)")
    ax.set_title("optimisation trace")
    ax.legend(fontsize="small")
    return fig


# -- html ----------------------------------------------------------------------------------

def _provenance(src: Path) -> list[str]:
    parts = []
    for name, caption in (("scenario.yaml", "Scenario"), ("run.json", "Provenance (run.json)")):
        path = src / name
        if path.is_file():
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read(MAX_TEXT + 1)
            except OSError as exc:
                raise _bad(src, f"{name} cannot be read: {exc}") from None
            cut = "\n... (cut)" if len(text) > MAX_TEXT else ""
            parts.append(f"<h2>{caption}</h2><pre>{html.escape(text[:MAX_TEXT] + cut)}</pre>")
    return parts


def _page(title: str, sections: list[str]) -> str:
    t = html.escape(title)
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>{t}</title><style>{_STYLE}</style></head>\n<body><h1>{t}</h1>\n"
            + "\n".join(sections) + "\n</body></html>\n")


def _table(df: pd.DataFrame, left: int) -> str:
    """An HTML table of ``df``; the first ``left`` columns left-aligned (labels)."""
    cls = [" class=l" if i < left else "" for i in range(len(df.columns))]
    head = "".join(f"<th{c}>{html.escape(str(name))}</th>" for c, name in zip(
        cls, df.columns, strict=True))
    body = "".join("<tr>" + "".join(f"<td{c}>{html.escape(_fmt(v))}</td>"
                                    for c, v in zip(cls, row, strict=True)) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    """Numbers with up to 6 significant digits (as in the CSV files, rounded); NaN as -."""
    if isinstance(v, float):
        return "-" if v != v else f"{v:.6g}"
    return str(v)


def _img(fig: Figure, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return _png_tag(buf.getvalue(), alt)


def _png_tag(data: bytes, alt: str) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _csv(src: Path, name: str) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(src / name)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise _bad(src, f"{name} cannot be read: {exc}") from None


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_atomic(target: Path, text: str) -> None:
    """Write ``text`` to a hidden sibling of ``target`` and rename it into place."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        raise UserError([Problem("<arguments>", None, "out",
                                 f"{target}: cannot be written: {exc.strerror or exc}")]) \
            from None
    finally:
        tmp.unlink(missing_ok=True)
