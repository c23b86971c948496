"""Progress of a run: a bar on a terminal, dated lines with an ETA elsewhere.

A run that finishes within a moment shows nothing. On a terminal the bar (tqdm) appears
after a second. When the output is not a terminal (a log file, CI, a notebook's captured
stream, ``nohup``), a long run still says how far it is: one line every
:data:`LINE_EVERY` seconds once it has lasted :data:`LINE_AFTER` seconds, e.g.
``progress: 35% (3.5/10 replications), 0:42 elapsed, about 1:18 left``.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

#: seconds before the first progress line when not on a terminal, and between lines
LINE_AFTER = 10.0
LINE_EVERY = 30.0


def clock(seconds: float) -> str:
    """``seconds`` as ``H:MM:SS`` (or ``M:SS`` under an hour)."""
    s = int(round(max(seconds, 0.0)))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class LineProgress:
    """Progress as occasional plain lines (for output that is not a terminal)."""

    def __init__(self, total: float, unit: str = "replications", stream: TextIO | None = None,
                 after: float = LINE_AFTER, every: float = LINE_EVERY):
        self.total = float(total)
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.n = 0.0
        self.disable = False
        self._start = time.monotonic()
        self._next = self._start + after
        self._every = every

    def update(self, amount: float) -> None:
        self.n += amount
        now = time.monotonic()
        if now >= self._next and self.n < self.total:
            self._next = now + self._every
            self._say(now)

    def _say(self, now: float) -> None:
        elapsed = now - self._start
        share = self.n / self.total if self.total > 0 else 1.0
        left = elapsed * (1 - share) / share if share > 0 else float("inf")
        eta = clock(left) if left != float("inf") else "unknown"
        print(f"progress: {share:.0%} ({self.n:.1f}/{self.total:g} {self.unit}), "
              f"{clock(elapsed)} elapsed, about {eta} left", file=self.stream, flush=True)

    def close(self) -> None:
        pass

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class NoProgress:
    """Shows nothing (``progress=False``, ``--quiet``)."""

    disable = True

    def update(self, amount: float) -> None:
        pass

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


class CallbackProgress:
    """Progress handed to a function of the share done (0..1), at most every
    :data:`CALL_EVERY` seconds and once at the end (a web page's progress bar)."""

    disable = False

    def __init__(self, total: float, call: Callable[[float], Any]):
        self.total = float(total)
        self.call = call
        self.n = 0.0
        self._last = -float("inf")
        self._shown = 0.0

    def update(self, amount: float) -> None:
        self.n += amount
        now = time.monotonic()
        if now - self._last >= CALL_EVERY:
            self._last = now
            # never backwards (the parts of a replication add up to 1 only within rounding)
            share = min(self.n / self.total, 1.0) if self.total > 0 else 1.0
            self._shown = max(self._shown, share)
            self.call(self._shown)

    def __enter__(self) -> CallbackProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            self.call(1.0)


#: seconds between two calls of a progress function
CALL_EVERY = 0.2


def progress(total: int, enabled: bool | None | Callable[[float], Any],
             stream: TextIO | None = None) -> Any:
    """The progress display for a run of ``total`` replications.

    ``enabled`` True: a bar; False: nothing; None (default): a bar on a terminal, else
    occasional lines with an ETA for runs that last more than :data:`LINE_AFTER` seconds;
    a function: called with the share done (0..1), see :class:`CallbackProgress`.
    """
    if callable(enabled):
        return CallbackProgress(total, enabled)
    if enabled is False:
        return NoProgress()
    out = stream if stream is not None else sys.stderr
    tty = bool(getattr(out, "isatty", lambda: False)())
    if enabled is None and not tty:
        return LineProgress(total, stream=out)
    from tqdm import tqdm
    return tqdm(total=total, unit="rep", desc="replications", delay=1.0, file=out,
                leave=False, bar_format="{l_bar}{bar}| {n:.1f}/{total} [{elapsed}<{remaining}]")
