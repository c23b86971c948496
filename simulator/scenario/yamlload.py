"""Read YAML keeping the line of every key, so problems can point at the file.

One iterative pass over the parser's event stream builds the plain Python data
(dicts, lists, scalars; an alias shares the object of its anchor), a map from
each key path to its line, and the duplicate-key problems. Nothing recurses, and
bad input is refused with a problem instead of exhausting memory or the stack:

* a file is read only if it is a regular file of at most :data:`MAX_BYTES` bytes;
* nesting deeper than :data:`MAX_DEPTH` levels is refused;
* a document holding more than :data:`MAX_VALUES` values is refused, counting every
  value an alias repeats (so "billion laughs" alias bombs are refused without being
  expanded), and an alias inside its own anchor (a recursive alias) is refused;
* one document per file; only the standard tags (``!!str``, ``!!int``, ``!!float``,
  ``!!bool``, ``!!null``, ``!!map``, ``!!seq``) are accepted.

Plain scalars are read by the YAML 1.2 core schema, not PyYAML's YAML 1.1 rules:
``6:05`` and ``2024-01-01`` stay text, ``010`` is ten, ``yes``/``no``/``on``/``off``
are text, ``1e3`` is a number. Merge keys (``<<: *base``) follow YAML's merge
semantics: keys given explicitly in the mapping win over merged ones.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from yaml import events as ev

from simulator.errors import Problem, ScenarioError
from simulator.files import TooBig, Unreadable, read_bounded

Path_ = tuple[Any, ...]

#: largest scenario file read (bytes)
MAX_BYTES = 64 * 1024 * 1024
#: deepest nesting of lists and mappings
MAX_DEPTH = 100
#: most values (scalars, lists, mappings) in a document, counting those aliases repeat
MAX_VALUES = 1_000_000
#: longest integer literal (decimal digits); longer ones are read as +-10**MAX_DIGITS,
#: which every range check refuses
MAX_DIGITS = 4000
_HUGE = 10 ** MAX_DIGITS

_Parser: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader) \
    if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader

_CORE = "tag:yaml.org,2002:"
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
         "FALSE": False}
_INT = re.compile(r"[-+]?[0-9][0-9_]*")
_OCT = re.compile(r"0o[0-7_]+")
_HEX = re.compile(r"0x[0-9a-fA-F_]+")
_FLOAT = re.compile(r"""[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?""", re.X)
#: characters YAML does not allow in a stream (as PyYAML's reader)
_NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD"
                            "\U00010000-\U0010ffff]")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)")


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


class _Refused(Exception):
    """The document cannot be read (at ``line``); stops the pass."""

    def __init__(self, line: int | None, key: str, message: str):
        super().__init__(message)
        self.line, self.key, self.message = line, key, message


# -- scalars --------------------------------------------------------------------------------

def _int(text: str, base: int = 10) -> int:
    """An integer literal; absurdly long ones become +-10**MAX_DIGITS (refused by range checks)."""
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    body = digits.lstrip("+-")
    if base != 10:
        value = int(body[2:], base)  # linear time for base 8 and 16, no digit limit
        return sign * min(value, _HUGE)
    if len(body.lstrip("0")) > MAX_DIGITS:
        return sign * _HUGE
    return sign * int(body)


def _float(text: str) -> float:
    if _INF.fullmatch(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.fullmatch(text):
        return float("nan")
    return float(text.replace("_", ""))


def resolve_plain(text: str) -> Any:
    """A plain (unquoted, untagged) scalar by the YAML 1.2 core schema."""
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text):
        return _int(text)
    if _OCT.fullmatch(text):
        return _int(text, 8)
    if _HEX.fullmatch(text):
        return _int(text, 16)
    if _FLOAT.fullmatch(text) or _INF.fullmatch(text) or _NAN.fullmatch(text):
        return _float(text)
    return text


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


def _tagged(tag: str, text: str, line: int) -> Any:
    """A scalar with an explicit tag: only the core schema's tags are accepted."""
    name = tag[len(_CORE):] if tag.startswith(_CORE) else None
    if tag == "!" or name == "str":
        return text
    value = resolve_plain(text)
    ok = {"null": value is None, "bool": isinstance(value, bool),
          "int": isinstance(value, int) and not isinstance(value, bool),
          "float": isinstance(value, (int, float)) and not isinstance(value, bool)}
    if name in ok:
        if not ok[name]:
            raise _Refused(line, "(yaml)", f"{text!r} is not a valid {_short_tag(tag)}"[:200])
        return float(value) if name == "float" and not isinstance(value, float) \
            and abs(value) < _HUGE else value
    raise _Refused(line, "(yaml)", f"unsupported tag {_short_tag(tag)}: scenarios hold plain "
                                   "values, lists and mappings"[:200])


# -- the event pass -------------------------------------------------------------------------

_MERGE = object()   # the key ``<<``
_NO_KEY = object()  # a mapping is waiting for its next key


class _Frame:
    """An open list or mapping."""

    __slots__ = ("value", "path", "anchor", "start", "key", "keys", "merges", "merge_line")

    def __init__(self, value: Any, path: Path_, anchor: str | None, start: int):
        self.value = value
        self.path = path
        self.anchor = anchor
        self.start = start          # values counted before this one
        self.key: Any = _NO_KEY     # mapping: the key whose value comes next
        self.keys: dict[Any, int] = {}       # mapping: explicit keys -> line
        self.merges: list[dict[Any, Any]] = []
        self.merge_line = 0


class _Builder:
    """Builds data, lines and duplicate-key problems from parser events."""

    def __init__(self, file: str):
        self.file = file
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}  # name -> (value, values it holds)
        self.open_anchors: set[str] = set()
        self.count = 0
        self.lines: dict[Path_, int] = {}
        self.problems: list[Problem] = []
        self.root: Any = None
        self.plain: dict[str, Any] = {}  # plain scalar text -> value
        self.handlers: dict[type, Callable[[Any, int], None]] = {
            ev.ScalarEvent: self._scalar, ev.AliasEvent: self._alias,
            ev.SequenceStartEvent: self._start, ev.MappingStartEvent: self._start,
            ev.SequenceEndEvent: self._end, ev.MappingEndEvent: self._end}

    # where the next node goes
    def _slot(self, line: int) -> tuple[str, Path_]:
        if not self.stack:
            self.lines[()] = line
            return "root", ()
        top = self.stack[-1]
        if isinstance(top.value, list):
            path = (*top.path, len(top.value))
            self.lines[path] = line
            return "item", path
        if top.key is _NO_KEY:
            return "key", top.path
        key = "<<" if top.key is _MERGE else top.key
        return "value", (*top.path, key)

    def _count(self, n: int, line: int) -> None:
        self.count += n
        if self.count > MAX_VALUES:
            raise _Refused(line, "(yaml)", f"more than {MAX_VALUES:,} values (counting the "
                                           "values that aliases repeat)")

    def _place(self, value: Any, role: str, line: int) -> None:
        """Put a finished node where it belongs."""
        if role == "root":
            self.root = value
            return
        top = self.stack[-1]
        if role == "item":
            top.value.append(value)
        elif role == "key":
            self._key(top, value, line)
        else:
            if top.key is _MERGE:
                self._merge(top, value, line)
            else:
                top.value[top.key] = value
            top.key = _NO_KEY

    def _key(self, top: _Frame, key: Any, line: int) -> None:
        if isinstance(key, (dict, list)):
            raise _Refused(line, ".".join(map(str, top.path)) or "(top)",
                           "a key must be a single value, not a list or mapping")
        if key is _MERGE:
            top.key, top.merge_line = _MERGE, line
            return
        path = (*top.path, key)
        if key in top.keys:
            self.problems.append(Problem(self.file, line, ".".join(str(p) for p in path),
                                         f"duplicate key (first given on line {top.keys[key]})"))
        top.keys[key] = line
        self.lines[path] = line
        top.key = key

    def _merge(self, top: _Frame, value: Any, line: int) -> None:
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(s, dict) for s in sources):
            raise _Refused(line, ".".join(map(str, (*top.path, "<<"))),
                           "a merge key '<<' needs a mapping or a list of mappings")
        top.merges.extend(sources)

    def _close_mapping(self, frame: _Frame) -> None:
        """Apply merge keys: explicit keys win, then earlier merged mappings."""
        if not frame.merges:
            return
        explicit = dict(frame.value)
        frame.value.clear()
        for source in frame.merges:
            for k, v in source.items():
                if k not in explicit and k not in frame.value:
                    frame.value[k] = v
                    self.lines.setdefault((*frame.path, k), frame.merge_line)
        frame.value.update(explicit)

    def feed(self, event: ev.Event) -> None:
        handler = self.handlers.get(type(event))
        if handler is not None:
            handler(event, _line(event))

    def _scalar(self, event: ev.ScalarEvent, line: int) -> None:
        role, _ = self._slot(line)
        self._count(1, line)
        if event.tag is None and event.implicit[0]:
            text = event.value
            value = self.plain.get(text, _NO_KEY)
            if value is _NO_KEY:  # resolve each distinct text once (keys repeat a lot)
                value = self.plain[text] = resolve_plain(text)
            if role == "key" and text == "<<":
                value = _MERGE
        elif event.tag is None:
            value = event.value
        else:
            value = _tagged(event.tag, event.value, line)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)
        self._place(value, role, line)

    def _alias(self, event: ev.AliasEvent, line: int) -> None:
        name = event.anchor
        role, _ = self._slot(line)
        if name in self.open_anchors:
            raise _Refused(line, "(yaml)", f"recursive alias *{name} (used inside its own anchor)")
        if name not in self.anchors:
            raise _Refused(line, "(yaml)", f"alias *{name} names no anchor defined before it")
        value, size = self.anchors[name]
        self._count(size, line)
        self._place(value, role, line)

    def _start(self, event: ev.CollectionStartEvent, line: int) -> None:
        is_map = isinstance(event, ev.MappingStartEvent)
        tag = event.tag
        if tag not in (None, "!", _CORE + ("map" if is_map else "seq")):
            raise _Refused(line, "(yaml)", f"unsupported tag {_short_tag(tag)}: scenarios hold "
                                           "plain values, lists and mappings"[:200])
        role, path = self._slot(line)
        if role == "key":
            raise _Refused(line, ".".join(map(str, path)) or "(top)",
                           "a key must be a single value, not a list or mapping")
        if len(self.stack) >= MAX_DEPTH:
            raise _Refused(line, "(yaml)", f"lists and mappings nested more than {MAX_DEPTH} "
                                           "levels deep")
        frame = _Frame({} if is_map else [], path, event.anchor, self.count)
        self._count(1, line)
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        self.stack.append(frame)

    def _end(self, event: ev.CollectionEndEvent, line: int) -> None:
        frame = self.stack.pop()
        if isinstance(frame.value, dict):
            self._close_mapping(frame)
        if frame.anchor is not None:
            self.open_anchors.discard(frame.anchor)
            self.anchors[frame.anchor] = (frame.value, self.count - frame.start)
        role = "root" if not self.stack else self._role_of_open_slot()
        self._place(frame.value, role, line)

    def _role_of_open_slot(self) -> str:
        top = self.stack[-1]
        if isinstance(top.value, list):
            return "item"
        return "value"  # a container as a key is refused when it starts


def _line(event: ev.Event) -> int:
    """The 1-based line where an event starts."""
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 0


def _build(loader: Any, file: str) -> tuple[Any, dict[Path_, int], list[Problem]]:
    """Run the event pass over one document."""
    loader.get_event()  # StreamStart
    event = loader.get_event()
    if isinstance(event, ev.StreamEndEvent):
        return None, {}, []
    builder = _Builder(file)
    event = loader.get_event()
    while not isinstance(event, ev.DocumentEndEvent):
        builder.feed(event)
        event = loader.get_event()
    event = loader.get_event()
    if not isinstance(event, ev.StreamEndEvent):
        raise _Refused(_line(event), "(yaml)",
                       "more than one YAML document; a scenario file holds one")
    return builder.root, builder.lines, builder.problems


def _error_line(exc: yaml.MarkedYAMLError, text: str) -> int | None:
    """The line to blame: where the problem was found, unless that is the end of the
    file (an unclosed quote or bracket), then where the unclosed thing started."""
    mark = exc.problem_mark
    if exc.context_mark is not None and (mark is None or mark.index >= len(text.rstrip())):
        mark = exc.context_mark
    return mark.line + 1 if mark is not None else None


def _too_big(file: str) -> ScenarioError:
    return ScenarioError([Problem(file, None, "(file)", f"larger than {MAX_BYTES // 2**20} MB; "
                                                        "a scenario file is at most that")])


def load_yaml_text(text: str, file: str) -> tuple[Any, LineMap, list[Problem]]:
    """Parse YAML text into plain data, a :class:`LineMap`, and the duplicate-key problems
    (which do not stop validation: the last value is kept, as YAML loaders do).

    Raises
    ------
    ScenarioError
        On a YAML syntax error, or input beyond the limits in the module docstring.
    """
    if len(text) > MAX_BYTES:
        raise _too_big(file)
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise ScenarioError([Problem(file, line, "(yaml)", f"not valid YAML: character "
                                     f"{bad.group()!r} is not allowed in a YAML file")])
    loader = _Parser(text)
    try:
        data, lines, problems = _build(loader, file)
    except _Refused as exc:
        raise ScenarioError([Problem(file, exc.line, exc.key, exc.message)]) from None
    except yaml.MarkedYAMLError as exc:
        msg = " ".join(str(m) for m in (exc.context, exc.problem) if m)
        raise ScenarioError([Problem(file, _error_line(exc, text), "(yaml)",
                                     f"not valid YAML: {msg}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(file, None, "(yaml)", f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return data, LineMap(file, lines), problems


def _read_bytes(p: Path) -> bytes:
    """The bytes of a regular file of at most ``MAX_BYTES``, never blocking on a FIFO or
    device."""
    try:
        return read_bounded(p, MAX_BYTES)
    except TooBig:
        raise _too_big(str(p)) from None
    except Unreadable as exc:
        raise ScenarioError([Problem(str(p), None, "(file)", str(exc))]) from None


def load_yaml_file(path: str | Path) -> tuple[Any, LineMap, list[Problem]]:
    """Read a YAML file; a missing, unreadable, oversized or non-regular file is a user error."""
    p = Path(path)
    raw = _read_bytes(p)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScenarioError([Problem(str(p), None, "(file)", "not a UTF-8 text file")]) from None
    return load_yaml_text(text, str(p))
