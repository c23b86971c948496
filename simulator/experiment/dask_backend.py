"""Run tasks on a Dask ``distributed`` cluster, with the contract of
:func:`simulator.experiment.pool.run_tasks`: results in task order, and a failure stops the run.

- ``address="local"`` starts a :class:`distributed.LocalCluster` of worker *processes* (one
  thread each: a simulation is pure Python and holds the GIL), listening on 127.0.0.1 only,
  without a dashboard; any other address joins that scheduler (``tcp://host:8786``).
- Tasks are sent in chunks (one Dask task runs ``chunk`` of ours): submitting a Dask task
  costs milliseconds, a chunk of 50 costs about as much as one task (benchmarks/backends.py).
  Every chunk is submitted with ``pure=False``, and each of our tasks carries its own random
  stream key (replication index and seed), so Dask never merges two calls that look alike.
- A task that raises: the rest are cancelled and that exception is raised in the caller
  (same type and arguments, the worker's traceback as ``__cause__``; one that cannot be
  pickled becomes :class:`~simulator.experiment.pool.RemoteError`), so a
  :class:`~simulator.errors.UserError` still ends as ``FILE:LINE`` messages and exit 2. A
  worker that dies while running a chunk raises :class:`DaskWorkerDied`, a
  :class:`~simulator.experiment.pool.WorkerDied`: at once on a LocalCluster (its scheduler
  allows no retries), after the scheduler's ``allowed-failures`` retries (default 3) on
  another cluster (``KilledWorker``).
- Ctrl-C, SIGTERM or a caller that stops iterating: the pending tasks are cancelled, then
  the client is closed and a cluster started here is shut down, before the exception leaves.

Dask is an optional dependency (the ``dask`` extra); it is imported only when a run uses it.
"""
from __future__ import annotations

import importlib.util
import itertools
import logging
import os
import pickle
import signal
import sys
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from simulator.errors import Problem, UserError
from simulator.experiment.pool import WorkerDied, _failure, _failure_from
from simulator.experiment.signals import block, unblock

__all__ = ["DaskWorkerDied", "check_address", "check_available", "connect", "run_tasks",
           "slots"]

T = TypeVar("T")
R = TypeVar("R")

INSTALL_HINT = 'install the dask extra: pip install ".[dask]"'
"""What a user without Dask is told."""

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a scheduler at an address before giving up."""

AHEAD = 4
"""Chunks kept in flight per worker thread: enough to keep every worker busy while the
results are read in order, few enough that a failure wastes little work."""


class DaskWorkerDied(WorkerDied):
    """A Dask worker died while running a chunk of tasks (Dask reports ``KilledWorker``)."""

    def __init__(self, tasks: tuple[int, ...], detail: str = ""):
        self.detail = detail
        WorkerDied.__init__(self, 0, None, tasks)
        first, last = (tasks[0], tasks[-1]) if tasks else (0, 0)
        doing = f"task {first}" if first == last else f"tasks {first}-{last}"
        self.args = (f"a Dask worker died while running {doing}"
                     + (f" ({detail})" if detail else ""),)

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[type, tuple[tuple[int, ...], str]]:  # type: ignore[override]
        return (type(self), (self.tasks, self.detail))


def check_available(key: str = "dask", file: str = "<arguments>") -> None:
    """Raise a :class:`~simulator.errors.UserError` naming ``key`` if Dask is not installed."""
    if importlib.util.find_spec("distributed") is None:
        raise UserError([Problem(file, None, key, INSTALL_HINT)])


def check_address(address: Any, key: str = "dask", file: str = "<arguments>") -> str:
    """``address`` as a Dask scheduler address: ``"local"`` or e.g. ``tcp://host:8786``."""
    if not isinstance(address, str) or not address.strip() or not address.isprintable():
        raise UserError([Problem(file, None, key, "expected 'local' (a cluster of processes "
                                 "on this machine) or a scheduler address such as "
                                 f"tcp://host:8786, got {address!r:.60}")])
    return address.strip()


@contextmanager
def connect(address: str = "local", workers: int | None = None,
            key: str = "dask") -> Iterator[Any]:
    """A :class:`distributed.Client` for ``address``, closed (with any cluster it started)
    when the block ends, however it ends.

    Parameters
    ----------
    address : str
        ``"local"``: start a LocalCluster on this machine; else a scheduler address.
    workers : int, optional
        Worker processes of a LocalCluster (default: one per core); ignored for an address.
    key : str
        How the user named the address (``dask`` or ``--dask``), for error messages.
    """
    check_available(key)
    address = check_address(address, key)
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if address == "local":
            n = workers if workers and workers > 0 else (os.cpu_count() or 1)
            # Ctrl-C is the caller's to handle: the worker processes (and the cluster's
            # event-loop thread, which starts them) inherit SIGINT blocked, so a terminal's
            # SIGINT to the whole process group reaches this process only. One that comes
            # meanwhile is delivered here when the mask is restored.
            mask = block([signal.SIGINT])
            try:
                # everything on 127.0.0.1, on free ports; no dashboard (the scheduler's
                # small HTTP server of health routes too gets a free port, not 8787)
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", scheduler_port=0,
                                       dashboard_address=None,
                                       scheduler_kwargs={"dashboard": False,
                                                         "dashboard_address": "127.0.0.1:0",
                                                         # a worker that dies stops the run
                                                         # as with the process pool (not
                                                         # retried elsewhere)
                                                         "allowed_failures": 0},
                                       silence_logs=logging.ERROR)
            finally:
                unblock(mask)
            client = Client(cluster, set_as_default=False)
        else:
            try:
                client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, ValueError, TypeError) as exc:
                raise UserError([Problem("<arguments>", None, key,
                                         f"cannot reach a Dask scheduler at {address}: "
                                         f"{exc}")]) from None
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    finished = False
    levels: dict[str, int] = {}
    try:
        yield client
        finished = True
    finally:
        try:
            if cluster is not None and not finished:
                levels = _kill_workers(cluster)  # a busy worker would stop after its task
            client.close()
        finally:
            if cluster is not None:
                cluster.close()
            for name, level in levels.items():  # the loggers as they were
                logging.getLogger(name).setLevel(level)


def _kill_workers(cluster: Any) -> dict[str, int]:
    """SIGKILL the worker processes of a LocalCluster we started (after an interrupt or a
    failure: their work is lost anyway), so that closing it does not wait for the task each
    is running, however long. The scheduler (in this process) would log each killed worker's
    tasks as failed: those are not news to the user, so its loggers are quietened first."""
    levels = {}
    for name in list(logging.root.manager.loggerDict):
        if name == "distributed" or name.startswith("distributed."):
            levels[name] = logging.getLogger(name).level
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    for nanny in list(getattr(cluster, "workers", {}).values()):
        pid = getattr(getattr(getattr(nanny, "process", None), "process", None), "pid", None)
        if isinstance(pid, int) and pid > 0:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:  # already gone
                pass
    return levels


def slots(client: Any) -> int:
    """Worker threads of the cluster behind ``client`` (at least 1)."""
    return max(1, sum(client.nthreads().values()))


def run_tasks(fn: Callable[[T], R], tasks: Iterable[T], address: str = "local",
              workers: int | None = None, initializer: Callable[..., object] | None = None,
              initargs: tuple[Any, ...] = (), chunk: int = 1,
              client: Any = None) -> Generator[R, None, None]:
    """Apply ``fn`` to every task on a Dask cluster; yield the results in task order.

    Parameters
    ----------
    fn : callable
        Called as ``fn(task)`` on a worker; it must be picklable (a module-level function).
    tasks : iterable
        The tasks, read lazily (about :data:`AHEAD` chunks per worker thread in flight).
        Each should carry what makes it unique (e.g. its replication index and seed).
    address : str
        ``"local"`` (a LocalCluster started for this call) or a scheduler address.
        Ignored when ``client`` is given.
    workers : int, optional
        Worker processes of a LocalCluster (default: one per core).
    initializer, initargs : callable and tuple, optional
        ``initializer(*initargs)`` runs once in each worker process, before the first task
        of this call that it runs there.
    chunk : int
        Tasks per Dask task (>= 1).
    client : distributed.Client, optional
        Use this client (left open) instead of connecting to ``address``.

    Yields
    ------
    result
        ``fn(task)`` for each task, in task order.

    Raises
    ------
    BaseException
        The first failing task's exception (in task order), see the module notes;
        :class:`DaskWorkerDied`; :class:`~simulator.errors.UserError` if Dask is missing or
        the scheduler cannot be reached; KeyboardInterrupt. The pending tasks are cancelled
        first.
    """
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a whole number >= 1, not {chunk!r}")
    if client is None:
        check_available()
        address = check_address(address)
    return _results(fn, tasks, address, workers, initializer, initargs, chunk, client)


def _results(fn: Callable[[Any], Any], tasks: Iterable[Any], address: str, workers: int | None,
             initializer: Callable[..., object] | None, initargs: tuple[Any, ...], chunk: int,
             client: Any) -> Generator[Any, None, None]:
    if client is None:
        with connect(address, workers) as own:
            yield from _ordered(own, fn, tasks, initializer, initargs, chunk)
    else:
        yield from _ordered(client, fn, tasks, initializer, initargs, chunk)


def _ordered(client: Any, fn: Callable[[Any], Any], tasks: Iterable[Any],
             initializer: Callable[..., object] | None, initargs: tuple[Any, ...],
             chunk: int) -> Generator[Any, None, None]:
    """Submit chunks ahead of the one being read; yield each chunk's results in order."""
    from distributed import KilledWorker

    token = os.urandom(8).hex()  # this call's initializer runs once per worker process
    setup = None if initializer is None else (token, initializer, initargs)
    chunks = _chunks(tasks, chunk)
    pending: deque[tuple[Any, tuple[int, ...]]] = deque()
    first = 0
    try:
        while True:
            limit = AHEAD * slots(client)
            while len(pending) < limit:
                items = next(chunks, None)
                if items is None:
                    break
                # pickled here and unpickled after the worker's set-up, which may be what
                # makes their classes importable there (sys.path)
                payload = pickle.dumps((fn, items), pickle.HIGHEST_PROTOCOL)
                future = client.submit(_run_chunk, payload, setup, pure=False)
                pending.append((future, tuple(range(first, first + len(items)))))
                first += len(items)
            if not pending:
                return
            future, indices = pending[0]
            try:
                reply = future.result()
            except KilledWorker as exc:
                raise DaskWorkerDied(indices, str(exc)) from None
            pending.popleft()
            if not reply[0]:
                raise _failure_from(*reply[1:])
            yield from reply[1]
    finally:
        if pending:
            client.cancel([f for f, _ in pending], force=True)


def _chunks(tasks: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(tasks)
    while batch := list(itertools.islice(it, size)):
        yield batch


# ----------------------------------------------------------------------------- on a worker

_SET_UP: set[str] = set()  # tokens of the calls whose initializer ran in this process


def _run_chunk(payload: bytes,
               setup: tuple[str, Callable[..., object], tuple[Any, ...]] | None,
               ) -> tuple[Any, ...]:
    """On a worker: run the set-up (once per process and call), then ``fn`` on each item of
    the pickled ``(fn, items)``; ``(True, results)``, or ``(False, ...)`` describing the
    failure as :mod:`simulator.experiment.pool` does (so that it reaches the caller as
    itself)."""
    try:
        if setup is not None and setup[0] not in _SET_UP:
            setup[1](*setup[2])
            _SET_UP.add(setup[0])
        fn, items = pickle.loads(payload)
        return (True, [fn(item) for item in items])
    except Exception as exc:
        return (False, *_unpacked(_failure(exc)))


def _unpacked(blob: bytes) -> tuple[bytes, str, str, str]:
    _, exc_blob, type_name, message, tb = pickle.loads(blob)
    return exc_blob, type_name, message, tb


def add_path(path: list[str]) -> None:
    """Worker set-up: put the caller's import path entries this worker lacks in front of its
    own, so ``module:Class`` policies next to the scenario file import there too (a remote
    worker keeps its own interpreter's entries)."""
    missing = [p for p in path if p not in sys.path]
    sys.path[:0] = missing
