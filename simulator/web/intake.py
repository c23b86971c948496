"""What a web user sends, checked before anything runs: the scenario (an example by name or
uploaded YAML text), form overrides by dotted key, and the server's limits.

Problems are returned to the page as ``LINE: key: message`` (SPEC section 10): the same
messages as ``simulator validate``, without the file name (the page has one text).
Nothing here runs code from an upload: ``module:Class`` policies are refused before
validation (which would import the module) unless the server was started with
``--allow-code``, and an upload may not name files on the server (order logs, histories).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import Problem, ScenarioError, UserError
from simulator.scenario import Scenario

#: the file name uploaded text is reported under (stripped from the page's messages)
UPLOAD = "<upload>"
#: where form overrides are reported (``form: key: message``)
FORM = "form"
#: keys whose value names a file on the server (order logs, daily histories)
FILE_KEYS = ("file", "history")


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server.

    Attributes
    ----------
    max_upload_kb : int
        Largest request body, in KiB (larger: 413).
    max_replications : int
        Most replications of one run.
    max_horizon : float
        Longest horizon of one run, in days.
    max_queue : int
        Runs queued or running at once (more: 503).
    workers : int
        Runs executed at the same time (threads).
    """

    max_upload_kb: int = 256
    max_replications: int = 100
    max_horizon: float = 3650.0
    max_queue: int = 16
    workers: int = 2


@dataclass(frozen=True)
class Request:
    """A run as asked for: the YAML text, where it came from, and the changes to apply.

    Attributes
    ----------
    text : str
        The scenario's YAML text.
    source : str
        ``example:NAME`` or ``upload``.
    overrides : dict
        Dotted key -> value (plain data), applied after loading.
    replications : int or None
        Replications asked for (None: the scenario's own).
    """

    text: str
    source: str
    overrides: Mapping[str, Any]
    replications: int | None = None


def shown(problem: Problem) -> str:
    """``LINE: key: message`` for a problem in the scenario text, else the full
    ``FILE:LINE: key: message``."""
    text = str(problem)
    if problem.file == UPLOAD:
        return text[len(UPLOAD) + 1:] if problem.line is not None else text[len(UPLOAD) + 2:]
    return text


def examples(folder: Path) -> dict[str, Path]:
    """The example scenarios of ``folder`` by name (file stem), sorted."""
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def describe(path: Path) -> dict[str, str]:
    """``{"name", "description"}`` of an example file (read with the safe loader)."""
    from simulator.scenario.yamlload import load_yaml_file

    try:
        data, _, _ = load_yaml_file(path)
    except ScenarioError:
        data = {}
    desc = data.get("description", "") if isinstance(data, dict) else ""
    return {"name": path.stem, "description": desc if isinstance(desc, str) else ""}


def _walk(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (key path, value) in plain data, depth first."""
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, (*path, i))


def refusals(data: Any, allow_code: bool, upload: bool) -> list[tuple[tuple[Any, ...], str]]:
    """(key path, message) for each value the server will not accept whatever its schema:
    a ``module:Class`` type without ``allow_code``; a file name in an upload."""
    found = []
    for path, value in _walk(data, ()):
        last = path[-1] if path else None
        if (not allow_code and last == "type" and isinstance(value, str) and ":" in value):
            found.append((path, f"{value!r}: module:Class policies run code and are refused on"
                                " this server (start it with --allow-code to allow them)"))
        elif upload and last in FILE_KEYS and isinstance(value, str):
            found.append((path, "this server does not read files named by a scenario sent to "
                                "it (order logs, histories); run such scenarios locally"))
    return found


def _caps(sc: Scenario, limits: Limits, line: Any, asked: bool) -> list[Problem]:
    """Problems for a scenario over the server's replication or horizon caps (``asked``:
    the replications came with the request, not from the text)."""
    found = []
    if sc.replications > limits.max_replications:
        at = None if asked else line(("replications",))
        found.append(Problem(UPLOAD if at else "request", at, "replications",
                             f"{sc.replications} is more than this server allows "
                             f"({limits.max_replications}; see simulator serve "
                             "--max-replications)"))
    if sc.horizon > limits.max_horizon:
        found.append(Problem(UPLOAD, line(("horizon",)), "horizon",
                             f"{sc.horizon:g} days is more than this server allows "
                             f"({limits.max_horizon:g}; see simulator serve --max-horizon)"))
    return found


def _form(key: str) -> tuple[str, int | None, str]:
    return (FORM, None, key)


def _override_refusals(overrides: Mapping[str, Any], allow_code: bool) -> list[Problem]:
    found = []
    for key, value in overrides.items():
        parts = tuple(key.split("."))
        for path, msg in refusals(value, allow_code, upload=True):
            full = parts + path
            if full[-1] in ("type", *FILE_KEYS):
                found.append(Problem(FORM, None, ".".join(str(p) for p in full), msg))
    return found


def load(request: Request, limits: Limits, allow_code: bool,
         search: list[str] | None = None) -> Scenario:
    """The validated scenario of ``request``, within ``limits``.

    Parameters
    ----------
    request : Request
        The text, its source, overrides and replications.
    limits : Limits
        The server's caps (replications, horizon).
    allow_code : bool
        Whether ``module:Class`` policies may be imported.
    search : list of str, optional
        Folders relative file names are read from (an example's own folder).

    Raises
    ------
    UserError
        Every problem found, for :func:`shown`.
    """
    from simulator.experiment.keys import apply_overrides
    from simulator.experiment.runner import with_overrides
    from simulator.scenario import load_parsed
    from simulator.scenario.yamlload import load_yaml_text

    upload = request.source == "upload"
    data, lines, problems = load_yaml_text(request.text, UPLOAD)
    refused = [lines.problem(path, msg) for path, msg in refusals(data, allow_code, upload)]
    refused += _override_refusals(request.overrides, allow_code)
    if refused:
        raise ScenarioError(refused)
    sc = load_parsed(data, lines, UPLOAD, search or [], problems)
    sc = apply_overrides(sc, dict(request.overrides), origin=_form)
    sc = with_overrides(sc, replications=request.replications)
    over = _caps(sc, limits, lines.line, request.replications is not None)
    if over:
        raise UserError(over)
    return sc
