"""Scenario pipeline: YAML or dict -> validated, immutable :class:`Scenario`.

Stages: read (YAML with line numbers) -> schema (pydantic: types, ranges,
unknown keys, policy parameters) -> cross-checks (references, uniqueness,
cycles, derived policy parameters). Every problem is collected and raised
together as a :class:`~simulator.errors.ScenarioError`.
"""
from __future__ import annotations

import os
import weakref
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

import policies
from simulator.distributions import KINDS
from simulator.errors import SCENARIO, Problem, ScenarioError
from simulator.scenario import abcclass
from simulator.scenario.checks import cross_check, policy_check
from simulator.scenario.models import Scenario
from simulator.scenario.yamlload import LineMap, load_yaml_file

__all__ = ["Scenario", "load", "validate_data"]

_MESSAGES = {
    "missing": "required key is missing",
    "extra_forbidden": "unknown key",
    "tuple_type": "should be a list",
}


def _message(err: Any) -> str:
    msg = _MESSAGES.get(err["type"], err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if err["type"] == "value_error":  # our own or a user's message: keep it as written
        return msg
    return msg[:1].lower() + msg[1:]  # pydantic's "Input should be ..." reads on after "key: "


#: top-level keys whose errors do not stop the cross-checks (they are replaced by
#: harmless stand-ins while the references are checked)
_STAND_INS = {"name": "scenario", "description": "", "horizon": 1e18, "warmup": 0.0,
              "replications": 1, "seed": 0}


def _schema_problems(exc: ValidationError, data: dict[str, Any],
                     lines: LineMap) -> list[Problem]:
    problems = []
    errors = exc.errors(include_url=False)
    for err in errors:
        loc = tuple(p for p in err["loc"] if p != "[key]")  # dict-key errors: the key itself
        if err["type"] == "too_short" and any(
                len(o["loc"]) > len(loc) and tuple(o["loc"][:len(loc)]) == loc for o in errors):
            continue  # "at least 1 item after validation": only because its items failed
        msg = _message(err)
        if err["type"] == "extra_forbidden":
            msg += _known_keys(loc, data)
        problems.append(lines.problem(loc, msg))
    return problems


def validate_data(data: Any, lines: LineMap, search: list[str] | None = None,
                  problems: list[Problem] | None = None) -> Scenario:
    """Validate plain data (from YAML or a dict) into a :class:`Scenario`.

    ``problems`` already found (duplicate YAML keys) are reported with the rest.
    """
    found = list(problems or [])
    if not isinstance(data, dict):
        raise ScenarioError([*found, lines.problem((), "the scenario must be a mapping of "
                                                       "keys (name, horizon, products, ...)")])
    context = {"search": search or []}
    sc: Scenario | None = None
    try:
        sc = Scenario.model_validate(data, context=context)
    except ValidationError as exc:
        found += _schema_problems(exc, data, lines)
        bad_top = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
        if bad_top <= set(_STAND_INS):  # only top-level scalars are wrong: still check references
            stand_in = {**data, **{k: _STAND_INS[k] for k in bad_top}}
            try:
                sc_check = Scenario.model_validate(stand_in, context=context)
                found += [lines.problem(path, msg) for path, msg in cross_check(sc_check)]
            except ValidationError:
                pass
    else:
        crossed = [lines.problem(path, msg) for path, msg in cross_check(sc)]
        if not crossed:  # references sound: read the logs, then derive from demand
            crossed = _read_files(sc, lines, (search or [os.getcwd()])[0])
            if not crossed:  # classes need the demand: fill the abc section's defaults
                sc, classed = abcclass.apply(sc, search)
                crossed = [lines.problem(path, msg) for path, msg in classed]
            if not crossed:
                crossed = [lines.problem(path, msg) for path, msg in policy_check(sc)]
        found += crossed
    if found or sc is None:
        found.sort(key=lambda p: (p.line is None, p.line or 0))
        raise ScenarioError(found)
    return sc


def _read_files(sc: Scenario, lines: LineMap, base: str) -> list[Problem]:
    """Read the files a scenario names: order logs and daily histories."""
    return _read_logs(sc, lines, base) + _read_histories(sc, lines, base)


def _read_histories(sc: Scenario, lines: LineMap, base: str) -> list[Problem]:
    """Read every ``demand.P.history`` (relative to the scenario's folder) into its stream;
    a bad file's problems come as ``CSV:LINE: column: message`` plus one at the scenario's
    ``history`` key; a missing column or a history too short to resample, at the key."""
    from simulator.history import HistoryError, read_history  # numpy: only when used
    found: list[Problem] = []
    for i, c in enumerate(sc.customers):
        for pid, d in c.demand.items():
            if d.history is None:
                continue
            at = ("customers", i, "demand", pid, "history")
            path = Path(base, d.history)
            try:
                hist = read_history(path)
            except HistoryError as exc:
                found.append(lines.problem(at, f"the history {str(path)!r} has problems "
                                               "(each given with its line)"))
                found += exc.problems
                continue
            column = d.column or pid
            if column not in hist.products:
                key = ("customers", i, "demand", pid, "column") if d.column else at
                found.append(lines.problem(key, f"the history {str(path)!r} has no column "
                                                f"{column!r}; its columns: "
                                                f"{', '.join(hist.products)}"
                                                + ("" if d.column else " (name the one to use "
                                                   "with column:)")))
                continue
            if d.bootstrap and hist.weeks < 1:
                found.append(lines.problem(at, f"the history {str(path)!r} has {hist.days} days;"
                                               " resampling by whole weeks needs at least 7 (or "
                                               "set bootstrap: false)"))
                continue
            d._history = hist
    return found


def _read_logs(sc: Scenario, lines: LineMap, base: str) -> list[Problem]:
    """Read every customer's order log (``orders.file``, relative to the scenario's folder)
    into its ``orders``; its problems come as ``CSV:LINE: column: message``, plus one at the
    scenario's ``file`` key saying which log failed."""
    from simulator import orderlog  # numpy-only, but most scenarios have no log
    found: list[Problem] = []
    stocked = {w.id: set(w.inventory) for w in sc.warehouses}
    for i, c in enumerate(sc.customers):
        o = c.orders
        if o is None or o.file is None:
            continue
        path = Path(base, o.file)
        try:
            log = orderlog.read(path, products=stocked[c.sources[0]], start=o.start)
        except orderlog.OrderLogError as exc:
            found.append(lines.problem(("customers", i, "orders", "file"),
                                       f"the order log {str(path)!r} has problems "
                                       "(each given with its line)"))
            found += exc.problems
            continue
        if log.n_orders == 0:
            found.append(lines.problem(("customers", i, "orders", "file"),
                                       f"the order log {str(path)!r} has no orders"))
            continue
        o._log = log
    return found


def _known_keys(loc: tuple[Any, ...], data: Any) -> str:
    """List the valid keys of the mapping in which an unknown key was found."""
    raw = _raw_at(data, loc[:-1])
    names = _plugin_keys(raw, loc) if isinstance(raw, dict) else None
    if names is not None:
        return "; valid keys: " + ", ".join(names) if names else ""
    ann: Any = Scenario
    for part in loc[:-1]:
        ann = _child(ann, part)
        if ann is None:
            return ""
    model = _model_in(ann)
    fields = list(model.model_fields) if model is not None else []
    return "; valid keys: " + ", ".join(fields) if fields else ""


def _raw_at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _plugin_keys(raw: dict[str, Any], loc: tuple[Any, ...]) -> list[str] | None:
    """Valid keys of a distribution or policy mapping (they depend on its kind)."""
    if len(loc) >= 2 and loc[-2] == "policy" and isinstance(raw.get("type"), str):
        try:
            cls = policies.resolve(raw["type"])
        except ValueError:
            return []
        return ["type", *policies.param_names(cls)]
    if isinstance(raw.get("dist"), str) and raw["dist"] in KINDS:
        model = KINDS[raw["dist"]]
        return [f.alias or name for name, f in model.model_fields.items()]
    return None


def _child(ann: Any, part: Any) -> Any:
    """The annotation one step down a validation location."""
    origin = get_origin(ann)
    if origin is Annotated:
        return _child(get_args(ann)[0], part)
    if origin in (Union, UnionType):  # an optional section: the first kind that has it
        for arg in get_args(ann):
            found = _child(arg, part) if arg is not type(None) else None
            if found is not None:
                return found
        return None
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


#: where each loaded scenario came from: id -> (file, line map); forgotten with the scenario
_ORIGINS: dict[int, tuple[str, LineMap]] = {}


def _remember(sc: Scenario, file: str, lines: LineMap) -> Scenario:
    _ORIGINS[id(sc)] = (file, lines)
    weakref.finalize(sc, _ORIGINS.pop, id(sc), None)
    return sc


def derive(sc: Scenario, update: dict[str, Any]) -> Scenario:
    """``sc`` with top-level values replaced (already validated), keeping where it came from."""
    new = sc.model_copy(update=update)
    if id(sc) in _ORIGINS:
        _remember(new, *_ORIGINS[id(sc)])
    return new


def locate(sc: Scenario, problems: list[Problem]) -> list[Problem]:
    """Problems found while running ``sc`` that blame the scenario (file ``<scenario>``),
    given the scenario's file and the line of their key."""
    if not any(p.file == SCENARIO for p in problems):
        return problems
    file, lines = _ORIGINS.get(id(sc), ("<scenario>", LineMap("<scenario>")))
    paths = {".".join(str(x) for x in path): path for path in lines.lines}
    return [Problem(file, lines.line(paths.get(p.key, ())) if p.key in paths else None,
                    p.key, p.message) if p.file == SCENARIO else p for p in problems]


def load_parsed(data: Any, lines: LineMap, file: str, search: list[str],
                problems: list[Problem] | None = None) -> Scenario:
    """A validated scenario from YAML already parsed (``yamlload.load_yaml_text``), named
    ``file`` in problems found later (a web upload checks the data before validating it).

    Raises
    ------
    ScenarioError
        Listing every problem, the parser's ``problems`` first.
    """
    return _remember(validate_data(data, lines, search, problems or []), file, lines)


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
        return _remember(validate_data(source, LineMap("<dict>"), [os.getcwd()]), "<dict>",
                         LineMap("<dict>"))
    path = Path(source)
    data, lines, problems = load_yaml_file(path)
    sc = validate_data(data, lines, [str(path.resolve().parent), os.getcwd()], problems)
    return _remember(sc, str(path), lines)
