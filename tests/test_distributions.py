"""Every distribution in simulator/distributions.py against its stated parameters.

Three independent checks per case, each against scipy.stats's distribution with the parameters
as the scenario states them (never against the model's own output):

* the model's ``mean()`` and ``var()`` (used to derive policy parameters) equal scipy's exact
  moments, and for the truncated normal also the closed-form truncated-normal formulas;
* sample moments of ``draw(rng, n)``: the sample mean within 5 standard errors
  (SE = sigma / sqrt(n)) and the sample variance within 5 SE
  (SE(s^2) = sqrt((mu4 - sigma^4) / n), mu4 the 4th central moment, from scipy's kurtosis);
* shape: a Kolmogorov-Smirnov test (continuous) or a chi-square goodness-of-fit test
  (discrete, cells with expected count < 5 merged) against scipy's CDF / pmf.

Significance level ALPHA = 1e-3 for the shape tests. The seeds are fixed, so each test is
deterministic; the level bounds the chance that a *correct* implementation fails for a given
seed (about 1.5% over the ~15 cases, i.e. a seed change could rarely need a new seed, never a
looser tolerance), while the bugs these tests exist for move the distribution so far that the
p-values are below 1e-10 at n = N (gamma with shape 1/cv instead of 1/cv^2: the variance is off
by a factor cv; a normal clipped at 0: a point mass of P(N < 0) at 0, 16-50% here; empirical
weights ignored). 5 SE for the moments: a false alarm has probability ~6e-7 per check.

Cases use cv != 1 (at cv = 1 shape 1/cv and 1/cv^2 coincide) and normals with a large mass
below 0 (where truncation and clipping differ most). N = 20,000 draws per case (~0.4 M in all).
"""
from __future__ import annotations

import math
from functools import cache
from itertools import islice
from typing import Any

import numpy as np
import pytest
from scipy import stats

from simulator.distributions import KINDS, Constant, Normal, _parse

N = 20_000
ALPHA = 1e-3
SE_TOL = 5.0


def _frozen(spec: dict[str, Any]) -> Any:
    """scipy.stats's distribution for a scenario's distribution mapping (stated parameters)."""
    kind = spec["dist"]
    if kind == "gamma":
        shape = 1.0 / spec["cv"] ** 2
        return stats.gamma(a=shape, scale=spec["mean"] / shape)
    if kind == "exponential":
        return stats.expon(scale=spec["mean"])
    if kind == "normal":
        mu, sd = spec["mean"], spec["std"]
        return stats.truncnorm(a=-mu / sd, b=math.inf, loc=mu, scale=sd)
    if kind == "uniform":
        return stats.uniform(loc=spec["low"], scale=spec["high"] - spec["low"])
    if kind == "poisson":
        return stats.poisson(mu=spec["mean"])
    if kind == "empirical":
        values = np.asarray(spec["values"], float)
        w = np.asarray(spec.get("weights", [1.0] * len(values)), float)
        # rv_discrete needs distinct integer support: merge repeated values, scale halves
        support = np.unique(values)
        p = np.array([w[values == v].sum() for v in support]) / w.sum()
        return _Scaled(stats.rv_discrete(values=((support * 2).astype(int), p)), 0.5)
    raise AssertionError(kind)


class _Scaled:
    """``scale * X`` for a scipy discrete X (lets empirical values be halves)."""

    def __init__(self, base: Any, scale: float):
        self.base, self.scale = base, scale

    def mean(self) -> float:
        return float(self.base.mean()) * self.scale

    def var(self) -> float:
        return float(self.base.var()) * self.scale ** 2

    def stats(self, moments: str) -> Any:
        return self.base.stats(moments=moments)  # kurtosis is scale-free

    def pmf(self, x: np.ndarray) -> np.ndarray:
        return self.base.pmf(np.rint(np.asarray(x) / self.scale).astype(int))


CONTINUOUS = [
    {"dist": "gamma", "mean": 3.0, "cv": 0.5},
    {"dist": "gamma", "mean": 10.0, "cv": 2.0},
    {"dist": "gamma", "mean": 2.0, "cv": 0.2},
    {"dist": "gamma", "mean": 1.0, "cv": 1.0},
    {"dist": "exponential", "mean": 0.5},
    {"dist": "exponential", "mean": 4.0},
    {"dist": "normal", "mean": 1.0, "std": 1.0},   # P(N < 0) = 16%
    {"dist": "normal", "mean": 1.0, "std": 2.0},   # 31%
    {"dist": "normal", "mean": 0.0, "std": 3.0},   # 50%: a half-normal
    {"dist": "normal", "mean": 10.0, "std": 2.0},  # truncation negligible
    {"dist": "uniform", "low": 2.0, "high": 5.0},
    {"dist": "uniform", "low": 0.0, "high": 0.5},
]
DISCRETE = [
    {"dist": "poisson", "mean": 0.7},
    {"dist": "poisson", "mean": 4.0},
    {"dist": "poisson", "mean": 30.0},
    {"dist": "empirical", "values": [1, 2, 5], "weights": [0.7, 0.2, 0.1]},
    {"dist": "empirical", "values": [0, 3.5, 2, 3.5], "weights": [1, 0.5, 3, 1.5]},
    {"dist": "empirical", "values": [4, 1, 6]},  # equal weights
]
CASES = CONTINUOUS + DISCRETE


def _id(spec: dict[str, Any]) -> str:
    return "-".join(f"{v}" for v in spec.values())


@cache
def _sample(i: int) -> np.ndarray:
    """N draws of case ``i`` with a fixed seed (shared by the moment and shape tests)."""
    dist = _parse(CASES[i])
    x = dist.draw(np.random.default_rng(1000 + i), N)
    assert x.shape == (N,)
    return np.asarray(x, float)


def test_every_kind_is_covered():
    assert {c["dist"] for c in CASES} | {"constant"} == set(KINDS)


@pytest.mark.parametrize("spec", CASES, ids=_id)
def test_model_mean_and_var_equal_scipy(spec):
    d, ref = _parse(spec), _frozen(spec)
    assert d.mean() == pytest.approx(float(ref.mean()), rel=1e-9, abs=1e-12)
    assert d.var() == pytest.approx(float(ref.var()), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("mu, sd", [(1.0, 1.0), (1.0, 2.0), (0.0, 3.0), (2.0, 0.5)])
def test_truncated_normal_moments_closed_form(mu, sd):
    # X = N(mu, sd^2) conditioned on X >= 0; alpha = -mu/sd, lam = phi(alpha) / (1 - Phi(alpha)):
    # E X = mu + sd lam,  Var X = sd^2 (1 + alpha lam - lam^2)
    a = -mu / sd
    phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    tail = 0.5 * math.erfc(a / math.sqrt(2))
    lam = phi / tail
    d = Normal.model_validate({"dist": "normal", "mean": mu, "std": sd})
    assert d.mean() == pytest.approx(mu + sd * lam, rel=1e-9)
    assert d.var() == pytest.approx(sd * sd * (1 + a * lam - lam * lam), rel=1e-9)


@pytest.mark.parametrize("i", range(len(CASES)), ids=[_id(c) for c in CASES])
def test_sample_mean_and_variance_within_5_se(i):
    spec, x = CASES[i], _sample(i)
    ref = _frozen(spec)
    mean, var = float(ref.mean()), float(ref.var())
    mu4 = (float(ref.stats(moments="k")) + 3.0) * var * var
    se_mean = math.sqrt(var / N)
    se_var = math.sqrt((mu4 - var * var) / N)
    assert abs(x.mean() - mean) <= SE_TOL * se_mean, (x.mean(), mean, se_mean)
    assert abs(x.var(ddof=1) - var) <= SE_TOL * se_var, (x.var(ddof=1), var, se_var)


@pytest.mark.parametrize("i", range(len(CONTINUOUS)), ids=[_id(c) for c in CONTINUOUS])
def test_continuous_shape_kolmogorov_smirnov(i):
    x = _sample(i)
    assert (x >= 0).all()
    res = stats.kstest(x, _frozen(CASES[i]).cdf)
    assert res.pvalue > ALPHA, res


@pytest.mark.parametrize("j", range(len(DISCRETE)), ids=[_id(c) for c in DISCRETE])
def test_discrete_shape_chi_square(j):
    i = len(CONTINUOUS) + j
    spec, x = CASES[i], _sample(i)
    ref = _frozen(spec)
    if spec["dist"] == "poisson":
        assert (x == np.rint(x)).all()
        support = np.arange(0, int(x.max()) + 1, dtype=float)
    else:
        support = np.unique(np.asarray(spec["values"], float))
    observed = np.array([(x == v).sum() for v in support], float)
    assert observed.sum() == N  # no value outside the support
    expected = ref.pmf(support) * N
    expected[-1] += N - expected.sum()  # the upper tail beyond the largest draw
    obs, exp = _merge_small_cells(observed, expected)
    res = stats.chisquare(obs, exp)
    assert res.pvalue > ALPHA, (res, obs, exp)


def _merge_small_cells(obs: np.ndarray, exp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge adjacent cells left to right until each expected count is at least 5."""
    out_o: list[float] = []
    out_e: list[float] = []
    acc_o = acc_e = 0.0
    for o, e in zip(obs, exp):
        acc_o, acc_e = acc_o + o, acc_e + e
        if acc_e >= 5:
            out_o.append(acc_o)
            out_e.append(acc_e)
            acc_o = acc_e = 0.0
    if acc_e > 0 and out_e:  # a small remainder joins the last cell
        out_o[-1] += acc_o
        out_e[-1] += acc_e
    return np.array(out_o), np.array(out_e)


@pytest.mark.parametrize("mu, sd", [(1.0, 1.0), (1.0, 2.0), (0.0, 3.0)])
def test_normal_is_truncated_not_clipped(mu, sd):
    # Clipping (max(x, 0)) puts a point mass P(N(mu, sd^2) < 0) = 16% .. 50% at exactly 0; the
    # truncated normal is continuous: P(X = 0) = 0, so not a single draw may be 0.
    x = Normal.model_validate({"dist": "normal", "mean": mu, "std": sd}).draw(
        np.random.default_rng(7), N)
    assert (x > 0).all()
    # and the mass near 0 is what the truncated density says (a clip would put ~0 in (0, eps])
    ref = _frozen({"dist": "normal", "mean": mu, "std": sd})
    p = float(ref.cdf(0.1))
    se = math.sqrt(p * (1 - p) / N)
    assert abs((x <= 0.1).mean() - p) <= SE_TOL * se


def test_empirical_weights_are_used():
    # values 1, 2, 5 with weights 0.7, 0.2, 0.1: P(1) = 0.7, not 1/3
    x = _parse({"dist": "empirical", "values": [1, 2, 5], "weights": [0.7, 0.2, 0.1]}).draw(
        np.random.default_rng(11), N)
    for v, p in [(1, 0.7), (2, 0.2), (5, 0.1)]:
        se = math.sqrt(p * (1 - p) / N)
        assert abs((x == v).mean() - p) <= SE_TOL * se


def test_constant_draws_and_stream_are_the_value():
    c = _parse(3.5)
    assert isinstance(c, Constant)
    assert (c.draw(np.random.default_rng(0), 10) == 3.5).all()
    assert list(islice(c.stream(np.random.default_rng(0)), 5)) == [3.5] * 5
    assert (c.mean(), c.var()) == (3.5, 0.0)


@pytest.mark.parametrize("spec", [CASES[0], CASES[7], DISCRETE[3]], ids=_id)
def test_stream_has_the_stated_mean(spec):
    # the event loop draws through stream() (batches of draw()); 20,000 values, mean within 5 SE
    d, ref = _parse(spec), _frozen(spec)
    x = np.fromiter(islice(d.stream(np.random.default_rng(3)), N), float, count=N)
    assert abs(x.mean() - float(ref.mean())) <= SE_TOL * math.sqrt(float(ref.var()) / N)
