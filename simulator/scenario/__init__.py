"""Scenario pipeline: YAML or dict -> validated, immutable :class:`Scenario`.

Stages: read (YAML with line numbers) -> schema (pydantic: types, ranges,
unknown keys, policy parameters) -> cross-checks (references, uniqueness,
cycles, derived policy parameters). Every problem is collected and raised
together as a :class:`~simulator.errors.ScenarioError`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from simulator.errors import ScenarioError
from simulator.scenario.checks import cross_check
from simulator.scenario.models import Scenario
from simulator.scenario.yamlload import LineMap, load_yaml_file

__all__ = ["Scenario", "load", "validate_data"]

_MESSAGES = {
    "missing": "required key is missing",
    "extra_forbidden": "unknown key",
}


def _message(err: dict[str, Any]) -> str:
    msg = _MESSAGES.get(err["type"], err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return msg[:1].lower() + msg[1:]


def validate_data(data: Any, lines: LineMap, search: list[str] | None = None) -> Scenario:
    """Validate plain data (from YAML or a dict) into a :class:`Scenario`."""
    if not isinstance(data, dict):
        raise ScenarioError([lines.problem((), "the scenario must be a mapping of keys "
                                                "(name, horizon, products, ...)")])
    try:
        sc = Scenario.model_validate(data, context={"search": search or []})
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            msg = _message(err)
            if err["type"] == "extra_forbidden":
                msg += _known_keys(loc)
            problems.append(lines.problem(loc, msg))
        raise ScenarioError(problems) from None
    found = cross_check(sc)
    if found:
        raise ScenarioError([lines.problem(path, msg) for path, msg in found])
    return sc


def _known_keys(loc: tuple[Any, ...]) -> str:
    """List the valid keys of the model in which an unknown key was found."""
    ann: Any = Scenario
    for part in loc[:-1]:
        ann = _child(ann, part)
        if ann is None:
            return ""
    model = _model_in(ann)
    fields = list(model.model_fields) if model is not None else []
    return "; valid keys: " + ", ".join(fields) if fields else ""


def _child(ann: Any, part: Any) -> Any:
    """The annotation one step down a validation location."""
    origin = get_origin(ann)
    if origin is Annotated:
        return _child(get_args(ann)[0], part)
    if origin in (list, tuple):
        return get_args(ann)[0]
    if origin is dict:
        return get_args(ann)[1]
    model = _model_in(ann)
    if model is None or part not in model.model_fields:
        return None
    return model.model_fields[part].annotation


def _model_in(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    if get_origin(ann) in (list, dict, tuple):
        return None
    for a in get_args(ann):
        found = _model_in(a)
        if found is not None:
            return found
    return None


def load(source: str | os.PathLike[str] | dict[str, Any] | Scenario) -> Scenario:
    """A validated scenario from a YAML path, a plain mapping or a Scenario.

    Raises
    ------
    ScenarioError
        Listing every problem as ``FILE:LINE: dotted.key: message``.
    """
    if isinstance(source, Scenario):
        return source
    if isinstance(source, dict):
        return validate_data(source, LineMap("<dict>"), [os.getcwd()])
    path = Path(source)
    data, lines = load_yaml_file(path)
    return validate_data(data, lines, [str(path.resolve().parent), os.getcwd()])
