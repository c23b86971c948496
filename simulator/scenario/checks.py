"""Cross-checks that need the whole scenario: references, uniqueness, cycles.

Each check yields ``(path, message)``; the loader turns them into problems
with file and line.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import policies
from simulator.scenario.derived import policy_contexts
from simulator.scenario.models import Scenario

Found = Iterator[tuple[tuple[Any, ...], str]]


def _unique(items: list[Any], section: str) -> Found:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.id in seen:
            yield (section, i, "id"), f"duplicate id {item.id!r}"
        seen.add(item.id)


def _ids(sc: Scenario) -> Found:
    for section in ("products", "suppliers", "warehouses", "customers"):
        yield from _unique(getattr(sc, section), section)
    suppliers = {s.id for s in sc.suppliers}
    for i, w in enumerate(sc.warehouses):
        if w.id in suppliers:
            yield (("warehouses", i, "id"),
                   f"{w.id!r} is also a supplier id; sources must be unambiguous")


def _sources(sc: Scenario) -> Found:
    products = {p.id for p in sc.products}
    suppliers = {s.id for s in sc.suppliers}
    stocked = {w.id: set(w.inventory) for w in sc.warehouses}
    for i, w in enumerate(sc.warehouses):
        for pid, inv in w.inventory.items():
            at = ("warehouses", i, "inventory", pid)
            if pid not in products:
                yield at, f"unknown product {pid!r}; products are: {', '.join(sorted(products))}"
            if inv.source in suppliers:
                if inv.lead_time is not None:
                    yield (*at, "lead_time"), ("only allowed when source is a warehouse; "
                                               "a supplier's lead time is set on the supplier")
            elif inv.source == w.id:
                yield (*at, "source"), "a warehouse cannot source from itself"
            elif inv.source in stocked:
                if pid not in stocked[inv.source]:
                    yield (*at, "source"), f"warehouse {inv.source!r} does not stock {pid!r}"
            else:
                names = ", ".join(sorted((suppliers | set(stocked)) - {w.id})) or "(none)"
                yield ((*at, "source"),
                       f"unknown source {inv.source!r}; suppliers and warehouses are: {names}")


def _cycles(sc: Scenario) -> Found:
    """Sourcing loops through two or more warehouses (self-sourcing is reported by _sources;
    a source that is a supplier id ends the chain, as it does in _sources).

    Each stock point is walked once (linear time, no recursion); a loop is reported at its
    member that comes first in the file, and shown from there."""
    suppliers = {s.id for s in sc.suppliers}
    source = {(w.id, pid): inv.source for w in sc.warehouses for pid, inv in w.inventory.items()
              if inv.source not in suppliers and inv.source != w.id}
    order = {key: i for i, key in enumerate(source)}
    index = {w.id: i for i, w in enumerate(sc.warehouses)}
    seen: set[tuple[str, str]] = set()
    for start in source:
        path: dict[tuple[str, str], int] = {}  # this walk's stock points, in walk order
        node: tuple[str, str] | None = start
        while node is not None and node in source and node not in seen:
            seen.add(node)
            path[node] = len(path)
            node = (source[node], node[1])
        if node is None or node not in path:
            continue
        ring = list(path)[path[node]:]
        first = min(ring, key=order.__getitem__)
        at = ring.index(first)
        wids = [wid for wid, _ in ring[at:] + ring[:at]]
        wid, pid = first
        yield (("warehouses", index[wid], "inventory", pid, "source"),
               f"sourcing cycle for {pid!r}: {' -> '.join([*wids, wid])}")


def _shape(c: Any, i: int) -> Found:
    """One of ``warehouse``/``warehouses``, one of ``demand``/``orders``, and generated
    orders (``rate`` and ``lines``) or a log (``file``), not both."""
    at: tuple[Any, ...] = ("customers", i)
    if c.warehouse is None and c.warehouses is None:
        yield (*at, "warehouse"), "required key is missing (or give warehouses: a preference list)"
    elif c.warehouse is not None and c.warehouses is not None:
        yield (*at, "warehouses"), "give either warehouse (one) or warehouses (a list), not both"
    if c.orders is not None and c.demand:
        yield (*at, "orders"), ("give either demand (single-product streams) or orders "
                                "(multi-line orders), not both")
    elif c.orders is None and not c.demand:
        yield (*at, "demand"), "required key is missing (or give orders: multi-line orders)"
    o = c.orders
    if o is None:
        return
    at = (*at, "orders")
    if o.file is not None:
        for key in ("rate", "lines"):
            if getattr(o, key) is not None:
                yield (*at, key), "not allowed with an order log (file): the log gives the orders"
    else:
        for key in ("rate", "lines"):
            if getattr(o, key) is None:
                yield ((*at, key), "required key is missing (generated orders need rate and "
                       "lines; or give an order log as file)")
        for key in ("start", "bootstrap"):
            if getattr(o, key) not in (None, False):
                yield (*at, key), "only for an order log (file)"


def _customers(sc: Scenario) -> Found:
    """A customer's warehouses exist (once each), its first one stocks every product it
    orders, and per-warehouse settings name exactly its warehouses."""
    stocked = {w.id: set(w.inventory) for w in sc.warehouses}
    for i, c in enumerate(sc.customers):
        shape = list(_shape(c, i))
        if shape:
            yield from shape
            continue
        key = "warehouse" if c.warehouses is None else "warehouses"
        sources = c.sources
        bad = False
        for j, wid in enumerate(sources):
            at = ("customers", i, key) if c.warehouses is None else ("customers", i, key, j)
            if wid not in stocked:
                names = ", ".join(sorted(stocked))
                yield at, f"unknown warehouse {wid!r}; warehouses are: {names}"
                bad = True
            elif wid in sources[:j]:
                yield at, f"warehouse {wid!r} is listed twice"
        yield from _per_warehouse(c, i)
        if bad:
            continue
        first = sources[0]
        for pid in c.products:
            if pid not in stocked[first]:
                where = ("customers", i, "demand", pid) if c.demand else \
                    ("customers", i, "orders", "lines", pid)
                whose = "" if len(sources) == 1 else " (the customer's first warehouse, where " \
                    "its backorders wait)"
                yield where, f"warehouse {first!r}{whose} does not stock {pid!r}"


def _per_warehouse(c: Any, i: int) -> Found:
    """``delivery_time`` and ``shipping_cost`` given per warehouse name exactly the
    customer's warehouses (a missing one would silently cost nothing)."""
    for key in ("delivery_time", "shipping_cost"):
        value = getattr(c, key)
        if not isinstance(value, dict):
            continue
        for wid in value:
            if wid not in c.sources:
                yield (("customers", i, key, wid),
                       f"{wid!r} is not one of this customer's warehouses "
                       f"({', '.join(c.sources)}); it cannot ship to the customer")
        missing = [w for w in c.sources if w not in value]
        if missing:
            yield (("customers", i, key),
                   f"missing for warehouse{'s' * (len(missing) > 1)} {', '.join(missing)} "
                   "(give every warehouse of the customer, or one value for all)")


def _horizon(sc: Scenario) -> Found:
    if sc.warmup >= sc.horizon:
        yield ("warmup",), f"must be less than horizon ({sc.horizon:g}); nothing would be measured"


def _policies(sc: Scenario) -> Found:
    """Policies that derive parameters must be able to (e.g. EOQ needs costs and demand).

    A policy with a ``check_context(context)`` method is checked by it instead of being
    prepared (its preparation may be costly). Only those are built here (the parameters
    were checked when the scenario was read)."""
    contexts = None
    for i, w in enumerate(sc.warehouses):
        for pid, inv in w.inventory.items():
            cls = policies.resolve(inv.policy["type"])
            params = {k: v for k, v in inv.policy.items() if k != "type"}
            if not policies.derives(cls, params):
                continue
            if contexts is None:
                contexts = policy_contexts(sc)
            policy = policies.build(params, cls)
            # a policy whose prepare() is costly (annealing tunes) offers a cheap check
            check = getattr(policy, "check_context", None) or policy.prepare
            try:
                check(contexts[(w.id, pid)])
            except (ValueError, ArithmeticError) as exc:
                yield ("warehouses", i, "inventory", pid, "policy"), str(exc)
            except Exception as exc:  # a user's prepare() failing: their problem, reported
                yield (("warehouses", i, "inventory", pid, "policy"),
                       f"prepare() failed: {type(exc).__name__}: {exc}")


def _policy_given(sc: Scenario) -> Found:
    """An inventory entry without ``policy`` needs an ``abc`` section to take its class's."""
    if sc.abc is not None:
        return  # the class defaults are filled (and checked) once demand is known
    for i, w in enumerate(sc.warehouses):
        for pid, inv in w.inventory.items():
            if not inv.policy:
                yield (("warehouses", i, "inventory", pid, "policy"),
                       "required key is missing (or give an abc section whose class of the "
                       "product has a policy: abc.classes.A.policy, ...)")


def _disruptions(sc: Scenario) -> Found:
    """Given disruption periods must end after they start and must not overlap (touching
    periods are fine: one ends when the next begins)."""
    for i, s in enumerate(sc.suppliers):
        if not isinstance(s.disruptions, tuple):
            continue
        at = ("suppliers", i, "disruptions")
        sound = []
        for j, p in enumerate(s.disruptions):
            if p.to <= p.from_:
                yield (*at, j, "to"), (f"must be greater than 'from' ({p.from_:g}): a "
                                       "disruption ends after it starts")
            else:
                sound.append((p.from_, p.to, j))
        sound.sort()
        reach = None  # the period reaching furthest so far, in order of start
        for f1, t1, j1 in sound:
            if reach is not None and f1 < reach[1]:
                # reported at the one that comes later in the file, naming the earlier one
                first, then = sorted([reach, (f1, t1, j1)], key=lambda p: p[2])
                yield ((*at, then[2], "from"),
                       f"overlaps disruption {first[2]} ({first[0]:g} to {first[1]:g}); "
                       "periods must not overlap (merge them into one)")
            if reach is None or t1 > reach[1]:
                reach = (f1, t1, j1)


def _joint(sc: Scenario) -> Found:
    """A warehouse's ``capacity`` and ``budget`` are kept by its lp products, planned together
    (policies/joint.py): they must exist and share the plan's settings."""
    from policies.joint import is_joint
    for i, w in enumerate(sc.warehouses):
        members = [(pid, inv.policy) for pid, inv in w.inventory.items()
                   if is_joint(inv.policy)]
        for key in ("capacity", "budget"):
            if getattr(w, key) is not None and not members:
                yield (("warehouses", i, key),
                       "is kept only by the lp policy, and no product of this warehouse has "
                       "type: lp")
        if not members:
            continue
        first, spec = members[0]
        cls = policies.resolve(spec["type"])
        for pid, other in members[1:]:
            for key in getattr(cls, "shared", ()):
                if other.get(key) != spec.get(key):
                    yield (("warehouses", i, "inventory", pid, "policy", key),
                           f"must equal {first}'s ({spec.get(key)!r}): the lp products of a "
                           "warehouse are planned together, in one plan")


CHECKS = (_ids, _horizon, _customers, _sources, _cycles, _disruptions, _policy_given)


def cross_check(sc: Scenario) -> list[tuple[tuple[Any, ...], str]]:
    """Every cross-reference problem (policy derivations come after: :func:`policy_check`,
    once references are sound and order logs are read, since demand depends on them)."""
    return [f for check in CHECKS for f in check(sc)]


def policy_check(sc: Scenario) -> list[tuple[tuple[Any, ...], str]]:
    """Policies able to derive their parameters from the scenario's demand, and the joint
    (lp) policies of each warehouse consistent (after the abc classes filled in policies)."""
    return list(_policies(sc)) + list(_joint(sc))
