"""A reproducible mutation check: does the test suite catch realistic bugs?

Each mutant is a hand-written, realistic bug: a file, an exact snippet of its current text, the
replacement and a one-line description. The repository is snapshotted once into a temporary
folder (never the working tree: other people edit it); each mutant is applied to a copy there,
by exact text, and the tests run in that copy::

    python -m pytest -x -q -p no:cacheprovider TEST_FILES...

with a timeout per mutant. A mutant whose snippet is no longer in the file (the code changed
since it was written) or is there more than once is reported as ``n/a`` (stale / ambiguous),
never applied elsewhere. Outcomes: ``caught`` (a test failed), ``survived`` (all passed),
``timeout``, ``error`` (pytest could not run: exit status 3-5), ``n/a``.

Score = caught / applicable mutants (timeouts and errors count as not caught).

Usage (from the repository root, with the project's virtual environment)::

    .venv/bin/python tools/mutants.py --jobs 2            # every mutant
    .venv/bin/python tools/mutants.py --only 'eoq-*'      # a subset (fnmatch or substring)
    .venv/bin/python tools/mutants.py --list              # the mutants and whether they apply

Runs are reproducible: the snapshot is taken once, hypothesis runs derandomized (CI=true), no
bytecode is written (a mutant never runs from a stale .pyc), PYTHONHASHSEED=0.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: test files, fastest and most specific first (with -x a caught mutant stops early);
#: any other tests/test_*.py found in the snapshot run after these
TEST_ORDER = (
    "test_event_log.py", "test_fifo_upstream.py", "test_derived_params.py",
    "test_distributions.py", "test_policies_conformance.py", "test_determinism.py",
    "test_scenarios.py", "test_theory_formulas.py", "test_properties.py", "test_runner.py",
    "test_results_folder.py", "test_user_policy.py", "test_against_theory.py", "test_cli.py",
    "test_core_limits.py", "test_suppliers.py", "test_consolidation.py", "test_orders.py",
    "test_abc_classes.py", "test_planning.py", "test_recorder.py", "test_annealing_policy.py",
    "test_optimize.py", "test_report.py", "test_web_api.py", "test_workshop.py",
)
#: test files that cannot see a behaviour change of the simulation: schema, docs, input
#: hardening, the results folder, the process pool and signals, the registry, scaling
SKIP_TESTS = ("test_docs.py", "test_validation.py", "test_input_hardening.py", "test_fuzz.py",
              "test_outdir.py", "test_pool.py", "test_cli_signals.py", "test_registry.py",
              "test_perf_scaling.py")

IGNORE = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", ".pytest_cache",
                                ".hypothesis", ".mypy_cache", ".ruff_cache", "*.egg-info",
                                "results")


@dataclass(frozen=True)
class Mutant:
    """One planted bug: replace ``original`` (exact text, once) by ``replacement`` in ``file``."""

    name: str
    file: str
    original: str
    replacement: str
    description: str


SP = "simulator/model/stockpoint.py"
NET = "simulator/model/network.py"
EV = "simulator/model/events.py"
CL = "policies/classic.py"
DI = "simulator/distributions.py"
ME = "simulator/observe/metrics.py"
DE = "simulator/scenario/derived.py"
RE = "simulator/experiment/replication.py"
RS = "simulator/results.py"
OR = "simulator/model/orders.py"
CU = "simulator/observe/customers.py"
PL = "simulator/planning.py"

M = Mutant
MUTANTS: tuple[Mutant, ...] = (
    # ---------------------------------------------------------------- the stock point
    M("fifo-lifo-receive", SP,
      "            entry = queue[0]\n            owed = entry[0]\n"
      "            if owed <= left + EPS:  # settles the entry (a rounding-size remainder is "
      "dropped)\n                queue.popleft()",
      "            entry = queue[-1]\n            owed = entry[0]\n"
      "            if owed <= left + EPS:  # settles the entry (a rounding-size remainder is "
      "dropped)\n                queue.pop()",
      "arriving stock serves the newest backorder first (LIFO)"),
    M("fifo-downstream-jump-queue", SP,
      "                    queue.append([short, lane])",
      "                    (queue.append if lane is None else queue.appendleft)([short, lane])",
      "downstream warehouses' backorders jump the queue (served before older ones)"),
    M("no-partial-shipment", SP,
      "            shipped = on_hand\n            self.on_hand = 0.0\n"
      "            short = qty - on_hand",
      "            shipped = 0.0\n            short = qty",
      "an order that stock cannot fill is backordered whole (no partial shipment)"),
    M("trigger-ignores-backorders", SP,
      "if self.continuous and self.on_hand + self.on_order - self.backorders <= self.trigger:",
      "if self.continuous and self.on_hand + self.on_order <= self.trigger:",
      "continuous review triggers on on_hand + on_order, forgetting backorders"),
    M("trigger-strict", SP,
      "- self.backorders <= self.trigger:",
      "- self.backorders < self.trigger:",
      "continuous review only strictly below the reorder level"),
    M("view-position-sign", SP,
      "        return sp.on_hand + sp.on_order - sp.backorders",
      "        return sp.on_hand + sp.on_order + sp.backorders",
      "the inventory position policies see adds backorders instead of subtracting"),
    M("receive-double-stock", SP,
      "        self.on_hand += left\n",
      "        self.on_hand += qty\n",
      "a receipt puts all of it on hand, also the units shipped to backorders"),
    M("receive-backorders-left", SP,
      "self.backorders = self.backorders - served if queue else 0.0",
      "self.backorders = self.backorders - left if queue else 0.0",
      "backorders reduced by what is left over instead of what was served"),
    M("lost-also-backordered", SP,
      "            if lose:\n                lost = short\n            else:\n",
      "            if lose:\n                lost = short\n            if True:\n",
      "a lost sale is also backordered"),
    M("eps-wrong-side", SP,
      "if on_hand >= qty - EPS:",
      "if on_hand >= qty + EPS:",
      "an order exactly equal to the stock goes through the shortage branch"),
    M("periodic-accumulates", SP,
      "Call(self.env, (k + 1) * self.review_period - self.env.now, REVIEW, self._periodic, "
      "k + 1)",
      "Call(self.env, self.review_period, REVIEW, self._periodic, k + 1)",
      "periodic reviews scheduled R after the last one (rounding accumulates)"),
    M("zero-orders-placed", SP,
      "wanted = bool(qty > 0)",
      "wanted = bool(qty >= 0)",
      "an order of 0 units is placed (and counted)"),
    # ---------------------------------------------------------------- the network
    M("lead-time-unclamped", NET,
      "        lead = max(0.0, next(self.lead_times))",
      "        lead = next(self.lead_times)",
      "lead times not clamped at 0"),
    M("fixed-gaps-accumulate", NET,
      "self.env.schedule(event, DEMAND, self.n / self.rate - self.env.now)",
      "self.env.schedule(event, DEMAND, 1 / self.rate)",
      "deterministic arrivals spaced 1/rate after the last (rounding accumulates)"),
    M("zero-size-orders", NET,
      "        qty = next(self.sizes)\n        if qty > 0:\n            if self.fast:",
      "        qty = next(self.sizes)\n        if qty >= 0:\n            if self.fast:",
      "customer orders of 0 units (Poisson sizes) reach the stock point"),
    M("gap-mean-is-rate", NET,
      'mean_=1.0 / d.rate)',
      'mean_=d.rate)',
      "Poisson arrivals with mean gap = rate instead of 1/rate"),
    M("default-initial-zero", "simulator/scenario/models.py",
      'object.__setattr__(self, "initial", policies.default_initial(self.policy))',
      'object.__setattr__(self, "initial", 0.0)',
      "the default initial stock is 0 instead of the policy's order-up-to level"),
    M("upstream-loses", NET,
      "lane.upstream.demand(qty, False, lane)",
      "lane.upstream.demand(qty, True, lane)",
      "an upstream warehouse treats a downstream order it cannot fill as lost"),
    M("lanes-share-stream", NET,
      'dist.stream(self._stream(f"lead_time/{w.id}/{pid}"))',
      'dist.stream(self._stream(f"lead_time/{pid}"))',
      "all lanes of a product draw identical lead times (one stream for all)"),
    M("gaps-share-size-stream", NET,
      'f"{base}/arrivals")',
      'f"{base}/sizes")',
      "a customer's gaps and sizes come from the same random stream"),
    # ---------------------------------------------------------------- same-instant order
    M("demand-before-receipt", EV,
      "TICK, RECEIPT, DEMAND, REVIEW = 0, 1, 2, 3",
      "TICK, RECEIPT, DEMAND, REVIEW = 0, 2, 1, 3",
      "at the same instant a customer order comes before a receipt"),
    M("review-before-demand", EV,
      "TICK, RECEIPT, DEMAND, REVIEW = 0, 1, 2, 3",
      "TICK, RECEIPT, DEMAND, REVIEW = 0, 1, 3, 2",
      "at the same instant a periodic review comes before a customer order"),
    # ---------------------------------------------------------------- policies
    M("ss-on-hand", CL,
      "        p = view.position\n        s, big_s = self.s, self.S",
      "        p = view.on_hand\n        s, big_s = self.s, self.S",
      "(s, S) looks at stock on hand instead of the inventory position"),
    M("rq-ceil", CL,
      "return (math.floor((r - p) / q) + 1) * q",
      "return math.ceil((r - p) / q) * q",
      "(r, Q) orders ceil((r - p)/Q) lots (none at exactly p = r)"),
    M("base-stock-negative", CL,
      "return self.S - p if p < self.S else 0.0",
      "return self.S - p",
      "base stock returns S - p even when negative"),
    M("eoq-no-2", PL,
      "    return math.sqrt(2 * d * k / h)",
      "    return math.sqrt(d * k / h)",
      "EOQ without the factor 2"),
    M("eoq-bankers-rounding", CL,
      "return float(max(1, math.floor(q + 0.5)))",
      "return float(max(1, round(q)))",
      "EOQ rounded half to even instead of half up"),
    M("eoq-safety-sign", PL,
      "    return d * (float(lead_time_mean) + float(review_period)) + ss",
      "    return d * (float(lead_time_mean) + float(review_period)) - ss",
      "reorder point with the safety stock's sign flipped"),
    M("eoq-no-lead-time-var", PL,
      "    return NormalDist().inv_cdf(sl) * math.sqrt(v * t + d * d * lv)",
      "    return NormalDist().inv_cdf(sl) * math.sqrt(v * t)",
      "reorder point without the lead-time-variance term"),
    M("eoq-no-review-period", PL,
      '    t = _check("lead_time_mean", lead_time_mean) + _check("review_period", review_period)',
      '    t = _check("lead_time_mean", lead_time_mean)',
      "protection period without the review period"),
    M("eoq-overrides-given-r", CL,
      "        if self.r is None:\n            self.r = eoq_reorder_point",
      "        if True:\n            self.r = eoq_reorder_point",
      "a reorder point given in the scenario is overwritten by the derived one"),
    # ---------------------------------------------------------------- distributions
    M("gamma-shape-1-over-cv", DI,
      "shape = 1.0 / self.cv ** 2",
      "shape = 1.0 / self.cv",
      "gamma shape 1/cv instead of 1/cv^2"),
    M("gamma-var-formula", DI,
      "return (self.cv * self.mean_) ** 2",
      "return self.cv * self.mean_ ** 2",
      "gamma variance cv*mean^2 instead of (cv*mean)^2"),
    M("exponential-rate-for-scale", DI,
      "rng.exponential(self.mean_, n)",
      "rng.exponential(1.0 / self.mean_, n)",
      "exponential drawn with the rate where numpy wants the scale"),
    M("normal-clipped", DI,
      "        bad = x < 0\n        while bad.any():",
      "        x = np.maximum(x, 0.0)\n        bad = x < 0\n        while bad.any():",
      "normal clipped at 0 (a point mass) instead of truncated"),
    M("normal-reflected", DI,
      "x[bad] = rng.normal(self.mean_, self.std, int(bad.sum()))",
      "x[bad] = -x[bad]",
      "negative normal draws reflected (folded normal) instead of redrawn"),
    M("normal-mean-untruncated", DI,
      "return float(truncnorm.mean(self._alpha(), math.inf, loc=self.mean_, scale=self.std))",
      "return self.mean_",
      "truncated normal's mean() reports the untruncated mean"),
    M("normal-var-untruncated", DI,
      "return float(truncnorm.var(self._alpha(), math.inf, loc=self.mean_, scale=self.std))",
      "return self.std ** 2",
      "truncated normal's var() reports the untruncated variance"),
    M("uniform-loc-scale", DI,
      "rng.uniform(self.low, self.high, n)",
      "rng.uniform(self.low, self.high - self.low, n)",
      "uniform drawn as (loc, scale) like scipy instead of (low, high)"),
    M("poisson-var", DI,
      "        return self.mean_\n\n    def draw(self, rng: np.random.Generator, n: int) -> "
      "np.ndarray:\n        return rng.poisson",
      "        return self.mean_ ** 2\n\n    def draw(self, rng: np.random.Generator, n: int) "
      "-> np.ndarray:\n        return rng.poisson",
      "Poisson variance mean^2 instead of mean"),
    M("empirical-draw-unweighted", DI,
      "size=n, p=self._p())",
      "size=n)",
      "empirical draws ignore the weights"),
    M("empirical-var-unweighted", DI,
      "return float(np.dot(self._p(), (v - self.mean()) ** 2))",
      "return float(np.var(v))",
      "empirical variance ignores the weights"),
    M("stream-one-batch-size", DI,
      "_BATCHES = (16, 64, 256, 1024)",
      "_BATCHES = (4096,)",
      "streams draw in batches of 4096 from the start"),
    # ---------------------------------------------------------------- derived parameters
    M("compound-poisson-no-mean-term", DE,
      "return rate * m, rate * (v + m * m) + extra * m * m  # compound Poisson",
      "return rate * m, rate * v + extra * m * m  # compound Poisson",
      "compound-Poisson demand variance rate without the (E S)^2 term"),
    M("fixed-gaps-compound-var", DE,
      "return rate * m, rate * v + extra * m * m  # fixed gaps",
      "return rate * m, rate * (v + m * m) + extra * m * m  # fixed gaps",
      "fixed-gap demand given the compound-Poisson variance"),
    M("echelon-var-not-summed", DE,
      "m, v = m + cm, v + cv",
      "m, v = m + cm, v",
      "echelon demand sums the means but not the variances"),
    M("echelon-direct-children-only", DE,
      "cm, cv = total.get(child, (0.0, 0.0))  # absent: a loop, cut",
      "cm, cv = direct.get(child, (0.0, 0.0))",
      "echelon demand counts only the children's own customers, not grandchildren"),
    # ---------------------------------------------------------------- metrics
    M("avg-backorders-from-on-hand", ME,
      '"avg_backorders": st.area_bo / days',
      '"avg_backorders": st.area_oh / days',
      "average backorders computed from the on-hand area"),
    M("fill-rate-counts-late", ME,
      "        self._advance(sp, now)\n        self.shipped += shipped\n",
      "        self._advance(sp, now)\n        self.shipped += shipped\n"
      "        self.filled += shipped\n",
      "fill rate counts units shipped late to backorders"),
    M("turnover-not-annualised", ME,
      "st.shipped / avg_oh * 365.0 / days",
      "st.shipped / avg_oh",
      "inventory turnover not annualised"),
    M("total-cost-no-lost-sales", ME,
      "holding + ordering + backorder + lost_sale",
      "holding + ordering + backorder",
      "total cost leaves out the lost-sale cost"),
    M("area-uses-new-level", ME,
      "            self.area_oh += self.oh * dt\n            self.area_bo += self.bo * dt\n"
      "            self.t = now\n        self.oh = sp.on_hand\n        self.bo = sp.backorders\n"
      "        if now >= self.day_end:",
      "            self.area_oh += sp.on_hand * dt\n            self.area_bo += self.bo * dt\n"
      "            self.t = now\n        self.oh = sp.on_hand\n        self.bo = sp.backorders\n"
      "        if now >= self.day_end:",
      "on-hand area integrates the level after a demand over the interval before it"),
    # ---------------------------------------------------------------- replication
    M("warmup-reset-at-zero", RE,
      "        metrics.reset(scenario.warmup)\n        supplier_metrics",
      "        metrics.reset(0.0)\n        supplier_metrics",
      "statistics reset at t = 0 instead of at the end of the warm-up"),
    M("no-close-at-horizon", RE,
      "    metrics.close(scenario.horizon)\n",
      "",
      "levels not integrated up to the horizon"),
    M("rows-days-minus-warmup", RE,
      "for r in metrics.rows(scenario.horizon)]",
      "for r in metrics.rows(scenario.horizon - scenario.warmup)]",
      "averages divided by horizon - 2 * warmup days"),
    M("resolved-spec-wins", RE,
      "return {**spec, **derived}",
      "return {**derived, **spec}",
      "reported policy: the scenario's entries override the derived ones"),
    # ---------------------------------------------------------------- summary
    M("ci-normal-quantile", RS,
      'half = _t975(np.maximum(out["n"].to_numpy() - 1, 1))',
      "half = 1.959963984540054",
      "95% interval with the normal quantile instead of Student t"),
    M("ci-no-sqrt-n", RS,
      '/ np.sqrt(out["n"])',
      '/ out["n"]',
      "interval half-width divided by n instead of sqrt(n)"),
    M("summary-std-ddof0", RS,
      'g.agg(n="count", mean="mean", std="std")',
      'g.agg(n="count", mean="mean", std=lambda s: s.std(ddof=0))',
      "summary std with ddof = 0"),
    M("ci-not-cut", RS,
      'out["ci95_low"] = np.maximum(out["mean"] - half, low.astype(float))',
      'out["ci95_low"] = out["mean"] - half',
      "interval bounds below 0 reported for metrics that cannot be negative"),
    M("t-quantile-df", "simulator/stats.py",
      "return [t_quantile(p, float(df)) for df in dfs]",
      "return [t_quantile(p, float(df) + 1) for df in dfs]",
      "t quantile with n instead of n - 1 degrees of freedom"),
    M("merge-any-claimant", SP,
      "if queue and queue[-1][1] is lane:",
      "if queue:",
      "a shortfall joins the newest backorder entry whoever is owed (FIFO across claimants lost)"),
    M("dispatch-drops-queued", NET,
      "            while self.pending:",
      "            while False:",
      "orders queued while another upstream order runs are never placed"),
    M("dispatch-lifo", NET,
      "nxt, q = self.pending.popleft()",
      "nxt, q = self.pending.pop()",
      "queued upstream orders run newest first"),
    M("sanity-never-orders-silent", "simulator/observe/sanity.py",
      "if st.orders == 0 and row.get(\"demand_units\", 0.0) > 0 and unmet:",
      "if False:",
      "a stock point that never orders while demand goes unmet is not warned about"),
    M("budget-ignores-replications", "simulator/experiment/budget.py",
      "return events_per_replication(sc) * sc.replications",
      "return events_per_replication(sc)",
      "the work estimate forgets the replications"),
    M("max-order-not-tracked", ME,
      "        if qty > self.max_order:",
      "        if False:",
      "absurd replenishment orders go unnoticed"),
    M("capacity-rate-inverted", "simulator/model/supplier.py",
      "days = qty / self.capacity",
      "days = qty * self.capacity",
      "production takes q x c days instead of q / c"),
    M("capacity-not-fifo", "simulator/model/supplier.py",
      "self.busy = max(self.uptime(now), self.busy) + days",
      "self.busy = self.uptime(now) + days",
      "a capacity-limited supplier works on every order at once (no queue)"),
    M("disruption-ignored", "simulator/model/supplier.py",
      "return downtime.next_up(now)  # type: ignore[union-attr]",
      "return now",
      "orders leave a disrupted supplier at once"),
    M("multiple-rounds-down", "simulator/model/supplier.py",
      "qty = math.ceil(qty / self.multiple - 1e-9) * self.multiple",
      "qty = math.floor(qty / self.multiple + 1e-9) * self.multiple",
      "case packs round the order down instead of up"),
    M("moq-ignored", "simulator/model/supplier.py",
      "qty = max(qty, self.min_order)",
      "qty = qty",
      "the minimum order quantity is not applied"),
    M("po-window-ignored", "simulator/model/purchasing.py",
      "Call(self.env, self.window, SEND, self._send, po)",
      "Call(self.env, 0, SEND, self._send, po)",
      "a purchase order leaves at once instead of collecting orders for the window"),
    M("po-sent-at-review-priority", "simulator/model/purchasing.py",
      "SEND = REVIEW + 1",
      "SEND = REVIEW",
      "a review at the window's end, scheduled after the PO opened, misses it"),
    M("po-line-replaced", "simulator/model/purchasing.py",
      "self.lines[sp] = self.lines.get(sp, 0.0) + qty",
      "self.lines[sp] = qty",
      "a product's second order in a purchase order replaces its line instead of adding"),
    M("po-major-cost-per-line", "simulator/observe/suppliers.py",
      "each = major / len(po.lines)",
      "each = major",
      "the supplier's ordering cost is charged per line, not split over a PO's lines"),
    M("po-replenishment-from-opening", "simulator/observe/suppliers.py",
      "self.replenishment += dest.orders * (now + lead_time) - dest.placed",
      "self.replenishment += dest.orders * (now + lead_time - dest.opened)",
      "the replenishment time of merged orders runs from the PO's opening"),
    M("ci-single-value", RS,
      '    half = half.where(out["n"] > 1)\n',
      "",
      "no NaN guard for the interval of a single replication"),
    # ---------------------------------------------------------------- customer orders
    M("split-skips-other-warehouses", OR,
      "                for w in range(1, len(points)):",
      "                for w in range(1, 1):",
      "split never takes from the second and later warehouses"),
    M("single-source-only-first", OR,
      "        for w in range(len(self.deliveries)):\n            for k, qty in lines:",
      "        for w in range(1):\n            for k, qty in lines:",
      "single_source never looks beyond the first warehouse"),
    M("single-source-partial-stock-counts", OR,
      "                if sp is None or sp.on_hand < qty - EPS:",
      "                if sp is None or sp.on_hand <= 0:",
      "a warehouse with some of a line counts as able to ship it whole"),
    M("ship-complete-no-hold", OR,
      "            if order.open > 0:\n                order.held += units",
      "            if False:\n                order.held += units",
      "ship_complete ships partial orders at once"),
    M("backlog-lifo", OR,
      "            entry = entries[0]\n            units, order = entry",
      "            entry = entries[-1]\n            units, order = entry",
      "a customer's backordered lines are settled newest first"),
    M("no-delivery-time", OR,
      "        arrival = now + max(0.0, next(d)) if d is not None else now",
      "        arrival = now",
      "delivery times are ignored"),
    M("merge-window-never-merges", OR,
      "        group = self.groups[w]\n        if group is None:",
      "        group = None\n        if group is None:",
      "every shipment opens its own merge window"),
    M("filled-line-counts-partial", OR,
      "            ship_now[at] += got\n            if got == qty:",
      "            ship_now[at] += got\n            if got > 0:",
      "a line partly shipped at once counts as filled"),
    M("split-flag-ignores-backorders", OR,
      "        split = used + (order is not None and order.open > 0 and ship_now[0] == 0) > 1",
      "        split = used > 1",
      "an order shipped from one warehouse and backordered at another is not split"),
    M("shipping-cost-first-rate", OR,
      "units * self.costs[w] + self.shipment_cost",
      "units * self.costs[0] + self.shipment_cost",
      "every warehouse charges the first warehouse's shipping rate"),
    M("line-picks-before-first", OR,
      "    present = ((rng.random((rows, n)) < p) & (cols > first)) | (cols == first)",
      "    present = (rng.random((rows, n)) < p) | (cols == first)",
      "lines before the first present line are drawn again (biased line sets)"),
    M("fast-path-partial-not-announced", NET,
      "                got = self.sp.demand(qty, self.lose)\n                if got != qty:",
      "                got = self.sp.demand(qty, self.lose)\n                if got == 0:",
      "a fast-path order partly shipped at once is not recorded"),
    M("quiet-orders-double-counted", CU,
      "            quiet = sum(src.count for src in self.sources) - self.base - self.orders",
      "            quiet = sum(src.count for src in self.sources) - self.base",
      "fast-path orders announced as short are counted twice"),
    M("cycle-window-by-completion", CU,
      "        if mean_arrived < self.start:",
      "        if now < self.start:",
      "orders that arrived in the warm-up count in the cycle times"),
    M("p95-rank-floor", CU,
      "        k = max(1, math.ceil(q * self.n - 1e-9))",
      "        k = max(1, int(q * self.n))",
      "the percentile's rank is rounded down"),
    M("on-time-strict", CU,
      "        if promised is not None and cycle <= promised + 1e-9:",
      "        if promised is not None and cycle < promised - 1e-9:",
      "an order delivered exactly at the promise is late"),
    M("line-demand-not-conditioned", DE,
      "        q = line.probability / nonempty  # P(line present | order nonempty), at most 1",
      "        q = line.probability",
      "policies see line rates without the redraw of empty orders"),
    # ---------------------------------------------------------------- forecasts and experiments
    M("protection-without-review", "policies/forecasting.py",
      "        return self.lead_time + self.review_period",
      "        return self.lead_time",
      "order_up_to protects the lead time only, not the review period"),
    M("warmup-never-fits", "policies/forecasting.py",
      "            else:\n                f.fit(self._rt.history)",
      "            else:\n                pass",
      "parameters left out are never estimated at the end of the warm-up"),
    M("bullwhip-inverted", ME,
      "        return var_o / var_d if var_d > 1e-12 else math.nan",
      "        return var_d / var_o if var_o > 1e-12 else math.nan",
      "bullwhip as demand variance over order variance"),
    M("forecast-bias-sign", ME,
      "        e = predicted - actual",
      "        e = actual - predicted",
      "forecast bias with the wrong sign (positive = under-forecast)"),
    M("sweep-seed-per-point", "simulator/experiment/sweep.py",
      "    return task.point, [run_replication(sc, r, sc.seed) for r in task.replications]",
      "    return task.point, [run_replication(sc, r, sc.seed + task.point) "
      "for r in task.replications]",
      "each sweep point on its own seed (no common random numbers)"),
    M("tick-before-nothing", "simulator/model/network.py",
      "            if sp.continuous:  # the policy's levels moved with the forecast: read them "
      "again",
      "            if False:  # the policy's levels moved with the forecast: read them again",
      "the stock point keeps the first day's reorder level"),
    # ---------------------------------------------------------------- simulator optimize
    M("opt-no-crn", "simulator/optimizer/evaluate.py",
      "            yield _Task(cand, sc, tuple(range(start, min(sc.replications, start + batch))))",
      "            off = cand * sc.replications\n"
      "            yield _Task(cand, sc, tuple(range(off + start,\n"
      "                                              off + min(sc.replications, start + batch))))",
      "each candidate runs on its own replications' streams (no common random numbers)"),
    M("opt-constraint-sign", "simulator/optimizer/params.py",
      'gap = self.bound - mean if self.op == ">=" else mean - self.bound',
      'gap = self.bound - mean if self.op == "<=" else mean - self.bound',
      "a constraint's violation is measured on the wrong side of its bound"),
    M("opt-integer-not-rounded", "simulator/optimizer/params.py",
      "        if self.integer:\n            return int(",
      "        if False:\n            return int(",
      "whole-number params are tried at fractional values"),
    M("opt-grid-misses-high", "simulator/optimizer/params.py",
      "self.value(i / (n - 1)) for i in range(n)",
      "self.value(i / n) for i in range(n)",
      "the grid's evenly spaced levels never reach the upper bound"),
    M("opt-fill-rate-unweighted", "simulator/optimizer/evaluate.py",
      '    return math.fsum(float(r["fill_rate"]) * float(r["demand_units"]) for r in rows\n'
      '                     if r["fill_rate"] == r["fill_rate"]) / demand',
      '    rates = [float(r["fill_rate"]) for r in rows if r["fill_rate"] == r["fill_rate"]]\n'
      '    return math.fsum(rates) / len(rates)',
      "the network fill rate of a constraint is the plain mean over stock points"),
    M("opt-best-ignores-feasibility", "simulator/optimizer/core.py",
      "        return (v, cost if cost == cost else math.inf, c.number)",
      "        return (cost if cost == cost else math.inf, v, c.number)",
      "the best candidate is the cheapest, feasible or not"),
    M("opt-penalty-too-small", "simulator/optimizer/core.py",
      "ev.mean_cost + self.scale * (1 + 10 * min(v, 1e6))",
      "ev.mean_cost + self.scale * 0.01 * min(v, 1e6)",
      "an infeasible candidate's penalty can be smaller than a feasible one's extra cost"),
    M("opt-resume-other-seed", "simulator/optimizer/core.py",
      "a = Annealing(params, budget, seed, batch, s.valid)",
      "a = Annealing(params, budget, seed + len(part.found), batch, s.valid)",
      "a resumed annealing search replays with another seed"),
    # ---------------------------------------------------------------- annealing policy
    M("anneal-same-sample-every-replication", "policies/annealing.py",
      "st.gen = rng.stream(context.seed + self.seed_offset, context.replication,",
      "st.gen = rng.stream(context.seed + self.seed_offset, 0,",
      "every replication tunes on the same inner sample (replications not independent)"),
    M("anneal-model-stream", "policies/annealing.py",
      'f"policy/annealing/{context.warehouse}/{context.product}")',
      'f"lead_time/{context.warehouse}/{context.product}")',
      "the tuner draws from a copy of the model's lead-time stream"),
    M("anneal-ignores-holding", "policies/annealing.py",
      "    total = costs.holding * area_oh + costs.backorder * area_bo",
      "    total = costs.backorder * area_bo",
      "the inner simulation ignores the holding cost"),
    M("anneal-never-retunes", "policies/annealing.py",
      "        return self.retune_every > 0",
      "        return False",
      "the model never hands the policy its daily demand: it never retunes"),
    M("anneal-returns-last-not-best", "policies/annealing.py",
      "    return best[1], best[1] + best[2], best[0]",
      "    return s, s + q, here",
      "the tuner returns where the walk stopped, not the best candidate seen"),
    M("anneal-cost-counts-warmup", "policies/annealing.py",
      "np.clip(np.concatenate([[0.0], times[order], [sample.days]]), sample.warm,",
      "np.clip(np.concatenate([[0.0], times[order], [sample.days]]), 0.0,",
      "the inner cost includes the warm-up from a full start"),
    # ---------------------------------------------------------------- abc classes
    M("abc-overrides-explicit-level", "simulator/scenario/abcclass.py",
      'and "service_level" in spec and "service_level" not in given:',
      'and "service_level" in spec:',
      "a class's service_level overrides one written in the policy"),
    M("abc-level-not-applied", "simulator/scenario/abcclass.py",
      "    if level is not None and",
      "    if False and",
      "a class's service_level default is never applied"),
    M("abc-initial-not-from-class", "simulator/scenario/abcclass.py",
      '    if not own and "initial" not in inv.model_fields_set:',
      "    if False:",
      "a policy from the class gets no default initial stock"),
    M("abc-cumulative-off-by-one", "simulator/planning.py",
      '"A" if i == 0 or cum <= a + 1e-12',
      '"A" if i == 0 or cum - share <= a + 1e-12',
      "class A closes on the cumulative share before the product's own"),
    # ---------------------------------------------------------------- --record
    M("recorder-samples-before-events", "simulator/observe/recorder.py",
      "SAMPLE = 9",
      "SAMPLE = 1",
      "a level sample is taken before same-instant demand and reviews"),
    M("recorder-stride-not-doubled", "simulator/observe/recorder.py",
      "            del self.rows[1::2]\n            self.stride *= 2\n",
      "            del self.rows[1::2]\n",
      "thinning keeps every later row: orders stop being evenly spaced"),
    M("recorder-horizon-twice", "simulator/observe/recorder.py",
      "if not rows or rows[-1][0] < now:",
      "if True:",
      "the horizon's levels are added again when already sampled (EQUIVALENT: the run stops "
      "before any event at the horizon, SimPy's until event being urgent and scheduled first, "
      "so no grid sample is ever at the horizon and close() always adds it)"),
    # ---------------------------------------------------------------- report, plots
    M("report-image-by-url", "simulator/report.py",
      'src="data:image/png;base64,{b64}">',
      'src="{html.escape(alt)}.png">',
      "report.html links its images instead of embedding them (not offline)"),
    M("bullwhip-stages-reversed", "simulator/plots/bullwhip.py",
      "key=lambda k: (echelon(k), order.index(k)))",
      "key=lambda k: (-echelon(k), order.index(k)))",
      "bullwhip stages ordered upstream -> downstream"),
    # ---------------------------------------------------------------- web
    M("web-no-upload-limit", "simulator/web/app.py",
      'app.config["MAX_CONTENT_LENGTH"] = limits.max_upload_kb * 1024',
      'app.config["MAX_CONTENT_LENGTH"] = None',
      "the server accepts request bodies of any size"),
    M("web-code-allowed", "simulator/web/intake.py",
      'last == "type" and isinstance(value, str) and ":" in value',
      'last == "type" and isinstance(value, str) and "::" in value',
      "module:Class policies get through the web intake"),
    M("web-queue-off-by-one", "simulator/web/executor.py",
      "if self._pending >= self.max_queue:",
      "if self._pending > self.max_queue:",
      "the run queue accepts one run more than max_queue"),
    M("web-horizon-cap-ignored", "simulator/web/intake.py",
      "    if sc.horizon > limits.max_horizon:",
      "    if sc.horizon > limits.max_horizon * 10:",
      "the horizon cap lets ten times the limit through"),
    # ---------------------------------------------------------------- order_delay, progress
    M("order-delay-not-in-lead-time", DE,
      "lead_time_mean=lt.mean() + w.inventory[pid].order_delay,",
      "lead_time_mean=lt.mean(),",
      "the policies' lead time leaves out the order delay"),
    M("order-delay-twice", NET,
      "sp.replenish = partial(_delayed, self.env, float(inv.order_delay),",
      "sp.replenish = partial(_delayed, self.env, 2 * float(inv.order_delay),",
      "an order is delayed twice its order_delay"),
    M("progress-backwards", "simulator/experiment/progress.py",
      "            self._shown = max(self._shown, share)",
      "            self._shown = share",
      "the progress share may go backwards"),
    M("progress-over-one", "simulator/experiment/progress.py",
      "share = min(self.n / self.total, 1.0) if self.total > 0 else 1.0",
      "share = self.n / self.total if self.total > 0 else 1.0",
      "the progress share may exceed 1"),
    M("progress-no-final-call", "simulator/experiment/progress.py",
      "        if exc[0] is None:\n            self.call(1.0)",
      "        pass",
      "a finished run's progress never reaches 1"),
)


# --------------------------------------------------------------------------- running
@dataclass
class Outcome:
    mutant: Mutant
    status: str  # caught, survived, timeout, error, n/a
    seconds: float = 0.0
    detail: str = ""


def applies(text: str | None, m: Mutant) -> str:
    """'' if ``m`` applies to ``text`` (the snippet occurs exactly once), else why not."""
    if text is None:
        return "stale: file missing"
    n = text.count(m.original)
    if n == 0:
        return "stale: snippet not found"
    if n > 1:
        return f"ambiguous: snippet found {n} times"
    return ""


def read(repo: Path, rel: str) -> str | None:
    path = repo / rel
    return path.read_text(encoding="utf-8") if path.is_file() else None


def test_files(repo: Path, lead: tuple[str, ...] = ()) -> list[str]:
    """The test files in the order they run: ``lead`` (``--first``), :data:`TEST_ORDER`, the
    rest but :data:`SKIP_TESTS`."""
    present = sorted(p.name for p in (repo / "tests").glob("test_*.py"))
    first = list(dict.fromkeys(t for t in (*lead, *TEST_ORDER) if t in present))
    rest = [t for t in present if t not in first and t not in SKIP_TESTS]
    return [f"tests/{t}" for t in first + rest]


def child_env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0",
               CI="true")
    return env


class Runner:
    """Runs pytest in worker copies, killing every child still running on interruption."""

    def __init__(self, timeout: float, deselect: tuple[str, ...] = ()):
        self.timeout = timeout
        self.deselect = [f"--deselect={node}" for node in deselect]
        self.procs: set[subprocess.Popen[str]] = set()
        self.lock = threading.Lock()

    def pytest(self, copy: Path, tests: list[str]) -> tuple[str, float, str]:
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               *self.deselect, *tests]
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=copy, env=child_env(copy), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        with self.lock:
            self.procs.add(proc)
        try:
            out, _ = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.kill(proc)
            proc.communicate()
            return "timeout", time.monotonic() - start, f"> {self.timeout:g} s"
        finally:
            with self.lock:
                self.procs.discard(proc)
        secs = time.monotonic() - start
        if proc.returncode == 0:
            return "survived", secs, ""
        if proc.returncode in (1, 2):  # tests failed / collection error caused by the mutant
            return "caught", secs, first_failure(out)
        return "error", secs, f"pytest exit status {proc.returncode}: {last_line(out)}"

    def kill(self, proc: subprocess.Popen[str]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # our own child's process group only
        except ProcessLookupError:
            pass

    def kill_all(self) -> None:
        with self.lock:
            for proc in list(self.procs):
                self.kill(proc)


def first_failure(out: str) -> str:
    m = re.search(r"^(?:FAILED|ERROR) (\S+)", out, re.MULTILINE)
    return m.group(1) if m else last_line(out)


def last_line(out: str) -> str:
    lines = [ln for ln in out.strip().splitlines() if ln.strip()]
    return lines[-1][:120] if lines else ""


def snapshot(repo: Path, dest: Path) -> Path:
    shutil.copytree(repo, dest, ignore=IGNORE, symlinks=True)
    return dest


def check_imports(copy: Path) -> None:
    """The copy must import its own code (not an installed or editable one)."""
    code = "import simulator, policies; print(simulator.__file__); print(policies.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=copy, env=child_env(copy),
                         capture_output=True, text=True, check=True).stdout.split()
    for path in out:
        if not Path(path).resolve().is_relative_to(copy.resolve()):
            sys.exit(f"mutants: the copy imports {path}, not its own code; aborting")


def run_mutant(m: Mutant, copy: Path, tests: list[str], runner: Runner) -> Outcome:
    path = copy / m.file
    text = read(copy, m.file)
    why = applies(text, m)
    if why or text is None:
        return Outcome(m, "n/a", 0.0, why)
    path.write_text(text.replace(m.original, m.replacement, 1), encoding="utf-8")
    try:
        status, secs, detail = runner.pytest(copy, tests)
    finally:
        path.write_text(text, encoding="utf-8")
    return Outcome(m, status, secs, detail)


def run_all(mutants: list[Mutant], repo: Path, jobs: int, runner: Runner,
            baseline: bool, lead: tuple[str, ...] = ()) -> Iterator[Outcome]:
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        base = snapshot(repo, Path(tmp) / "w0")
        check_imports(base)
        tests = test_files(base, lead)
        print(f"snapshot of {repo} in {tmp}; tests: {' '.join(tests)}", flush=True)
        if baseline:
            status, secs, detail = runner.pytest(base, tests)
            print(f"baseline (no mutant): {status} in {secs:.0f} s {detail}", flush=True)
            if status != "survived":
                sys.exit("mutants: the tests do not pass on the unmutated snapshot; aborting")
        copies: queue.Queue[Path] = queue.Queue()
        copies.put(base)
        for k in range(1, jobs):
            copies.put(snapshot(base, Path(tmp) / f"w{k}"))

        def one(m: Mutant) -> Outcome:
            copy = copies.get()
            try:
                return run_mutant(m, copy, tests, runner)
            finally:
                copies.put(copy)

        pool = ThreadPoolExecutor(max_workers=jobs)
        try:
            yield from pool.map(one, mutants)
        except BaseException:
            runner.kill_all()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()


# --------------------------------------------------------------------------- reporting
def report(outcomes: list[Outcome]) -> str:
    counts = {s: sum(o.status == s for o in outcomes)
              for s in ("caught", "survived", "timeout", "error", "n/a")}
    applicable = len(outcomes) - counts["n/a"]
    score = f"{counts['caught'] / applicable:.0%}" if applicable else "n/a"
    lines = ["", "score: " + f"{counts['caught']} caught of {applicable} applicable mutants "
             f"({score}); " + ", ".join(f"{k} {v}" for k, v in counts.items())]
    left = [o.mutant.name for o in outcomes if o.status in ("survived", "timeout", "error")]
    if left:
        lines.append("not caught: " + ", ".join(left))
    return "\n".join(lines)


def row(o: Outcome, width: int) -> str:
    return (f"{o.mutant.name:<{width}}  {o.status:<8}  {o.seconds:6.1f}  "
            f"{o.mutant.file:<36}  {o.detail or o.mutant.description}")


def select(patterns: list[str] | None) -> list[Mutant]:
    """The mutants whose name matches any pattern (fnmatch or substring); all without any."""
    if not patterns:
        return list(MUTANTS)
    return [m for m in MUTANTS
            if any(fnmatch.fnmatch(m.name, p) or p in m.name for p in patterns)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--jobs", type=int, default=1, help="mutants run in parallel (copies)")
    ap.add_argument("--only", metavar="PATTERN", action="append",
                    help="mutant names (fnmatch or substring); may be repeated")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    ap.add_argument("--repo", type=Path, default=ROOT, help="repository to snapshot")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the check that the tests pass without a mutant")
    ap.add_argument("--first", metavar="TEST_FILE", action="append", default=[],
                    help="run this test file (e.g. test_optimize.py) before the others; "
                         "may be repeated (a quicker check of mutants of one module)")
    ap.add_argument("--deselect", metavar="NODE_ID", action="append", default=[],
                    help="leave out a test (pytest's --deselect, e.g. one that fails "
                         "without any mutant); may be repeated")
    args = ap.parse_args(argv)
    mutants = select(args.only)
    if not mutants:
        print(f"no mutant matches {args.only!r}", file=sys.stderr)
        return 2
    width = max(len(m.name) for m in mutants)
    if args.list:
        for m in mutants:
            why = applies(read(args.repo, m.file), m) or "applies"
            print(f"{m.name:<{width}}  {m.file:<36}  {why:<12}  {m.description}")
        return 0
    runner = Runner(args.timeout, tuple(args.deselect))
    outcomes: list[Outcome] = []
    print(f"{'mutant':<{width}}  {'result':<8}  {'secs':>6}  {'file':<36}  detail", flush=True)
    try:
        for o in run_all(mutants, args.repo, max(1, args.jobs), runner,
                             not args.no_baseline, tuple(args.first)):
            outcomes.append(o)
            print(row(o, width), flush=True)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(report(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
