"""Planner helpers from the inventory textbooks: EOQ, safety stock, reorder point, ABC.

The formulas and their assumptions are in docs/planning.md. Units: demand in units per
day, costs in money per order (``ordering_cost``) and per unit per day (``holding_cost``),
lead times in days. The EOQ policy (policies/classic.py) derives its ``Q`` and ``r`` with
:func:`eoq` and :func:`reorder_point`, so the calculators and the policy agree.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from simulator.scenario.models import Scenario

#: days in a year, for annual demand value
DAYS_PER_YEAR = 365


class BadValue(ValueError):
    """A calculator argument out of range; :attr:`name` is the parameter's name."""

    def __init__(self, name: str, message: str):
        self.name = name
        self.message = message
        super().__init__(f"{name} {message}")


def _check(name: str, value: float, low: float = 0.0, strict: bool = False) -> float:
    """``value`` as a float if finite and >= ``low`` (> when ``strict``), else BadValue."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise BadValue(name, f"must be a number (got {value!r})") from None
    if not math.isfinite(x) or x < low or (strict and x == low):
        op = ">" if strict else ">="
        raise BadValue(name, f"must be a finite number {op} {low:g} (got {value!r})")
    return x


def eoq(demand_per_day: float, ordering_cost: float, holding_cost_per_day: float) -> float:
    """Economic order quantity ``sqrt(2 D K / h)`` (units, not rounded).

    Parameters
    ----------
    demand_per_day : float
        Mean demand D (units per day), > 0.
    ordering_cost : float
        Fixed cost K per order (money), > 0.
    holding_cost_per_day : float
        Holding cost h per unit per day (money / unit / day), > 0. D and h must share the
        time unit: D per year with h per year gives the same Q.

    Returns
    -------
    float
        The order quantity minimising ordering plus holding cost per day (units).

    Raises
    ------
    ValueError
        When a value is not a finite number > 0.
    """
    d = _check("demand_per_day", demand_per_day, strict=True)
    k = _check("ordering_cost", ordering_cost, strict=True)
    h = _check("holding_cost_per_day", holding_cost_per_day, strict=True)
    return math.sqrt(2 * d * k / h)


def safety_stock(service_level: float, demand_var_per_day: float, lead_time_mean: float,
                 lead_time_var: float = 0.0, demand_rate: float | None = None,
                 review_period: float = 0.0) -> float:
    """Safety stock ``z sqrt(T V + D^2 Var(L))`` (units), ``T = E[L] + review_period``.

    Parameters
    ----------
    service_level : float
        Cycle service level, the probability of no stockout in a cycle, in (0, 1).
    demand_var_per_day : float
        Variance rate V of demand (units**2 per day): demand over t days has variance V t.
    lead_time_mean : float
        Mean lead time E[L] (days), >= 0.
    lead_time_var : float, optional
        Variance of the lead time Var(L) (days**2), >= 0; default 0 (fixed lead time).
    demand_rate : float, optional
        Mean demand D (units per day), >= 0; required when ``lead_time_var`` > 0.
    review_period : float, optional
        Days between reviews (0: continuous review), >= 0.

    Returns
    -------
    float
        z times the standard deviation of demand over the protection period (units);
        z = Phi^-1(service_level) under the normal approximation.
    """
    sl = _check("service_level", service_level)
    if not 0.0 < sl < 1.0:
        raise BadValue("service_level", f"must be between 0 and 1, exclusive "
                                        f"(got {service_level!r})")
    v = _check("demand_var_per_day", demand_var_per_day)
    t = _check("lead_time_mean", lead_time_mean) + _check("review_period", review_period)
    lv = _check("lead_time_var", lead_time_var)
    if demand_rate is None and lv > 0:
        raise BadValue("demand_rate", "is required when lead_time_var > 0")
    d = 0.0 if demand_rate is None else _check("demand_rate", demand_rate)
    return NormalDist().inv_cdf(sl) * math.sqrt(v * t + d * d * lv)


def reorder_point(demand_rate: float, service_level: float, demand_var_per_day: float,
                  lead_time_mean: float, lead_time_var: float = 0.0,
                  review_period: float = 0.0) -> float:
    """Reorder point ``D T + safety_stock`` (units), ``T = E[L] + review_period``.

    Parameters are those of :func:`safety_stock`; ``demand_rate`` D (units per day, >= 0)
    gives the mean demand over the protection period.

    Returns
    -------
    float
        The inventory position at or below which to order (units, not rounded).
    """
    d = _check("demand_rate", demand_rate)
    ss = safety_stock(service_level, demand_var_per_day, lead_time_mean, lead_time_var,
                      d, review_period)
    return d * (float(lead_time_mean) + float(review_period)) + ss


def annual_demand(sc: Scenario) -> dict[str, float]:
    """Mean customer demand per product over a year (units): the customers' mean demand per
    day over days ``[warmup, horizon)`` (simulator.scenario.derived) times 365."""
    from simulator.scenario.derived import customer_moments

    window = (float(sc.warmup), float(sc.horizon))
    per_day = {p.id: 0.0 for p in sc.products}
    for c in sc.customers:
        for pid, (mean, _var) in customer_moments(c, window).items():
            per_day[pid] = per_day.get(pid, 0.0) + mean
    return {pid: m * DAYS_PER_YEAR for pid, m in per_day.items()}


def abc(scenario: Scenario | str | dict[str, object], a: float = 0.8,
        b: float = 0.95) -> pd.DataFrame:
    """ABC classification of a scenario's products by annual demand value.

    The value of a unit is the product's ``unit_cost``; when no product has one, its
    ``holding_cost`` (holding cost is usually a rate times the unit's value, so it ranks
    products as their values do); when those are all 0 too, every unit counts 1 (ranking by
    units).
    Products are sorted by annual value, largest first (ties by id); a product is class A
    while the cumulative share of value up to and including it is at most ``a``, B while at
    most ``b``, else C. The first product is always A, and a product with no demand is C.

    Parameters
    ----------
    scenario : Scenario, path or mapping
        The scenario (loaded with :func:`simulator.load` when not a Scenario).
    a, b : float
        Cumulative shares closing classes A and B, ``0 < a < b <= 1``.

    Returns
    -------
    pandas.DataFrame
        One row per product: ``product, annual_units, unit_value, annual_value, share,
        cumulative_share, class`` (units per year; money per year for the value).
    """
    import pandas as pd

    from simulator.scenario import load

    a_, b_ = check_shares(a, b)
    rows = classify(load(scenario), a_, b_)  # type: ignore[arg-type]
    return pd.DataFrame(rows, columns=["product", "annual_units", "unit_value", "annual_value",
                                       "share", "cumulative_share", "class"])


def check_shares(a: float, b: float) -> tuple[float, float]:
    """The cumulative shares closing classes A and B as floats, if ``0 < a < b <= 1``
    (else :class:`BadValue`)."""
    a_, b_ = _check("a", a, strict=True), _check("b", b, strict=True)
    if not a_ < b_ <= 1.0:
        raise BadValue("b" if a_ < 1.0 else "a", f"the shares must satisfy 0 < a < b <= 1 "
                                                 f"(got a={a!r}, b={b!r})")
    return a_, b_


def classify(sc: Scenario, a: float = 0.8, b: float = 0.95) -> list[dict[str, object]]:
    """The rows of :func:`abc` for a validated scenario (no loading, no pandas; linear in
    the number of products and demand streams after one sort), shares as checked by
    :func:`check_shares`."""
    units = annual_demand(sc)
    costs = {p.id: p.unit_cost for p in sc.products}
    if not any(v > 0 for v in costs.values()):
        costs = {p.id: p.holding_cost for p in sc.products}
    value = costs if any(v > 0 for v in costs.values()) else dict.fromkeys(costs, 1.0)
    rows = sorted(((pid, units[pid], value[pid]) for pid in costs),
                  key=lambda r: (-r[1] * r[2], r[0]))
    total = sum(u * v for _, u, v in rows)
    out: list[dict[str, object]] = []
    cum = 0.0
    for i, (pid, u, v) in enumerate(rows):
        share = u * v / total if total > 0 else 0.0
        cum += share
        klass = "C" if share == 0 else "A" if i == 0 or cum <= a + 1e-12 \
            else "B" if cum <= b + 1e-12 else "C"
        out.append({"product": pid, "annual_units": u, "unit_value": v,
                    "annual_value": u * v, "share": share, "cumulative_share": cum,
                    "class": klass})
    return out


def classes(sc: Scenario, a: float = 0.8, b: float = 0.95) -> dict[str, str]:
    """Product id -> ABC class (``"A"``, ``"B"`` or ``"C"``) of a validated scenario, as
    :func:`abc` classifies it."""
    return {str(r["product"]): str(r["class"]) for r in classify(sc, a, b)}
