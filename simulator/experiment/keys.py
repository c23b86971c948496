"""Dotted keys: one string addressing any value of a scenario (SPEC section 9).

A key walks the scenario's plain data (:meth:`Scenario.to_dict`) part by part: a mapping
by its key, a list by the ``id`` of its items (``warehouses.dc``), or by position for lists
whose items have no id (``customers.web.demand.widget.promotions.0.factor``). Ids and
mapping keys may themselves contain dots; the longest matching name wins.

Examples: ``horizon``, ``suppliers.acme.lead_time``,
``warehouses.dc.inventory.widget.policy.s``, ``customers.web.demand.widget.rate``.

:func:`apply_overrides` returns a new, fully validated scenario with some values replaced.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from simulator.errors import Problem, ScenarioError, UserError

#: a step of a resolved key: a mapping key (str) or a list position (int)
Step = str | int
#: where a key came from, for messages: key -> (file, line, shown key)
Origin = Callable[[str], tuple[str, int | None, str]]


class BadKey(ValueError):
    """A dotted key that does not address a value of the scenario (the message says why)."""


def _names(items: list[Any]) -> list[str] | None:
    """The ids of a list's items, or None if they have none (then positions address them)."""
    if items and all(isinstance(x, Mapping) and isinstance(x.get("id"), str) for x in items):
        return [x["id"] for x in items]
    return None


def _longest(parts: list[str], i: int, names: Any) -> int:
    """The end ``j`` of the longest ``parts[i:j]`` that, joined by dots, is in ``names``
    (0 if none)."""
    for j in range(len(parts), i, -1):
        if ".".join(parts[i:j]) in names:
            return j
    return 0


def _shown(names: Any, limit: int = 20) -> str:
    names = [str(n) for n in names]
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more if names else "(none)"


def resolve(data: Any, key: str, create: bool = True) -> list[Step]:
    """The path of ``key`` in ``data``: mapping keys and list positions.

    Parameters
    ----------
    data : dict
        A scenario's plain data (:meth:`Scenario.to_dict`).
    key : str
        The dotted key.
    create : bool
        Accept a last part that names no existing key of a mapping (an optional value not
        given, such as ``promised_time``; validation then says whether it may be set).

    Raises
    ------
    BadKey
        If the key is empty, names a key or id that does not exist (the valid ones are
        listed) or goes below a plain value.
    """
    if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
        raise BadKey(f"{key!r} is not a dotted key (names separated by single dots)")
    parts = key.split(".")
    path: list[Step] = []
    node, i = data, 0
    while i < len(parts):
        here = ".".join(parts[:i]) or "the scenario"
        if isinstance(node, Mapping):
            j = _longest(parts, i, node)
            if not j:
                if create and i == len(parts) - 1:
                    path.append(parts[i])
                    return path
                raise BadKey(f"{here} has no key {parts[i]!r}; its keys: {_shown(node)}")
            step: Step = ".".join(parts[i:j])
        elif isinstance(node, list):
            names = _names(node)
            if names is not None:
                j = _longest(parts, i, set(names))
                if not j:
                    raise BadKey(f"{here} has no item with id {parts[i]!r}; ids: "
                                 f"{_shown(names)}")
                step = names.index(".".join(parts[i:j]))
            else:
                j = i + 1
                if not parts[i].isdigit() or int(parts[i]) >= len(node):
                    raise BadKey(f"{here} is a list of {len(node)} items without ids: address "
                                 f"one by its position (0 to {len(node) - 1}), not "
                                 f"{parts[i]!r}")
                step = int(parts[i])
        else:
            raise BadKey(f"{here} is a single value ({node!r:.40}), it has no key "
                         f"{parts[i]!r}")
        path.append(step)
        node = node[step]  # type: ignore[index]
        i = j
    return path


def get(data: Any, path: list[Step]) -> Any:
    """The value at ``path`` (from :func:`resolve`)."""
    for step in path:
        data = data[step]
    return data


def _set(data: Any, path: list[Step], value: Any) -> None:
    for step in path[:-1]:
        data = data[step]
    data[path[-1]] = value


def _on_command_line(key: str) -> tuple[str, int | None, str]:
    return ("--set", None, key)


def _origin_of(scenario: Any) -> tuple[str, Any, list[str]]:
    """The scenario's file, line map and the folders its relative paths are read from."""
    from simulator import scenario as pipeline
    from simulator.scenario.yamlload import LineMap

    file, lines = pipeline._ORIGINS.get(id(scenario), ("<dict>", LineMap("<dict>")))
    search = [os.getcwd()]
    if file not in ("<dict>", "<scenario>"):
        search.insert(0, str(Path(file).resolve().parent))
    return file, lines, search


def _blame(problem: Problem, paths: dict[str, str], origin: Origin,
           values: Mapping[str, Any]) -> Problem:
    """A validation problem of the changed data, told at the override that caused it."""
    hit = [k for k, p in paths.items()
           if problem.key == p or problem.key.startswith(p + ".") or p.startswith(
               problem.key + ".")]
    if len(hit) == 1:
        file, line, shown = origin(hit[0])
        message = problem.message
        if problem.key != paths[hit[0]]:
            message = f"{problem.key}: {message}"
        return Problem(file, line, shown, f"{message} (value {values[hit[0]]!r:.60})")
    file, line, shown = origin(next(iter(paths)))
    if len(paths) > 1:
        shown = ", ".join(origin(k)[2] for k in paths)
    return Problem(file, line, shown, f"with these values, {problem.key}: {problem.message}")


def apply_overrides(scenario: Any, overrides: Mapping[str, Any],
                    origin: Origin = _on_command_line) -> Any:
    """A new validated scenario: ``scenario`` with the value at each dotted key replaced.

    Parameters
    ----------
    scenario : Scenario
        A loaded scenario (unchanged).
    overrides : mapping
        Dotted key -> new value (plain data: a number, text, list or mapping, as in YAML).
    origin : callable, optional
        Key -> ``(file, line, shown key)`` for messages; default ``("--set", None, key)``.

    Returns
    -------
    Scenario
        Validated as a scenario loaded from a file is (types, ranges, references,
        derived policy parameters); it keeps the original's file for messages.

    Raises
    ------
    UserError
        A bad key (:class:`BadKey` messages) or a value the scenario does not accept, as
        ``FILE:LINE: KEY: message`` (from ``origin``).
    """
    from simulator.scenario import _remember, validate_data
    from simulator.scenario.yamlload import LineMap

    if not overrides:
        return scenario
    data = scenario.to_dict()
    problems, paths = [], {}
    for key, value in overrides.items():
        try:
            path = resolve(data, key)
        except BadKey as exc:
            problems.append(Problem(*origin(key), str(exc)))
            continue
        paths[key] = ".".join(str(s) for s in path)
        _set(data, path, copy.deepcopy(value))
    if problems:
        raise UserError(problems)
    file, lines, search = _origin_of(scenario)
    try:
        new = validate_data(data, LineMap(file), search)
    except ScenarioError as exc:
        raise UserError([_blame(p, paths, origin, overrides) for p in exc.problems]) from None
    return _remember(new, file, lines)
