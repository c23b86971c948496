"""Demand models: patterned rates (trend, weekly, yearly, promotions, intermittent days,
regimes) for ``demand:`` streams and generated ``orders:``, and daily-history replay.

The statistical checks compare per-day counts with the intensity the pattern defines, with
tolerances of 4 standard errors of Poisson counts; the exact checks compare arrival times,
replayed days and derived rates with hand-computed values (docs/demand-models.md).
"""
from __future__ import annotations

import copy
import itertools
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import simulator
from simulator import rng
from simulator.cli import main
from simulator.distributions import Exponential
from simulator.errors import ScenarioError
from simulator.experiment.budget import events_per_replication
from simulator.history import DailyHistory, HistoryError, read_history
from simulator.model import Network, arrivals
from simulator.observe.eventlog import EventLog
from simulator.scenario.derived import policy_contexts

try:  # works whether or not tests/ is a package
    from .helpers_scenarios import BASE_YAML, edit, line_of, write_scenario
except ImportError:  # pragma: no cover - depends on how pytest imports the file
    from helpers_scenarios import BASE_YAML, edit, line_of, write_scenario

Z = 4.0  # tolerance, in standard errors


def scenario(stream: dict[str, Any], *, horizon: float, warmup: float = 0.0,
             orders: bool = False, replications: int = 1, seed: int = 3) -> dict[str, Any]:
    """One stock point that never reorders (stock far above any demand) and one customer
    with ``stream`` as its ``demand: widget`` stream, or (``orders``) as generated orders
    with the single line ``widget``."""
    customer: dict[str, Any] = {"id": "c", "warehouse": "dc"}
    if orders:
        customer["orders"] = {**stream, "lines": {"widget": {"probability": 1, "size": 1}}}
    else:
        customer["demand"] = {"widget": stream}
    return {
        "name": "demand-models", "horizon": horizon, "warmup": warmup, "seed": seed,
        "replications": replications,
        "products": [{"id": "widget", "holding_cost": 1, "ordering_cost": 10}],
        "suppliers": [{"id": "acme", "lead_time": 1}],
        "warehouses": [{"id": "dc", "inventory": {"widget": {
            "source": "acme", "initial": 1e11, "policy": {"type": "sS", "s": 0, "S": 1}}}}],
        "customers": [customer],
    }


def demands(data: dict[str, Any] | simulator.Scenario,
            replication: int = 0) -> list[tuple[float, float]]:
    """(time, units) of every demand at the stock point, in order."""
    sc = simulator.load(data)
    net = Network(sc, replication=replication)
    records: list[tuple[Any, ...]] = []
    net.attach(lambda sp: EventLog(records))
    net.start()
    net.run(sc.horizon)
    return [(r[0], r[4]) for r in records if r[1] == "demand"]


def per_day(events: list[tuple[float, float]], days: int) -> np.ndarray:
    """Orders arrived on each day 0 .. days - 1."""
    t = np.array([e[0] for e in events])
    return np.bincount(np.floor(t).astype(int), minlength=days)[:days]


def assert_poisson_days(counts: np.ndarray, rates: np.ndarray) -> None:
    """Day counts are Poisson with the given means: days of rate 0 have no order; the
    standardised counts z = (N - rate) / sqrt(rate) have mean 0 (SE 1/sqrt(n)) and mean
    square 1 (SE sqrt((2 + mean(1/rate)) / n), from the Poisson fourth moment)."""
    assert counts[rates == 0].sum() == 0
    on = rates > 0
    z = (counts[on] - rates[on]) / np.sqrt(rates[on])
    n = len(z)
    assert abs(z.mean()) < Z / math.sqrt(n), z.mean()
    se = math.sqrt((2 + np.mean(1 / rates[on])) / n)
    assert abs((z ** 2).mean() - 1) < Z * se, ((z ** 2).mean(), se)


# ------------------------------------------------------------------------- no pattern

def test_stream_without_pattern_draws_exactly_as_before():
    """No pattern: the arrival times are the running sums of exponential gaps of mean
    1 / rate from the stream ``demand/c/widget/arrivals`` (the draws of every earlier
    version: exact logs elsewhere depend on it)."""
    got = demands(scenario({"rate": 3}, horizon=40))
    draws = Exponential(dist="exponential", mean=1 / 3).stream(
        rng.stream(3, 0, "demand/c/widget/arrivals"))
    t, want = 0.0, []
    while True:
        t += next(draws)
        if t >= 40:
            break
        want.append((t, 1.0))
    assert got == want


def test_network_wires_no_pattern_streams_to_the_old_fast_path():
    net = Network(simulator.load(scenario({"rate": 3}, horizon=5)))
    assert type(net.sources[0].gaps).__name__ != "generator"  # batched draws, no walk by day
    det = Network(simulator.load(scenario({"rate": 3, "arrivals": "deterministic"},
                                          horizon=5)))
    assert det.sources[0].rate == 3 and det.sources[0].gaps is None


# ---------------------------------------------------------------------------- patterns

WEEKLY = [1.0, 2.0, 0.5, 1.0, 1.5, 3.0, 0.0]


def weekly_rates(base: float, days: int, trend: float = 0.0) -> np.ndarray:
    t = np.arange(days)
    return base * np.maximum(0, 1 + trend * t) * np.array(WEEKLY)[t % 7]


def test_counts_per_day_follow_trend_and_weekly_profile():
    days = 2800
    stream = {"rate": 4, "pattern": {"trend": 0.0005, "weekly": WEEKLY}}
    counts = per_day(demands(scenario(stream, horizon=days)), days)
    assert_poisson_days(counts, weekly_rates(4, days, 0.0005))


def test_weekly_profile_recovered():
    """Mean orders per weekday over W weeks: rate x weekly[d], within 4 SE (Poisson)."""
    weeks = 600
    counts = per_day(demands(scenario({"rate": 5, "pattern": {"weekly": WEEKLY}},
                                      horizon=7 * weeks)), 7 * weeks).reshape(weeks, 7)
    want = 5 * np.array(WEEKLY)
    se = np.sqrt(np.maximum(want, 1e-9) / weeks)
    assert np.all(np.abs(counts.mean(axis=0) - want) < Z * se), counts.mean(axis=0)
    assert counts[:, 6].sum() == 0


@pytest.mark.parametrize("profile", ["monthly", "weekly"])
def test_yearly_profile(profile):
    """12 months (day t in month floor((t mod 365) * 12 / 365)) or 52 weeks."""
    n = 12 if profile == "monthly" else 52
    factors = [0.5 + (i % 4) * 0.5 for i in range(n)]
    days = 365 * 3
    counts = per_day(demands(scenario({"rate": 3, "pattern": {"yearly": factors}},
                                      horizon=days)), days)
    doy = np.arange(days) % 365
    index = doy * 12 // 365 if n == 12 else np.minimum(doy // 7, 51)
    assert_poisson_days(counts, 3 * np.array(factors)[index])
    # the boundaries: day 30 is still January, day 31 February; day 364 is week 51
    assert (30 * 12 // 365, 31 * 12 // 365) == (0, 1)


def test_promotion_days_show_their_factor():
    """Demand over the promotion's days (warm-up 10, horizon 20: days 10..19) is 3x the
    rate, compound Poisson over 40 replications; outside the promotion it is the rate."""
    stream = {"rate": 5, "size": 2, "pattern": {"promotions": [
        {"from": 10, "to": 20, "factor": 3}]}}
    inside = simulator.run(scenario(stream, horizon=20, warmup=10, replications=40),
                           progress=False).metrics["demand_units"]
    outside = simulator.run(scenario(stream, horizon=10, replications=40),
                            progress=False).metrics["demand_units"]
    for got, rate in ((inside, 15.0), (outside, 5.0)):
        mean, var = rate * 10 * 2, rate * 10 * 4  # orders x size 2
        assert abs(got.mean() - mean) < Z * math.sqrt(var / len(got)), (got.mean(), mean)


def test_intermittent_days():
    """p = 0.25, rate 2: a day has demand with probability p, at rate 2 / p then, so the
    zero-day share is 1 - p + p exp(-rate / p) and the mean stays 2 per day."""
    days, p, rate = 12000, 0.25, 2.0
    counts = per_day(demands(scenario({"rate": rate, "pattern": {"intermittent": p}},
                                      horizon=days)), days)
    zero = 1 - p + p * math.exp(-rate / p)
    assert abs((counts == 0).mean() - zero) < Z * math.sqrt(zero * (1 - zero) / days)
    var = rate + rate ** 2 * (1 / p - 1)
    assert abs(counts.mean() - rate) < Z * math.sqrt(var / days)
    m4 = np.mean((counts - counts.mean()) ** 4)  # SE of a sample variance: (m4 - s^4) / n
    assert abs(counts.var() - var) < Z * math.sqrt((m4 - counts.var() ** 2) / days)


def test_regime_jump_in_generated_orders():
    """orders: the base rate jumps from 2 to 8 at day 60 (customer orders per window)."""
    stream = {"rate": 2, "pattern": {"regimes": [{"from": 60, "rate": 8}]}}
    counts = per_day(demands(scenario(stream, horizon=400, orders=True)), 400)
    rates = np.where(np.arange(400) < 60, 2.0, 8.0)
    assert_poisson_days(counts, rates)
    assert abs(counts[:60].mean() - 2) < Z * math.sqrt(2 / 60)
    assert abs(counts[60:].mean() - 8) < Z * math.sqrt(8 / 340)


def test_pattern_on_orders_counts_in_customer_metrics():
    stream = {"rate": 4, "pattern": {"promotions": [{"from": 0, "to": 50, "factor": 0}]}}
    res = simulator.run(scenario(stream, horizon=100, warmup=50, orders=True,
                                 replications=10), progress=False)
    orders = res.customer_metrics["orders"]
    assert abs(orders.mean() - 200) < Z * math.sqrt(200 / 10)
    res0 = simulator.run(scenario(stream, horizon=50, orders=True), progress=False)
    assert res0.customer_metrics["orders"].iloc[0] == 0


def test_deterministic_arrivals_follow_the_cumulative_intensity_exactly():
    """The n-th order at inf{t: L(t) >= n}: rate 2, weekly [1, 2, 0, 0.5, 1, 1, 1]."""
    stream = {"rate": 2, "arrivals": "deterministic",
              "pattern": {"weekly": [1, 2, 0, 0.5, 1, 1, 1]}}
    got = [t for t, _ in demands(scenario(stream, horizon=7))]
    assert got == [0.5, 1.0, 1.25, 1.5, 1.75, 2.0, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5]
    orders = [t for t, _ in demands(scenario(stream, horizon=7, orders=True))]
    assert orders == got


def test_deterministic_constant_pattern_lands_on_n_over_rate_without_drift():
    """A pattern that changes nothing: the n-th order within two ulps of n / rate over
    2,000 days through the model, and over 300,000 orders of the generator summed as SimPy
    sums delays (rounding must not accumulate: summing 1/10 300,000 times drifts by 1e-8)."""
    stream = {"rate": 3, "arrivals": "deterministic", "pattern": {"weekly": [1] * 7}}
    got = np.array([t for t, _ in demands(scenario(stream, horizon=2000))])
    want = np.arange(1, len(got) + 1) / 3
    assert len(got) == 5999
    assert np.max(np.abs(got - want)) <= 2 * np.spacing(2000.0)
    gaps = arrivals.inversion_gaps(itertools.repeat(10.0), itertools.repeat(1.0))
    now, worst = 0.0, 0.0
    for n in range(1, 300_001):
        now += next(gaps)
        worst = max(worst, abs(now - n / 10))
    assert worst <= 2 * np.spacing(30_000.0), worst


def test_same_seed_same_arrivals_and_intermittent_draws_have_their_own_stream():
    """Same seed and replication: the same orders; another replication: others. With
    ``intermittent: 1`` every day is a demand day at the unchanged rate, so the orders are
    exactly those of a pattern of ones: the on/off days do not consume the arrivals' draws."""
    stream = {"rate": 3, "pattern": {"intermittent": 0.5}}
    a = demands(scenario(stream, horizon=50))
    assert a == demands(scenario(stream, horizon=50))
    assert a != demands(scenario(stream, horizon=50), replication=1)
    always = demands(scenario({"rate": 3, "pattern": {"intermittent": 1}}, horizon=50))
    ones = demands(scenario({"rate": 3, "pattern": {"weekly": [1] * 7}}, horizon=50))
    assert always == ones and len(ones) > 100


# ---------------------------------------------------------------- derived and budget

def test_derived_rate_is_the_pattern_mean_over_the_measured_window():
    """Promotion x3 on days 10..19, weekly profile; window [5, 26): the mean of the day
    rates weighted by their overlap with the window (day 25 counts fully, day 5 too)."""
    stream = {"rate": 2, "size": 3, "pattern": {
        "weekly": WEEKLY, "promotions": [{"from": 10, "to": 20, "factor": 3}]}}
    sc = simulator.load(scenario(stream, horizon=25.5, warmup=5))
    ctx = policy_contexts(sc)[("dc", "widget")]
    t = np.arange(5, 26)
    rates = 2 * np.array(WEEKLY)[t % 7] * np.where((t >= 10) & (t < 20), 3, 1)
    weight = np.where(t == 25, 0.5, 1.0)
    mean = float(np.average(rates, weights=weight))
    assert ctx.demand_rate == pytest.approx(mean * 3, rel=1e-12)
    assert ctx.demand_var_rate == pytest.approx(mean * 9, rel=1e-12)  # Poisson, size 3


def day_rate(pattern: dict[str, Any], day: int, rate: float = 2.0) -> float:
    """The rate of one day: the derived mean rate over the window [day, day + 1)."""
    sc = simulator.load(scenario({"rate": rate, "pattern": pattern}, horizon=day + 1,
                                 warmup=day))
    return policy_contexts(sc)[("dc", "widget")].demand_rate


MONTHS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
DAY_RATES = [  # (pattern, day, rate of that day), by hand from docs/demand-models.md
    ({"trend": 0.5}, 0, 2.0), ({"trend": 0.5}, 3, 2 * 2.5),
    ({"trend": -0.25}, 3, 2 * 0.25), ({"trend": -0.25}, 4, 0.0), ({"trend": -0.25}, 9, 0.0),
    ({"weekly": WEEKLY}, 12, 2 * WEEKLY[5]),
    ({"yearly": MONTHS}, 30, 2 * 1), ({"yearly": MONTHS}, 31, 2 * 2),  # Jan 0-30, Feb 31-
    ({"yearly": MONTHS}, 334, 2 * 11), ({"yearly": MONTHS}, 335, 2 * 12),  # Dec from 335
    ({"yearly": MONTHS}, 365, 2 * 1), ({"yearly": MONTHS}, 365 + 31, 2 * 2),
    ({"yearly": list(range(1, 53))}, 363, 2 * 52), ({"yearly": list(range(1, 53))}, 364, 2 * 52),
    ({"yearly": list(range(1, 53))}, 365, 2 * 1), ({"yearly": list(range(1, 53))}, 7, 2 * 2),
    ({"promotions": [{"from": 10, "to": 20, "factor": 3}]}, 9, 2.0),
    ({"promotions": [{"from": 10, "to": 20, "factor": 3}]}, 10, 6.0),
    ({"promotions": [{"from": 10, "to": 20, "factor": 3}]}, 19, 6.0),
    ({"promotions": [{"from": 10, "to": 20, "factor": 3}]}, 20, 2.0),
    ({"promotions": [{"from": 0, "to": 5, "factor": 3}, {"from": 4, "to": 6, "factor": 2}]},
     4, 12.0),
    ({"regimes": [{"from": 40, "rate": 5}, {"from": 50, "rate": 0}]}, 39, 2.0),
    ({"regimes": [{"from": 40, "rate": 5}, {"from": 50, "rate": 0}]}, 40, 5.0),
    ({"regimes": [{"from": 40, "rate": 5}, {"from": 50, "rate": 0}]}, 50, 0.0),
    ({"regimes": [{"from": 40, "rate": 5}], "trend": 0.1, "weekly": WEEKLY}, 41,
     5 * 5.1 * WEEKLY[41 % 7]),
]


@pytest.mark.parametrize("pattern, day, want", DAY_RATES)
def test_rate_of_a_day(pattern, day, want):
    assert day_rate(pattern, day) == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_deterministic_arrivals_with_a_trend_exactly():
    """rate 1, trend 1: day t has rate 1 + t, so the orders of day 1 come every 1/2 day and
    those of day 2 every 1/3; inf{t: L(t) >= n} puts the last of each day at its end."""
    stream = {"rate": 1, "arrivals": "deterministic", "pattern": {"trend": 1}}
    got = [t for t, _ in demands(scenario(stream, horizon=2.9))]
    assert got == pytest.approx([1.0, 1.5, 2.0, 2 + 1 / 3, 2 + 2 / 3], abs=1e-14)


def test_derived_variance_of_intermittent_days():
    sc = simulator.load(scenario({"rate": 2, "pattern": {"intermittent": 0.25}}, horizon=70))
    ctx = policy_contexts(sc)[("dc", "widget")]
    assert ctx.demand_rate == pytest.approx(2)
    assert ctx.demand_var_rate == pytest.approx(2 + 4 * 3)  # rate + rate^2 (1/p - 1)


def test_eoq_uses_the_patterned_rate():
    """EOQ Q = sqrt(2 D K / h), rounded, with D = 8 under a regime from day 0 (the base
    rate 2 would give 6)."""
    data = scenario({"rate": 2, "pattern": {"regimes": [{"from": 0, "rate": 8}]}},
                    horizon=100)
    data["warehouses"][0]["inventory"]["widget"]["policy"] = {"type": "eoq", "r": 5}
    net = Network(simulator.load(data))
    assert net.stock[("dc", "widget")].policy.Q == round(math.sqrt(2 * 8 * 10 / 1)) == 13


def test_budget_counts_the_patterned_rate():
    plain = events_per_replication(simulator.load(scenario({"rate": 2}, horizon=100)))
    promo = events_per_replication(simulator.load(scenario(
        {"rate": 2, "pattern": {"promotions": [{"from": 0, "to": 100, "factor": 10}]}},
        horizon=100)))
    assert plain == pytest.approx(200)
    assert promo == pytest.approx(2000 + 100)  # orders + one step per day
    orders = events_per_replication(simulator.load(scenario(
        {"rate": 2, "pattern": {"promotions": [{"from": 0, "to": 100, "factor": 10}]}},
        horizon=100, orders=True)))
    assert orders == pytest.approx(20 * 2 * 100 + 100)  # order + line, per order


# --------------------------------------------------------------------------- histories

HISTORY = """\
date,widget,gadget
2024-01-01,3,1
2024-01-02,0,2
2024-01-04,5,0
2024-01-05,1.5,1
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_history(tmp_path):
    hist = read_history(write(tmp_path, "h.csv", HISTORY))
    assert hist.kind == "date" and str(hist.start) == "2024-01-01"
    assert hist.products == ("widget", "gadget")
    assert hist.values.tolist() == [[3, 1], [0, 2], [0, 0], [5, 0], [1.5, 1]]  # 01-03: 0
    assert hist.column("gadget").tolist() == [1, 2, 0, 0, 1]
    with pytest.raises(ValueError):
        hist.values[0, 0] = 9
    with pytest.raises(AttributeError):
        hist.kind = "day"  # type: ignore[misc]
    again = pickle.loads(pickle.dumps(hist))
    assert isinstance(again, DailyHistory) and again.values.tolist() == hist.values.tolist()
    days = read_history(write(tmp_path, "d.csv", "Day,a\n12,1\n10,4\n"))
    assert (days.kind, days.start, days.values[:, 0].tolist()) == ("day", 10, [4, 0, 1])


BAD_HISTORY = [
    pytest.param("date,widget\n2024-01-01,3\n2024-01-02,-1\n", 3, "widget", "negative",
                 id="negative"),
    pytest.param("date,widget\n2024-01-01,3\n2024-01-02,\n", 3, "widget", "empty",
                 id="empty-cell"),
    pytest.param("date,widget\n2024-01-01,x\n", 2, "widget", "not a number", id="text"),
    pytest.param("date,widget\n2024-02-30,3\n", 2, "date", "ISO 8601", id="bad-date"),
    pytest.param("date,widget\n2024-01-01,3\n2024-01-01,4\n", 3, "date", "also on line 2",
                 id="repeated-day"),
    pytest.param("day,widget\n1.5,3\n", 2, "day", "whole number", id="fractional-day"),
    pytest.param("date,widget\n2024-01-01,3,4\n", 2, "(row)", "3 fields", id="fields"),
    pytest.param("widget,gadget\n1,2\n", 1, "(header)", "missing column 'date' or 'day'",
                 id="no-day-column"),
    pytest.param("date,day,widget\n", 1, "(header)", "both", id="both-day-columns"),
    pytest.param("date\n2024-01-01\n", 1, "(header)", "no product columns", id="no-products"),
    pytest.param("date,widget\n", None, "(file)", "no days", id="no-rows"),
    pytest.param("", None, "(file)", "empty", id="empty-file"),
    pytest.param("date,widget\n2024-01-01T10:00,3\n", 2, "date", "time of day", id="time"),
]


@pytest.mark.parametrize("text, line, column, fragment", BAD_HISTORY)
def test_bad_history_names_file_line_and_column(tmp_path, text, line, column, fragment):
    path = write(tmp_path, "h.csv", text)
    with pytest.raises(HistoryError) as info:
        read_history(path)
    problems = info.value.problems
    assert len(problems) == 1, problems
    p = problems[0]
    assert (p.file, p.line, p.key) == (str(path), line, column)
    assert fragment in p.message
    where = str(path) if line is None else f"{path}:{line}"
    assert str(p) == f"{where}: {column}: {p.message}"


def test_every_bad_row_is_reported(tmp_path):
    path = write(tmp_path, "h.csv", "date,a,b\n2024-01-01,-1,x\n2024-01-02,1,1\nzz,1,1\n")
    with pytest.raises(HistoryError) as info:
        read_history(path)
    assert [(p.line, p.key) for p in info.value.problems] == [(2, "a"), (2, "b"), (4, "date")]


def history_scenario(folder: Path, text: str = HISTORY, **stream: Any) -> dict[str, Any]:
    write(folder, "h.csv", text)
    data = scenario({"history": "h.csv", **stream}, horizon=5)
    path = write_scenario(folder, _yaml(data))
    return {"path": path}


def _yaml(data: dict[str, Any]) -> str:
    import yaml
    return yaml.safe_dump(data, sort_keys=False)


def test_history_exact_replay(tmp_path):
    """bootstrap: false: one order per day with demand, of that day's units, at d + 0.5;
    nothing after the history's last day."""
    path = history_scenario(tmp_path, bootstrap=False)["path"]
    sc = simulator.load(path)
    assert demands(sc) == [(0.5, 3.0), (3.5, 5.0), (4.5, 1.5)]
    gadget = simulator.load(history_scenario(tmp_path, bootstrap=False, column="gadget")["path"])
    assert demands(gadget) == [(0.5, 1.0), (1.5, 2.0), (4.5, 1.0)]
    longer = copy.deepcopy(sc.to_dict())
    longer["horizon"] = 50
    assert demands(longer) == demands(sc)  # scenario.yaml form reloads (absolute path)


def test_history_bootstrap_by_whole_weeks(tmp_path):
    """Four history weeks with distinct values (week w, weekday i: 10 w + i + 1): every
    simulated week is one of them whole, drawn uniformly (4 SE of a binomial count)."""
    rows = "\n".join(f"{d},{10 * (d // 7) + d % 7 + 1}" for d in range(30))  # 2 extra days
    write(tmp_path, "h.csv", "day,widget\n" + rows + "\n")
    weeks = 150
    data = scenario({"history": "h.csv"}, horizon=7 * weeks)
    path = write_scenario(tmp_path, _yaml(data))
    sc = simulator.load(path)
    drawn = []
    for rep in range(2):
        days = np.zeros(7 * weeks)
        for t, q in demands(sc, replication=rep):
            assert t % 1 == 0.5
            days[int(t)] = q
        by_week = days.reshape(weeks, 7)
        w = (by_week[:, 0] - 1) // 10
        assert np.all(w >= 0) and np.all(w <= 3)
        assert np.array_equal(by_week, 10 * w[:, None] + np.arange(1, 8)), "whole weeks"
        drawn.append(w)
    assert not np.array_equal(drawn[0], drawn[1])
    counts = np.bincount(np.concatenate(drawn).astype(int), minlength=4)
    n = 2 * weeks
    assert np.all(np.abs(counts - n / 4) < Z * math.sqrt(n * 0.25 * 0.75)), counts
    # derived statistics: the whole weeks' days (the 2 extra days are never replayed)
    ctx = policy_contexts(sc)[("dc", "widget")]
    values = np.array([10 * (d // 7) + d % 7 + 1 for d in range(28)], dtype=float)
    assert (ctx.demand_rate, ctx.demand_var_rate) == pytest.approx((values.mean(),
                                                                    values.var()))


def test_history_too_short_to_bootstrap(tmp_path):
    path = history_scenario(tmp_path)["path"]  # 5 days
    with pytest.raises(ScenarioError) as info:
        simulator.load(path)
    [p] = info.value.problems
    assert p.key == "customers.0.demand.widget.history" and "at least 7" in p.message


# -------------------------------------------------------------------------- validation

DEMAND = "      widget: {rate: 2}\n"


def problem_of(folder: Path, text: str) -> Any:
    path = write_scenario(folder, text)
    with pytest.raises(ScenarioError) as info:
        simulator.load(path)
    assert len(info.value.problems) == 1, "\n".join(map(str, info.value.problems))
    return path, info.value.problems[0]


def bad_pattern(pattern: str, key: str, fragment: str, name: str) -> Any:
    """A case of a bad ``pattern`` (YAML flow text) on the stream ``{rate: 2}``: the problem
    is at ``customers.0.demand.widget.pattern`` + ``key``, its message has ``fragment``."""
    return pytest.param(f"{{rate: 2, pattern: {pattern}}}",
                        "customers.0.demand.widget.pattern" + key, fragment, id=name)


GE0 = "greater than or equal to 0"
BAD_KEYS = [
    bad_pattern("{promotions: [{from: 3, to: 5, factor: -1}]}", ".promotions.0.factor", GE0,
                "negative-factor"),
    bad_pattern("{promotions: [{from: 5, to: 3, factor: 2}]}", ".promotions.0",
                "before it starts", "promotion-ends-first"),
    bad_pattern("{weekly: [1, 1, 1, 1, 1, 1]}", ".weekly", "give 7 multipliers", "six-weekly"),
    bad_pattern("{weekly: [1, 1, 1, 1, 1, 1, -2]}", ".weekly.6", GE0, "negative-weekly"),
    bad_pattern("{yearly: [1, 2, 3]}", ".yearly", "12 or 52", "yearly-length"),
    bad_pattern("{intermittent: 0}", ".intermittent", "greater than 0", "intermittent-zero"),
    bad_pattern("{intermittent: 1.5}", ".intermittent", "at most 1", "intermittent-above-one"),
    bad_pattern("{trend: .inf}", ".trend", "finite", "trend-inf"),
    bad_pattern("{trend: 1e13}", ".trend", "between", "trend-huge"),
    bad_pattern("{regimes: [{from: 9, rate: 1}, {from: 4, rate: 2}]}", ".regimes",
                "increasing", "regimes-order"),
    bad_pattern("{regimes: [{from: 9, rate: -1}]}", ".regimes.0.rate", GE0,
                "regime-negative"),
    bad_pattern("{weekday: [1]}", ".weekday", "unknown key", "unknown-pattern-key"),
    bad_pattern("[1, 2]", "", "valid dictionary", "pattern-not-a-mapping"),
    pytest.param("{rate: 2, bootstrap: false}", "customers.0.demand.widget",
                 "belongs to a history", id="bootstrap-without-history"),
    pytest.param("{size: 2}", "customers.0.demand.widget.rate", "required key is missing",
                 id="rate-missing"),
]


@pytest.mark.parametrize("stream, key, fragment", BAD_KEYS)
def test_every_new_key_is_validated(tmp_path, stream, key, fragment):
    text = edit(BASE_YAML, ("{rate: 2}", stream))
    path, p = problem_of(tmp_path, text)
    assert p.key == key and fragment in p.message, str(p)
    assert p.line == line_of(text, "widget: {") and p.file == str(path)
    assert str(p) == f"{path}:{p.line}: {key}: {p.message}"


def test_bad_history_in_a_scenario_exits_2(tmp_path, capsys):
    write(tmp_path, "h.csv", "date,widget\n2024-01-01,3\n2024-01-02,-4\n")
    text = edit(BASE_YAML, ("{rate: 2}", "{history: h.csv}"))
    path = write_scenario(tmp_path, text)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'h.csv'}:3: widget: -4 is negative" in err
    assert "Traceback" not in err


#: (stream, message fragment): problems at customers.0.demand.widget, a file's at the file
HISTORY_KEYS = {
    "history-and-rate": ("{history: h.csv, rate: 2}", "rate cannot be combined with history"),
    "history-and-pattern": ("{history: h.csv, pattern: {trend: 1}}",
                            "pattern cannot be combined"),
    "unknown-column": ("{history: h.csv, column: nope}", "has no column 'nope'"),
}


@pytest.mark.parametrize("case", sorted(HISTORY_KEYS))
def test_history_keys_are_validated(tmp_path, case):
    stream, fragment = HISTORY_KEYS[case]
    write(tmp_path, "h.csv", "day,widget\n" + "".join(f"{d},1\n" for d in range(14)))
    text = edit(BASE_YAML, ("{rate: 2}", stream))
    path, p = problem_of(tmp_path, text)
    assert fragment in p.message, str(p)
    key = {"unknown-column": "customers.0.demand.widget.column"}.get(
        case, "customers.0.demand.widget")
    assert (p.file, p.key, p.line) == (str(path), key, line_of(text, "widget: {")), str(p)


def test_missing_history_file_is_reported_at_its_key_and_as_a_file(tmp_path):
    # the file is read after the cross-checks (with the order logs): its problem comes with
    # one at the scenario's history key, saying which stream's file failed
    text = edit(BASE_YAML, ("{rate: 2}", "{history: missing.csv}"))
    path = write_scenario(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        simulator.load(path)
    found = {(p.file, p.key) for p in info.value.problems}
    assert found == {(str(path), "customers.0.demand.widget.history"),
                     (str(tmp_path / "missing.csv"), "(file)")}


def test_history_without_its_products_column(tmp_path):
    write(tmp_path, "h.csv", "day,gadget\n" + "".join(f"{d},1\n" for d in range(14)))
    text = edit(BASE_YAML, ("{rate: 2}", "{history: h.csv}"))
    path, p = problem_of(tmp_path, text)
    assert p.key == "customers.0.demand.widget.history" and "no column 'widget'" in p.message


def test_pattern_on_an_order_log_is_refused(tmp_path):
    write(tmp_path, "log.csv", "time,order,product,quantity\n0.5,a,widget,1\n")
    text = edit(BASE_YAML, ("    demand:\n      widget: {rate: 2}\n",
                            "    orders:\n      file: log.csv\n      pattern: {trend: 1}\n"))
    path, p = problem_of(tmp_path, text)
    assert p.key == "customers.0.orders" and "not to an order log" in p.message, str(p)


def test_patterned_scenario_round_trips_through_scenario_yaml():
    data = scenario({"rate": 2, "pattern": {"trend": -0.01, "weekly": WEEKLY,
                                            "promotions": [{"from": 1, "to": 3, "factor": 2}],
                                            "regimes": [{"from": 4, "rate": 3}],
                                            "intermittent": 0.5, "yearly": [1] * 12}},
                    horizon=30)
    sc = simulator.load(data)
    again = simulator.load(sc.to_dict())
    assert again.to_dict() == sc.to_dict()
    assert demands(again) == demands(sc)
