"""``annealing``: an (s, S) policy that tunes its own s and S by simulated annealing.

At the start (:meth:`Annealing.prepare`) and then every ``retune_every`` days (0: only at the
start) the policy searches the integer pairs (s, Q = S - s) for the lowest average cost per
day of a fast single-item simulation (:func:`inner_cost`) of ``sample_days`` days:

* demand: compound Poisson with the stock point's demand rate D (units/day) and variance rate
  V (units**2/day): orders arrive as a Poisson process and their sizes are geometric on
  {1, 2, ...} with ``p = 2 / (V/D + 1)``, which gives mean D and variance V per day
  (``V <= D``: unit sizes, Poisson demand, variance D). At the start D and V come from the
  :class:`~policies.base.PolicyContext`; at a retune, from the mean and variance of the daily
  demand the policy observed over the last ``max(retune_every, 28)`` days;
* lead times: the context's mean, gamma-distributed with the context's variance (constant
  when it is 0), one per order, orders may cross;
* review: after every demand (``review_period: 0``, continuous) or at t = 0, R, 2R, ...:
  when the position is at or below s, order up to S (as ``sS``);
* cost per day: ``ordering_cost`` per order, ``holding_cost`` per unit on hand per day,
  ``backorder_cost`` per unit backordered per day and ``lost_sale_cost`` per unit demanded
  that finds no stock (counted as if shortages were backordered), over days
  ``[sample_days / 5, sample_days)`` (the first fifth is a warm-up from a full start, IP = S);
  a sample holds at most :data:`MAX_EVENTS` demand events (expected), so for a fast mover it is
  shorter than ``sample_days``.

Every candidate is evaluated on the SAME pre-drawn demand and lead times (common random
numbers inside the tuner), so cost differences between candidates are not noise between
samples. Draws come from the policy's own stream
``simulator.rng.stream(seed + seed_offset, replication, "policy/annealing/WAREHOUSE/PRODUCT")``,
so the model's streams (customers' demand, lead times) are the same as with any other policy.

Search space: with mu and sigma the mean and standard deviation of demand over the
protection period P = mean lead time + review period (``sigma**2 = V P + D**2 Var(L)``),
``s`` ranges over ``[floor(mu - 3 sigma) - 1, ceil(mu + 4 sigma) + 1]`` and ``Q`` over
``[max(1, floor(EOQ / 2)), ceil(3 EOQ + 2 sigma) + 1]`` with EOQ = sqrt(2 D K / h) (``D * 30``
and a lower bound of 1 when h = 0): the best Q of a continuous-review (r, Q) policy is at least
the EOQ (Zheng, 1992, Operations Research 40(1)), so half of it leaves room for the (s, S)
undershoot and for periodic review, and small Q (many orders, a slow inner simulation) are not
visited.
Annealing starts at s = round(mu), Q = round(EOQ) (clipped), the temperature at
``temperature`` times the start's cost, and multiplies it by ``cooling`` after each of the
``iterations`` moves; a move changes s or Q by up to a tenth of its range (scaled down with the
temperature, at least 1); a worse candidate is accepted with probability exp(-increase / T).
The best candidate seen is kept.
"""
from __future__ import annotations

import bisect
import collections
import math
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field, Strict

from policies.base import NonNeg, Policy, PolicyContext, StockView
from simulator import rng

#: days of observed demand a retune estimates the rate from (at least ``retune_every``)
MIN_WINDOW = 28
#: most demand events (expected) of one inner sample: a fast mover's sample is shorter than
#: ``sample_days`` (a bound on the tuner's time, about 5 ms per candidate at most)
MAX_EVENTS = 30_000


@dataclass(frozen=True)
class Sample:
    """One pre-drawn sample of an inner simulation (shared by every candidate).

    Attributes
    ----------
    times : numpy.ndarray
        Demand event times (days), increasing, in ``[0, days)``.
    sizes : numpy.ndarray
        Units of each demand event.
    reviews : numpy.ndarray
        Review times (days): the demand times (continuous review) or 0, R, 2R, ...
    seen, seen_list : numpy.ndarray, list of float
        Cumulative demand (units) up to and including each review (as both).
    lead : numpy.ndarray
        Lead time (days) of the i-th order (one per review at most).
    days, warm : float
        Length of the sample and of its warm-up (days).
    """

    times: np.ndarray
    sizes: np.ndarray
    reviews: np.ndarray
    seen: np.ndarray
    seen_list: list[float]
    lead: np.ndarray
    days: float
    warm: float


@dataclass(frozen=True)
class Costs:
    """Cost rates of the inner simulation (money per order, per unit per day, per unit)."""

    ordering: float
    holding: float
    backorder: float
    lost: float


def draw_sample(gen: np.random.Generator, rate: float, var_rate: float, lt_mean: float,
                lt_var: float, days: float, review_period: float) -> Sample:
    """Pre-draw demand and lead times for ``days`` days (see the module docstring).

    Parameters
    ----------
    gen : numpy.random.Generator
        The policy's own stream.
    rate, var_rate : float
        Demand mean (units/day) and variance rate (units**2/day).
    lt_mean, lt_var : float
        Lead time mean (days) and variance (days**2).
    days, review_period : float
        Sample length and review period (days; 0: continuous review). The sample is cut to
        :data:`MAX_EVENTS` expected demand events (a fast mover's is shorter).
    """
    ratio = var_rate / rate if rate > 0 else 1.0
    p = 2.0 / (ratio + 1.0) if ratio > 1.0 else 1.0
    if rate * p * days > MAX_EVENTS:
        days = MAX_EVENTS / (rate * p)
    n = int(gen.poisson(rate * p * days)) if rate > 0 else 0
    times = np.sort(gen.uniform(0.0, days, n))
    sizes = gen.geometric(p, n).astype(float) if p < 1.0 else np.ones(n)
    cum = np.cumsum(sizes)
    if review_period > 0:
        reviews = np.arange(0.0, days, review_period)
        seen = np.concatenate([[0.0], cum])[np.searchsorted(times, reviews, side="right")]
    else:
        reviews, seen = times, cum
    k = len(reviews) + 1
    if lt_var > 0 and lt_mean > 0:
        shape = lt_mean * lt_mean / lt_var
        lead = gen.gamma(shape, lt_mean / shape, k)
    else:
        lead = np.full(k, lt_mean)
    return Sample(times, sizes, reviews, seen, seen.tolist(), lead, days, days / 5.0)


def inner_cost(sample: Sample, s: int, big_s: int, costs: Costs) -> float:
    """Average cost per day (money/day) of (s, S) on ``sample`` after its warm-up.

    The position starts at S with S on hand; at a review whose position is at or below s the
    policy orders up to S. Orders are found cycle by cycle (a binary search on cumulative
    demand), the net inventory path from the merged demand and arrival events.
    """
    q = big_s - s
    seen = sample.seen
    cum = sample.seen_list
    n, at = len(cum), []
    m = bisect.bisect_left(cum, q)
    while m < n:  # cycle by cycle: the next order is at the first review seeing Q more units
        at.append(m)
        m = bisect.bisect_left(cum, cum[m] + q, m + 1)
    idx = np.asarray(at, dtype=int)
    placed = sample.reviews[idx]
    got = np.diff(np.concatenate([[0.0], seen[idx]]))
    arrive = placed + sample.lead[:len(idx)]
    times = np.concatenate([arrive, sample.times])
    delta = np.concatenate([got, -sample.sizes])
    order = np.argsort(times, kind="stable")  # arrivals first at equal times
    level = big_s + np.cumsum(delta[order])
    edges = np.clip(np.concatenate([[0.0], times[order], [sample.days]]), sample.warm,
                    sample.days)
    path = np.concatenate([[float(big_s)], level])
    dur = np.diff(edges)
    # sums of products, not np.dot: BLAS threads cost milliseconds on a busy machine
    area_oh = float((np.maximum(path, 0.0) * dur).sum())
    area_bo = float((np.maximum(-path, 0.0) * dur).sum())
    total = costs.holding * area_oh + costs.backorder * area_bo
    total += costs.ordering * int(np.count_nonzero(placed >= sample.warm))
    if costs.lost > 0:
        demand = order >= len(arrive)
        after = level[demand]
        x = sample.sizes[order[demand] - len(arrive)]
        counted = sample.times[order[demand] - len(arrive)] >= sample.warm
        short = x - np.clip(after + x, 0.0, x)
        total += costs.lost * float(short[counted].sum())
    return total / (sample.days - sample.warm)


@dataclass(frozen=True)
class Space:
    """The search space: s in [s_lo, s_hi], Q = S - s in [q_lo, q_hi]; start (s0, q0)."""

    s_lo: int
    s_hi: int
    q_lo: int
    q_hi: int
    s0: int
    q0: int


def search_space(rate: float, var_rate: float, lt_mean: float, lt_var: float,
                 review_period: float, costs: Costs) -> Space:
    """Bounds and start of the search (module docstring), from demand over lead time."""
    p = lt_mean + review_period
    mu = rate * p
    sigma = math.sqrt(max(0.0, var_rate * p + rate * rate * lt_var))
    if costs.holding > 0 and rate > 0:
        eoq = math.sqrt(2.0 * rate * costs.ordering / costs.holding)
    else:
        eoq = rate * 30.0
    s_lo = math.floor(mu - 3.0 * sigma) - 1
    s_hi = math.ceil(mu + 4.0 * sigma) + 1
    q_lo = max(1, math.floor(eoq / 2.0)) if costs.holding > 0 else 1
    q_hi = max(q_lo + 1, math.ceil(3.0 * eoq + 2.0 * sigma) + 1)
    s0 = min(max(round(mu), s_lo), s_hi)
    q0 = min(max(round(eoq), q_lo), q_hi)
    return Space(s_lo, s_hi, q_lo, q_hi, s0, q0)


def anneal(sample: Sample, costs: Costs, space: Space, gen: np.random.Generator,
           iterations: int, temperature: float, cooling: float) -> tuple[int, int, float]:
    """Simulated annealing over (s, Q) on one sample; returns the best (s, S, cost per day)."""
    memo: dict[tuple[int, int], float] = {}

    def cost(s: int, q: int) -> float:
        key = (s, q)
        if key not in memo:
            memo[key] = inner_cost(sample, s, s + q, costs)
        return memo[key]

    s, q = space.s0, space.q0
    here = cost(s, q)
    best = (here, s, q)
    t0 = temperature * max(here, 1e-12)
    t = t0
    spans = (space.s_hi - space.s_lo, space.q_hi - space.q_lo)
    for _ in range(iterations):
        which = int(gen.integers(2))
        reach = max(1, round(spans[which] / 10.0 * t / t0))
        step = int(gen.integers(1, reach + 1)) * (1 if gen.random() < 0.5 else -1)
        ns, nq = (s + step, q) if which == 0 else (s, q + step)
        ns = min(max(ns, space.s_lo), space.s_hi)
        nq = min(max(nq, space.q_lo), space.q_hi)
        there = cost(ns, nq)
        worse = there - here
        if worse <= 0 or (t > 0 and gen.random() < math.exp(-worse / t)):
            s, q, here = ns, nq, there
            if here < best[0]:
                best = (here, s, q)
        t *= cooling
    return best[1], best[1] + best[2], best[0]


class _State:
    """The policy's run-time state (a plain object: read after every demand)."""

    __slots__ = ("ctx", "gen", "s", "S", "cost", "days", "tunes")

    def __init__(self) -> None:
        self.ctx: PolicyContext | None = None
        self.gen: np.random.Generator | None = None
        self.s = 0.0
        self.S = 1.0
        self.cost = math.nan                    # the inner cost per day of (s, S)
        self.days: collections.deque[float] = collections.deque()
        self.tunes = 0


class Annealing(Policy):
    """(s, S) tuned by simulated annealing on simulated demand (module docstring)."""

    #: the default initial stock (S) is known after prepare: filled by the model
    level_from_context: ClassVar[bool] = True
    prepare_when: ClassVar[str | None] = None

    iterations: Annotated[int, Strict()] = Field(300, ge=1, le=100_000)
    temperature: Annotated[float, Strict()] = Field(0.1, gt=0, le=1e6)
    cooling: Annotated[float, Strict()] = Field(0.98, gt=0, lt=1)
    sample_days: Annotated[float, Strict()] = Field(3000.0, ge=10, le=1e6)
    retune_every: NonNeg = 0.0
    seed_offset: Annotated[int, Strict()] = Field(0, ge=0, le=2**32)

    def model_post_init(self, context: Any, /) -> None:
        object.__setattr__(self, "_st", _State())

    @property
    def observes(self) -> bool:
        """Whether the model must hand this policy each day's demand (to retune)."""
        return self.retune_every > 0

    def check_context(self, context: PolicyContext) -> None:
        """What :meth:`prepare` needs, checked cheaply (scenario validation calls this)."""
        if not any((context.holding_cost, context.backorder_cost, context.lost_sale_cost,
                    context.ordering_cost)):
            raise ValueError("annealing minimises cost: give the product at least one of "
                             "holding_cost, ordering_cost, backorder_cost, lost_sale_cost")

    def prepare(self, context: PolicyContext) -> None:
        self.check_context(context)
        st: _State = self._st  # type: ignore[attr-defined]
        st.ctx = context
        st.gen = rng.stream(context.seed + self.seed_offset, context.replication,
                            f"policy/annealing/{context.warehouse}/{context.product}")
        st.days.clear()
        self._tune(context.demand_rate, context.demand_var_rate)

    def _tune(self, rate: float, var_rate: float) -> None:
        st: _State = self._st  # type: ignore[attr-defined]
        ctx, gen = st.ctx, st.gen
        assert ctx is not None and gen is not None
        costs = Costs(ctx.ordering_cost, ctx.holding_cost, ctx.backorder_cost,
                      ctx.lost_sale_cost)
        sample = draw_sample(gen, rate, var_rate, ctx.lead_time_mean, ctx.lead_time_var,
                             self.sample_days, self.review_period)
        space = search_space(rate, var_rate, ctx.lead_time_mean, ctx.lead_time_var,
                             self.review_period, costs)
        s, big_s, cost = anneal(sample, costs, space, gen, self.iterations, self.temperature,
                                self.cooling)
        st.s, st.S, st.cost = float(s), float(big_s), cost
        st.tunes += 1

    def observe(self, units: float, now: float) -> None:
        """One day's demand (units) at the day's end ``now``; retunes every
        ``retune_every`` days on the last ``max(retune_every, 28)`` days observed."""
        st: _State = self._st  # type: ignore[attr-defined]
        st.days.append(units)
        window = max(self.retune_every, MIN_WINDOW)
        while len(st.days) > window:
            st.days.popleft()
        r = self.retune_every
        if r > 0 and math.floor(now / r + 1e-9) > math.floor((now - 1.0) / r + 1e-9):
            data = np.asarray(st.days)
            mean = float(data.mean())
            var = float(data.var(ddof=1)) if len(data) > 1 else mean
            self._tune(mean, var)

    @property
    def s(self) -> float:
        """The current reorder level (units)."""
        return float(self._st.s)  # type: ignore[attr-defined]

    @property
    def S(self) -> float:  # noqa: N802 - the textbook's name
        """The current order-up-to level (units)."""
        return float(self._st.S)  # type: ignore[attr-defined]

    @property
    def tunes(self) -> int:
        """How many times the policy has tuned (s, S)."""
        return int(self._st.tunes)  # type: ignore[attr-defined]

    @property
    def order_up_to(self) -> float | None:
        return self.S if self._st.ctx is not None else None  # type: ignore[attr-defined]

    @property
    def reorder_level(self) -> float:
        return self.s

    def order_quantity(self, view: StockView) -> float:
        st = self._st  # type: ignore[attr-defined]
        p = view.position
        return st.S - p if p <= st.s else 0.0

    def resolved(self) -> dict[str, Any]:
        st: _State = self._st  # type: ignore[attr-defined]
        return {**self.model_dump(), "s": st.s, "S": st.S, "inner_cost_per_day": st.cost,
                "tunes": st.tunes}
