"""How much work a run is, before running it: an estimate of its events, and the bound.

A run's cost is dominated by its events, and the events are known in advance closely
enough to refuse an accidental ``horizon: 1e9`` (or ``review_period: 1e-9``, or
``rate: 1e6``) before it runs for days:

* every customer stream makes ``rate x horizon`` orders per replication (a ``pattern``:
  its mean rate over the run, plus one step per day of the run; a history: its share of
  days with demand);
* every periodic review makes ``horizon / review_period`` reviews;
* a supplier's random disruptions change state twice per ``mean_between + mean_duration``;
* replenishment orders and receipts come on top, at most one each per customer order
  or review, so the estimate is within a factor of about 2 of the true count.

The bound (:data:`DEFAULT_MAX_EVENTS`) is about a quarter of an hour on one core at the
speed measured in ``benchmarks/`` (about 0.5-0.6 million events per second); a run beyond
it is refused unless the caller raises the bound (``--max-events`` / ``max_events=``).
"""
from __future__ import annotations

import math
from typing import Any

from simulator.errors import Problem, UserError

#: runs estimated above this many events are refused unless the caller raises the bound
DEFAULT_MAX_EVENTS = 500_000_000
#: events per second of one core, for the time estimate in messages (benchmarks/README.md)
EVENTS_PER_SECOND = 500_000


def events_per_replication(sc: Any) -> float:
    """Estimated events of one replication of scenario ``sc`` (customer orders + reviews)."""
    days = float(sc.horizon)
    n = 0.0
    for c in sc.customers:
        for pid, d in c.demand.items():
            n += _demand_rate(d, pid, sc) * days
        if c.orders is not None:  # an order and its lines: one event per order, work per line
            n += _order_rate(c.orders, sc) * days
    for w in sc.warehouses:
        for inv in w.inventory.values():
            period = inv.policy.get("review_period", 0) or 0
            if isinstance(period, (int, float)) and period > 0:
                n += days / period + 1
    for s in sc.suppliers:  # random disruptions: two changes (down, up) per cycle
        between = getattr(s.disruptions, "mean_between", None)
        if between is not None:
            n += 2 * days / (between + s.disruptions.mean_duration)
    return n


def _window(sc: Any) -> tuple[float, float]:
    """The days a pattern's rate is averaged over for the budget: the whole run."""
    return (0.0, float(sc.horizon))


def _demand_rate(d: Any, pid: str, sc: Any) -> float:
    """Events per day of one ``demand:`` stream: its orders per day (a pattern's mean rate
    over the run, plus one step per day; a history's days with demand)."""
    hist = getattr(d, "daily", None)
    if hist is not None:
        values = hist.column(d.column or pid)
        return float((values > 0).mean())
    if getattr(d, "pattern", None) is None:
        return float(d.rate)
    from simulator.scenario.derived import pattern_rate
    return pattern_rate(d.pattern, float(d.rate), _window(sc))[0] + 1.0


def _order_rate(orders: Any, sc: Any) -> float:
    """Orders per day of a customer's ``orders`` (generated, or a log's mean), counting each
    order as one event plus one per expected line (a pattern: its mean rate over the run,
    plus one step per day)."""
    log = getattr(orders, "log", None)
    if log is not None:
        return log.events_per_day()
    lines = sum(line.probability for line in (orders.lines or {}).values())
    rate, step = float(orders.rate or 0.0), 0.0
    if getattr(orders, "pattern", None) is not None:
        from simulator.scenario.derived import pattern_rate
        rate, step = pattern_rate(orders.pattern, rate, _window(sc))[0], 1.0
    return rate * (1.0 + lines) + step


def estimate_events(sc: Any) -> float:
    """Estimated events of the whole run (all replications)."""
    return events_per_replication(sc) * sc.replications


def duration_words(seconds: float) -> str:
    """``seconds`` as a rough human duration: '40 s', '12 min', '3.5 h', '2.1 days', ..."""
    if not math.isfinite(seconds):
        return "forever"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds < 3 * 365 * 86400:
        return f"{seconds / 86400:.1f} days"
    return f"{seconds / (365 * 86400):.2g} years"


def check_budget(sc: Any, max_events: float | None, flag: str = "max_events") -> float:
    """The estimated events of running ``sc``; a :class:`UserError` if above ``max_events``.

    ``flag`` names the setting in the caller's terms (``--max-events`` on the command line).
    ``max_events`` None means no bound.
    """
    events = estimate_events(sc)
    if max_events is not None and events > max_events:
        eta = duration_words(events / EVENTS_PER_SECOND)
        msg = (f"this run is estimated at {events:.2g} events (customer orders and reviews "
               f"over {sc.horizon:g} days x {sc.replications} replications), about {eta} on "
               f"one core; the limit is {max_events:.2g}. Shorten the horizon or the "
               f"replications, or raise the limit ({flag} {_round_up(events)}) to run it anyway")
        raise UserError([Problem("<run>", None, "horizon", msg)])
    return events


def _round_up(x: float) -> str:
    """A round number at least ``x``, written as a plain value the flag accepts."""
    if not math.isfinite(x):
        return "inf"
    exp = math.floor(math.log10(max(x, 1.0)))
    lead = math.ceil(x / 10 ** exp)
    return f"{lead}e{exp}"
