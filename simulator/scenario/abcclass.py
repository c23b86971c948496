"""Per-class defaults of a scenario's ``abc`` section (docs/scenario-reference.md).

The products are classed A, B, C by annual demand value (:func:`simulator.planning.classes`,
the same function as ``simulator abc``, with the section's ``a`` and ``b``). Then, for every
inventory entry (stock point) of a product of class X:

* no ``policy``: it takes ``abc.classes.X.policy`` (an error if that class gives none);
* ``service_level``: when the policy (its own or the class's) has a ``service_level``
  parameter and the mapping as written does not give it, ``abc.classes.X.service_level``
  (when given) replaces the policy's default. A value written in the policy always wins;
* ``initial`` not given and the policy came from the class: the default initial stock of that
  policy (its order-up-to level, else 0), as for a written policy.

Classes need the customers' demand, so this runs once the scenario's references are sound
and its order logs and histories are read (:func:`simulator.scenario.validate_data`).
"""
from __future__ import annotations

from typing import Any

import policies
from simulator.planning import classes
from simulator.scenario.models import FrozenDict, Inventory, Scenario

Found = list[tuple[tuple[Any, ...], str]]


def _policy_of(inv: Inventory, klass: Any) -> tuple[dict[str, Any] | None, set[str]]:
    """The inventory's policy with its class's defaults, and the keys they filled."""
    filled: set[str] = set()
    spec = dict(inv.policy) if inv.policy else None
    given = set(inv._given)
    if spec is None:
        if klass is None or klass.policy is None:
            return None, filled
        spec, given = dict(klass.policy), set(klass._given)
        filled.add("policy")
    level = klass.service_level if klass is not None else None
    if level is not None and "service_level" in spec and "service_level" not in given:
        spec["service_level"] = level
        filled.add("service_level")
    return spec, filled


def apply(sc: Scenario, search: list[str] | None = None) -> tuple[Scenario, Found]:
    """``sc`` with the ``abc`` section's class defaults filled in, and the problems found
    (an entry with no policy whose class gives none). Without an ``abc`` section, ``sc``."""
    if sc.abc is None:
        return sc, []
    klass = classes(sc, sc.abc.a, sc.abc.b)
    found: Found = []
    memo: dict[str, dict[str, Any]] = {}  # per class: its policy, validated once
    houses = []
    changed = False
    for i, w in enumerate(sc.warehouses):
        inventory = {}
        for pid, inv in w.inventory.items():
            c = klass.get(pid, "C")
            spec, filled = _policy_of(inv, sc.abc.classes.get(c))  # type: ignore[call-overload]
            if spec is None:
                found.append((("warehouses", i, "inventory", pid), (
                    f"no policy: give one, or abc.classes.{c}.policy (product {pid} is "
                    f"class {c})")))
                inventory[pid] = inv
                continue
            inventory[pid] = _filled(inv, spec, filled, search, memo.setdefault(c, {})) \
                if filled else inv
            changed = changed or bool(filled)
        houses.append(w.model_copy(update={"inventory": FrozenDict(inventory)}))
    if found or not changed:
        return sc, found
    return sc.model_copy(update={"warehouses": tuple(houses)}), found


def _filled(inv: Inventory, spec: dict[str, Any], filled: set[str],
            search: list[str] | None, memo: dict[str, Any]) -> Inventory:
    """A copy of ``inv`` with policy ``spec`` (validated again with defaults filled; a class's
    own policy is validated once, kept in ``memo``)."""
    own = "policy" not in filled
    if own or "policy" not in memo:
        policy = FrozenDict(policies.validate(spec, search))
        level = None if policies.level_needs_context(policy) \
            else policies.default_initial(policy)
        if own:
            memo_entry: tuple[Any, Any] = (policy, level)
        else:
            memo["policy"] = memo_entry = (policy, level)
    else:
        memo_entry = memo["policy"]
    update: dict[str, Any] = {"policy": memo_entry[0]}
    if not own and "initial" not in inv.model_fields_set:
        filled = filled | {"initial"}
        update["initial"] = memo_entry[1]
    new = inv.model_copy(update=update)
    new._from_class = frozenset(filled)
    new._given = inv._given
    return new
