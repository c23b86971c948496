"""One replication: build the network, observe it, run warm-up and horizon."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.model import Network
from simulator.observe import sanity
from simulator.observe.customers import CustomerCollector
from simulator.observe.metrics import MetricsCollector
from simulator.observe.monitor import Monitor, Row, policy_forecast
from simulator.observe.recorder import Recorder
from simulator.observe.suppliers import SupplierMetrics
from simulator.scenario.models import Scenario


@dataclass
class ReplicationResult:
    """What one replication produced (plain Python data: cheap to pickle)."""

    replication: int
    rows: list[dict[str, Any]]
    warnings: list[dict[str, Any]] = field(default_factory=list)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: one dict per supplier (``supplier_metrics.csv``)
    suppliers: list[dict[str, Any]] = field(default_factory=list)
    #: one dict per customer (``customer_metrics.csv``)
    customers: list[dict[str, Any]] = field(default_factory=list)
    #: recorded time series (:meth:`simulator.observe.recorder.Recorder.parts`), if asked for
    series: list[tuple[str, str, str, Any]] | None = None


def run_replication(scenario: Scenario, replication: int, seed: int,
                    progress: Callable[[float], None] | None = None,
                    on_warning: Callable[[Row], Any] | None = None,
                    record: int | None = None) -> ReplicationResult:
    """Simulate replication ``replication`` of ``scenario`` with run seed ``seed``.

    ``progress``, if given, is called with the share of the horizon just simulated
    (the run is then advanced in steps; the results are the same either way).
    ``on_warning``, if given, is called with each warning row as it is reported: the warning
    monitor's during the run (if the scenario has ``warnings:``), the sanity checks' at its end.
    ``record``, if given, records each stock point's time series, at most ``record`` rows per
    series (:mod:`simulator.observe.recorder`; it only listens: the metrics are the same).
    """
    net = Network(scenario, replication, seed)
    metrics = MetricsCollector(net)
    supplier_metrics = SupplierMetrics(net)
    customer_metrics = CustomerCollector(net)
    monitor = None if scenario.warnings is None else \
        Monitor(net, scenario.warnings, policy_forecast, on_warning)
    recorder = None if record is None else Recorder(net, record)
    net.start()
    if scenario.warmup > 0:
        _advance(net, 0.0, scenario.warmup, scenario.horizon, progress)
        metrics.reset(scenario.warmup)
        supplier_metrics.reset(scenario.warmup)
        customer_metrics.reset(scenario.warmup)
        if monitor is not None:
            monitor.reset(scenario.warmup)
    _advance(net, scenario.warmup, scenario.horizon, scenario.horizon, progress)
    metrics.close(scenario.horizon)
    if recorder is not None:
        recorder.close(scenario.horizon)
    rows = [{"replication": replication, **r} for r in metrics.rows(scenario.horizon)]
    suppliers = [{"replication": replication, **r}
                 for r in supplier_metrics.rows(scenario.horizon)]
    customers = [{"replication": replication, **r} for r in customer_metrics.rows()]
    specs = {(w.id, pid): inv.policy for w in scenario.warehouses
             for pid, inv in w.inventory.items()}
    used = {f"{w}/{p}": _resolved(specs[(w, p)], sp.policy) for (w, p), sp in net.stock.items()}
    found = net.warnings + sanity.check(replication, scenario.horizon, metrics.stats, rows)
    if on_warning is not None:
        for row in found:
            on_warning(dict(row))
    warnings = (monitor.rows if monitor is not None else []) + found
    series = None if recorder is None else recorder.parts()
    return ReplicationResult(replication, rows, warnings, used, suppliers, customers, series)


def _advance(net: Network, start: float, end: float, horizon: float,
             progress: Callable[[float], None] | None, steps: int = 20) -> None:
    if progress is None:
        net.run(end)
        return
    last = start
    for k in range(1, steps + 1):
        t = end if k == steps else start + (end - start) * k / steps
        if t > last:
            net.run(t)
            progress((t - last) / horizon)
            last = t


def _resolved(spec: dict[str, Any], policy: Any) -> dict[str, Any]:
    """The policy as used: its scenario entry, updated with what it derived in prepare()."""
    derived = policy.resolved() if callable(getattr(policy, "resolved", None)) else {}
    return {**spec, **derived}
