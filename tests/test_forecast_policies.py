"""Forecast-driven replenishment (issue 7, item 4) and the forecast metrics (item 5).

* the bullwhip ratio of order_up_to with a p-day moving average against the closed form of
  Chen, Drezner, Ryan and Simchi-Levi (THEORY.md item 6), i.i.d. Poisson demand;
* exact orders of order_up_to on deterministic demand (the level formula, no safety stock);
* forecast accuracy: the naive forecaster's RMSE on Poisson demand is sqrt(2 lambda);
* the daily tick hands each day's demand over once, before anything else at that instant;
* validation of the new policy's keys.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import simulator
from simulator.cli import main
from simulator.model import Network
from simulator.observe.eventlog import EventLog
from simulator.scenario import load


def one_point(policy: dict[str, Any], demand: dict[str, Any], *, lead: float = 2,
              horizon: float = 400, warmup: float = 50, replications: int = 1,
              seed: int = 1) -> dict[str, Any]:
    return {"name": "fc", "horizon": horizon, "warmup": warmup, "replications": replications,
            "seed": seed, "products": [{"id": "p", "holding_cost": 0.1}],
            "suppliers": [{"id": "s", "lead_time": lead}],
            "warehouses": [{"id": "w", "inventory": {"p": {"source": "s", "policy": policy}}}],
            "customers": [{"id": "c", "warehouse": "w", "demand": {"p": demand}}]}


@pytest.mark.parametrize("window, lead", [(5, 2), (10, 4)])
def test_bullwhip_of_moving_average_order_up_to_against_theory(window, lead):
    # THEORY 6: y_t = P * MA_p + const with P = lead time + review period (1 day), i.i.d.
    # demand: Var(orders) / Var(demand) = 1 + 2P/p + 2P^2/p^2. service_level 0.5: no safety
    # stock, so the level is exactly P times the moving average. Demand 400/day (sd 20): the
    # orders D + (P/p)(D_t - D_{t-p}) are never negative, so none is cut at 0.
    policy = {"type": "order_up_to", "service_level": 0.5,
              "forecast": {"method": "moving_average", "window": window}}
    data = one_point(policy, {"rate": 400}, lead=lead, horizon=3000, replications=4)
    b = simulator.run(data, progress=False).metrics["bullwhip"].to_numpy(float)
    big_p = lead + 1
    exact = 1 + 2 * big_p / window + 2 * big_p ** 2 / window ** 2
    se = b.std(ddof=1) / math.sqrt(len(b))
    assert se < 0.02 * exact
    assert abs(b.mean() - exact) <= 4 * se, (b.mean(), exact, se)


def test_order_up_to_exact_orders_on_deterministic_demand():
    # 10 units a day at t = 0.1, 0.2, ... (rate 10, deterministic); lead time 2, review every
    # day: P = 3. After the window of 4 days is full the forecast is exactly 10 a day, so the
    # level is 30 and every review orders what the day took: 10 units (no safety stock: the
    # errors are 0, and service_level 0.5 anyway).
    policy = {"type": "order_up_to", "service_level": 0.5,
              "forecast": {"method": "moving_average", "window": 4}}
    sc = load(one_point(policy, {"rate": 10, "arrivals": "deterministic"}, horizon=20,
                        warmup=0))
    net = Network(sc)
    records: list[tuple[Any, ...]] = []
    net.attach(lambda sp: EventLog(records))
    net.start()
    net.run(sc.horizon)
    sp = net.stock[("w", "p")]
    assert sp.policy.order_up_to == 30.0  # the prior level: rate 10 x P 3
    orders = [(r[0], r[4]) for r in records if r[1] == "order"]
    assert orders[-10:] == [(float(t), 10.0) for t in range(10, 20)]
    assert sp.policy.level() == pytest.approx(30.0)
    res = simulator.run(sc, progress=False)
    row = res.metrics.iloc[0]
    # day 0 has 9 units (t = 0.1 .. 0.9; the one at 1.0 is day 1's), the others 10. Forecasts
    # exist for the days ending at t = 2 .. 19 (18 days): 9, 9.5, 9.667, 9.75, then 10 exactly:
    # errors -1, -0.5, -1/3, -0.25, then 0
    errors = [-1, -0.5, -1 / 3, -0.25] + [0.0] * 14
    assert row["forecast_mae"] == pytest.approx(sum(map(abs, errors)) / 18, rel=1e-12)
    assert row["forecast_bias"] == pytest.approx(sum(errors) / 18, rel=1e-12)
    assert row["forecast_rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / 18),
                                                 rel=1e-12)
    assert row["forecast_mape"] == pytest.approx(100 * sum(map(abs, errors)) / 10 / 18,
                                                 rel=1e-12)


def test_naive_forecast_accuracy_on_poisson_demand():
    # the naive forecast of Poisson(lam) daily demand errs by D_t - D_{t-1}: mean 0,
    # variance 2 lam, so RMSE = sqrt(2 lam) and bias ~ 0; E|error| from the Skellam law
    lam = 30.0
    policy = {"type": "order_up_to", "forecast": {"method": "naive"}}
    data = one_point(policy, {"rate": lam}, horizon=1500, replications=4)
    m = simulator.run(data, progress=False).metrics
    rmse = m["forecast_rmse"].to_numpy(float)
    se = rmse.std(ddof=1) / 2
    assert abs(rmse.mean() - math.sqrt(2 * lam)) <= 4 * se + 0.01 * math.sqrt(2 * lam)
    bias = m["forecast_bias"].to_numpy(float)
    assert abs(bias.mean()) <= 4 * bias.std(ddof=1) / 2 + 0.05


def test_daily_tick_hands_over_each_day_once():
    # the policy sees day k's demand at t = k + 1, before the customers of that instant
    seen: list[tuple[float, float]] = []
    policy = {"type": "order_up_to", "forecast": {"method": "naive"}}
    sc = load(one_point(policy, {"rate": 4, "arrivals": "deterministic"}, horizon=5.5,
                        warmup=0))
    net = Network(sc)
    pol = net.stock[("w", "p")].policy
    real = pol.observe

    def tap(units: float, now: float) -> float:
        seen.append((now, units))
        return real(units, now)  # type: ignore[no-any-return]

    object.__setattr__(pol, "observe", tap)
    net.start()
    net.run(sc.horizon)
    # arrivals at 0.25, 0.5, ..., 1.0 (day 0 holds 0.25-0.75 and... the one at exactly 1.0
    # comes after the tick at 1.0, so it belongs to day 1)
    assert seen == [(1.0, 3.0), (2.0, 4.0), (3.0, 4.0), (4.0, 4.0), (5.0, 4.0)]


def test_warmup_fits_the_parameters_left_out():
    # demand jumps from 5 to 40 a day on day 20 of a 40-day warm-up: the one-step SSE of
    # exponential smoothing is far lower with a large alpha than with the default 0.2, so the
    # fit at the end of the warm-up must move alpha well above it
    policy = {"type": "order_up_to", "forecast": {"method": "ses"}}
    data = one_point(policy, {"rate": 5, "pattern": {"regimes": [{"from": 20, "rate": 40}]}},
                     horizon=100, warmup=40)
    sc = load(data)
    net = Network(sc)
    net.start()
    net.run(sc.horizon)
    f = net.stock[("w", "p")].policy.forecaster
    assert f.alpha > 0.5, f.alpha


def test_bad_forecast_is_reported(tmp_path: Path, capsys):
    import yaml
    policy = {"type": "order_up_to", "forecast": {"method": "crystal_ball"}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(one_point(policy, {"rate": 1})))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "warehouses.0.inventory.p.policy" in err and "crystal_ball" in err
    assert "Traceback" not in err
    policy = {"type": "order_up_to", "service_level": 1.5}
    path.write_text(yaml.safe_dump(one_point(policy, {"rate": 1})))
    assert main(["validate", str(path)]) == 2
    assert "service_level" in capsys.readouterr().err


def test_bullwhip_with_ar1_demand_against_theory(tmp_path: Path):
    # THEORY 6 with AR(1) demand D_t = mu + rho (D_{t-1} - mu) + e_t: the ratio is
    # 1 + (2P/p + 2P^2/p^2)(1 - rho^p). The series is replayed exactly from a daily history
    # (one order per day of that day's units), one series per replication, each long enough
    # for its own estimate; the check is on the mean over replications (4 SE).
    window, lead, rho, mu, sd = 4, 1, 0.6, 500.0, 20.0
    big_p = lead + 1
    exact = 1 + (2 * big_p / window + 2 * big_p ** 2 / window ** 2) * (1 - rho ** window)
    rng = np.random.default_rng(11)
    values = []
    for _ in range(6):
        days = 3000
        d = np.empty(days)
        d[0] = mu
        e = rng.normal(0, sd, days)
        for t in range(1, days):
            d[t] = mu + rho * (d[t - 1] - mu) + e[t]
        path = tmp_path / f"ar1_{len(values)}.csv"
        path.write_text("day,p\n" + "".join(f"{t},{v:.6f}\n" for t, v in enumerate(d)))
        policy = {"type": "order_up_to", "service_level": 0.5,
                  "forecast": {"method": "moving_average", "window": window}}
        data = one_point(policy, {"history": str(path), "bootstrap": False}, lead=lead,
                         horizon=days, warmup=50)
        values.append(simulator.run(data, progress=False).metrics["bullwhip"].iloc[0])
    b = np.asarray(values)
    se = b.std(ddof=1) / math.sqrt(len(b))
    assert se < 0.03 * exact
    assert abs(b.mean() - exact) <= 4 * se, (b.mean(), exact, se)


@pytest.mark.parametrize("policy, level", [
    # deterministic 10 a day, lead time 2, continuous review (R = 0): P = 2, F(P) = 20 once the
    # naive forecaster has seen a whole day of 10 (day 0 holds 9: t = 0.1 .. 0.9)
    ({"type": "base_stock", "S": 5}, 20.0),
    ({"type": "sS", "s": 3, "S": 13}, 30.0),   # s = 20, the gap S - s = 10 kept
    ({"type": "rQ", "r": 3, "Q": 7}, 20.0),    # r = 20 (Q kept): up to r + 1 .. r + Q
])
def test_classic_rules_follow_the_forecast(policy, level):
    policy = {**policy, "service_level": 0.5, "forecast": {"method": "naive"}}
    sc = load(one_point(policy, {"rate": 10, "arrivals": "deterministic"}, horizon=30,
                        warmup=0))
    net = Network(sc)
    assert len(net.observed) == 1
    sp = net.stock[("w", "p")]
    net.start()
    net.run(sc.horizon)
    # the reorder level (s, r, S) follows the forecast; the model reads it every day
    assert sp.trigger == pytest.approx(20.0) and sp.policy.reorder_level == pytest.approx(20.0)
    # from day 3 on the position after each review sits at the level the forecast sets:
    # base stock keeps position = 20 exactly; sS orders up to 30 when at or below 20
    if policy["type"] == "base_stock":
        assert sp.position == pytest.approx(level)
    elif policy["type"] == "sS":
        assert 20.0 < sp.position <= level
    else:
        assert 20.0 < sp.position <= 20.0 + 7


def test_eoq_follows_the_forecast_rate():
    # K = 50, h = 0.1 (one_point's holding cost), D = 10 a day from the forecast:
    # Q = sqrt(2 * 10 * 50 / 0.1) = 100 (the scenario's own rate says the same; a
    # deterministic rate of 40 makes Q = 200, which the forecast must find too)
    policy = {"type": "eoq", "service_level": 0.5, "forecast": {"method": "naive"}}
    data = one_point(policy, {"rate": 40, "arrivals": "deterministic"}, horizon=40, warmup=0)
    data["products"][0]["ordering_cost"] = 50
    sc = load(data)
    net = Network(sc)
    records: list[tuple[Any, ...]] = []
    net.attach(lambda sp: EventLog(records))
    net.start()
    net.run(sc.horizon)
    late = [r[4] for r in records if r[1] == "order" and r[0] > 5]
    assert late and all(q == 200.0 for q in late)
    assert net.stock[("w", "p")].policy.rate() == 40.0


def test_classic_rules_without_a_forecast_are_not_observed_or_prepared():
    sc = load(one_point({"type": "sS", "s": 3, "S": 13}, {"rate": 1}))
    net = Network(sc)
    assert net.observed == [] and net.stock[("w", "p")].policy.reorder_level == 3


def test_monitor_with_a_forecast_driven_policy_changes_nothing_and_uses_its_forecast():
    # the monitor wraps the stock point's listener: the forecast hook must still reach the
    # metrics (forecast columns identical with the monitor on and off), and the monitor reads
    # the policy's own forecaster
    from simulator.observe import monitor as monitor_module

    policy = {"type": "order_up_to", "forecast": {"method": "ses", "alpha": 0.2}}
    data = one_point(policy, {"rate": 20}, horizon=300, replications=2)
    off = simulator.run(data, progress=False)
    data["warnings"] = {}
    on = simulator.run(data, progress=False)
    assert off.metrics.equals(on.metrics)
    assert on.metrics["forecast_mae"].notna().all()
    sc = load(data)
    net = Network(sc)
    assert monitor_module.policy_forecast(net.stock[("w", "p")]) is \
        net.stock[("w", "p")].policy.forecaster
