"""The process pool of parallel replications (simulator.experiment.pool): results in task order,
tasks handed out as workers free up, and every failure -- an exception, a worker killed or
exiting, Ctrl-C, SIGTERM -- ends the run at once with a clear exception, every worker reaped and
no worker traceback.

Each failure path runs 40 times in a child Python (this file run as a script: ``python
test_pool.py MODE N``) under a time limit, so a one-in-forty hang fails the test instead of
hanging the suite.
"""
from __future__ import annotations

import faulthandler
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from simulator.errors import Problem, UserError
from simulator.experiment.pool import (
    RemoteError,
    Terminated,
    WorkerDied,
    raise_on_sigterm,
    run_tasks,
)

HERE = Path(__file__).resolve()
PROBLEM = Problem("mypolicy.py", 7, "warehouses.0.inventory.p.policy", "order_quantity failed")
LONG = 30.0  # s: a task that would make any test time out if a worker were not stopped


# ----------------------------------------------------------------------------- tasks
# Module-level, so the spawn start method can import them in a worker.

def square_late(x: int) -> tuple[int, int]:
    """x*x, the later the smaller x % 5 is, so results come back out of task order."""
    time.sleep(0.002 * (4 - x % 5))
    return x, x * x


class Unpicklable(Exception):
    def __init__(self, msg: str):
        super().__init__(msg)
        self.lock = threading.Lock()


class NeedsTwo(Exception):
    """Pickles, but does not unpickle: ``__init__`` wants two arguments, args holds one."""

    def __init__(self, a: str, b: str):
        super().__init__(f"{a} and {b}")


def task(arg: tuple[str, float]) -> object:
    """A task that misbehaves on request, after ``delay`` seconds."""
    kind, delay = arg
    time.sleep(delay)
    if kind == "user-error":
        raise UserError([PROBLEM])
    if kind == "unpicklable":
        raise Unpicklable("the lock is mine")
    if kind == "needs-two":
        raise NeedsTwo("one", "two")
    if kind == "bad-result":
        return threading.Lock()
    if kind == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "exit":
        os._exit(3)
    if kind == "pid":
        return os.getpid()
    return kind


_INITIALISED: object = None


def remember(value: object) -> None:
    global _INITIALISED
    _INITIALISED = value


def initialised(_: object) -> object:
    return _INITIALISED


def fail_init() -> None:
    raise UserError([PROBLEM])


def hand_out(arg: tuple[str, str]) -> bool:
    """``wait``: wait (up to 5 s) for the file that a ``set`` task creates."""
    kind, path = arg
    if kind == "set":
        Path(path).touch()
    deadline = time.monotonic() + 5.0
    while kind == "wait" and not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.002)
    return os.path.exists(path) or kind == "work"


# ----------------------------------------------------------------------------- helpers

def proc_children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (zombies included: they are not reaped yet)."""
    return {p for p, fields in _proc_stats() if int(fields[1]) == pid}


def in_session(sid: int) -> set[int]:
    return {p for p, fields in _proc_stats() if int(fields[3]) == sid}


def _proc_stats() -> list[tuple[int, list[str]]]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            out.append((int(name), stat.rsplit(")", 1)[1].split()))  # state ppid pgrp session
    return out


@pytest.fixture
def no_child_left():
    """The test leaves no child process behind, reaped or not (the spawn start method's
    resource tracker, started once per process, is not a worker)."""
    before = proc_children(os.getpid())
    faulthandler.dump_traceback_later(60, exit=True)  # a hang fails instead of blocking
    yield
    faulthandler.cancel_dump_traceback_later()
    assert multiprocessing.active_children() == []
    from multiprocessing import resource_tracker
    tracker = {resource_tracker._resource_tracker._pid}
    assert proc_children(os.getpid()) - before - tracker == set()


def run_script(args: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """This file as a script, in a session of its own (killed whole on time-out)."""
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen([sys.executable, str(HERE), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{args} hung for {timeout} s\n{out}\n{err}")
    left = in_session(proc.pid)
    assert left == set(), f"workers outlived their parent: {left}\n{out[-500:]}\n{err}"
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# ----------------------------------------------------------------------------- results

@pytest.mark.parametrize("jobs, chunk", [(1, 1), (2, 1), (3, 1), (2, 3)])
def test_results_in_task_order_and_equal_to_serial(jobs, chunk, no_child_left):
    tasks = range(23)
    serial = [square_late(x) for x in tasks]
    assert list(run_tasks(square_late, iter(tasks), jobs, chunk=chunk)) == serial


def test_no_tasks_starts_no_worker(no_child_left):
    assert list(run_tasks(square_late, [], 2)) == []


def test_spawn_start_method_runs_the_initializer_first(no_child_left):
    results = run_tasks(initialised, range(6), 2, initializer=remember, initargs=("ready",),
                        context="spawn")
    assert list(results) == ["ready"] * 6


def test_a_worker_gets_the_next_task_when_it_is_free(tmp_path, no_child_left):
    # Worker A waits for a file that task 2 creates. Handed out as workers free up, task 2
    # goes to B (A is busy); sent round-robin, or in halves, or two per worker, it would
    # queue behind A's wait and A would give up after 5 s.
    flag = str(tmp_path / "flag")
    tasks = [("wait", flag), ("work", flag), ("set", flag)] + [("work", flag)] * 5
    assert list(run_tasks(hand_out, tasks, 2)) == [True] * 8


def test_stopping_early_stops_the_workers_at_once(no_child_left):
    t0 = time.monotonic()
    with closing(run_tasks(task, [("a", 0.0)] + [("b", LONG)] * 3, 2)) as results:
        assert next(results) == "a"
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize("kwargs", [{"jobs": 0}, {"jobs": 2, "chunk": 0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        run_tasks(square_late, [1], **kwargs)


# ----------------------------------------------------------------------------- failures

def test_a_user_error_keeps_its_problems(no_child_left):
    with pytest.raises(UserError) as exc:
        list(run_tasks(task, [("ok", 0.0), ("b", LONG), ("user-error", 0.0)], 2))
    assert type(exc.value) is UserError and exc.value.problems == [PROBLEM]
    assert "in task" in str(exc.value.__cause__)  # the worker's traceback, for debugging


@pytest.mark.parametrize("kind, type_name, message", [
    ("unpicklable", "Unpicklable", "the lock is mine"),
    ("needs-two", "NeedsTwo", "one and two"),
])
def test_an_exception_that_cannot_cross_becomes_a_remote_error(kind, type_name, message,
                                                               no_child_left):
    with pytest.raises(RemoteError) as exc:
        list(run_tasks(task, [("b", LONG), (kind, 0.0)], 2))
    err = exc.value
    assert err.type_name.endswith(f"test_pool.{type_name}") and err.message == message
    assert "in task" in err.remote_traceback and message in str(err)
    assert pickle.loads(pickle.dumps(err)).remote_traceback == err.remote_traceback


def test_a_result_that_cannot_be_pickled_is_reported(no_child_left):
    with pytest.raises(TypeError, match="pickle"):
        list(run_tasks(task, [("bad-result", 0.0)], 2))


def test_an_initializer_error_is_raised(no_child_left):
    with pytest.raises(UserError) as exc:
        list(run_tasks(task, [("a", 0.0)] * 4, 2, initializer=fail_init))
    assert exc.value.problems == [PROBLEM]


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_a_killed_worker_is_reported_at_once(context, no_child_left):
    with pytest.raises(WorkerDied) as exc:
        list(run_tasks(task, [("ok", 0.0), ("sigkill", 0.0), ("ok", 0.0)], 1, context=context))
    assert exc.value.exitcode == -signal.SIGKILL and exc.value.tasks == (1,)
    assert str(exc.value) == (f"worker process {exc.value.pid} died (killed by signal 9, "
                              "SIGKILL) while running task 1")


# Each mode: tasks, where the failure comes from, what the parent must raise. The driver runs
# it 40 times with the failure at a different moment each time (0 to 39 ms in), checks each
# time that every worker is reaped, and prints how many passed.
MODES = ["user-error", "unpicklable", "sigkill", "exit", "sigint-group", "sigterm",
         "sigterm-group"]


@pytest.mark.parametrize("mode", MODES)
def test_failure_paths_never_hang(mode):
    n = 40
    res = run_script(["loop", mode, str(n)])
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1] == f"{n} ok"
    assert "Traceback" not in res.stderr and "Error" not in res.stderr, res.stderr


@pytest.mark.parametrize("target", ["process", "group"])
def test_sigterm_stops_a_parallel_command_quietly(target):
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen([sys.executable, str(HERE), "command"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "started\n"
        (os.killpg if target == "group" else os.kill)(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM
    assert err == "terminated; no results were written\n"
    assert in_session(proc.pid) == set()


# ----------------------------------------------------------------------------- the driver

def _loop(mode: str, n: int) -> int:
    faulthandler.dump_traceback_later(50, exit=True)
    ok = 0
    for i in range(n):
        _once(mode, delay=0.001 * (i + 1))
        assert multiprocessing.active_children() == []
        assert proc_children(os.getpid()) == set()
        ok += 1
    print(f"{ok} ok")
    return 0


def _once(mode: str, delay: float) -> None:
    sleepers = [("sleep", LONG)] * 3
    if mode in ("user-error", "unpicklable", "sigkill", "exit"):
        expected: type[BaseException] = {"user-error": UserError, "unpicklable": RemoteError,
                                         "sigkill": WorkerDied, "exit": WorkerDied}[mode]
        with pytest.raises(expected) as exc:
            list(run_tasks(task, [sleepers[0], (mode, delay), *sleepers], 2))
        if mode == "exit":
            assert isinstance(exc.value, WorkerDied) and exc.value.exitcode == 3
        return
    signum = signal.SIGINT if mode.startswith("sigint") else signal.SIGTERM
    # Ctrl-C reaches the whole process group; `kill PID` the process only
    to = (os.killpg, os.getpgrp()) if mode.endswith("group") else (os.kill, os.getpid())
    timer = threading.Timer(delay, to[0], (to[1], signum))
    expected = KeyboardInterrupt if signum == signal.SIGINT else Terminated
    try:
        with raise_on_sigterm(), pytest.raises(expected):
            timer.start()
            with closing(run_tasks(task, sleepers, 2)) as results:
                list(results)
    finally:
        timer.join()


def _command() -> int:
    """A command line's shape: results as they come, a message and 143 on SIGTERM."""
    try:
        with raise_on_sigterm():
            with closing(run_tasks(task, [("started", 0.0)] + [("s", LONG)] * 3, 2)) as results:
                for r in results:
                    print(r, flush=True)
    except Terminated as exc:
        print("terminated; no results were written", file=sys.stderr)
        return exc.exit_status
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "loop":
        sys.exit(_loop(sys.argv[2], int(sys.argv[3])))
    sys.exit(_command())
