"""One replication: build the network, observe it, run warm-up and horizon."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import policies
from simulator.model import Network
from simulator.observe.metrics import MetricsCollector
from simulator.scenario.models import Scenario


@dataclass
class ReplicationResult:
    """What one replication produced (plain Python data: cheap to pickle)."""

    replication: int
    rows: list[dict[str, Any]]
    warnings: list[dict[str, Any]] = field(default_factory=list)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)


def run_replication(scenario: Scenario, replication: int, seed: int) -> ReplicationResult:
    """Simulate replication ``replication`` of ``scenario`` with run seed ``seed``."""
    net = Network(scenario, replication, seed)
    metrics = MetricsCollector(net)
    net.start()
    if scenario.warmup > 0:
        net.run(scenario.warmup)
        metrics.reset(scenario.warmup)
    net.run(scenario.horizon)
    metrics.close(scenario.horizon)
    rows = [{"replication": replication, **r} for r in metrics.rows(scenario.horizon)]
    used = {f"{w}/{p}": {"type": _type_name(sp.policy), **_resolved(sp.policy)}
            for (w, p), sp in net.stock.items()}
    return ReplicationResult(replication, rows, [], used)


def _type_name(policy: Any) -> str:
    for name, cls in policies.BUILTIN.items():
        if type(policy) is cls:
            return name
    return f"{type(policy).__module__}:{type(policy).__qualname__}"


def _resolved(policy: Any) -> dict[str, Any]:
    if hasattr(policy, "resolved"):
        return dict(policy.resolved())
    return policies.params_of(policy)
