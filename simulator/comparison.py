"""Paired comparison of scenarios on common random numbers (``simulator compare``).

Every scenario is run with the same seed and the same number of replications, so
replication ``r`` of each scenario draws from the same random streams (SPEC section 5:
a stream is derived from ``(seed, replication, source id)``): demand, lead times and every
other random source are the same wherever the scenarios agree. The difference of a metric
between two scenarios is then measured replication by replication, and most of the noise
cancels.

For each metric, each stock point (warehouse x product) or customer the scenarios share, and
each scenario against the first (the baseline), with ``a_r`` the baseline's value and ``b_r``
the other scenario's in replication ``r`` (replications where either is NaN are left out,
n pairs remain):

* the difference is ``mean(b) - mean(a)``, which equals ``mean(b - a)``;
* the paired 95% interval is ``diff ± t(0.975, n-1) · sd(b - a) / sqrt(n)``;
* the unpaired (Welch) interval is ``diff ± t(0.975, v) · sqrt(sd(a)²/n + sd(b)²/n)`` with
  the Welch-Satterthwaite degrees of freedom ``v``; it ignores the pairing, as if the
  scenarios had been run on independent streams, and is shown for contrast.

``width_ratio`` is the paired half-width over the Welch half-width: the share of the
unpaired interval that common random numbers leave (well below 1 when they help; NaN when
the Welch interval has zero width, i.e. both scenarios gave a constant value).

``lost_units`` is both a stock-point and a customer metric; it is compared per stock point.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.errors import Problem, UserError
from simulator.stats import t_quantile

if TYPE_CHECKING:
    import pandas as pd

    from simulator.results import Results
    from simulator.scenario import Scenario

__all__ = ["COLUMNS", "DEFAULT_METRICS", "check_metrics", "compare", "compare_results",
           "paired_interval", "welch_interval"]

DEFAULT_METRICS = ("fill_rate", "total_cost")

#: columns of the comparison table; ``customer`` is empty on stock-point rows, ``warehouse``
#: and ``product`` are empty on customer rows
COLUMNS = ["scenario", "baseline", "warehouse", "product", "customer", "metric", "n",
           "baseline_mean", "scenario_mean", "diff", "paired_low", "paired_high",
           "welch_low", "welch_high", "width_ratio"]


@dataclass(frozen=True)
class Interval:
    """A difference of means with a 95% interval: ``low <= diff <= high`` (NaN when the
    interval is undefined, e.g. with a single replication)."""

    diff: float
    low: float
    high: float


def _metric_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from simulator.observe.customers import CUSTOMER_METRICS
    from simulator.observe.metrics import METRICS
    return METRICS, CUSTOMER_METRICS


def check_metrics(metrics: Any, key: str = "metrics", file: str = "<arguments>",
                  ) -> tuple[str, ...]:
    """``metrics`` as a tuple of known metric names (stock-point or customer metrics).

    Raises
    ------
    UserError
        Naming ``key`` (``--metrics`` on the command line) and the known metrics.
    """
    stock, customer = _metric_names()
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    if not isinstance(metrics, (list, tuple)) or not metrics \
            or not all(isinstance(m, str) for m in metrics):
        raise UserError([Problem(file, None, key, "expected one or more metric names "
                                 f"(e.g. fill_rate,total_cost), got {metrics!r:.60}")])
    known = dict.fromkeys([*stock, *customer])
    bad = [m for m in metrics if m not in known]
    if bad:
        raise UserError([Problem(file, None, key, f"unknown metric {m!r}; metrics are: "
                                 + ", ".join(known)) for m in bad])
    return tuple(dict.fromkeys(metrics))


def _sd(values: Sequence[float], mean: float) -> float:
    """Sample standard deviation (n - 1 in the denominator); 0 for identical values."""
    n = len(values)
    if n < 2:
        return math.nan
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


def paired_interval(a: Sequence[float], b: Sequence[float]) -> Interval:
    """Mean difference ``mean(b) - mean(a)`` with the paired 95% t-interval.

    Parameters
    ----------
    a, b : sequence of float
        The two scenarios' values, replication by replication (same length, no NaN).

    Returns
    -------
    Interval
        A zero-width interval when every difference is the same (e.g. a scenario
        against itself: exactly 0); NaN bounds with fewer than two pairs.
    """
    n = len(a)
    diff = _mean(b) - _mean(a)
    d = [y - x for x, y in zip(a, b, strict=True)]
    sd = _sd(d, _mean(d))
    if n < 2:
        return Interval(diff, math.nan, math.nan)
    half = 0.0 if sd == 0.0 else t_quantile(0.975, n - 1) * sd / math.sqrt(n)
    return Interval(diff, diff - half, diff + half)


def welch_interval(a: Sequence[float], b: Sequence[float]) -> Interval:
    """Mean difference ``mean(b) - mean(a)`` with Welch's unpaired 95% t-interval.

    The standard error is ``sqrt(var(a)/n_a + var(b)/n_b)`` and the degrees of freedom
    Welch-Satterthwaite's ``se**4 / ((var(a)/n_a)**2/(n_a-1) + (var(b)/n_b)**2/(n_b-1))``.
    Zero width when both samples are constant; NaN bounds when either has one value.
    """
    na, nb = len(a), len(b)
    ma, mb = _mean(a), _mean(b)
    diff = mb - ma
    if na < 2 or nb < 2:
        return Interval(diff, math.nan, math.nan)
    va, vb = _sd(a, ma) ** 2 / na, _sd(b, mb) ** 2 / nb
    se2 = va + vb
    if se2 == 0.0:
        return Interval(diff, diff, diff)
    df = se2 * se2 / (va * va / (na - 1) + vb * vb / (nb - 1))
    half = t_quantile(0.975, df) * math.sqrt(se2)
    return Interval(diff, diff - half, diff + half)


def _labels(results: Sequence[Results], sources: Sequence[Any]) -> list[str]:
    """A distinct label per scenario: its name, else its file, else ``name (k)``."""
    names = [r.scenario.name for r in results]
    out = []
    for i, (name, src) in enumerate(zip(names, sources, strict=True)):
        label = name
        if names.count(name) > 1 and isinstance(src, (str, os.PathLike)):
            label = str(src)
        if label in out:
            label = f"{label} ({i + 1})"
        out.append(label)
    return out


def _series(table: pd.DataFrame, keys: list[str], metric: str,
            ) -> dict[tuple[str, ...], dict[int, float]]:
    """``{key tuple: {replication: value}}`` of one metric, NaN values left out."""
    import pandas as pd

    values = pd.to_numeric(table[metric], errors="coerce")
    out: dict[tuple[str, ...], dict[int, float]] = {}
    where = zip(*(table[k] for k in keys), strict=True)
    for rep, key, v in zip(table["replication"], where, values, strict=True):
        if not math.isnan(v):
            out.setdefault(tuple(str(x) for x in key), {})[int(rep)] = float(v)
    return out


def _keys_of(table: pd.DataFrame, keys: list[str]) -> list[tuple[str, ...]]:
    return list(dict.fromkeys(tuple(str(x) for x in row)
                              for row in zip(*(table[k] for k in keys), strict=True)))


def _rows(base: pd.DataFrame, other: pd.DataFrame, keys: list[str], metrics: Iterable[str],
          shared: list[tuple[str, ...]]) -> list[dict[str, Any]]:
    rows = []
    for metric in metrics:
        sa, sb = _series(base, keys, metric), _series(other, keys, metric)
        for key in shared:
            xa, xb = sa.get(key, {}), sb.get(key, {})
            reps = sorted(set(xa) & set(xb))
            a, b = [xa[r] for r in reps], [xb[r] for r in reps]
            paired, welch = paired_interval(a, b), welch_interval(a, b)
            pw, ww = paired.high - paired.diff, welch.high - welch.diff
            ratio = pw / ww if ww > 0 else math.nan  # both zero: nothing to compare
            where = dict(zip(keys, key, strict=True))
            rows.append({
                "warehouse": where.get("warehouse", ""), "product": where.get("product", ""),
                "customer": where.get("customer", ""), "metric": metric, "n": len(reps),
                "baseline_mean": _mean(a), "scenario_mean": _mean(b), "diff": paired.diff,
                "paired_low": paired.low, "paired_high": paired.high,
                "welch_low": welch.low, "welch_high": welch.high, "width_ratio": ratio})
    return rows


def _shared(base: pd.DataFrame, other: pd.DataFrame, keys: list[str], label: str,
            left_out: dict[str, list[str]]) -> list[tuple[str, ...]]:
    """Keys in both tables (in the baseline's order); the others noted in ``left_out``."""
    ka, kb = _keys_of(base, keys), _keys_of(other, keys)
    missing = [k for k in ka if k not in kb] + [k for k in kb if k not in ka]
    if missing:
        left_out.setdefault(label, []).extend("/".join(k) for k in missing)
    return [k for k in ka if k in kb]


def compare_results(results: Sequence[Results], metrics: Sequence[str] = DEFAULT_METRICS,
                    labels: Sequence[str] | None = None) -> pd.DataFrame:
    """The comparison table of runs already made (see :func:`compare`).

    The runs must share the seed and replications for the paired intervals to mean
    anything; :func:`compare` makes sure of it.
    """
    import pandas as pd

    metrics = check_metrics(metrics)
    stock, customer = _metric_names()
    labels = list(labels) if labels is not None else [r.scenario.name for r in results]
    base = results[0]
    rows: list[dict[str, Any]] = []
    left_out: dict[str, list[str]] = {}
    sm = [m for m in metrics if m in stock]
    cm = [m for m in metrics if m not in stock and m in customer]
    for label, res in zip(labels[1:], results[1:], strict=True):
        spk, ck = ["warehouse", "product"], ["customer"]
        new = _rows(base.metrics, res.metrics, spk, sm,
                    _shared(base.metrics, res.metrics, spk, label, left_out))
        if cm:
            new += _rows(base.customer_metrics, res.customer_metrics, ck, cm,
                         _shared(base.customer_metrics, res.customer_metrics, ck, label,
                                 left_out))
        rows += [{"scenario": label, "baseline": labels[0], **row} for row in new]
    out = pd.DataFrame(rows, columns=COLUMNS)
    out["n"] = out["n"].astype(int)
    out.attrs["left_out"] = left_out
    return out


def _check_sources(scenarios: Any) -> list[Any]:
    from simulator.scenario import Scenario

    if isinstance(scenarios, (str, os.PathLike, dict, Scenario)) \
            or not isinstance(scenarios, (list, tuple)) or len(scenarios) < 2:
        raise UserError([Problem("<arguments>", None, "scenarios",
                                 "expected a list of at least two scenarios (files, mappings "
                                 "or simulator.Scenario), the first being the baseline")])
    return list(scenarios)


def compare(scenarios: Sequence[str | os.PathLike[str] | dict[str, Any] | Scenario],
            metrics: Sequence[str] | str = DEFAULT_METRICS, replications: int | None = None,
            seed: int | None = None, jobs: int = 1, progress: bool | None = False,
            ) -> pd.DataFrame:
    """Run scenarios on common random numbers and compare each with the first.

    Parameters
    ----------
    scenarios : list of path, dict or Scenario
        Two or more scenarios; the first is the baseline.
    metrics : list of str or str
        Stock-point metrics (compared per warehouse and product) and customer metrics
        (per customer); a string is split at commas. Default ``fill_rate, total_cost``.
    replications, seed : int, optional
        Used for every scenario (default: the baseline's), so replication ``r`` of each
        scenario uses the same random streams.
    jobs : int
        Worker processes per run (0: one per core); the numbers do not depend on it.
    progress : bool, optional
        Progress bars of the runs (as :func:`simulator.run`).

    Returns
    -------
    pandas.DataFrame
        One row per other scenario, stock point (or customer) and metric, columns
        :data:`COLUMNS`: the means (in the metric's unit), ``diff`` = scenario minus
        baseline, the paired and the Welch 95% interval of ``diff``, and ``width_ratio``.
        ``attrs["left_out"]`` maps a scenario to the stock points and customers that it
        and the baseline do not share (not compared).

    Raises
    ------
    UserError
        A scenario, metric or argument is not valid (``FILE:LINE: key: message``).
    """
    from simulator.experiment.runner import run, with_overrides
    from simulator.scenario import load

    sources = _check_sources(scenarios)
    metrics = check_metrics(metrics)
    loaded, problems = [], []
    for src in sources:  # every file's problems at once
        try:
            loaded.append(load(src))
        except UserError as exc:
            problems += exc.problems
    if problems:
        raise UserError(problems)
    first = with_overrides(loaded[0], replications, seed)
    n, s = first.replications, first.seed
    results = [run(sc, replications=n, seed=s, jobs=jobs, progress=progress) for sc in loaded]
    return compare_results(results, metrics, _labels(results, sources))


def _cell(diff: float, low: float, high: float) -> str:
    """``diff ± half-width`` (or ``diff [low, high]`` for asymmetric bounds)."""
    if math.isnan(diff):
        return "-"
    size = max(abs(diff), abs(low) if not math.isnan(low) else 0.0)
    spec = ".4f" if size < 10 else ",.2f" if size < 1000 else ",.0f"
    if math.isnan(low):
        return format(diff, spec)
    return f"{format(diff, spec)} ± {format(high - diff, spec)}"


def table(comparison: pd.DataFrame) -> str:
    """A readable table of :func:`compare`'s result: one block per scenario against the
    baseline, with the paired and the Welch 95% intervals side by side."""
    import pandas as pd

    blocks = []
    for label, part in comparison.groupby("scenario", sort=False):
        base = part["baseline"].iloc[0]
        where = [f"{w}/{p}" if w else f"customer {c}"
                 for w, p, c in zip(part["warehouse"], part["product"], part["customer"],
                                    strict=True)]
        shown = pd.DataFrame({
            "at": where, "metric": part["metric"].to_numpy(),
            "baseline": part["baseline_mean"].map(lambda x: f"{x:,.4g}").to_numpy(),
            "scenario": part["scenario_mean"].map(lambda x: f"{x:,.4g}").to_numpy(),
            "diff ± paired 95%": [_cell(d, lo, hi) for d, lo, hi in
                                  zip(part["diff"], part["paired_low"], part["paired_high"],
                                      strict=True)],
            "± Welch 95%": [_cell(d, lo, hi).partition(" ± ")[2] or "-" for d, lo, hi in
                            zip(part["diff"], part["welch_low"], part["welch_high"],
                                strict=True)],
            "width ratio": part["width_ratio"].map(
                lambda x: "-" if math.isnan(x) else f"{x:.2f}").to_numpy()})
        n = int(part["n"].max()) if len(part) else 0
        head = f"{label} - {base} ({n} paired replications; mean difference ± 95% half-width)"
        blocks.append(head + "\n" + shown.to_string(index=False))
    for label, keys in comparison.attrs.get("left_out", {}).items():
        blocks.append(f"not compared ({label} and the baseline do not share them): "
                      + ", ".join(keys))
    return "\n\n".join(blocks)


def write_csv(comparison: pd.DataFrame, folder: str | os.PathLike[str],
              key: str = "out") -> Path:
    """Write ``FOLDER/comparison.csv`` (created with its parents; replaced atomically).

    Raises
    ------
    UserError
        If the folder cannot be created or written (naming ``key``).
    """
    target = Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
        path = target / "comparison.csv"
        tmp = target / f".comparison.csv.tmp-{os.getpid()}"
        comparison.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError([Problem("<command line>", None, key,
                                 f"cannot write {target}: {exc.strerror or exc}")]) from None
    return path
