"""Replenishment policies, looked up by name.

Built-in names: ``sS``, ``rQ``, ``base_stock``, ``eoq``. Other packages can add
policies through the entry-point group ``simulator.policies``; a scenario can
also name any class as ``module:Class`` (the module is imported from the
Python path, the scenario file's folder or the current folder).
"""
from __future__ import annotations

import importlib
import inspect
import sys
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from policies.base import Policy, PolicyContext, StockView
from policies.classic import EOQ, RQ, SS, BaseStock

__all__ = [
    "BUILTIN",
    "EOQ",
    "RQ",
    "SS",
    "BaseStock",
    "Policy",
    "PolicyContext",
    "StockView",
    "UnknownPolicy",
    "available",
    "build",
    "resolve",
]

BUILTIN: dict[str, type] = {"sS": SS, "rQ": RQ, "base_stock": BaseStock, "eoq": EOQ}
ENTRY_POINT_GROUP = "simulator.policies"


class UnknownPolicy(ValueError):
    """A policy name that is not registered and not an importable ``module:Class``."""


def available() -> dict[str, type]:
    """Every registered policy by name: built-ins, then entry points."""
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in found:
            try:
                found[ep.name] = ep.load()
            except Exception:  # a broken plug-in must not break the others
                continue
    return found


def _import_class(name: str, search: list[str]) -> type:
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        for folder in search:
            if folder not in sys.path:
                sys.path.append(folder)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise UnknownPolicy(f"cannot import module {module_name!r} ({exc})") from None
    except Exception as exc:
        raise UnknownPolicy(f"importing {module_name!r} failed: {exc}") from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise UnknownPolicy(f"module {module_name!r} has no class {attr!r}")
    if not callable(getattr(cls, "order_quantity", None)):
        raise UnknownPolicy(f"{name} has no order_quantity(view) method")
    return cls


def resolve(name: str, search: list[str] | None = None) -> type:
    """The policy class called ``name`` (a registered name or ``module:Class``)."""
    if ":" in name:
        return _import_class(name, search or [])
    registry = available()
    if name in registry:
        return registry[name]
    valid = ", ".join(sorted(registry, key=str.lower))
    raise UnknownPolicy(f"unknown policy type {name!r}; valid types: {valid} "
                        "(or 'module:Class' for your own)")


def _signature_model(cls: type) -> type[BaseModel]:
    """A pydantic model of a plain class's constructor keywords (unknown keys rejected)."""
    fields: dict[str, Any] = {}
    for p in list(inspect.signature(cls).parameters.values()):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        ann = p.annotation if p.annotation is not inspect.Parameter.empty else Any
        if isinstance(ann, str):
            ann = Any
        fields[p.name] = (ann, ... if p.default is inspect.Parameter.empty else p.default)
    return create_model(f"{cls.__name__}Params", __config__=ConfigDict(extra="forbid"),
                        **fields)


def build(params: dict[str, Any], cls: type) -> Any:
    """A new policy of class ``cls`` from keyword parameters.

    Raises
    ------
    pydantic.ValidationError
        When the parameters are missing, unknown or inconsistent.
    """
    if issubclass(cls, BaseModel):
        return cls.model_validate(params)
    checked = _signature_model(cls).model_validate(params)
    return cls(**checked.model_dump())


def params_of(policy: Any) -> dict[str, Any]:
    """The parameters a policy was built with (for the resolved scenario)."""
    if isinstance(policy, BaseModel):
        return policy.model_dump()
    return {k: getattr(policy, k) for k in inspect.signature(type(policy)).parameters
            if hasattr(policy, k)}


def validate(spec: Any, search: list[str] | None = None) -> dict[str, Any]:
    """Check a ``{type: ..., **params}`` mapping; return it with defaults filled.

    Raises ``ValueError`` (unknown type) or ``pydantic.ValidationError`` (parameters).
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
    policy = build(params, cls)
    return {"type": name, **params_of(policy)}


__all__ += ["ValidationError", "params_of", "validate"]
