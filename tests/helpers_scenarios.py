"""Minimal valid scenarios for tests: plain data and YAML text with known line numbers.

Import as ``from helpers_scenarios import ...`` (tests/ is on ``sys.path`` under pytest's
default import mode) or ``from .helpers_scenarios import ...`` when tests/ is a package.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

#: A minimal valid scenario as YAML. Every line is distinct, so tests can find the
#: line of a key with :func:`line_of`. Tiny horizon: a replication takes milliseconds.
BASE_YAML = """\
name: tiny
horizon: 20
products:
  - id: widget
    holding_cost: 0.1
    ordering_cost: 5
suppliers:
  - id: acme
    lead_time: 2
warehouses:
  - id: dc
    inventory:
      widget:
        source: acme
        policy: {type: sS, s: 5, S: 20}
customers:
  - id: shops
    warehouse: dc
    demand:
      widget: {rate: 2}
"""

#: Two echelons, two products, three stock points (dc/widget, dc/gadget, store/widget).
TWO_ECHELON_YAML = """\
name: two-echelon
horizon: 30
warmup: 5
replications: 4
seed: 11
products:
  - id: widget
    holding_cost: 0.1
    ordering_cost: 5
    backorder_cost: 1
  - id: gadget
    holding_cost: 0.2
    lost_sale_cost: 3
suppliers:
  - id: acme
    lead_time: {dist: gamma, mean: 2, cv: 0.5}
warehouses:
  - id: dc
    inventory:
      widget:
        source: acme
        policy: {type: sS, s: 10, S: 40}
      gadget:
        source: acme
        policy: {type: rQ, r: 4, Q: 10}
  - id: store
    inventory:
      widget:
        source: dc
        lead_time: 1
        policy: {type: base_stock, S: 8}
customers:
  - id: shops
    warehouse: store
    demand:
      widget: {rate: 3, size: {dist: empirical, values: [1, 2], weights: [3, 1]}}
  - id: online
    warehouse: dc
    unmet: lost
    demand:
      gadget: {rate: 1.5}
"""


def minimal_dict() -> dict[str, Any]:
    """The plain-data twin of :data:`BASE_YAML` (a fresh copy each call)."""
    return copy.deepcopy({
        "name": "tiny",
        "horizon": 20,
        "products": [{"id": "widget", "holding_cost": 0.1, "ordering_cost": 5}],
        "suppliers": [{"id": "acme", "lead_time": 2}],
        "warehouses": [{"id": "dc", "inventory": {
            "widget": {"source": "acme", "policy": {"type": "sS", "s": 5, "S": 20}}}}],
        "customers": [{"id": "shops", "warehouse": "dc", "demand": {"widget": {"rate": 2}}}],
    })


def edit(text: str, *replacements: tuple[str, str]) -> str:
    """``text`` with each ``(old, new)`` applied; ``old`` must occur exactly once, so a
    change to the template cannot make a test silently check nothing."""
    for old, new in replacements:
        count = text.count(old)
        assert count == 1, f"{old!r} occurs {count} times in the template"
        text = text.replace(old, new)
    return text


def line_of(text: str, marker: str) -> int:
    """1-based line of ``marker``: the line equal to it (stripped) if there is one,
    else the single line containing it."""
    lines = text.splitlines()
    exact = [i for i, ln in enumerate(lines, 1) if ln.strip() == marker.strip()]
    if len(exact) == 1:
        return exact[0]
    found = [i for i, ln in enumerate(lines, 1) if marker in ln]
    assert len(found) == 1, f"{marker!r} found on lines {found}"
    return found[0]


def write_scenario(folder: Path, text: str = BASE_YAML, name: str = "scenario.yaml") -> Path:
    path = Path(folder) / name
    path.write_text(text, encoding="utf-8")
    return path


def stock_event_log(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every stock point's state changes (``EventLog`` records) over one replication of the
    scenario ``data`` (replication 0, seed 0), up to its horizon."""
    from simulator.model import Network
    from simulator.observe.eventlog import EventLog
    from simulator.scenario import load

    sc = load(data)
    net = Network(sc, replication=0, seed=0)
    log = EventLog()
    net.attach(lambda sp: log)
    net.start()
    net.run(sc.horizon)
    return log.records
