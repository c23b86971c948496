"""Replenishment policies, looked up by name.

Built-in names: ``sS``, ``rQ``, ``base_stock``, ``eoq``. Other packages can add
policies through the entry-point group ``simulator.policies``; a scenario can
also name any class as ``module:Class`` (the module is imported from the
Python path, the scenario file's folder or the current folder).
"""
from __future__ import annotations

import functools
import importlib
import inspect
import math
import sys
import typing
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Strict, ValidationError, create_model

from policies.annealing import Annealing
from policies.base import Policy, PolicyContext, StockView
from policies.classic import EOQ, RQ, SS, BaseStock
from policies.forecasting import OrderUpTo
from policies.lp import LP

__all__ = [
    "BUILTIN",
    "EOQ",
    "RQ",
    "SS",
    "BaseStock",
    "OrderUpTo",
    "Policy",
    "PolicyContext",
    "StockView",
    "UnknownPolicy",
    "available",
    "build",
    "resolve",
]

BUILTIN: dict[str, type] = {"sS": SS, "rQ": RQ, "base_stock": BaseStock, "eoq": EOQ,
                            "order_up_to": OrderUpTo, "annealing": Annealing, "lp": LP}
_BUILTIN_CLASSES = frozenset(BUILTIN.values())
ENTRY_POINT_GROUP = "simulator.policies"


class UnknownPolicy(ValueError):
    """A policy name that is not registered and not an importable ``module:Class``."""


@functools.cache
def _plugins() -> dict[str, Any]:
    """The entry points of the ``simulator.policies`` group by name, not loaded (the first
    of a name wins). Scanning every installed package's metadata costs milliseconds, so
    it is done at most once per process, and only when a name is not built in."""
    found: dict[str, Any] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    return found


@functools.cache
def _load_plugin(name: str) -> type | None:
    """The class of entry point ``name``; None if there is none or it fails to load."""
    ep = _plugins().get(name)
    if ep is None or name in BUILTIN:
        return None
    try:
        return ep.load()  # type: ignore[no-any-return]
    except Exception:  # a broken plug-in must not break the others
        return None


def available() -> dict[str, type]:
    """Every registered policy by name: built-ins, then entry points."""
    found = dict(BUILTIN)
    for name in _plugins():
        cls = _load_plugin(name)
        if cls is not None and name not in found:
            found[name] = cls
    return found


def _import(module_name: str) -> Any:
    """The module, None if it does not exist; a module that exists but fails to import
    (syntax error, missing dependency, error at import) is reported as such."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            return None
        raise UnknownPolicy(f"importing {module_name!r} failed: {exc}") from None
    except Exception as exc:
        raise UnknownPolicy(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") \
            from None


def _shadowed_file(search: list[str]) -> Path | None:
    """A user's ``policies.py`` (or ``policies/`` package) in one of the search folders."""
    for folder in search:
        for candidate in (Path(folder) / "policies.py", Path(folder) / "policies"):
            if candidate.exists() and candidate.resolve() != Path(__file__).resolve().parent:
                return candidate
    return None


def _check_not_shadowed(module: Any, attr: str, search: list[str]) -> None:
    """``policies:Class`` names this package; if the user meant a file of their own called
    ``policies.py`` (shadowed by this package), say so instead of "no class"."""
    if module is not sys.modules[__name__]:
        return
    theirs = _shadowed_file(search)
    if theirs is None and isinstance(getattr(module, attr, None), type):
        return  # e.g. policies:SS, a built-in class by its module path
    fix = (f"rename your file (e.g. my_policies.py) and use type: \"my_policies:{attr}\"")
    if theirs is not None:
        raise UnknownPolicy(f"module 'policies' is the simulator's own package of built-in "
                            f"policies, so your file {theirs} cannot be imported under that "
                            f"name: {fix}")
    raise UnknownPolicy(f"module 'policies' (the simulator's own package of built-in policies) "
                        f"has no class {attr!r}; if {attr} is in a file of yours called "
                        f"policies.py, that name is taken: {fix}")


def _import_class(name: str, search: list[str]) -> type:
    module_name, _, attr = name.partition(":")
    module = _import(module_name)
    if module is None:
        for folder in search:
            if folder not in sys.path:
                sys.path.append(folder)
        module = _import(module_name)
    if module is None:
        raise UnknownPolicy(f"cannot import module {module_name!r} (looked on the Python "
                            "path, next to the scenario file and in the current folder)")
    _check_not_shadowed(module, attr, search)
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise UnknownPolicy(f"module {module_name!r} has no class {attr!r}")
    if not callable(getattr(cls, "order_quantity", None)):
        raise UnknownPolicy(f"{name} has no order_quantity(view) method")
    return cls


def resolve(name: str, search: list[str] | None = None) -> type:
    """The policy class called ``name``: a built-in name (no scan), else a name from the
    ``simulator.policies`` entry points (scanned once per process), else ``module:Class``."""
    cls = BUILTIN.get(name)
    if cls is not None:
        return cls
    if ":" in name:
        return _import_class(name, search or [])
    cls = _load_plugin(name)
    if cls is not None:
        return cls
    valid = ", ".join(sorted(available(), key=str.lower))
    raise UnknownPolicy(f"unknown policy type {name!r}; valid types: {valid} "
                        "(or 'module:Class' for your own)")


_STRICT = {float: Annotated[float, Strict()], int: Annotated[int, Strict()],
           bool: Annotated[bool, Strict()], str: Annotated[str, Strict()]}


def _signature_model(cls: type) -> type[BaseModel]:
    """A pydantic model of a plain class's constructor keywords: unknown keys rejected,
    numbers strict (as everywhere in a scenario)."""
    try:
        hints = typing.get_type_hints(cls.__init__)  # type: ignore[misc]
    except Exception:  # unresolvable string annotations: check what we can
        hints = {}
    fields: dict[str, Any] = {}
    for p in inspect.signature(cls).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        ann = hints.get(p.name, p.annotation)
        if ann is inspect.Parameter.empty or isinstance(ann, str):
            ann = Any
        ann = _STRICT.get(ann, ann)
        fields[p.name] = (ann, ... if p.default is inspect.Parameter.empty else p.default)
    return create_model(f"{cls.__name__}Params", __config__=ConfigDict(extra="forbid"),
                        **fields)


def param_names(cls: type) -> list[str]:
    """The parameter keys a policy class accepts (besides ``type``)."""
    if issubclass(cls, BaseModel):
        return list(cls.model_fields)
    return list(_signature_model(cls).model_fields)


def check_params(params: dict[str, Any], cls: type) -> dict[str, Any]:
    """The parameters, validated, with defaults filled.

    Raises
    ------
    pydantic.ValidationError
        When they are missing, unknown, of the wrong type or inconsistent.
    """
    if issubclass(cls, BaseModel):
        return build(params, cls).model_dump()
    return _signature_model(cls).model_validate(params).model_dump()


def build(params: dict[str, Any], cls: type) -> Any:
    """A new policy of class ``cls`` from keyword parameters.

    Raises
    ------
    pydantic.ValidationError
        When the parameters are missing, unknown or inconsistent.
    ValueError
        When the class itself fails to build (its message says how).
    """
    try:
        if issubclass(cls, BaseModel):
            return cls.model_validate(params)
        return cls(**check_params(params, cls))
    except (ValidationError, ValueError):
        raise
    except Exception as exc:  # a user's class failing: say so, without a traceback
        raise ValueError(f"{cls.__name__}(**{params}) failed: {type(exc).__name__}: {exc}") \
            from None


def derives(cls: type, params: dict[str, Any] | None = None) -> bool:
    """Whether a policy must be prepared before a run: its class has a ``prepare(context)``
    that does something (not the no-op default of :class:`Policy`), and, for a class that
    needs it only with some parameter (``prepare_when``: the classic rules with a
    ``forecast``), that parameter is set in ``params``."""
    prepare = getattr(cls, "prepare", None)
    if not callable(prepare) or prepare is Policy.prepare:
        return False
    when = getattr(cls, "prepare_when", None)
    return when is None or params is None or params.get(when) is not None


def default_initial(spec: dict[str, Any]) -> float:
    """The default initial stock (units) of a policy whose ``spec`` was already validated
    (by :func:`validate`): its ``order_up_to`` level if it has one, else 0, never negative.

    A built-in policy is assembled without validating its parameters again; any other class
    is built (a class that cannot be built before ``prepare`` gives 0).
    """
    params = {k: v for k, v in spec.items() if k != "type"}
    try:
        cls = resolve(spec["type"])
        if cls in _BUILTIN_CLASSES and issubclass(cls, BaseModel):
            policy = cls.model_construct(**params)  # already validated: no second check
        else:
            policy = build(params, cls)
        level = getattr(policy, "order_up_to", None)
    except Exception:  # a user policy that needs prepare(): start empty
        level = None
    return max(0.0, float(level or 0.0))


def level_needs_context(spec: dict[str, Any]) -> bool:
    """Whether the policy's order-up-to level (its default initial stock) is known only after
    ``prepare`` (a forecast-driven policy): then the model, not validation, fills it."""
    try:
        cls = resolve(spec["type"])
    except Exception:
        return False
    return bool(getattr(cls, "level_from_context", False))


def validate(spec: Any, search: list[str] | None = None) -> dict[str, Any]:
    """Check a ``{type: ..., **params}`` mapping; return it with defaults filled.

    Raises ``ValueError`` (unknown type, bad review period, a class that fails to build)
    or ``pydantic.ValidationError`` (parameters).
    """
    if not isinstance(spec, dict):
        raise ValueError("expected a mapping with a 'type' key, e.g. {type: sS, s: 10, S: 50}")
    if "type" not in spec:
        raise ValueError("missing 'type'; valid types: " + ", ".join(available()))
    name = spec["type"]
    if not isinstance(name, str):
        raise ValueError("type must be a string")
    cls = resolve(name, search)
    params = {k: v for k, v in spec.items() if k != "type"}
    policy = build(params, cls)  # checks the parameters too
    checked = policy.model_dump() if isinstance(policy, BaseModel) \
        else check_params(params, cls)
    period = getattr(policy, "review_period", 0)
    if isinstance(period, bool) or not isinstance(period, (int, float)) \
            or not math.isfinite(period) or period < 0:
        raise ValueError(f"review_period must be a number of days >= 0, got {period!r}")
    return {"type": name, **checked}


__all__ += ["ValidationError", "check_params", "default_initial", "derives",
            "level_needs_context", "param_names", "validate"]
