"""Results of a run: tables in memory, and the results folder on disk.

The folder (SPEC section 4) is written to a temporary sibling folder first and
renamed into place only when every file is complete, so a failed or interrupted
run never leaves a half-written folder and never damages an existing one.
"""
from __future__ import annotations

import functools
import json
import math
import os
import platform
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from simulator import outdir
from simulator.observe.customers import CUSTOMER_METRICS
from simulator.observe.metrics import METRICS
from simulator.observe.recorder import ROW
from simulator.observe.suppliers import SUPPLIER_METRICS

ID_COLUMNS = ["replication", "warehouse", "product"]
WARNING_COLUMNS = ["replication", "time", "warehouse", "product", "kind", "severity",
                   "message"]
SUMMARY_COLUMNS = ["warehouse", "product", "metric", "n", "mean", "std", "ci95_low", "ci95_high"]
#: the columns of :attr:`Results.series` (``timeseries.parquet``; docs/results-folder.md)
SERIES_COLUMNS = ["replication", "warehouse", "product", "kind", *ROW]
_PACKAGES = ("simulator", "simpy", "numpy", "pandas", "scipy", "pydantic", "PyYAML")


#: the values each metric can take; interval bounds outside them are impossible, so the
#: interval is cut at them (metrics not listed here are not cut)
METRIC_RANGES: dict[str, tuple[float, float]] = {
    **{m: (0.0, math.inf) for m in METRICS},
    "fill_rate": (0.0, 1.0),
    "forecast_bias": (-math.inf, math.inf),
}


def summarize(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation and 95% interval of each metric across replications,
    per warehouse and product.

    The interval is Student's t: ``mean ± t(0.975, n-1) · std / sqrt(n)`` over the n
    replications (independent, identically distributed by construction), cut to the
    metric's possible range (:data:`METRIC_RANGES`): a bound below 0 for units or costs,
    or above 1 for a fill rate, only says that the normal approximation is poor there,
    so it is reported as the range's end. NaN values (a fill rate with no demand) are
    left out; with one value the std and the interval are NaN.
    """
    out = summarize_by(metrics, ["warehouse", "product"], METRICS, METRIC_RANGES)
    return out[SUMMARY_COLUMNS]


SUPPLIER_COLUMNS = ["replication", "supplier", *SUPPLIER_METRICS]
SUPPLIER_SUMMARY_COLUMNS = ["supplier", "metric", "n", "mean", "std", "ci95_low", "ci95_high"]
#: the values each supplier metric can take (intervals are cut to them, as in summarize)
SUPPLIER_RANGES: dict[str, tuple[float, float]] = {
    **{m: (0.0, math.inf) for m in SUPPLIER_METRICS}, "utilisation": (0.0, 1.0)}

CUSTOMER_COLUMNS = ["replication", "customer", *CUSTOMER_METRICS]
CUSTOMER_SUMMARY_COLUMNS = ["customer", "metric", "n", "mean", "std", "ci95_low", "ci95_high"]
#: the values each customer metric can take (intervals are cut to them)
CUSTOMER_RANGES: dict[str, tuple[float, float]] = {
    **{m: (0.0, math.inf) for m in CUSTOMER_METRICS},
    **{m: (0.0, 1.0) for m in ("order_fill_rate", "line_fill_rate", "on_time_share",
                               "split_share")}}


def summarize_by(table: pd.DataFrame, keys: list[str], metrics: tuple[str, ...],
                 ranges: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """Mean, std and 95% t-interval of each metric across replications, per ``keys``
    (warehouse and product, supplier, customer), cut to the metric's range (see
    :func:`summarize`; metrics without a range are not cut; NaN values left out)."""
    long = table.melt(id_vars=["replication", *keys], value_vars=list(metrics),
                      var_name="metric")
    long["metric"] = pd.Categorical(long["metric"], categories=list(metrics), ordered=True)
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    g = long.groupby([*keys, "metric"], sort=False, observed=True)["value"]
    out = g.agg(n="count", mean="mean", std="std").reset_index()
    half = _t975(np.maximum(out["n"].to_numpy() - 1, 1)) * out["std"] / np.sqrt(out["n"])
    half = half.where(out["n"] > 1)
    out["metric"] = out["metric"].astype(str)
    low = out["metric"].map(lambda m: ranges.get(m, (-math.inf, math.inf))[0])
    high = out["metric"].map(lambda m: ranges.get(m, (-math.inf, math.inf))[1])
    out["ci95_low"] = np.maximum(out["mean"] - half, low.astype(float))
    out["ci95_high"] = np.minimum(out["mean"] + half, high.astype(float))
    return out[[*keys, "metric", "n", "mean", "std", "ci95_low", "ci95_high"]]


#: the metrics :meth:`Results.by_class` adds up over a class's stock points
CLASS_SUMS = ("demand_units", "lost_units", "orders_placed", "holding_cost", "ordering_cost",
              "backorder_cost", "lost_sale_cost", "total_cost")


def with_class(scenario: Any, metrics: pd.DataFrame, summary: pd.DataFrame) \
        -> tuple[pd.DataFrame, pd.DataFrame]:
    """``metrics`` and ``summary`` with a ``class`` column after ``product``: the ABC class
    (A, B, C) of the row's product by the scenario's ``abc`` section
    (:func:`simulator.planning.classes`); empty where the row has no product (a supplier's
    warnings)."""
    from simulator.planning import classes

    klass = classes(scenario, scenario.abc.a, scenario.abc.b)
    out = []
    for table in (metrics, summary):
        table = table.copy()
        table.insert(list(table.columns).index("product") + 1, "class",
                     table["product"].map(klass).fillna(""))
        out.append(table)
    return out[0], out[1]


def summarize_warnings(scenario: Any, warnings: pd.DataFrame) -> pd.DataFrame:
    """The monitor's warnings in the summary: per warehouse x product (a supplier's under its id,
    product empty) and kind that occurred there, the metric ``warnings_<kind>`` = warnings per
    replication, with mean, std and t-interval over every replication (replications without
    one count as 0). Sanity warnings (absurd orders, ...) are left out."""
    from simulator.scenario.models import WARNING_KINDS
    w = warnings[warnings["kind"].isin(WARNING_KINDS)]
    if w.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    w = w.assign(product=w["product"].fillna(""), metric="warnings_" + w["kind"])
    counts = w.groupby(["warehouse", "product", "metric", "replication"]).size()
    table = counts.unstack("metric", fill_value=0)
    reps = range(scenario.replications)
    full = table.reset_index().set_index("replication")
    rows = []
    for (wh, pid), part in full.groupby(["warehouse", "product"]):
        part = part.drop(columns=["warehouse", "product"]).reindex(reps, fill_value=0)
        part = part.reset_index().assign(warehouse=str(wh), product=str(pid))
        rows.append(part)
    wide = pd.concat(rows, ignore_index=True)
    metrics = tuple(c for c in table.columns)
    ranges = {m: (0.0, math.inf) for m in metrics}
    out = summarize_by(wide, ["warehouse", "product"], metrics, ranges)
    return out.loc[out["mean"] > 0, SUMMARY_COLUMNS]  # kinds that occurred at that key


def summarize_suppliers(table: pd.DataFrame) -> pd.DataFrame:
    """Supplier metrics summarised per supplier (:func:`summarize_by`)."""
    return summarize_by(table, ["supplier"], SUPPLIER_METRICS, SUPPLIER_RANGES)


def summarize_customers(table: pd.DataFrame) -> pd.DataFrame:
    """Customer metrics summarised per customer (:func:`summarize_by`)."""
    return summarize_by(table, ["customer"], CUSTOMER_METRICS, CUSTOMER_RANGES)


def _t975(df: np.ndarray) -> np.ndarray:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (without importing
    scipy.stats, which costs about 0.6 s per process; simulator.stats is exact to 1e-11)."""
    from simulator.stats import t_quantiles
    return np.asarray(t_quantiles(0.975, df), dtype=float)


@functools.cache
def package_versions() -> dict[str, str]:
    """Versions of the packages a run depends on (read once per process)."""
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def check_out(target: Path, overwrite: bool, flag: str = "overwrite=True") -> outdir.Claim:
    """Check a results folder before a run (see :func:`simulator.outdir.preflight`)."""
    return outdir.preflight(target, overwrite, flag)


def _cell(row: pd.Series) -> str:
    """``mean ± half-width`` of a summary row, with precision matched to its size. The
    half-width is the t-interval's: where the interval was cut at the metric's range (0 or 1),
    the side that was not cut shows it."""
    m, lo, hi = row["mean"], row["ci95_low"], row["ci95_high"]
    if isinstance(m, float) and math.isnan(m):
        return "-"
    spec = ".3f" if abs(m) < 10 else ",.1f" if abs(m) < 1000 else ",.0f"
    txt = format(m, spec)
    if isinstance(lo, float) and not math.isnan(lo):
        txt += " ± " + format(max(m - lo, hi - m), spec)
    return txt


class Results:
    """Tables of a run: :attr:`metrics`, :attr:`summary`, :attr:`warnings`, plus
    the resolved :attr:`scenario` and :attr:`info` (provenance, written as run.json).

    :attr:`supplier_metrics` has one row per replication and supplier (written as
    ``supplier_metrics.csv``), summarised with t-intervals in :attr:`supplier_summary`;
    :attr:`customer_metrics` one row per replication and customer
    (``customer_metrics.csv``), summarised in :attr:`customer_summary`.

    :attr:`series` holds the recorded time series (``run(record=...)``, ``--record``;
    columns :data:`SERIES_COLUMNS`, written as ``timeseries.parquet``), None if none were
    recorded."""

    def __init__(self, scenario: Any, metrics: pd.DataFrame, warnings: pd.DataFrame,
                 info: dict[str, Any], supplier_metrics: pd.DataFrame | None = None,
                 customer_metrics: pd.DataFrame | None = None):
        self.scenario = scenario
        self.metrics = metrics
        self.summary = summarize(metrics)
        if getattr(scenario, "warnings", None) is not None and not warnings.empty:
            self.summary = pd.concat([self.summary, summarize_warnings(scenario, warnings)],
                                     ignore_index=True)
        if getattr(scenario, "abc", None) is not None:
            self.metrics, self.summary = with_class(scenario, self.metrics, self.summary)
        self.warnings = warnings
        self.info = info
        self.supplier_metrics = (pd.DataFrame(columns=SUPPLIER_COLUMNS)
                                 if supplier_metrics is None else supplier_metrics)
        self.supplier_summary = summarize_suppliers(self.supplier_metrics)
        self.customer_metrics = (pd.DataFrame(columns=CUSTOMER_COLUMNS)
                                 if customer_metrics is None else customer_metrics)
        self.customer_summary = summarize_customers(self.customer_metrics)
        self.series: pd.DataFrame | None = None

    @classmethod
    def from_replications(cls, scenario: Any, reps: list[Any], *, started: datetime,
                          wall_seconds: float, source: str | None, jobs: int) -> Results:
        reps = sorted(reps, key=lambda r: r.replication)
        rows = [row for r in reps for row in r.rows]
        metrics = pd.DataFrame(rows, columns=[*ID_COLUMNS, *METRICS])
        warns = pd.DataFrame([w for r in reps for w in r.warnings], columns=WARNING_COLUMNS)
        info = {
            **outdir.RUN_MARKER,
            "version": package_versions()["simulator"],
            "scenario_name": scenario.name,
            "scenario_file": source,
            "seed": scenario.seed,
            "replications": scenario.replications,
            "jobs": jobs,
            "started": started.isoformat(timespec="seconds"),
            "wall_seconds": round(wall_seconds, 3),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "packages": dict(package_versions()),
            "policies": reps[0].policies if reps else {},
        }
        sups = pd.DataFrame([row for r in reps for row in r.suppliers], columns=SUPPLIER_COLUMNS)
        custs = pd.DataFrame([row for r in reps for row in r.customers],
                             columns=CUSTOMER_COLUMNS)
        res = cls(scenario, metrics, warns, info, sups, custs)
        if any(r.series is not None for r in reps):
            res.series = series_frame(reps)
        return res

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> Results:
        """Read a results folder written by :meth:`save` (``simulator run``).

        The tables are read back as written: :attr:`summary` from ``summary.csv``,
        :attr:`series` from ``timeseries.parquet`` if there is one. :attr:`scenario` is the
        loaded ``scenario.yaml``, or its plain mapping if it no longer loads (e.g. a custom
        policy module that is not importable here).

        Raises
        ------
        UserError
            ``<arguments>: folder: FOLDER: message`` if the folder is not a readable results
            folder of a run.
        """
        return load_results(cls, Path(folder))

    # -- terminal ---------------------------------------------------------------
    def table(self, metrics: tuple[str, ...] = ("fill_rate", "avg_on_hand", "avg_backorders",
                                                  "lost_units", "total_cost")) -> str:
        """A readable summary: mean ± 95% half-width per warehouse, product and metric."""
        s = self.summary[self.summary["metric"].isin(metrics)]
        s = s.assign(value=s.apply(_cell, axis=1))
        index = ["warehouse", "product", *(["class"] if "class" in s.columns else [])]
        wide = s.pivot(index=index, columns="metric", values="value")
        keys = zip(*(self.summary[k] for k in index), strict=True)
        order = list(dict.fromkeys(keys))
        wide = wide.reindex(order)[[m for m in metrics if m in wide.columns]]  # scenario order
        wide.columns.name = None
        n = self.scenario.replications
        head = f"{self.scenario.name}: {n} replication{'s' * (n != 1)}, days " \
               f"{self.scenario.warmup:g}-{self.scenario.horizon:g} measured"
        if n > 1:
            head += " (mean ± 95% CI half-width)"
        return head + "\n" + wide.to_string() + self._customer_table() + \
            self._supplier_table() + self._warning_table()

    def _customer_table(self) -> str:
        """Customers' order service (one row each)."""
        if not self.scenario.customers:
            return ""
        cols = ["order_fill_rate", "line_fill_rate", "avg_cycle_time", "p95_cycle_time"]
        if any(c.promised_time is not None for c in self.scenario.customers):
            cols.append("on_time_share")
        if any(len(c.sources) > 1 for c in self.scenario.customers):
            cols.append("split_share")
        s = self.customer_summary
        s = s[s["metric"].isin(cols)]
        s = s.assign(value=s.apply(_cell, axis=1))
        wide = s.pivot(index="customer", columns="metric", values="value")
        wide = wide.reindex([c.id for c in self.scenario.customers])
        wide = wide[[c for c in cols if c in wide.columns]]
        wide.columns.name = None
        return "\n\n" + wide.to_string()

    def _supplier_table(self) -> str:
        """Suppliers with capacity, disruptions or consolidation (the others only add their
        lead time)."""
        limited = [x.id for x in self.scenario.suppliers
                   if x.capacity is not None or x.disruptions
                   or x.consolidation_window is not None]
        if not limited:
            return ""
        cols = ["purchase_orders", "lines", "avg_replenishment_time", "utilisation",
                "days_disrupted"]
        s = self.supplier_summary
        s = s[s["supplier"].isin(limited) & s["metric"].isin(cols)]
        s = s.assign(value=s.apply(_cell, axis=1))
        wide = s.pivot(index="supplier", columns="metric", values="value")
        wide = wide.reindex(limited)[[c for c in cols if c in wide.columns]]
        wide.columns.name = None
        return "\n\n" + wide.to_string()

    def by_class(self) -> pd.DataFrame:
        """Per ABC class (scenario with an ``abc`` section) and metric, across replications:
        ``class, metric, n, mean, std, ci95_low, ci95_high`` (t-intervals as in the summary).

        Within a replication the class's stock points are added up: ``demand_units``,
        ``lost_units``, ``orders_placed`` and the costs are sums, ``fill_rate`` is the units
        filled at once over the units demanded (empty without demand).

        Raises
        ------
        ValueError
            When the scenario has no ``abc`` section (no classes).
        """
        if "class" not in self.metrics.columns:
            raise ValueError("the scenario has no abc section: its products have no class")
        m = self.metrics.assign(filled=self.metrics["fill_rate"].fillna(0.0)
                                * self.metrics["demand_units"])
        g = m.groupby(["replication", "class"], sort=True)[[*CLASS_SUMS, "filled"]].sum()
        g = g.reset_index()
        g["fill_rate"] = (g["filled"] / g["demand_units"]).where(g["demand_units"] > 0)
        return summarize_by(g, ["class"], ("fill_rate", *CLASS_SUMS), METRIC_RANGES)

    @property
    def warning_counts(self) -> pd.DataFrame:
        """Warnings per kind: ``kind``, ``severity``, ``count`` (over all replications) and
        ``per_replication`` (count / replications), most frequent first (ties: by kind)."""
        w = self.warnings
        if w.empty:
            return pd.DataFrame({"kind": pd.Series(dtype=str), "severity": pd.Series(dtype=str),
                                 "count": pd.Series(dtype=int),
                                 "per_replication": pd.Series(dtype=float)})
        out = w.groupby(["kind", "severity"]).size().reset_index(name="count")
        out["per_replication"] = out["count"] / self.scenario.replications
        out = out.sort_values(["count", "kind"], ascending=[False, True], kind="stable")
        return out.reset_index(drop=True)

    def _warning_table(self) -> str:
        """Warning counts per kind (all warnings are in warnings.csv)."""
        counts = self.warning_counts
        if counts.empty:
            return ""
        shown = counts.set_index("kind")[["severity", "count", "per_replication"]]
        shown = shown.assign(per_replication=shown["per_replication"].map(lambda x: f"{x:.3g}"))
        shown.index.name = "warnings"
        return "\n\n" + shown.to_string()

    # -- disk -------------------------------------------------------------------
    def save(self, out: str | os.PathLike[str] | outdir.Claim, overwrite: bool = False) -> Path:
        """Write the results folder atomically; return its path.

        Everything is written to a hidden temporary sibling folder, which is put in
        place in one atomic step when complete (docs/results-folder.md). ``overwrite``
        replaces only an empty folder or a results folder of this tool, never anything
        else. ``out`` may be a :class:`~simulator.outdir.Claim` from a check made before
        the run.

        Raises
        ------
        UserError
            If ``out`` cannot be written or must not be replaced (nothing is changed), or
            the disk is full (nothing is changed); :class:`~simulator.outdir.ResultsDiverted`
            if another run took ``out`` meanwhile (these results are then kept in a
            visible sibling, ``OUT-2``, named in the error).
        """
        claim = out if isinstance(out, outdir.Claim) else outdir.preflight(out, overwrite)
        return outdir.publish(claim, self._write)

    def _write(self, folder: Path) -> None:
        self.metrics.to_csv(folder / "metrics.csv", index=False)
        self.summary.to_csv(folder / "summary.csv", index=False)
        self.warnings.to_csv(folder / "warnings.csv", index=False)
        self.supplier_metrics.to_csv(folder / "supplier_metrics.csv", index=False)
        self.customer_metrics.to_csv(folder / "customer_metrics.csv", index=False)
        if self.series is not None:
            self.series.to_parquet(folder / "timeseries.parquet", index=False)
        with open(folder / "scenario.yaml", "w", encoding="utf-8") as f:
            f.write(f"# {self.scenario.name}: the scenario as run, every default filled in\n")
            yaml.safe_dump(self.scenario.to_dict(), f, sort_keys=False, allow_unicode=True)
        with open(folder / "run.json", "w", encoding="utf-8") as f:
            json.dump(self.info, f, indent=2, default=str)
            f.write("\n")


def series_frame(reps: list[Any]) -> pd.DataFrame:
    """The recorded rows of the replications as one table (:data:`SERIES_COLUMNS`), in
    replication order, each stock point's level, order and receipt rows in time order."""
    parts = [(r.replication, *part) for r in reps if r.series for part in r.series]
    sizes = [len(p[4]) for p in parts]
    ids: dict[str, Any] = {name: np.repeat([p[i] for p in parts], sizes) if parts else []
           for i, name in enumerate(SERIES_COLUMNS[:4])}
    values = (np.concatenate([p[4] for p in parts]) if parts
              else np.empty((0, len(ROW))))
    out = pd.DataFrame({**ids, **{c: values[:, j] for j, c in enumerate(ROW)}},
                       columns=SERIES_COLUMNS)
    out["replication"] = out["replication"].astype("int64")
    for col in ("warehouse", "product", "kind"):
        out[col] = out[col].astype(str)
    return out


_RUN_FILES = ("metrics.csv", "summary.csv", "warnings.csv", "scenario.yaml", "run.json")


def load_results(cls: type[Results], folder: Path) -> Results:
    """:meth:`Results.load` (a function so that the class stays short)."""
    from simulator.errors import Problem, UserError

    def bad(message: str) -> UserError:
        return UserError([Problem("<arguments>", None, "folder", f"{folder}: {message}")])

    if not folder.is_dir():
        raise bad("no such folder" if not folder.exists() else "not a folder")
    missing = [n for n in _RUN_FILES if not (folder / n).is_file()]
    if missing:
        raise bad(f"not the results folder of a run: no {', '.join(missing)}")
    try:
        info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        raw = yaml.safe_load((folder / "scenario.yaml").read_text(encoding="utf-8"))
        metrics = pd.read_csv(folder / "metrics.csv")
        warns = pd.read_csv(folder / "warnings.csv")
        summary = pd.read_csv(folder / "summary.csv")
        sups = _optional_csv(folder / "supplier_metrics.csv", SUPPLIER_COLUMNS)
        custs = _optional_csv(folder / "customer_metrics.csv", CUSTOMER_COLUMNS)
        series = (pd.read_parquet(folder / "timeseries.parquet")
                  if (folder / "timeseries.parquet").is_file() else None)
    except (OSError, ValueError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise bad(f"cannot be read: {exc}") from None
    if not isinstance(info, dict) or not isinstance(raw, dict) or \
            [c for c in [*ID_COLUMNS, *METRICS] if c not in metrics.columns] or \
            [c for c in SUMMARY_COLUMNS if c not in summary.columns]:
        raise bad("not the results folder of a run: its files do not have the run's columns")
    for table in (metrics, summary):
        table["warehouse"] = table["warehouse"].astype(str)
        table["product"] = table["product"].fillna("").astype(str)
    res = cls(_scenario_of(folder / "scenario.yaml", raw), metrics, warns, info, sups, custs)
    res.summary = summary[SUMMARY_COLUMNS]
    res.series = series
    return res


def _optional_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=columns)


def _scenario_of(path: Path, raw: dict[str, Any]) -> Any:
    """The scenario of a results folder: loaded and validated, else its plain mapping."""
    from simulator.errors import UserError
    from simulator.scenario import load

    try:
        return load(path)
    except (UserError, ImportError, OSError, ValueError):
        return raw
