"""A parallel run from the command line ends promptly and quietly when it is terminated, when
a worker is killed, or when it is interrupted: a clear message, the documented exit status,
no traceback, no results folder, no process left behind (issues 5 and 11)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import simulator

SLOW = """\
name: slow
horizon: 20000
replications: 4
products: [{id: p, holding_cost: 1}]
suppliers: [{id: sup, lead_time: 2}]
warehouses: [{id: w, inventory: {p: {source: sup, policy: {type: sS, s: 20, S: 60}}}}]
customers: [{id: c, warehouse: w, demand: {p: {rate: 50}}}]
"""


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def in_session(sid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def start(tmp_path: Path) -> subprocess.Popen[str]:
    (tmp_path / "slow.yaml").write_text(SLOW)
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "run", "slow.yaml", "--jobs",
                             "2", "--out", "out", "--quiet"], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while len(children(proc.pid)) < 2:  # both workers are running
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "workers never started"
        time.sleep(0.05)
    time.sleep(0.3)
    return proc


def finish(proc: subprocess.Popen[str], tmp_path: Path) -> tuple[int, str]:
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # a hang: fail, and clean up the whole session
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the run did not end within 30 s")
    time.sleep(0.2)
    assert in_session(proc.pid) == [], "processes left behind"
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    return proc.returncode, out + err


def test_sigterm_ends_a_parallel_run_quietly(tmp_path):
    proc = start(tmp_path)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rc, text = finish(proc, tmp_path)
    assert time.monotonic() - t0 < 10
    assert (rc, text.strip()) == (143, "terminated; no results were written")


def test_ctrl_c_to_the_whole_group_ends_a_parallel_run_quietly(tmp_path):
    proc = start(tmp_path)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    rc, text = finish(proc, tmp_path)
    assert (rc, text.strip()) == (130, "interrupted; no results were written")


def test_a_killed_worker_ends_the_run_with_a_clear_message(tmp_path):
    proc = start(tmp_path)
    os.kill(children(proc.pid)[0], signal.SIGKILL)
    rc, text = finish(proc, tmp_path)
    assert rc == 1, text
    assert "Traceback" not in text
    assert "died (killed by signal 9" in text and text.rstrip().endswith(
        "no results were written")


def frames_in_our_code(err: str) -> list[str]:
    """The frames of a printed traceback in the simulator package, except the import of its
    start-up guard (the first line of ours, before which no handler can be in force)."""
    frames = re.findall(r'File "([^"]+)", line (\d+)', err)
    ours = [(f, int(n)) for f, n in frames if f"{os.sep}simulator{os.sep}" in f]
    guard = next(i for i, text in enumerate(Path(simulator.__file__).read_text().splitlines(), 1)
                 if text.startswith("import simulator._startup"))
    return [f"{f}:{n}" for f, n in ours
            if not (f.endswith("_startup.py") or (f.endswith("__init__.py") and n == guard))]


@pytest.mark.parametrize("how", ["module", "script"])
def test_ctrl_c_while_starting_never_prints_a_traceback(tmp_path, how):
    # Ctrl-C at moments spread over the start-up, from the interpreter's own start (not ours:
    # a traceback entirely inside Python's start-up is accepted) until the run is under way.
    # Whenever any of our code has run, the answer is the message and exit 130 (or the
    # results, if the run had finished), never a traceback through our modules.
    cmd = [sys.executable, "-m", "simulator"] if how == "module" else \
        [str(Path(sys.executable).with_name("simulator"))]
    scenario = Path(__file__).resolve().parent.parent / "scenarios" / "quickstart.yaml"
    clean = 0
    for i, delay in enumerate((0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8)):
        proc = subprocess.Popen([*cmd, "run", str(scenario), "--out", str(tmp_path / f"o{i}"),
                                 "--quiet"], cwd=tmp_path, text=True, start_new_session=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        if "Traceback" in err:
            assert frames_in_our_code(err) == [], (delay, err)
            continue
        if proc.returncode == 0:
            assert (tmp_path / f"o{i}" / "run.json").exists()
        else:
            assert (proc.returncode, err) == (130, "interrupted; no results were written\n")
            assert not (tmp_path / f"o{i}").exists()
            clean += 1
    assert clean >= 3  # the interrupt did land in our start-up and run several times
