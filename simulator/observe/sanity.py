"""Warnings about results that are numbers but make no sense.

The model runs whatever the scenario says; some scenarios give results nobody would
believe, and those must not be tabulated silently. After each replication the stock
points' sums are checked and each finding becomes a row of ``warnings.csv``:

* ``absurd_order``: a replenishment order above :data:`ABSURD_ORDER` units;
* ``never_orders``: no replenishment order in the measured window while demand went
  unmet (backordered or lost) — a policy that never reorders, or a reorder level that
  can never be reached;
* ``non_finite``: a metric that is infinite or not a number where one was expected
  (NaN fill rates with no demand are normal and not reported).
"""
from __future__ import annotations

import math
from typing import Any

#: replenishment orders larger than this many units are reported
ABSURD_ORDER = 1e12

#: metrics that may be NaN by definition (no demand, no stock)
_MAY_BE_NAN = {"fill_rate", "inventory_turnover", "bullwhip", "forecast_mae", "forecast_rmse",
               "forecast_bias", "forecast_mape"}


def _row(replication: int, time: float, wh: str, product: str, kind: str, severity: str,
         message: str) -> dict[str, Any]:
    return {"replication": replication, "time": time, "warehouse": wh, "product": product,
            "kind": kind, "severity": severity, "message": message}


def check(replication: int, end: float, stats: dict[tuple[str, str], Any],
          rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Warnings for one replication: ``stats`` are the collector's per stock point sums,
    ``rows`` the metric rows (one per stock point), ``end`` the end of the horizon."""
    found = []
    by_key = {(r["warehouse"], r["product"]): r for r in rows}
    for (wh, pid), st in stats.items():
        row = by_key.get((wh, pid), {})
        if st.max_order > ABSURD_ORDER:
            found.append(_row(replication, st.max_order_time, wh, pid, "absurd_order", "error",
                              f"the policy ordered {st.max_order:.3g} units at once; check "
                              "its parameters"))
        unmet = row.get("avg_backorders", 0.0) > 0 or row.get("lost_units", 0.0) > 0
        if st.orders == 0 and row.get("demand_units", 0.0) > 0 and unmet:
            found.append(_row(replication, end, wh, pid, "never_orders", "warning",
                              "no replenishment order in the measured window while demand "
                              "went unmet; the reorder level may be unreachable"))
        bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)
               and not (k in _MAY_BE_NAN and math.isnan(v))]
        if bad:
            found.append(_row(replication, end, wh, pid, "non_finite", "error",
                              "not a finite number: " + ", ".join(bad)))
    return found
