"""Errors a user can cause, and how they are reported.

Every problem in user input becomes a :class:`Problem`, printed as
``FILE:LINE: dotted.key: message``. A :class:`ScenarioError` carries all the
problems found in one pass, so the user can fix them at once.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input.

    Parameters
    ----------
    file : str
        The file the problem is in (``<dict>`` for a scenario given as a mapping).
    line : int or None
        1-based line of the offending key, when known.
    key : str
        Dotted path of the key, e.g. ``warehouses.0.inventory.widget.policy.s``.
    message : str
        What is wrong, phrased for the user.
    """

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        """``FILE:LINE: dotted.key: message`` on exactly one line: control characters, line
        breaks and other unprintable characters in any part are shown escaped (``\\n``)."""
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{_one_line(where)}: {_one_line(self.key)}: {_one_line(self.message)}"


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _one_line(text: str) -> str:
    """``text`` with every unprintable character escaped, so it fits on one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _ESCAPES.get(c) or repr(c)[1:-1] for c in text)


class UserError(Exception):
    """Bad input from the user: reported without a traceback, exit status 2."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[type, tuple[list[Problem]]]:
        # keep the problems when the error crosses a process boundary (--jobs)
        return (type(self), (self.problems,))


class ScenarioError(UserError):
    """The scenario is not valid; :attr:`problems` lists every problem found."""


class PolicyError(UserError):
    """A policy (typically a user's own class) failed or returned nonsense during a run.

    The problem points at the line of the policy's code that raised, when there is one.
    """

    @classmethod
    def from_exception(cls, key: str, now: float, exc: BaseException) -> PolicyError:
        frames: list[tuple[str, int | None]] = []
        tb = exc.__traceback__
        while tb is not None:
            frames.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
            tb = tb.tb_next
        # the innermost frame of the user's code: not ours, not pydantic's; a built-in
        # policy failing is the scenario's doing: blame its line (see SCENARIO)
        ours = _library_dirs()
        mine = [f for f in frames if not f[0].startswith(ours)]
        file, line = mine[-1] if mine else (SCENARIO, None)
        msg = f"order_quantity failed at t={now:g}: {type(exc).__name__}: {exc}"
        return cls([Problem(file, line, key, msg)])

    @classmethod
    def bad_result(cls, policy: object, key: str, now: float, qty: object) -> PolicyError:
        import inspect

        file, line = "<policy>", None
        try:
            fn = type(policy).order_quantity  # type: ignore[attr-defined]
            file = inspect.getsourcefile(fn) or file
            line = inspect.getsourcelines(fn)[1]
        except (AttributeError, TypeError, OSError):
            pass
        if file.startswith(_library_dirs()):  # a built-in policy: the scenario's parameters
            file, line = SCENARIO, None
        msg = (f"order_quantity returned {qty!r} at t={now:g}; it must return a finite "
               "number of units (0 or less: no order)")
        return cls([Problem(file, line, key, msg)])


#: the file of a problem that the scenario's own line should replace (a built-in policy
#: failing at run time); the runner puts the scenario file and the key's line there
SCENARIO = "<scenario>"


def _library_dirs() -> tuple[str, ...]:
    return tuple(os.path.dirname(m.__file__ or "") + os.sep for m in _library_modules())


def _library_modules() -> list[ModuleType]:
    import pydantic

    import policies
    import simulator
    return [simulator, policies, pydantic]
