"""The Dask backend (simulator.experiment.dask_backend): the same rows as serial and process-pool
runs, results in task order, a failing task's exception reaches the caller as itself, identical
calls are not merged, and Dask is only imported when a run asks for it."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

import simulator
from simulator.cli import main
from simulator.errors import PolicyError, Problem, UserError

pytest.importorskip("distributed")

from simulator.experiment import dask_backend  # noqa: E402
from simulator.experiment.runner import dask_chunk  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIO = os.path.join(ROOT, "scenarios", "quickstart.yaml")


@pytest.fixture(scope="module")
def client():
    """One LocalCluster of 2 worker processes for the module's run_tasks tests."""
    with dask_backend.connect("local", 2) as c:
        yield c


def run_tasks(fn, tasks, client, chunk=1):
    # the workers import this module's functions: give them the test's import path
    return list(dask_backend.run_tasks(fn, tasks, initializer=dask_backend.add_path,
                                       initargs=(list(sys.path),), chunk=chunk,
                                       client=client))


def square_late(x: int) -> int:
    time.sleep(0.02 * (x % 3 == 0))  # some tasks finish after later ones
    return x * x


def fail_at_3(x: int) -> int:
    if x == 3:
        raise PolicyError([Problem("pol.py", 7, "warehouses.0.inventory.p.policy", "boom")])
    return x


def draw(_: int) -> str:
    return os.urandom(8).hex()


def frames(res):
    return {"metrics": res.metrics, "summary": res.summary, "warnings": res.warnings,
            "suppliers": res.supplier_metrics, "customers": res.customer_metrics}


@pytest.mark.parametrize("name", ["quickstart.yaml", "spare_part.yaml"])  # spare_part: warnings
def test_dask_local_rows_are_identical_to_serial_and_process_pool(name):
    # 10 replications on 2 workers: chunks of 2 (dask_chunk), so batching is exercised too
    assert dask_chunk(10, 2) == 2
    path = os.path.join(ROOT, "scenarios", name)
    seen: dict[str, list[dict]] = {"serial": [], "pool": [], "dask": []}
    kwargs = dict(replications=10, seed=4, progress=False)
    serial = simulator.run(path, jobs=1, on_warning=seen["serial"].append, **kwargs)
    pool = simulator.run(path, jobs=2, on_warning=seen["pool"].append, **kwargs)
    dask = simulator.run(path, jobs=2, dask="local", on_warning=seen["dask"].append, **kwargs)
    assert dask.info["dask"] == "local" and dask.info["jobs"] == 2
    for table, frame in frames(serial).items():
        pd.testing.assert_frame_equal(frames(pool)[table], frame, obj=f"pool {table}")
        pd.testing.assert_frame_equal(frames(dask)[table], frame, obj=f"dask {table}")
    assert serial.metrics["replication"].tolist() == sorted(serial.metrics["replication"])
    assert seen["dask"] == seen["pool"]  # the calls of worker processes: in replication order
    assert len(seen["dask"]) == len(serial.warnings)
    assert (len(serial.warnings) > 0) == (name == "spare_part.yaml")


def test_a_running_scheduler_is_joined_by_its_address(client):
    # what `--dask tcp://host:8786` does (the module's cluster stands in for a remote one)
    address = client.scheduler.address
    assert address.startswith("tcp://127.0.0.1:")
    kwargs = dict(replications=3, seed=2, progress=False)
    joined = simulator.run(SCENARIO, dask=address, **kwargs)
    serial = simulator.run(SCENARIO, **kwargs)
    pd.testing.assert_frame_equal(joined.metrics, serial.metrics)
    assert joined.info["dask"] == address
    assert len(client.nthreads()) == 2  # its workers are still there: not ours to stop


def test_an_unreachable_scheduler_is_a_user_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(dask_backend, "CONNECT_TIMEOUT", 0.5)
    with pytest.raises(UserError) as exc:
        simulator.run(SCENARIO, dask="tcp://127.0.0.1:1", progress=False)
    assert str(exc.value).startswith("<arguments>: dask: cannot reach a Dask scheduler at "
                                     "tcp://127.0.0.1:1: ")
    assert main(["run", SCENARIO, "--dask", "tcp://127.0.0.1:1", "--quiet",
                 "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith(
        "<command line>: --dask: cannot reach a Dask scheduler at tcp://127.0.0.1:1: ")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("chunk", [1, 3])
def test_results_come_in_task_order(client, chunk):
    tasks = list(range(11))
    assert run_tasks(square_late, iter(tasks), client, chunk) == [x * x for x in tasks]


def test_no_tasks_no_results(client):
    assert run_tasks(square_late, [], client) == []


def test_identical_tasks_are_not_merged(client):
    # pure=False: six submissions of the same call are six runs, not one result shared
    assert len(set(run_tasks(draw, [0] * 6, client))) == 6


def test_a_user_error_in_a_task_reaches_the_caller_as_itself(client):
    with pytest.raises(PolicyError) as exc:
        run_tasks(fail_at_3, range(8), client, chunk=2)
    assert isinstance(exc.value, UserError)
    assert exc.value.problems == [Problem("pol.py", 7, "warehouses.0.inventory.p.policy",
                                          "boom")]
    # the cluster is still usable afterwards
    assert run_tasks(square_late, range(4), client) == [0, 1, 4, 9]


def die_at_2(task: tuple[int, str]) -> int:
    x, log = task
    if x == 2:
        with open(log, "a") as f:  # one line per attempt
            f.write("attempt\n")
        os.kill(os.getpid(), 9)  # SIGKILL: the worker process dies mid-task
    return x


def test_a_worker_that_dies_stops_the_run_with_worker_died(client, tmp_path):
    from simulator.experiment.pool import WorkerDied

    log = str(tmp_path / "attempts")
    with pytest.raises(WorkerDied) as exc:
        run_tasks(die_at_2, [(x, log) for x in range(6)], client)
    assert isinstance(exc.value, dask_backend.DaskWorkerDied)
    # the task named is one that was on the dead worker: task 2, or one queued there with it
    # (the scheduler fails every task the worker held; which comes first varies with timing)
    assert len(exc.value.tasks) >= 1 and set(exc.value.tasks) <= {0, 1, 2, 3, 4, 5}
    assert str(exc.value).startswith("a Dask worker died while running task")
    # as with the process pool: not retried on another worker (Dask's default: 3 retries)
    assert open(log).read() == "attempt\n"
    client.wait_for_workers(2, timeout=30)  # its nanny starts a new one
    assert run_tasks(square_late, range(4), client) == [0, 1, 4, 9]


def test_a_users_policy_failing_on_dask_ends_as_file_line_and_exit_2(tmp_path, capsys,
                                                                       monkeypatch):
    (tmp_path / "userpol_dask.py").write_text(textwrap.dedent('''
        class Broken:
            review_period = 0

            def order_quantity(self, view):
                if view.time > 3:
                    return 1 / 0
                return 1.0
    '''))
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent("""\
        name: user
        horizon: 40
        replications: 2
        products: [{id: p, holding_cost: 1}]
        suppliers: [{id: s, lead_time: 1}]
        warehouses:
          - id: w
            inventory:
              p: {source: s, policy: {type: "userpol_dask:Broken"}}
        customers:
          - {id: c, warehouse: w, demand: {p: {rate: 3}}}
    """))
    monkeypatch.chdir(tmp_path)
    status = main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet",
                   "--dask", "local", "--jobs", "2"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    assert err.startswith(f"{tmp_path / 'userpol_dask.py'}:7: warehouses.0.inventory.p.policy: ")
    assert "ZeroDivisionError" in err
    assert not (tmp_path / "out").exists()


def test_missing_dask_is_a_clear_message_and_exit_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    assert main(["run", SCENARIO, "--dask", "local", "--quiet",
                 "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == \
        '<command line>: --dask: install the dask extra: pip install ".[dask]"\n'
    with pytest.raises(UserError) as exc:
        simulator.run(SCENARIO, dask="local", progress=False)
    assert str(exc.value) == '<arguments>: dask: install the dask extra: pip install ".[dask]"'
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("bad", ["", "  ", 8786, "tcp://x\n"])
def test_a_bad_address_is_a_user_error(bad):
    with pytest.raises(UserError) as exc:
        simulator.run(SCENARIO, dask=bad, progress=False)
    assert str(exc.value).startswith("<arguments>: dask: expected 'local' ")


def test_importing_simulator_does_not_import_dask():
    code = ("import sys, simulator, simulator.cli, simulator.experiment.runner, "
            "simulator.experiment.dask_backend; simulator.run; "
            "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("tasks, slots, chunk", [(1, 2, 1), (8, 2, 1), (9, 2, 2), (10, 2, 2),
                                                 (10_000, 2, 50), (100, 64, 1)])
def test_chunks_give_each_worker_about_four_tasks_at_most_50_replications(tasks, slots, chunk):
    assert dask_chunk(tasks, slots) == chunk


SLOW = """\
name: slow
horizon: 200000
replications: 4
products: [{id: p, holding_cost: 1}]
suppliers: [{id: sup, lead_time: 2}]
warehouses: [{id: w, inventory: {p: {source: sup, policy: {type: sS, s: 20, S: 60}}}}]
customers: [{id: c, warehouse: w, demand: {p: {rate: 50}}}]
"""


def in_session(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
                if os.getsid(int(entry)) == sid and state != "Z":
                    found.append(int(entry))
            except OSError:
                continue
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_a_dask_run_quietly_and_leaves_no_process(tmp_path):
    import signal

    (tmp_path / "slow.yaml").write_text(SLOW)
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "run", "slow.yaml", "--jobs",
                             "2", "--dask", "local", "--out", "out", "--quiet"], cwd=tmp_path,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while len(in_session(proc.pid)) < 4:  # this process, the tracker, two workers
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "workers never started"
        time.sleep(0.05)
    # The workers are running replications (each takes ~15 s or more) once each has used a
    # few seconds of CPU: importing distributed takes about one. A fixed wait was not enough
    # on a loaded machine (a worker still importing printed a traceback when interrupted).
    while sum(cpu_seconds(pid) >= 3.0 for pid in in_session(proc.pid) if pid != proc.pid) < 2:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline + 60, "workers never got going"
        time.sleep(0.1)
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the run did not end within 30 s")
    assert time.monotonic() - t0 < 8  # not after the running replications (~15 s each)
    assert (proc.returncode, (out + err).strip()) == (130, "interrupted; no results were written")
    while in_session(proc.pid) and time.monotonic() - t0 < 10:
        time.sleep(0.1)
    assert in_session(proc.pid) == [], "processes left behind"
    assert not (tmp_path / "out").exists()
