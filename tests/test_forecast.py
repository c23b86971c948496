"""The forecaster library (simulator.forecast): each method against statsmodels with the same
parameters and initial state, or against a series computed by hand; estimation against a grid
and statsmodels; parameter validation; optional dependencies imported lazily."""
from __future__ import annotations

import itertools
import subprocess
import sys
import warnings

import numpy as np
import pytest
from pydantic import ValidationError

from simulator.forecast import METHODS, Forecaster, MissingDependency, SpecError, make, validate
from simulator.forecast._estimate import sse
from simulator.forecast.intermittent import SBA, TSB, Croston
from simulator.forecast.simple import MovingAverage, Naive, SeasonalNaive, WeightedMovingAverage
from simulator.forecast.smoothing import SES, Holt, HoltWinters

TOL = 1e-8


@pytest.fixture
def sm_hw():
    """statsmodels' exponential smoothing (the tests using it are skipped without it)."""
    return pytest.importorskip("statsmodels.tsa.holtwinters")


def series(n: int = 84, seed: int = 1) -> np.ndarray:
    """Positive daily demand with a trend and a weekly season (units)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 20 + 0.3 * t + 5 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, n)


def one_step(f: Forecaster, y) -> np.ndarray:
    """The forecast of the next period after each observation."""
    out = []
    for v in y:
        f.update(v)
        out.append(f.predict(1))
    return np.array(out)


def close(a, b, tol: float = TOL) -> bool:
    return bool(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float))) < tol)


# -- exponential smoothing against statsmodels ------------------------------------------------
def test_ses_matches_statsmodels(sm_hw):
    y = series()
    res = sm_hw.SimpleExpSmoothing(y, initialization_method="known", initial_level=15.0) \
        .fit(smoothing_level=0.3, optimized=False)
    pred = one_step(SES(0.3, level=15.0), y)
    assert close(pred[:-1], res.fittedvalues[1:])
    assert close(pred[-1], res.forecast(1)[0])


def test_holt_matches_statsmodels(sm_hw):
    y = series()
    res = sm_hw.Holt(y, initialization_method="known", initial_level=15.0, initial_trend=0.5) \
        .fit(smoothing_level=0.3, smoothing_trend=0.2, optimized=False)
    f = Holt(0.3, 0.2, level=15.0, trend=0.5)
    pred = one_step(f, y)
    assert close(pred[:-1], res.fittedvalues[1:])
    assert close(f.path(10), res.forecast(10))


@pytest.mark.parametrize("seasonal, sk, s0", [
    ("additive", "add", [1, 2, 3, -1, -2, 0.5, -3]),
    ("multiplicative", "mul", [1.1, 0.9, 1.2, 0.8, 1.0, 1.05, 0.95]),
])
def test_holt_winters_matches_statsmodels(sm_hw, seasonal, sk, s0):
    y, m = series(), 7
    res = sm_hw.ExponentialSmoothing(
        y, trend="add", seasonal=sk, seasonal_periods=m, initialization_method="known",
        initial_level=15.0, initial_trend=0.5, initial_seasonal=s0,
    ).fit(smoothing_level=0.3, smoothing_trend=0.2, smoothing_seasonal=0.25, optimized=False)
    f = HoltWinters(0.3, 0.2, 0.25, season=m, seasonal=seasonal, level=15.0, trend=0.5,
                    seasonals=s0)
    pred = one_step(f, y)
    assert close(pred[:-1], res.fittedvalues[1:])
    ours, theirs = np.array(f.path(3 * m)), np.asarray(res.forecast(3 * m))
    h = np.arange(1, 3 * m + 1)
    off = h % m != 0
    assert close(ours[off], theirs[off])
    # statsmodels 0.15 uses the season before last at h = m, 2m, ... (statsmodels #9538,
    # fixed upstream by PR #10230): check those against the textbook formula on its own
    # final components, l + h b (+ or x) s[T + h - m (k + 1)], i.e. the last seasonal term
    level, trend, season = res.level[-1], res.trend[-1], res.season[-1]
    base = level + h[~off] * trend
    expect = base + season if sk == "add" else base * season
    assert close(ours[~off], expect)


def test_ses_estimate_matches_statsmodels(sm_hw):
    """Unset alpha: fit minimises the one-step SSE; statsmodels with the same initial level
    (the first observation) minimises the same function."""
    y = series(120, seed=3)
    f = make({"method": "ses"})
    f.fit(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm_hw.SimpleExpSmoothing(y, initialization_method="known",
                                       initial_level=float(y[0])).fit()
    assert f.error_count * f.error_variance() <= res.sse * (1 + 1e-9)
    assert abs(f.alpha - res.params["smoothing_level"]) < 1e-3


@pytest.mark.parametrize("method, names", [
    ("holt", ("alpha", "beta")),
    ("holt_winters", ("alpha", "beta", "gamma")),
    ("tsb", ("alpha", "beta")),
    ("croston", ("alpha",)),
])
def test_estimate_beats_every_grid_point(method, names):
    y = series(70, seed=4)
    if method in ("tsb", "croston"):
        y = np.where(np.random.default_rng(5).random(len(y)) < 0.4, y, 0.0)
    f = make({"method": method})
    f.fit(y)
    best = f.error_count * f.error_variance()
    grid = np.linspace(0, 1, 6)
    floor = min(sse(f, names, point, list(y)) for point in itertools.product(grid, repeat=len(names)))
    assert best <= floor * (1 + 1e-9)


def test_fit_with_given_constants_replays_the_history():
    y = series(30)
    a = make({"method": "holt_winters", "alpha": 0.3, "beta": 0.1, "gamma": 0.2})
    a.fit(y)
    b = make({"method": "holt_winters", "alpha": 0.3, "beta": 0.1, "gamma": 0.2})
    for v in y:
        b.update(v)
    assert a.path(9) == b.path(9) and a.error_variance() == b.error_variance()
    assert a.params()["alpha"] == 0.3


def test_holt_winters_default_start_uses_the_first_season():
    f = HoltWinters(0.5, 0.5, 0.5, season=3)
    f.update(3)
    f.update(6)
    assert f.predict(1) == 4.5  # mean of the observations until a season is complete
    f.update(9)  # level 6, trend 0, season (-3, 0, 3)
    assert f.path(4) == [3.0, 6.0, 9.0, 3.0]
    g = HoltWinters(0.5, 0.5, 0.5, season=3, seasonal="multiplicative")
    for v in (3, 6, 9):
        g.update(v)
    assert close(g.path(3), [3.0, 6.0, 9.0])


# -- ARIMA against statsmodels ------------------------------------------------------------------
@pytest.mark.parametrize("order", [(1, 0, 1), (1, 1, 1), (2, 1, 0)])
def test_arima_kalman_steps_match_statsmodels(order):
    """After the fit, each update is one Kalman step with the fitted matrices: the same
    one-step predictions as statsmodels appending the observations with those parameters."""
    pytest.importorskip("statsmodels.tsa.arima.model")
    from simulator.forecast.arima import _fit

    rng = np.random.default_rng(7)
    e = rng.normal(0, 1, 160)
    y = 50 + np.cumsum(0.5 * e) if order[1] else 50 + np.convolve(e, [1, 0.6, 0.3])[:160]
    n0 = 120
    f = make({"method": "arima", "order": list(order), "refit_every": 0})
    f.fit(y[:n0])
    pred = []
    for v in y[n0:]:
        pred.append(f.predict(1))
        f.update(v)
    res = _fit(y[:n0], order).append(y[n0:])
    # relative 1e-9 (about 4e-8 units here): rounding random-walks through an integrated state
    assert np.allclose(pred, res.fittedvalues[n0:], rtol=1e-9, atol=0)
    assert np.allclose(f.path(5), res.forecast(5), rtol=1e-9, atol=0)


def test_arima_refits_every_n_periods():
    pytest.importorskip("statsmodels.tsa.arima.model")
    y = series(60)
    f = make({"method": "arima", "order": [1, 0, 0], "refit_every": 10})
    f.fit(y[:40])
    first = f._params.copy()
    for v in y[40:49]:
        f.update(v)
    assert np.array_equal(f._params, first)
    f.update(y[49])
    assert not np.array_equal(f._params, first)


def test_arima_order_chosen_by_fit():
    pytest.importorskip("statsmodels.tsa.arima.model")
    y = 100 + np.cumsum(np.random.default_rng(8).normal(0, 1, 40))  # a random walk
    f = make({"method": "arima"})
    f.fit(y)
    assert f.params()["order"][1] == 1
    g = make({"method": "arima"})
    g.fit(np.random.default_rng(8).normal(100, 1, 40))  # white noise: no differencing
    assert g.params()["order"][1] == 0


# -- scikit-learn forecasters -------------------------------------------------------------------
def test_regression_learns_a_weekly_pattern_exactly():
    pytest.importorskip("sklearn")
    week = [10.0, 12, 14, 9, 8, 20, 25]
    y = week * 8
    f = make({"method": "regression", "lags": 7})
    f.fit(y)
    assert close(f.path(10), (week * 3)[:10], 1e-6)


def test_random_forest_is_reproducible_and_follows_the_season():
    pytest.importorskip("sklearn")
    week = [10.0, 12, 14, 9, 8, 20, 25]
    y = week * 8
    a = make({"method": "random_forest", "n_estimators": 10})
    b = make({"method": "random_forest", "n_estimators": 10})
    a.fit(y)
    b.fit(y)
    assert a.path(7) == b.path(7)
    assert close(a.path(7), week, 1e-6)  # every leaf is pure on a noiseless season


def test_learned_refit_is_counted_in_updates():
    pytest.importorskip("sklearn")
    f = make({"method": "regression", "lags": 2, "refit_every": 5})
    f.fit([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    model = f._model
    for v in (12, 13, 14, 15):
        f.update(v)
    assert f._model is model
    f.update(16)
    assert f._model is not model


# -- hand-computed series -------------------------------------------------------------------
Y = [4.0, 6.0, 5.0, 9.0, 1.0]


def test_naive_and_its_error_variance():
    f = Naive()
    assert f.predict(1) == 0.0 and f.error_variance() == 0.0
    f.update(4)
    f.update(6)  # error 2; the prior (sample variance of 4, 6) still applies
    assert f.error_variance() == 2.0
    f.update(5)
    f.update(9)  # errors 2, -1, 4
    assert f.predict(3) == 9.0
    assert f.error_variance() == pytest.approx(21 / 3, abs=TOL)
    assert f.bias == pytest.approx(5 / 3) and f.mad == pytest.approx(7 / 3)
    assert f.tracking_signal == pytest.approx(5 / (7 / 3))


def test_seasonal_naive():
    f = SeasonalNaive(season=3)
    assert close(one_step(f, Y[:3]), [4, 6, 4])  # last value until a season is complete
    assert [f.predict(h) for h in (1, 2, 3, 4)] == [4, 6, 5, 4]
    f.update(9)
    f.update(1)
    assert [f.predict(h) for h in (1, 2, 3)] == [5, 9, 1]
    assert f.total(2.5) == 5 + 9 + 0.5 * 1
    assert f.total(0) == 0.0 and f.total(0.5) == 2.5


def test_moving_average():
    f = MovingAverage(window=3)
    assert close(one_step(f, Y), [4, 5, 5, 20 / 3, 5])
    assert f.total(2.5) == pytest.approx(12.5)


def test_moving_average_sum_does_not_drift():
    f = MovingAverage(window=4)
    for v in [1e9, 1e-3, 1.0, 2.0] * 2000 + [1.0, 2.0, 3.0, 4.0]:
        f.update(v)
    assert f.predict(1) == 2.5


def test_weighted_moving_average():
    f = WeightedMovingAverage([1, 2, 3])
    assert close(one_step(f, Y), [4, 26 / 5, 31 / 6, 43 / 6, 26 / 6])


INTERMITTENT = [0, 0, 3, 0, 5, 0, 0, 0, 2]


def test_croston():
    # z, p: 3, 3 at the first demand (period 3); then 3 + .5 (5 - 3) = 4, 3 + .5 (2 - 3) = 2.5;
    # then 4 + .5 (2 - 4) = 3, 2.5 + .5 (4 - 2.5) = 3.25
    f = Croston(0.5)
    assert close(one_step(f, INTERMITTENT), [0, 0, 1, 1, 1.6, 1.6, 1.6, 1.6, 3 / 3.25])


def test_sba():
    f = SBA(0.5)
    expected = 0.75 * np.array([0, 0, 1, 1, 1.6, 1.6, 1.6, 1.6, 3 / 3.25])
    assert close(one_step(f, INTERMITTENT), expected)


def test_tsb():
    # d: 0, 0, .25, .1875, .390625, ... (beta .25); z: 3, then 4, then 3 (alpha .5)
    f = TSB(alpha=0.5, beta=0.25)
    expected = [0, 0, 0.75, 0.5625, 1.5625, 1.171875, 0.87890625, 0.6591796875,
                0.37359619140625 * 3]
    assert close(one_step(f, INTERMITTENT), expected)


def test_total_of_a_trend_counts_the_last_period_pro_rata():
    f = Holt(0.5, 0.5, level=10.0, trend=1.0)
    f.update(11.0)  # on the trend: level 11, trend 1
    assert f.path(3) == [12.0, 13.0, 14.0]
    assert f.total(2.5) == 12 + 13 + 0.5 * 14


def test_protocol_rejects_bad_arguments():
    f = make({"method": "naive"})
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite"):
            f.update(bad)
    for h in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="h must be"):
            f.predict(h)
    with pytest.raises(ValueError, match="horizon"):
        f.total(-1)
    with pytest.raises(ValueError, match="finite"):
        f.fit([1.0, float("nan")])


# -- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, loc", [
    ({"method": "ses", "alpha": 1.5}, ("alpha",)),
    ({"method": "ses", "alpha": "0.3"}, ("alpha",)),
    ({"method": "ses", "alpha": True}, ("alpha",)),
    ({"method": "ses", "beta": 0.1}, ("beta",)),
    ({"method": "moving_average", "window": 0}, ("window",)),
    ({"method": "moving_average", "window": 2.0}, ("window",)),
    ({"method": "seasonal_naive", "season": 1}, ("season",)),
    ({"method": "holt_winters", "seasonal": "mul"}, ("seasonal",)),
    ({"method": "arima", "order": [1, 1]}, ("order",)),
    ({"method": "arima", "order": [1, 3, 1]}, ("order", 1)),
    ({"method": "weighted_moving_average", "weights": [0, 0]}, ("weights",)),
    ({"method": "weighted_moving_average", "weights": [1, -1]}, ("weights", 1)),
    ({"method": "random_forest", "n_estimators": 0}, ("n_estimators",)),
])
def test_bad_parameters_are_located(spec, loc):
    with pytest.raises(ValidationError) as info:
        validate(spec)
    assert info.value.errors()[0]["loc"][:len(loc)] == loc
    with pytest.raises(ValidationError):
        make(spec)


@pytest.mark.parametrize("spec, key", [
    ({"method": "nope"}, "method"),
    ({"method": 3}, "method"),
    ({}, ""),
    ("ses", ""),
])
def test_bad_method_is_a_spec_error(spec, key):
    with pytest.raises(SpecError) as info:
        validate(spec)
    assert info.value.key == key
    if key:
        assert "valid methods: naive, seasonal_naive" in str(info.value)


def test_validate_fills_defaults():
    assert validate({"method": "holt_winters", "alpha": 0.5}) == {
        "method": "holt_winters", "alpha": 0.5, "beta": None, "gamma": None, "season": 7,
        "seasonal": "additive"}
    assert validate({"method": "ses", "alpha": 1}) == {"method": "ses", "alpha": 1.0}


def test_every_method_builds_fits_and_forecasts():
    pytest.importorskip("sklearn")
    pytest.importorskip("statsmodels")
    y = series(60)
    for name in METHODS:
        f = make({"method": name})
        f.fit(y)
        assert f.n == 60 and np.isfinite(f.total(3.5)) and f.error_variance() > 0, name
        assert f.params()["method"] == name


def test_missing_optional_library_is_reported(monkeypatch):
    for name in [m for m in sys.modules if m == "statsmodels" or m.startswith("statsmodels.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "statsmodels", None)  # import statsmodels fails
    with pytest.raises(MissingDependency, match=r"'arima' needs statsmodels.*simulator\[forecast\]"):
        make({"method": "arima"})


def test_importing_does_not_load_optional_libraries():
    code = ("import sys, simulator, simulator.forecast as F\n"
            "f = F.make({'method': 'holt_winters', 'alpha': 0.2, 'beta': 0.1, 'gamma': 0.1})\n"
            "[f.update(v) for v in range(30)]\n"
            "heavy = [m for m in ('statsmodels', 'sklearn', 'scipy.optimize') if m in sys.modules]\n"
            "print(','.join(heavy))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# -- documentation ---------------------------------------------------------------------------
def test_docs_list_every_method_with_its_parameters_and_defaults():
    """docs/forecasting.md has one table row per method naming each of its parameters; a
    parameter with a plain default shows it in parentheses."""
    from pathlib import Path

    from simulator.forecast import _REGISTRY

    doc = (Path(__file__).resolve().parent.parent / "docs" / "forecasting.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line
            for line in doc.splitlines() if line.startswith("| `")}
    for name in METHODS:
        row = rows.get(name)
        assert row is not None, f"no table row for {name}"
        for field, info in _REGISTRY[name][0].model_fields.items():
            assert f"`{field}`" in row, (name, field)
            default = info.get_default(call_default_factory=True)
            if isinstance(default, (int, str)) and not isinstance(default, bool):
                assert f"`{field}` ({default}" in row or f"({default};" in row \
                    or f"`{default}`" in row, (name, field, default)


def test_bench_runs(capsys):
    from simulator.forecast.bench import main

    main(["--updates", "20", "--methods", "ses", "croston"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["method", "us/update", "fit", "ms"]
    assert [line.split()[0] for line in out[1:]] == ["ses", "croston"]


@pytest.mark.parametrize("spec, start_up", [
    ({"method": "ses"}, 1), ({"method": "holt"}, 2), ({"method": "croston"}, 1),
    ({"method": "holt_winters", "season": 7}, 7),
])
def test_fit_estimates_only_from_enough_history(spec, start_up):
    y = list(series(40, seed=9))
    short = make(spec)
    short.fit(y[:start_up + 9])
    assert short.params() == make(spec).params()  # the defaults
    enough = make(spec)
    enough.fit(y[:start_up + 10])
    assert enough.params() != make(spec).params()


def test_arima_keeps_its_model_when_a_refit_fails(monkeypatch):
    pytest.importorskip("statsmodels.tsa.arima.model")
    import simulator.forecast.arima as arima

    y = series(45)
    f = make({"method": "arima", "order": [1, 0, 0], "refit_every": 5})
    f.fit(y[:40])
    params = f._params.copy()

    def broken(history, order):
        raise np.linalg.LinAlgError("singular matrix")

    monkeypatch.setattr(arima, "_fit", broken)
    expected = f.path(5)
    for v in y[40:45]:  # the fifth update refits, and fails
        f.update(v)
    assert np.array_equal(f._params, params) and f._since == 0
    ref = make({"method": "arima", "order": [1, 0, 0], "refit_every": 0})
    monkeypatch.undo()
    ref.fit(y[:40])
    for v in y[40:45]:
        ref.update(v)
    assert f.path(5) == ref.path(5) and expected != f.path(5)


def test_arima_fit_records_the_models_one_step_errors():
    pytest.importorskip("statsmodels.tsa.arima.model")
    from simulator.forecast.arima import _fit

    y = 50 + np.cumsum(np.random.default_rng(10).normal(0, 1, 80))
    f = make({"method": "arima", "order": [0, 1, 1], "refit_every": 0})
    f.fit(y)
    res = _fit(y, (0, 1, 1))
    resid = np.asarray(res.resid)[res.loglikelihood_burn:]
    assert f.error_count == len(y) - 1
    assert f.error_variance() == pytest.approx(np.mean(resid ** 2), rel=1e-12)
    assert f.bias == pytest.approx(np.mean(resid), rel=1e-9, abs=1e-12)


def test_learned_fit_records_residuals_or_out_of_bag_errors():
    pytest.importorskip("sklearn")
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import LinearRegression

    y = list(series(60, seed=11))
    rows = np.array([list(y[t - 3:t][::-1]) + [float(t % 7 == d) for d in range(7)]
                     for t in range(3, 60)])
    target = np.array(y[3:])
    lin = LinearRegression().fit(rows, target)
    f = make({"method": "regression", "lags": 3})
    f.fit(y)
    assert f.error_count == 57
    assert f.error_variance() == pytest.approx(np.mean((target - lin.predict(rows)) ** 2),
                                               rel=1e-9)
    forest = RandomForestRegressor(n_estimators=30, oob_score=True, random_state=0,
                                   n_jobs=1).fit(rows, target)
    g = make({"method": "random_forest", "lags": 3, "n_estimators": 30})
    g.fit(y)
    oob = np.mean((target - forest.oob_prediction_) ** 2)
    assert g.error_variance() == pytest.approx(oob, rel=1e-9)
    assert oob > 2 * np.mean((target - forest.predict(rows)) ** 2)  # in-sample: optimistic


def test_model_fits_run_blas_on_one_thread(monkeypatch):
    """Multithreaded BLAS on these tiny matrices made an ARIMA fit on a busy 2-core machine
    take seconds instead of milliseconds: fits run with one BLAS thread."""
    pytest.importorskip("statsmodels.tsa.arima.model")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import statsmodels.tsa.arima.model as sm_arima

    seen = []
    real = sm_arima.ARIMA.fit

    def spy(self, *args, **kwargs):
        seen.extend(lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                    if lib["user_api"] == "blas")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(sm_arima.ARIMA, "fit", spy)
    make({"method": "arima", "order": [1, 0, 0]}).fit(series(30))
    assert seen and set(seen) == {1}


def test_forecast_spec_as_a_field_of_a_policy_model():
    from pydantic import BaseModel, ConfigDict

    from simulator.forecast import ForecastSpec

    class OrderUpTo(BaseModel):  # how a policy's parameters can hold a forecast: mapping
        model_config = ConfigDict(extra="forbid", strict=True)
        forecast: ForecastSpec | None = None

    def errors(data):
        with pytest.raises(ValidationError) as info:
            OrderUpTo.model_validate({"forecast": data})
        return [(e["loc"], e["msg"]) for e in info.value.errors()]

    assert errors({"method": "ses", "alpha": 2}) == [
        (("forecast", "ses", "alpha"), "Input should be less than or equal to 1")]
    assert errors({"method": "ses", "beta": 0.1})[0][0] == ("forecast", "ses", "beta")
    assert errors({"method": "arima", "order": [1, 3, 1]})[0][0] == ("forecast", "arima", "order", 1)
    for bad in ({"method": "nope"}, {"alpha": 0.1}, "ses", {"method": [1]}):
        (loc, msg), = errors(bad)
        assert loc == ("forecast",) and msg.startswith("expected a mapping with a 'method' key")
        assert "one of: naive, seasonal_naive, moving_average" in msg
    policy = OrderUpTo.model_validate({"forecast": {"method": "holt", "alpha": 1}})
    assert policy.model_dump() == {"forecast": {"alpha": 1.0, "beta": None, "method": "holt"}}
    f = make(policy.forecast)
    assert isinstance(f, Holt) and f.params() == {"method": "holt", "alpha": 1.0, "beta": 0.1}
    assert OrderUpTo.model_validate({"forecast": {"method": "arima", "order": [1, 1, 1]}}) \
        .forecast.order == (1, 1, 1)
