"""Read YAML keeping the line of every key, so problems can point at the file.

PyYAML composes a node tree that knows where each node starts; we build the
plain Python data from it and, alongside, a map from each key path to its line.
Duplicate keys (which YAML loaders silently overwrite) are reported as errors.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from simulator.errors import Problem, ScenarioError

Path_ = tuple[Any, ...]


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading ``1e3`` and ``2.5e-1`` as numbers (YAML 1.2), not text."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


class LineMap:
    """Lines (1-based) of the keys of a YAML document, by key path."""

    def __init__(self, file: str, lines: dict[Path_, int] | None = None):
        self.file = file
        self.lines: dict[Path_, int] = lines or {}

    def line(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def problem(self, path: Path_, message: str) -> Problem:
        key = ".".join(str(p) for p in path) or "(top)"
        return Problem(self.file, self.line(path), key, message)


def _key(loader: _Loader, node: yaml.Node) -> Any:
    """The key as the data holds it (``1`` stays an int); unhashable keys as text."""
    try:
        key = loader.construct_object(node, deep=True)
        hash(key)
        return key
    except Exception:
        return getattr(node, "value", str(node))


def _walk(loader: _Loader, node: yaml.Node, path: Path_, lines: dict[Path_, int],
          problems: list[Problem], file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = _key(loader, key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                dotted = ".".join(str(p) for p in (*path, key))
                problems.append(Problem(file, line, dotted,
                                        f"duplicate key (first given on line {seen[key]})"))
            seen[key] = line
            lines[(*path, key)] = line
            _walk(loader, value_node, (*path, key), lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _walk(loader, item, (*path, i), lines, problems, file)


def _error_line(exc: yaml.MarkedYAMLError, text: str) -> int | None:
    """The line to blame: where the problem was found, unless that is the end of the
    file (an unclosed quote or bracket), then where the unclosed thing started."""
    mark = exc.problem_mark
    if exc.context_mark is not None and (mark is None or mark.index >= len(text.rstrip())):
        mark = exc.context_mark
    return mark.line + 1 if mark is not None else None


def load_yaml_text(text: str, file: str) -> tuple[Any, LineMap, list[Problem]]:
    """Parse YAML text into plain data, a :class:`LineMap`, and the duplicate-key problems
    (which do not stop validation: the last value is kept, as YAML loaders do).

    Raises
    ------
    ScenarioError
        On a YAML syntax error.
    """
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
            lines: dict[Path_, int] = {}
            problems: list[Problem] = []
            if node is not None:
                lines[()] = node.start_mark.line + 1
                _walk(loader, node, (), lines, problems, file)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        msg = " ".join(str(m) for m in (exc.context, exc.problem) if m)
        raise ScenarioError([Problem(file, _error_line(exc, text), "(yaml)",
                                     f"not valid YAML: {msg}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(file, None, "(yaml)", f"not valid YAML: {exc}")]) from None
    return data, LineMap(file, lines), problems


def load_yaml_file(path: str | Path) -> tuple[Any, LineMap, list[Problem]]:
    """Read a YAML file; a missing or unreadable file is a user error."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([Problem(str(p), None, "(file)", f"cannot read: {exc.strerror}")]) \
            from None
    except UnicodeDecodeError:
        raise ScenarioError([Problem(str(p), None, "(file)", "not a UTF-8 text file")]) from None
    return load_yaml_text(text, str(p))
