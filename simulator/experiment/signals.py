"""Signals around worker processes: SIGTERM as an exception, and SIGINT/SIGTERM deferred
while the pool's own code runs (simulator.experiment.pool).

A signal handled while a finalizer runs loses its exception ("Exception ignored in ..."), and
one received by another thread does not wake the main thread's wait: either could leave a run
waiting for ever. So while :func:`~simulator.experiment.pool.run_tasks` manages its workers,
:class:`Deferred` only records SIGINT and SIGTERM (and wakes the wait through
:func:`signal.set_wakeup_fd`); once the workers are reaped, each recorded signal is raised
again and has its usual effect.
"""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

#: the signals that stop a run
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(BaseException):
    """The process received SIGTERM inside :func:`raise_on_sigterm`.

    A :class:`BaseException` (like :class:`KeyboardInterrupt`), so ``except Exception``
    clauses do not swallow it. :attr:`exit_status` is the conventional ``128 + signal``.
    """

    def __init__(self, signum: int = signal.SIGTERM):
        self.signum = int(signum)
        self.exit_status = 128 + self.signum
        super().__init__(f"received {signal.Signals(self.signum).name}")


@contextmanager
def raise_on_sigterm() -> Iterator[None]:
    """Inside this block, SIGTERM raises :class:`Terminated` in the main thread.

    A command line wraps its work in it, so that ``kill PID`` stops a parallel run as
    cleanly as Ctrl-C: :func:`run_tasks` stops and reaps its workers, then the exception
    reaches the command, which reports it and exits with ``Terminated.exit_status`` (143).
    Only the first SIGTERM raises; later ones inside the block are ignored, so the clean-up
    is not interrupted. Outside the main thread this does nothing (Python runs signal
    handlers in the main thread only).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


class Deferred:
    """SIGINT and SIGTERM, while :attr:`active`, recorded instead of acted on.

    :meth:`install` (main thread only: Python runs signal handlers there) sets a handler
    that records the signal while :attr:`active` and otherwise passes it to the previous
    handler, and a wake-up pipe (:func:`signal.set_wakeup_fd`) that wakes the parent's
    wait even when another thread received the signal. :meth:`uninstall` restores both and
    re-raises each signal recorded, which then has its usual effect (KeyboardInterrupt,
    :class:`Terminated`, or the default action).
    """

    def __init__(self) -> None:
        self.active = True
        self.caught: list[int] = []
        self.previous: dict[int, Any] = {}
        self.wakeup: int | None = None   # read end of the wake-up pipe
        self._write = -1
        self._old_wakeup = -1

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for s in STOP_SIGNALS:
            if signal.getsignal(s) is not None:  # None: set outside Python; leave it alone
                self.previous[s] = signal.signal(s, self._handle)
        self.wakeup, self._write = os.pipe()
        os.set_blocking(self.wakeup, False)
        os.set_blocking(self._write, False)
        self._old_wakeup = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)

    def uninstall(self) -> None:
        if self.wakeup is not None:
            mine = signal.set_wakeup_fd(self._old_wakeup)
            if mine != self._write:  # someone else's since: leave theirs
                signal.set_wakeup_fd(mine, warn_on_full_buffer=False)
            os.close(self.wakeup)
            os.close(self._write)
            self.wakeup = None
        for s, handler in self.previous.items():
            if signal.getsignal(s) == self._handle:
                signal.signal(s, handler)  # a signal still pending is recorded first
        self.previous.clear()
        caught, self.caught = list(dict.fromkeys(self.caught)), []
        for s in caught:
            signal.raise_signal(s)

    def check(self) -> None:
        """Empty the wake-up pipe and run the Python handlers of signals received by any
        thread (which this thread might otherwise only do later)."""
        if self.wakeup is not None:
            try:
                os.read(self.wakeup, 512)
            except BlockingIOError:
                pass
            if hasattr(signal, "pthread_sigmask"):
                signal.pthread_sigmask(signal.SIG_BLOCK, ())  # runs pending handlers

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.active:
            self.caught.append(signum)
            return
        previous = self.previous.get(signum)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)


def block(signums: Iterable[int]) -> set[Any] | None:
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, set(signums))


def unblock(mask: set[Any] | None) -> None:
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
