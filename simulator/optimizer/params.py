"""What ``simulator optimize`` tunes and what it must respect: ``--param`` and ``--constraint``.

``--param KEY=LOW:HIGH[:STEP]`` names any numeric scenario value by its dotted key
(:mod:`simulator.experiment.keys`). The value is a whole number when both bounds are written
as whole numbers or the scenario holds it as one (``replications``; policy levels are held as
floats); otherwise it is a float. ``STEP`` (optional)
spaces the grid of ``--method grid`` and is the smallest move of annealing.

``--constraint METRIC>=X`` (or ``<=``) bounds the mean over replications of a metric: the
network total (costs and units summed over the stock points; the fill rate weighted by demand,
as :func:`simulator.plots.sweep.totals` defines it) or, written ``METRIC[WAREHOUSE/PRODUCT]``,
one stock point's.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from simulator.errors import Problem, UserError
from simulator.plots.sweep import ADDITIVE  # metrics that add up over stock points

#: metrics with a network total (the fill rate: demand-weighted)
TOTALLED = (*ADDITIVE, "fill_rate")

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_CONSTRAINT = re.compile(rf"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[([^\]/]+)/([^\]]+)\])?\s*"
                         rf"(>=|<=)\s*({_NUMBER})\s*$")


@dataclass(frozen=True)
class Param:
    """One tuned value: the box ``[low, high]`` (units of the scenario value)."""

    key: str
    low: float
    high: float
    integer: bool
    step: float | None = None

    def value(self, x: float) -> int | float:
        """The value at ``x`` in [0, 1] of the box (a whole number for an integer param,
        on the ``step`` lattice when one is given)."""
        v = self.low + min(max(x, 0.0), 1.0) * (self.high - self.low)
        return self.snap(v)

    def snap(self, v: float) -> int | float:
        """``v`` clipped into the box and rounded to the lattice (whole numbers, steps)."""
        v = min(max(v, self.low), self.high)
        if self.step:
            v = self.low + round((v - self.low) / self.step) * self.step
            v = min(v, self.high)
        if self.integer:
            return int(min(max(round(v), math.ceil(self.low)), math.floor(self.high)))
        return float(v)

    def unit(self, v: float) -> float:
        """``v`` as a share of the box (0 at ``low``, 1 at ``high``)."""
        width = self.high - self.low
        return 0.0 if width <= 0 else (float(v) - self.low) / width

    def levels(self, n: int) -> list[int | float]:
        """The grid of this param: every step (or ``n`` levels evenly spaced, whole numbers
        without repeats)."""
        if self.step:
            count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
            return list(dict.fromkeys(self.snap(self.low + i * self.step) for i in range(count)))
        if n <= 1 or self.high == self.low:
            return [self.snap((self.low + self.high) / 2)]
        return list(dict.fromkeys(self.value(i / (n - 1)) for i in range(n)))


@dataclass(frozen=True)
class Constraint:
    """``metric op bound`` on the mean over replications, of a stock point or the network."""

    text: str
    metric: str
    op: str
    bound: float
    warehouse: str | None = None
    product: str | None = None

    def violation(self, mean: float) -> float:
        """How far ``mean`` is on the wrong side of the bound (0 if satisfied; inf if NaN)."""
        if mean != mean:
            return math.inf
        gap = self.bound - mean if self.op == ">=" else mean - self.bound
        return max(0.0, gap)

    @property
    def column(self) -> str:
        """The trace column: the metric as given (``fill_rate`` or ``fill_rate[dc/widget]``)."""
        if self.warehouse is None:
            return self.metric
        return f"{self.metric}[{self.warehouse}/{self.product}]"


def _problem(flag: str, message: str) -> Problem:
    return Problem("<command line>", None, flag, message)


def _number(text: str) -> float | int | None:
    if not re.fullmatch(_NUMBER, text.strip()):
        return None
    t = text.strip()
    return int(t) if re.fullmatch(r"[-+]?\d+", t) else float(t)


def parse_param(text: str, data: dict[str, Any]) -> Param:
    """``KEY=LOW:HIGH[:STEP]`` checked against the scenario's plain data.

    Raises
    ------
    UserError
        ``<command line>: --param: KEY: message`` for a malformed text, a key that names no
        numeric value, bounds not numbers, LOW > HIGH or a step not > 0.
    """
    from simulator.experiment.keys import BadKey, get, resolve

    key, sep, rng = str(text).partition("=")
    key = key.strip()
    if not sep or not key:
        raise UserError([_problem("--param", f"{text!r}: expected KEY=LOW:HIGH (or "
                                  "KEY=LOW:HIGH:STEP), e.g. warehouses.dc.inventory.widget."
                                  "policy.s=10:80")])
    try:
        value = get(data, resolve(data, key, create=False))
    except BadKey as exc:
        raise UserError([_problem("--param", f"{key}: {exc}")]) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError([_problem("--param", f"{key}: is not a number in the scenario "
                                  f"({value!r:.60}); only numeric values can be tuned")])
    parts = rng.split(":")
    nums = [_number(p) for p in parts]
    if len(parts) not in (2, 3) or any(n is None for n in nums):
        raise UserError([_problem("--param", f"{key}: {rng!r} is not LOW:HIGH or "
                                  "LOW:HIGH:STEP with numbers")])
    low, high = float(nums[0]), float(nums[1])  # type: ignore[arg-type]
    step = float(nums[2]) if len(nums) == 3 else None  # type: ignore[arg-type]
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise UserError([_problem("--param", f"{key}: LOW must be at most HIGH and both "
                                  f"finite, got {rng!r}")])
    if step is not None and not (math.isfinite(step) and step > 0):
        raise UserError([_problem("--param", f"{key}: STEP must be a number > 0, got "
                                  f"{parts[2]!r}")])
    integer = isinstance(value, int) or all(isinstance(n, int) for n in nums[:2])
    if integer and math.ceil(low) > math.floor(high):
        raise UserError([_problem("--param", f"{key}: no whole number between {low:g} and "
                                  f"{high:g}")])
    return Param(key, low, high, integer, step)


def parse_constraint(text: str, stock_points: set[tuple[str, str]]) -> Constraint:
    """``METRIC>=X``, ``METRIC<=X`` or ``METRIC[WAREHOUSE/PRODUCT]>=X``.

    Raises
    ------
    UserError
        ``<command line>: --constraint: message`` naming the constraint, for a bad form or
        operator, an unknown metric or stock point, or a metric without a network total.
    """
    from simulator.observe.metrics import METRICS

    m = _CONSTRAINT.match(str(text))
    if m is None:
        raise UserError([_problem("--constraint", f"{text!r}: expected METRIC>=X, METRIC<=X "
                                  "or METRIC[WAREHOUSE/PRODUCT]>=X (operators >= and <=), "
                                  "e.g. fill_rate>=0.95")])
    metric, wh, prod, op, bound = m.groups()
    if metric not in METRICS:
        raise UserError([_problem("--constraint", f"{text!r}: unknown metric {metric!r}; "
                                  f"metrics: {', '.join(METRICS)}")])
    if wh is not None:
        wh, prod = wh.strip(), prod.strip()
        if (wh, prod) not in stock_points:
            shown = ", ".join(f"{w}/{p}" for w, p in sorted(stock_points))
            raise UserError([_problem("--constraint", f"{text!r}: no stock point {wh}/{prod};"
                                      f" stock points: {shown}")])
    elif metric not in TOTALLED:
        raise UserError([_problem("--constraint", f"{text!r}: {metric} has no network total;"
                                  " name a stock point, e.g. "
                                  f"{metric}[WAREHOUSE/PRODUCT]{op}{bound}")])
    return Constraint(str(text).strip(), metric, op, float(bound), wh, prod)
