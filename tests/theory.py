"""Exact reference formulas for classic inventory models (see ``THEORY.md``).

Pure functions, independent of the simulator, used by the statistical tests that
compare simulated metrics with theory.

Conventions (all functions):

* time in **days**, stock in **units**, rates **per day**;
* customer demand is a Poisson process of unit-size orders with rate ``lam`` (per day),
  so ``D(t) ~ Poisson(lam * t)`` is the demand over ``t`` days;
* by PASTA an arriving customer sees the time-average state, so the fill rate is the
  time-average probability that net inventory is at least 1;
* ``avg_on_hand`` and ``avg_backorders`` are time averages in steady state.

All sums are *finite and exact* where possible (``E[(y - D)^+] = sum_{k<y} P(D <= k)``, and the
backorders follow from ``E[(D - y)^+] = E[(y - D)^+] - y + E[D]``), so no Poisson tail has to be
truncated; the only approximations are floating-point rounding and, where an infinite sum is
unavoidable, truncation where the Poisson tail is below ``TAIL = 1e-12``.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

TAIL = 1e-12
"""Poisson tail probability below which an infinite sum may be truncated."""


# --------------------------------------------------------------------------- helpers

def _poisson_cdf(k, mean):
    """``P(D <= k)`` for ``D ~ Poisson(mean)``; 0 for ``k < 0``; works for ``mean == 0``."""
    k = np.asarray(k)
    if mean == 0:
        return (k >= 0).astype(float)
    return stats.poisson.cdf(k, mean)


def _expected_positive_part(y, mean):
    """``E[(y - D)^+]`` for integer ``y`` and ``D ~ Poisson(mean)``, as an exact finite sum.

    Uses ``(y - D)^+ = sum_{k=0}^{y-1} 1{D <= k}``.
    """
    y = int(y)
    if y <= 0:
        return 0.0
    return float(np.sum(_poisson_cdf(np.arange(y), mean)))


def _check_nonneg(**kw):
    for name, v in kw.items():
        if not (v >= 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")


# --------------------------------------------------------------------------- THEORY 1

def rq_poisson(lam, L, r, Q):
    """Continuous-review (r, Q) policy, unit Poisson demand, full backordering, constant lead time.

    The inventory position IP is uniform on ``{r+1, ..., r+Q}`` and independent of the lead-time
    demand ``D(L) ~ Poisson(lam * L)``; the net inventory is ``IN = IP - D(L)`` (THEORY 1).
    An (s, S) policy with unit demand is the case ``r = s``, ``Q = S - s``.

    Parameters
    ----------
    lam : float
        Demand rate, units per day (unit-size orders).
    L : float
        Constant replenishment lead time, days.
    r : int
        Reorder point, units (may be negative).
    Q : int
        Order quantity, units (>= 1).

    Returns
    -------
    dict
        ``fill_rate`` (fraction of demand units served from stock, dimensionless),
        ``avg_on_hand`` (units), ``avg_backorders`` (units), ``orders_per_day`` (orders per day),
        ``avg_inventory_position`` (units).
    """
    _check_nonneg(lam=lam, L=L)
    r, Q = int(r), int(Q)
    if Q < 1:
        raise ValueError("Q must be >= 1")
    mu = lam * L
    ys = np.arange(r + 1, r + Q + 1)
    fill = float(np.mean(_poisson_cdf(ys - 1, mu)))
    on_hand = np.array([_expected_positive_part(y, mu) for y in ys])
    backorders = on_hand - ys + mu  # E[(D - y)^+] = E[(y - D)^+] - y + E[D]
    return {
        "fill_rate": fill,
        "avg_on_hand": float(on_hand.mean()),
        "avg_backorders": float(backorders.mean()),
        "orders_per_day": lam / Q,
        "avg_inventory_position": r + (Q + 1) / 2,
    }


def base_stock_poisson(lam, L, S):
    """Continuous-review base-stock (one-for-one) policy with order-up-to level ``S``.

    The case ``Q = 1``, ``r = S - 1`` of :func:`rq_poisson`: ``IN = S - D(L)``.

    Parameters
    ----------
    lam : float
        Demand rate, units per day.
    L : float
        Constant lead time, days.
    S : int
        Base-stock (order-up-to) level, units.

    Returns
    -------
    dict
        Same keys as :func:`rq_poisson`; ``orders_per_day`` equals ``lam``.
    """
    return rq_poisson(lam, L, int(S) - 1, 1)


# --------------------------------------------------------------------------- THEORY 2

def erlang_b(S, a):
    """Erlang-B blocking probability of an M/G/S/S loss system.

    Recursion ``B(0) = 1``, ``B(n) = a B(n-1) / (n + a B(n-1))`` (numerically stable).

    Parameters
    ----------
    S : int
        Number of servers (here: base-stock level, units), >= 0.
    a : float
        Offered load, ``lam * E[L]`` (dimensionless, Erlangs).

    Returns
    -------
    float
        Blocking probability in [0, 1].
    """
    S = int(S)
    if S < 0:
        raise ValueError("S must be >= 0")
    _check_nonneg(a=a)
    b = 1.0
    for n in range(1, S + 1):
        b = a * b / (n + a * b)
    return b


def lost_sales_base_stock(lam, mean_L, S):
    """Base-stock ``S`` with lost sales and i.i.d. lead times of any distribution (THEORY 2).

    Outstanding orders are the busy servers of an M/G/S/S loss system with offered load
    ``a = lam * mean_L``; a customer is lost exactly when all ``S`` units are on order.

    Parameters
    ----------
    lam : float
        Demand rate, units per day.
    mean_L : float
        Mean lead time, days (the distribution does not matter: insensitivity).
    S : int
        Base-stock level, units.

    Returns
    -------
    dict
        ``fill_rate`` (dimensionless) ``= 1 - B``, ``lost_fraction`` ``= B``,
        ``avg_on_hand`` (units) ``= S - a (1 - B)``, ``lost_per_day`` (units per day)
        ``= lam B``, ``orders_per_day`` ``= lam (1 - B)``.
    """
    _check_nonneg(lam=lam, mean_L=mean_L)
    a = lam * mean_L
    b = erlang_b(S, a)
    return {
        "fill_rate": 1.0 - b,
        "lost_fraction": b,
        "avg_on_hand": S - a * (1.0 - b),
        "lost_per_day": lam * b,
        "orders_per_day": lam * (1.0 - b),
    }


# --------------------------------------------------------------------------- THEORY 3

def _int_poisson_cdf(k, lam, u0, u1):
    """Exact ``int_{u0}^{u1} P(Poisson(lam u) <= k) du`` (days).

    ``int_0^t P(N(u) = m) du = P(N(t) >= m + 1) / lam``, so
    ``int_0^t P(N(u) <= k) du = (1/lam) sum_{j=1}^{k+1} P(N(t) >= j) = E[min(T_{k+1}, t)]``.
    """
    if k < 0:
        return 0.0
    if lam == 0:
        return u1 - u0

    def prim(t):
        if t == 0:
            return 0.0
        j = np.arange(1, k + 2)
        return float(np.sum(stats.poisson.sf(j - 1, lam * t))) / lam

    return prim(u1) - prim(u0)


def periodic_order_up_to(lam, L, R, S):
    """Periodic-review order-up-to ``S`` every ``R`` days, constant lead time, backordering.

    Reviews at ``t = 0, R, 2R, ...``; each review orders ``S - IP`` (nothing if no demand since
    the last review). The net inventory at a random time is ``S - D(u)`` with ``u`` uniform on
    ``[L, L + R)`` (THEORY 3). The integrals over ``u`` are evaluated in closed form
    (Poisson/Erlang identity), see :func:`_int_poisson_cdf`.

    Parameters
    ----------
    lam : float
        Demand rate, units per day.
    L : float
        Constant lead time, days.
    R : float
        Review period, days (> 0).
    S : int
        Order-up-to level, units.

    Returns
    -------
    dict
        ``fill_rate`` (dimensionless), ``avg_on_hand`` (units), ``avg_backorders`` (units),
        ``orders_per_day`` (orders per day) ``= (1 - exp(-lam R)) / R``.
    """
    _check_nonneg(lam=lam, L=L)
    if not R > 0:
        raise ValueError("R must be > 0")
    S = int(S)
    fill = _int_poisson_cdf(S - 1, lam, L, L + R) / R
    on_hand = sum(_int_poisson_cdf(k, lam, L, L + R) for k in range(S)) / R
    backorders = on_hand - S + lam * (L + R / 2)
    return {
        "fill_rate": fill,
        "avg_on_hand": on_hand,
        "avg_backorders": backorders,
        "orders_per_day": -math.expm1(-lam * R) / R,
    }


# --------------------------------------------------------------------------- THEORY 4

def serial_two_echelon(lam, L1, L2, S1, S2):
    """Two-stage serial base-stock system with Poisson demand at stage 1 (THEORY 4).

    Stage 2 (upstream) has base stock ``S2`` and constant lead time ``L2`` from an unlimited
    supplier; stage 1 (downstream, facing customers) has base stock ``S1`` and transit time ``L1``
    from stage 2, which backorders FIFO. With ``B2 = (D(L2) - S2)^+`` and an independent
    ``D1 ~ Poisson(lam L1)``, ``IN1 = S1 - B2 - D1``. Only the probabilities of
    ``X = B2 + D1 <= S1 - 1`` are needed, a finite convolution; means use exact identities.

    Parameters
    ----------
    lam : float
        Customer demand rate at stage 1, units per day.
    L1 : float
        Transit time stage 2 -> stage 1, days.
    L2 : float
        Lead time supplier -> stage 2, days.
    S1, S2 : int
        Base-stock levels of stage 1 and stage 2, units.

    Returns
    -------
    dict
        ``{"stage1": {...}, "stage2": {...}}``, each with ``fill_rate`` (dimensionless),
        ``avg_on_hand`` (units), ``avg_backorders`` (units); stage 2 also has the other keys of
        :func:`base_stock_poisson` (its demand is stage 1's orders, a Poisson(lam) stream);
        stage 1 also has ``avg_B2`` (mean stage-2 backorders, units) and ``orders_per_day``.
    """
    _check_nonneg(lam=lam, L1=L1, L2=L2)
    S1, S2 = int(S1), int(S2)
    stage2 = base_stock_poisson(lam, L2, S2)
    mu2, mu1 = lam * L2, lam * L1
    if S1 <= 0:
        fill, on_hand = 0.0, 0.0
    else:
        k = np.arange(S1)
        # pmf of B2 on 0..S1-1
        pb = np.zeros(S1)
        pb[0] = float(_poisson_cdf(S2, mu2))
        if S1 > 1:
            pb[1:] = stats.poisson.pmf(S2 + k[1:], mu2) if mu2 > 0 else 0.0
        p1 = stats.poisson.pmf(k, mu1) if mu1 > 0 else (k == 0).astype(float)
        px = np.convolve(pb, p1)[:S1]  # P(X = x), x = 0..S1-1 (exact: both are >= 0)
        cdf = np.cumsum(px)
        fill = float(cdf[-1])  # P(X <= S1 - 1)
        on_hand = float(np.sum(cdf))  # E[(S1 - X)^+] = sum_{x<S1} P(X <= x)
    mean_b2 = stage2["avg_backorders"]
    backorders = on_hand - S1 + mean_b2 + mu1
    stage1 = {
        "fill_rate": fill,
        "avg_on_hand": on_hand,
        "avg_backorders": backorders,
        "avg_B2": mean_b2,
        "orders_per_day": lam,
    }
    return {"stage1": stage1, "stage2": stage2}


# --------------------------------------------------------------------------- THEORY 5

def eoq(D, K, h):
    """Economic order quantity (continuous, deterministic demand, no shortages).

    Parameters
    ----------
    D : float
        Demand rate, units per day.
    K : float
        Fixed cost per order (currency per order).
    h : float
        Holding cost, currency per unit per day.

    Returns
    -------
    dict
        ``Q`` (units) ``= sqrt(2 D K / h)``, ``cost_rate`` (currency per day)
        ``= sqrt(2 D K h)``, ``cycle`` (days) ``= Q / D``.
    """
    if not (D > 0 and K > 0 and h > 0):
        raise ValueError("D, K, h must be > 0")
    q = math.sqrt(2.0 * D * K / h)
    return {"Q": q, "cost_rate": math.sqrt(2.0 * D * K * h), "cycle": q / D}


def eoq_cost_rate(D, K, h, Q):
    """Continuous-approximation cost rate ``K D / Q + h Q / 2`` (currency per day) of lot size Q."""
    return K * D / Q + h * Q / 2.0


def deterministic_rq(D, L, r, Q):
    """Exact steady state of a continuous-review (r, Q) policy under *deterministic* unit demand.

    Unit demands arrive exactly every ``1/D`` days, the lead time ``L`` is constant, shortages are
    backordered. After the transient, the inventory position cycles through
    ``r+1, ..., r+Q`` (each value held ``1/D`` days) and ``IN(t) = IP(t - L) - N(t - L, t]`` where
    ``N`` counts demands. This function evaluates that piecewise-constant path exactly over one
    cycle of ``Q/D`` days (the result does not depend on the phase of the cycle).

    A customer arriving at the same instant as a replenishment would make the fill rate depend on
    the event order, so ``L * D`` must not be an integer (it raises ``ValueError`` otherwise).

    Parameters
    ----------
    D : float
        Demand rate, units per day (one unit every ``1/D`` days).
    L : float
        Constant lead time, days.
    r : int
        Reorder point, units.
    Q : int
        Order quantity, units.

    Returns
    -------
    dict
        ``fill_rate`` (dimensionless), ``avg_on_hand`` (units), ``avg_backorders`` (units),
        ``orders_per_day`` (orders per day) ``= D / Q``, ``cycle`` (days) ``= Q / D``.
    """
    r, Q = int(r), int(Q)
    if not (D > 0 and L >= 0 and Q >= 1):
        raise ValueError("need D > 0, L >= 0, Q >= 1")
    ld = L * D
    if abs(ld - round(ld)) < 1e-9:
        raise ValueError("L * D is an integer: demands coincide with replenishments")
    # Work in units of 1/D days: demands at integer times n, N(s) = floor(s) for s >= 0.
    # IP(s) = r + Q - (N(s) mod Q), extended to all s (periodic with period Q).
    # Breakpoints of IN on [0, Q): the integers and the shifted integers frac(L*D) + n.
    frac = ld - math.floor(ld)
    pts = np.sort(np.concatenate([np.arange(Q + 1), np.arange(Q) + frac]))
    t0 = 10.0 * Q + math.ceil(ld)  # any time after t=L*D works; shift to stay positive
    lo, hi = pts[:-1] + t0, pts[1:] + t0
    mid = 0.5 * (lo + hi)
    ip = r + Q - (np.floor(mid - ld).astype(int) % Q)
    n_lead = np.floor(mid).astype(int) - np.floor(mid - ld).astype(int)
    inv = ip - n_lead
    w = (hi - lo) / Q
    on_hand = float(np.sum(w * np.maximum(inv, 0)))
    backorders = float(np.sum(w * np.maximum(-inv, 0)))
    # fill: demands at integer times t0+n, n=1..Q; each sees IN just before it (left limit).
    tn = t0 + np.arange(1, Q + 1) - 0.5 * min(frac, 1 - frac)
    ip_b = r + Q - (np.floor(tn - ld).astype(int) % Q)
    inv_b = ip_b - (np.floor(tn).astype(int) - np.floor(tn - ld).astype(int))
    fill = float(np.mean(inv_b >= 1))
    return {
        "fill_rate": fill,
        "avg_on_hand": on_hand,
        "avg_backorders": backorders,
        "orders_per_day": D / Q,
        "cycle": Q / D,
    }
