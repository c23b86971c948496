"""Errors a user can cause, and how they are reported.

Every problem in user input becomes a :class:`Problem`, printed as
``FILE:LINE: dotted.key: message``. A :class:`ScenarioError` carries all the
problems found in one pass, so the user can fix them at once.
"""
from __future__ import annotations

from dataclasses import dataclass


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
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}"


class UserError(Exception):
    """Bad input from the user: reported without a traceback, exit status 2."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ScenarioError(UserError):
    """The scenario is not valid; :attr:`problems` lists every problem found."""
