"""Run tasks on worker processes: results in task order, and a run that always ends cleanly.

:func:`run_tasks` is a small executor built on :mod:`multiprocessing` primitives (one
process and one pipe per worker) instead of :class:`multiprocessing.pool.Pool`, because a
pool hides what its workers do: a worker killed by a signal is silently replaced and its
task lost (``imap`` then waits for ever), and ``terminate``/``join`` can hang on dead,
unreaped children. Here the parent waits on every worker's pipe *and* process sentinel at
once, so whatever a worker does is seen at once:

- a task raises: every worker is stopped, then that exception is raised in the parent
  (an exception that cannot cross the process boundary becomes :class:`RemoteError`);
- a worker dies (a signal, ``os._exit``, a crash): every worker is stopped, then
  :class:`WorkerDied` is raised, naming the process, how it died and its task;
- Ctrl-C (SIGINT to the whole process group): workers ignore SIGINT, the parent stops them
  and ``KeyboardInterrupt`` propagates; SIGTERM, inside :func:`raise_on_sigterm`, does the
  same with :class:`Terminated`.

Stopping a worker is SIGTERM (which kills a worker at once and quietly), then SIGKILL after
a grace period; every worker is always joined, so no child process outlives
:func:`run_tasks`. A worker whose parent disappears exits quietly as well.

Tasks are handed out one at a time (or one ``chunk`` of tasks at a time): a worker gets the
next chunk when it returns a result, so a slow task never leaves the other workers idle.
"""
from __future__ import annotations

import itertools
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing import connection, get_context
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess, parent_process
from multiprocessing.reduction import ForkingPickler
from typing import Any, TypeVar

from simulator.experiment.signals import (
    STOP_SIGNALS,
    Deferred,
    Terminated,
    block,
    raise_on_sigterm,
    unblock,
)

__all__ = ["RemoteError", "Terminated", "WorkerDied", "raise_on_sigterm", "run_tasks"]

T = TypeVar("T")
R = TypeVar("R")

GRACE_SECONDS = 1.0
"""How long (s) a worker is given to exit after a stop message or SIGTERM, before SIGKILL."""

_WAKE_SECONDS = 0.2  # the parent wakes this often, however long the tasks

# The parent's ends of the workers' pipes. A worker started by fork closes its inherited
# copies, so that each pipe has one end in the parent and one in its worker only: a worker
# then sees end-of-file as soon as the parent is gone, and the parent as soon as a worker is.
_PARENT_ENDS: set[Connection] = set()


class WorkerDied(RuntimeError):
    """A worker process ended while it was running a task (or before it was told to stop).

    Attributes
    ----------
    pid : int
        The worker's process id.
    exitcode : int or None
        Its exit status; ``-N`` when killed by signal ``N``; None if it could not be read.
    tasks : tuple of int
        The 0-based indices of the tasks it was running (empty if it was idle).
    """

    def __init__(self, pid: int, exitcode: int | None, tasks: tuple[int, ...]):
        self.pid, self.exitcode, self.tasks = pid, exitcode, tasks
        super().__init__(f"worker process {pid} died ({_how(exitcode)}) {_doing(tasks)}")

    def __reduce__(self) -> tuple[type, tuple[int, int | None, tuple[int, ...]]]:
        return (type(self), (self.pid, self.exitcode, self.tasks))


class RemoteError(RuntimeError):
    """An exception raised in a worker that could not be sent to the parent as itself.

    Attributes
    ----------
    type_name : str
        The original exception's qualified class name.
    message : str
        ``str()`` of the original exception.
    remote_traceback : str
        The traceback, as text, in the worker process.
    """

    def __init__(self, type_name: str, message: str, remote_traceback: str):
        self.type_name, self.message, self.remote_traceback = type_name, message, remote_traceback
        super().__init__(f"{type_name}: {message}\n\n"
                         f"Traceback in the worker process:\n{remote_traceback}")

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        return (type(self), (self.type_name, self.message, self.remote_traceback))


class RemoteTraceback(Exception):
    """Carries a worker's traceback text; set as ``__cause__`` of an exception re-raised in
    the parent, so a printed traceback shows where in the worker it started."""

    def __str__(self) -> str:
        return f"\n\nTraceback in the worker process:\n{self.args[0]}"


def run_tasks(fn: Callable[[T], R], tasks: Iterable[T], jobs: int,
              initializer: Callable[..., object] | None = None, initargs: tuple[Any, ...] = (),
              chunk: int = 1, context: str | BaseContext | None = None,
              grace: float = GRACE_SECONDS) -> Generator[R, None, None]:
    """Apply ``fn`` to every task on ``jobs`` worker processes; yield the results in task order.

    Parameters
    ----------
    fn : callable
        Called as ``fn(task)`` in a worker. With a start method other than fork it must be
        picklable (a module-level function).
    tasks : iterable
        The tasks, read lazily as workers become free; each is pickled to its worker.
    jobs : int
        The most worker processes to run (>= 1). Workers are started as tasks need them.
    initializer, initargs : callable and tuple, optional
        ``initializer(*initargs)`` runs once in each worker before its first task (e.g. to
        set ``sys.path``). If it raises, the run stops and its exception is raised.
    chunk : int
        Tasks sent to a worker per message (>= 1); larger chunks cut the per-task cost of
        tiny tasks, at the price of coarser load balance.
    context : str or multiprocessing context, optional
        Start method: ``"fork"`` (the default on Linux: fast), ``"spawn"`` (the default
        elsewhere) or ``"forkserver"``.
    grace : float
        Seconds a worker gets to exit after being told to stop, before it is killed.

    Yields
    ------
    result
        ``fn(task)`` for each task, in the order of ``tasks``; each is yielded as soon as it
        and all results before it are in.

    Raises
    ------
    BaseException
        The exception a task raised (the same type and arguments; its traceback in the
        worker is attached as ``__cause__``), or :class:`RemoteError` when it cannot be
        pickled; :class:`WorkerDied` when a worker ends unexpectedly; KeyboardInterrupt and
        :class:`Terminated` from signals. In every case the workers are stopped and
        reaped before the exception leaves the iterator.

    Notes
    -----
    Iterate in a ``with contextlib.closing(run_tasks(...)) as results:`` block when the
    loop may stop early, so the workers stop at once rather than when the iterator is
    garbage-collected.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a whole number >= 1, not {jobs!r}")
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a whole number >= 1, not {chunk!r}")
    ctx = _context(context)
    return _Run(fn, _chunks(tasks, chunk), jobs, initializer, initargs, ctx, grace).results()


# ----------------------------------------------------------------------------- the parent

@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    tasks: tuple[int, ...] = ()   # indices of the tasks it is running; () when idle
    message: int = -1             # index of the chunk it is running


class _Run:
    """One call of :func:`run_tasks`: the workers, the tasks handed out, the results in."""

    def __init__(self, fn: Callable[[Any], Any], chunks: Iterator[list[Any]], jobs: int,
                 initializer: Callable[..., object] | None, initargs: tuple[Any, ...],
                 ctx: BaseContext, grace: float):
        self.fn, self.chunks, self.jobs = fn, chunks, jobs
        self.initializer, self.initargs, self.ctx, self.grace = initializer, initargs, ctx, grace
        self.workers: list[_Worker] = []
        self.done: dict[int, list[Any]] = {}   # chunk index -> its results, until yielded
        self.sent = 0                          # chunks handed out
        self.first_task = 0                    # index of the first task of the next chunk
        self.exhausted = False

    def results(self) -> Generator[Any, None, None]:
        # While this code runs, SIGINT and SIGTERM are only recorded (see signals.Deferred): the run
        # then stops at a point of its choosing, and no handler's exception can be lost in a
        # finalizer (``Exception ignored in __del__``), which would leave the run waiting.
        signals = Deferred()
        finished = False
        try:
            signals.install()
            yielded = 0
            while not signals.caught:
                while yielded in self.done and not signals.caught:
                    for result in self.done.pop(yielded):
                        signals.active = False  # the caller's code: the usual handlers
                        yield result
                        signals.active = True
                    yielded += 1
                if signals.caught:
                    break
                self._hand_out()
                if self.exhausted and yielded == self.sent:
                    finished = True
                    break
                self._receive(signals)
        finally:
            signals.active = True
            try:
                _stop(self.workers, finished, self.grace)
            finally:
                signals.uninstall()  # a signal caught meanwhile now has its usual effect

    def _hand_out(self) -> None:
        """Give the next chunk to every idle worker, starting workers up to ``jobs``."""
        idle = [w for w in self.workers if not w.tasks]
        while not self.exhausted and (idle or len(self.workers) < self.jobs):
            items = next(self.chunks, None)
            if items is None:
                self.exhausted = True
                break
            w = idle.pop() if idle else self._start()
            w.tasks = tuple(range(self.first_task, self.first_task + len(items)))
            w.message = self.sent
            self.first_task += len(items)
            self.sent += 1
            try:
                w.conn.send(items)
            except OSError:  # it died; _receive reports how
                pass

    def _start(self) -> _Worker:
        ours, theirs = self.ctx.Pipe()
        _PARENT_ENDS.add(ours)
        process = self.ctx.Process(  # type: ignore[attr-defined]
            target=_worker_main, name=f"run_tasks-worker-{len(self.workers) + 1}",
            args=(theirs, self.fn, self.initializer, self.initargs))
        mask = block(STOP_SIGNALS)  # the worker starts with them blocked, until it has
        try:                          # set its own handlers
            process.start()
        except BaseException:
            _PARENT_ENDS.discard(ours)
            ours.close()
            raise
        finally:
            unblock(mask)
            theirs.close()
        worker = _Worker(process, ours)
        self.workers.append(worker)
        return worker

    def _receive(self, signals: Deferred) -> None:
        """Wait until a worker answers or dies, or a signal comes; store the results or raise
        the failure."""
        busy = [w for w in self.workers if w.tasks]
        objects: list[Any] = [o for w in busy for o in (w.conn, w.process.sentinel)]
        if signals.wakeup is not None:
            objects.append(signals.wakeup)
        # not for ever, should a signal neither reach this thread nor the wake-up pipe
        ready = set(connection.wait(objects, _WAKE_SECONDS))
        if signals.wakeup in ready or not ready:
            signals.check()
        if signals.caught:
            return
        for w in busy:
            if w.conn not in ready and w.process.sentinel not in ready:
                continue
            if not w.conn.poll():  # the process ended without closing its pipe? report it
                raise _died(w, self.grace)
            try:
                data = w.conn.recv_bytes()
            except (EOFError, OSError):
                raise _died(w, self.grace) from None
            reply = pickle.loads(data)
            if not reply[0]:
                raise _failure_from(*reply[1:])
            self.done[w.message] = reply[1]
            w.tasks = ()


def _died(w: _Worker, grace: float) -> WorkerDied:
    w.process.join(grace)  # its pipe closed: it is exiting, or has exited
    return WorkerDied(w.process.pid or 0, w.process.exitcode, w.tasks)


def _failure_from(blob: bytes, type_name: str, message: str, tb: str) -> BaseException:
    try:
        exc = pickle.loads(blob)
    except Exception:  # e.g. its class cannot be imported here
        return RemoteError(type_name, message, tb)
    if not isinstance(exc, RemoteError):
        exc.__cause__ = RemoteTraceback(tb)
    return exc


def _stop(workers: list[_Worker], finished: bool, grace: float) -> None:
    """Stop and reap every worker: a stop message (after a finished run) or SIGTERM, then
    SIGKILL for any still alive after ``grace`` seconds."""
    if finished:
        for w in workers:
            try:
                w.conn.send(None)
            except OSError:
                pass
        _join_all(workers, grace)
    for w in workers:
        if w.process.is_alive():
            w.process.terminate()
    _join_all(workers, grace)
    for w in workers:
        if w.process.is_alive():
            w.process.kill()
    for w in workers:
        w.process.join()
        _PARENT_ENDS.discard(w.conn)
        w.conn.close()
        w.process.close()
    workers.clear()


def _join_all(workers: list[_Worker], seconds: float) -> None:
    """Join the workers, waiting at most ``seconds`` in all (not each)."""
    deadline = time.monotonic() + seconds
    for w in workers:
        w.process.join(max(0.0, deadline - time.monotonic()))


def _context(context: str | BaseContext | None) -> BaseContext:
    if isinstance(context, BaseContext):
        return context
    if context is None:
        context = "fork" if sys.platform.startswith("linux") else "spawn"
    return get_context(context)


def _chunks(tasks: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(tasks)
    while batch := list(itertools.islice(it, size)):
        yield batch


def _how(exitcode: int | None) -> str:
    if exitcode is None:
        return "it closed its pipe and did not exit"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-exitcode}, {name}"
    return f"exited with status {exitcode}"


def _doing(tasks: tuple[int, ...]) -> str:
    if not tasks:
        return "while idle"
    if len(tasks) == 1:
        return f"while running task {tasks[0]}"
    return f"while running tasks {tasks[0]}-{tasks[-1]}"


# ----------------------------------------------------------------------------- the worker

def _worker_main(conn: Connection, fn: Callable[[Any], Any],
                 initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    """A worker's life: answer chunks of tasks until told to stop or the parent is gone.

    It never prints a traceback of its own: SIGINT is ignored (Ctrl-C is the parent's to
    handle), SIGTERM kills it at once, and a broken pipe or a vanished parent ends it
    quietly. Failures of the work itself are sent to the parent.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)  # the parent's, inherited through fork
    if hasattr(signal, "pthread_sigmask"):  # the parent started us with both blocked
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # pending ones act now
    for end in list(_PARENT_ENDS):  # copies inherited through fork
        end.close()
    _PARENT_ENDS.clear()
    _exit_with_parent()
    try:
        _serve(conn, fn, initializer, initargs)
    except (EOFError, OSError):  # the parent is gone or closed our pipe: nobody to tell
        os._exit(0)


def _serve(conn: Connection, fn: Callable[[Any], Any],
           initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException as exc:
            conn.send_bytes(_failure(exc))
            return
    while True:
        data = conn.recv_bytes()
        try:
            items = pickle.loads(data)
            if items is None:  # stop
                return
            reply: bytes | memoryview = ForkingPickler.dumps((True, [fn(item) for item in items]))
        except BaseException as exc:  # incl. a result that cannot be pickled
            reply = _failure(exc)
        conn.send_bytes(reply)


def _failure(exc: BaseException) -> bytes:
    """The reply reporting ``exc``: itself if it survives pickling, else its description."""
    tb = "".join(traceback.format_exception(exc))
    type_name = type(exc).__qualname__
    if type(exc).__module__ != "builtins":
        type_name = f"{type(exc).__module__}.{type_name}"
    try:
        message = str(exc)
    except Exception:
        message = "<str() of the exception failed>"
    try:
        blob = ForkingPickler.dumps(exc)
        pickle.loads(blob)  # some exceptions pickle but fail to unpickle
    except Exception:
        blob = ForkingPickler.dumps(RemoteError(type_name, message, tb))
    return bytes(ForkingPickler.dumps((False, bytes(blob), type_name, message, tb)))


def _exit_with_parent() -> None:
    """Exit quietly as soon as the parent process is gone, even in the middle of a task."""
    parent = parent_process()
    sentinel = getattr(parent, "sentinel", None)
    if sentinel is None:  # pragma: no cover - not started by multiprocessing
        return

    def watch() -> None:
        connection.wait([sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="run_tasks-parent-watch", daemon=True).start()
