"""The results folder never loses data (simulator.outdir; issue 5, item 1).

Every finding has a test that failed on the code this module replaced (``check_out`` +
``_swap_in`` in simulator/results.py before issue 5: 34 of these tests failed when driven
through that code, see the issue's note).

Real kernel mechanisms are used where the sandbox allows (tmpfs mounts, ``chattr +i``,
SIGKILL, racing processes); each has a monkeypatched twin raising the real errno, so
the path is exercised even where ``mount`` is not permitted.
"""
from __future__ import annotations

import ctypes
import errno
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import simulator.outdir as outdir
from simulator.errors import Problem, UserError

FORK = multiprocessing.get_context("fork")
FILES = ("metrics.csv", "summary.csv", "run.json")  # what `writer` writes, run.json last
HIDDEN = re.compile(r"^\.out\.(tmp|old|probe)-[0-9a-z_]{8}$")  # documented leftovers
impl: Any = outdir


# -- helpers --------------------------------------------------------------------------------

def writer(tag: str, delay: float = 0.0) -> Callable[[Path], None]:
    """Write FILES, each holding ``tag`` (run.json also the producer marker), run.json last."""
    def write(folder: Path) -> None:
        for name in FILES:
            if delay:
                time.sleep(delay)
            text = json.dumps({"producer": "simulator", "tag": tag}) if name == "run.json" \
                else tag
            (folder / name).write_text(text)
    return write


def results_folder(folder: Path, tag: str = "old") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    writer(tag)(folder)
    return folder


def tags(folder: Path) -> set[str]:
    """The tags found in a folder written by `writer` (one tag: consistent); a file
    created but not yet written by a killed process is empty and has none."""
    found = set()
    for p in folder.iterdir():
        text = p.read_text()
        if not text:
            continue
        found.add(json.loads(text)["tag"] if p.name == "run.json" else text)
    return found


def complete(folder: Path, tag: str) -> bool:
    return sorted(p.name for p in folder.iterdir()) == sorted(FILES) and tags(folder) == {tag}


def snapshot(folder: Path) -> dict[str, Any]:
    """Every entry under ``folder`` with its type, content and mtime."""
    out: dict[str, Any] = {}
    for p in sorted(folder.rglob("*")):
        st = p.lstat()
        content = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
        out[str(p.relative_to(folder))] = (stat.S_IFMT(st.st_mode), content, st.st_mtime_ns)
    return out


def refused(target: Path, overwrite: bool = False) -> str:
    """Call preflight, assert one problem of the documented form, return its message."""
    with pytest.raises(UserError) as info:
        impl.preflight(target, overwrite)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.key) == (str(target), None, "out")
    return problem.message


def can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return True


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount small tmpfs filesystems (skips where mounting is not permitted)."""
    mounted: list[Path] = []

    def mount(where: Path, options: str = "size=64k") -> Path:
        if not can_mount():
            pytest.skip("mount is not available")
        where.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                              capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount tmpfs: {done.stderr.decode().strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], check=False)


# -- finding 1: --overwrite replaces only results folders of this tool ----------------------

def foreign_folder(target: Path) -> None:
    (target / "sub").mkdir(parents=True)
    (target / "budget.xlsx").write_bytes(b"PK\x03\x04 spreadsheet")
    (target / "sub" / "notes.txt").write_text("keep me\n")


def results_plus_notes(target: Path) -> None:
    results_folder(target)
    (target / "notes.txt").write_text("mine\n")


def foreign_run_json(target: Path) -> None:
    target.mkdir()
    (target / "run.json").write_text('{"name": "another tool", "version": "1"}')
    (target / "metrics.csv").write_text("x\n")


def broken_run_json(target: Path) -> None:
    target.mkdir()
    (target / "run.json").write_text('{"producer": "simulator", ')


def plots_with_a_subfolder(target: Path) -> None:
    results_folder(target)
    (target / "plots" / "drafts").mkdir(parents=True)


def plots_as_a_file(target: Path) -> None:
    results_folder(target)
    (target / "plots").write_text("not the plots folder\n")


def symlinked_result(target: Path) -> None:
    results_folder(target)
    (target / "elsewhere.csv").write_text("precious\n")
    (target / "metrics.csv").unlink()
    (target / "metrics.csv").symlink_to(target / "elsewhere.csv")


def legacy_plus_foreign(target: Path) -> None:
    target.mkdir()
    (target / "run.json").write_text('{"version": "0.1", "seed": 1}')
    (target / "metrics.csv").write_text("x\n")
    (target / "customer_metrics.csv").write_text("not written by the old version\n")


def no_run_json(target: Path) -> None:
    target.mkdir()
    (target / "metrics.csv").write_text("x\n")
    (target / "summary.csv").write_text("x\n")


@pytest.mark.parametrize("make", [foreign_folder, results_plus_notes, foreign_run_json,
                                  broken_run_json, plots_with_a_subfolder, plots_as_a_file,
                                  symlinked_result, legacy_plus_foreign, no_run_json])
def test_overwrite_refuses_what_this_tool_did_not_write(tmp_path, make):
    target = tmp_path / "out"
    make(target)
    before = snapshot(tmp_path)
    message = refused(target, overwrite=True)
    assert "not a results folder of this tool" in message
    assert snapshot(tmp_path) == before


def test_overwrite_refusal_names_the_foreign_entries(tmp_path):
    target = tmp_path / "out"
    foreign_folder(target)
    assert refused(target, overwrite=True) == (
        "already exists and is not a results folder of this tool (it holds budget.xlsx, sub); "
        "overwrite=True only replaces an empty folder or one this tool wrote")


def test_messages_name_the_callers_flag(tmp_path):
    target = results_folder(tmp_path / "out")
    with pytest.raises(UserError) as exc:
        outdir.preflight(target, False, "--overwrite")
    assert str(exc.value).endswith("choose another folder or pass --overwrite")


def legacy_results(target: Path) -> None:
    target.mkdir()
    for name in sorted(outdir.LEGACY_NAMES):
        (target / name).write_text("x\n")
    (target / "run.json").write_text('{"version": "0.1.0", "seed": 7, "replications": 3}')


def legacy_subset(target: Path) -> None:
    target.mkdir()
    (target / "run.json").write_text('{"version": "0.1.0", "seed": 7}')
    (target / "metrics.csv").write_text("x\n")


def every_output(target: Path) -> None:
    target.mkdir()
    for name in outdir.RESULT_NAMES:
        if name.endswith("/"):
            (target / name).mkdir()
            (target / name / "fill_rate.png").write_bytes(b"\x89PNG")
        else:
            (target / name).write_text("x\n")
    (target / "run.json").write_text(json.dumps({**outdir.RUN_MARKER, "seed": 1}))


@pytest.mark.parametrize("make", [results_folder, legacy_results, legacy_subset, every_output,
                                  lambda t: t.mkdir()])
def test_overwrite_replaces_results_folders_and_empty_ones(tmp_path, make):
    target = tmp_path / "out"
    make(target)
    assert impl.publish(impl.preflight(target, True), writer("new")) == target
    assert complete(target, "new")
    assert os.listdir(tmp_path) == ["out"]  # the old results are gone, nothing hidden


def test_non_empty_folder_refused_without_overwrite(tmp_path):
    target = results_folder(tmp_path / "out")
    before = snapshot(tmp_path)
    assert refused(target) == ("already exists and is not empty; choose another folder or "
                               "pass overwrite=True")
    assert snapshot(tmp_path) == before


def test_marker_and_names():
    assert dict(outdir.RUN_MARKER) == {"producer": "simulator"}
    assert {"metrics.csv", "summary.csv", "scenario.yaml", "run.json", "warnings.csv",
            "customer_metrics.csv", "supplier_metrics.csv", "sweep.parquet", "sweep.csv",
            "points.csv", "report.html", "plots/", "best.yaml", "trace.csv",
            "timeseries.parquet", "optimize.json"} == outdir.RESULT_NAMES
    assert outdir.LEGACY_NAMES < outdir.RESULT_NAMES


def test_folder_changed_during_the_run_is_not_replaced(tmp_path):
    target = results_folder(tmp_path / "out")
    claim = outdir.preflight(target, overwrite=True)
    (target / "notes.txt").write_text("written while the run was running\n")
    before = snapshot(target)
    with pytest.raises(outdir.ResultsDiverted) as info:
        outdir.publish(claim, writer("new"))
    assert info.value.path == tmp_path / "out-2"
    assert snapshot(target) == before
    assert complete(tmp_path / "out-2", "new")
    assert sorted(os.listdir(tmp_path)) == ["out", "out-2"]


# -- finding 2: concurrent runs and kills ---------------------------------------------------

def racer(target: Path, tag: str, overwrite: bool, barrier: Any, queue: Any) -> None:
    """One run: claim before the (simulated) run, then publish after the others claimed."""
    random.seed(tag)
    try:
        claim = impl.preflight(target, overwrite)
    except UserError as exc:
        queue.put((tag, "refused", str(exc)))
        return
    barrier.wait()
    time.sleep(random.random() * 0.002)
    try:
        path = impl.publish(claim, writer(tag, delay=random.random() * 0.001))
    except UserError as exc:
        queue.put((tag, "diverted", str(getattr(exc, "path", exc))))
        return
    queue.put((tag, "written", str(path)))


def race(target: Path, n: int, overwrite: bool) -> dict[str, tuple[str, str]]:
    barrier, queue = FORK.Barrier(n), FORK.Queue()
    procs = [FORK.Process(target=racer, args=(target, f"run{i}", overwrite, barrier, queue))
             for i in range(n)]
    for p in procs:
        p.start()
    outcome = {}
    for _ in procs:
        tag, what, where = queue.get(timeout=30)
        outcome[tag] = (what, where)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    return outcome


def assert_nothing_lost(parent: Path, target: Path, outcome: dict[str, tuple[str, str]]) -> None:
    written = [tag for tag, (what, _) in outcome.items() if what == "written"]
    assert len(written) == 1, outcome  # only one run may say "results written to out"
    assert complete(target, written[0])
    siblings = set()
    for tag, (what, where) in outcome.items():
        if what == "diverted":  # the others' results are complete where the error says
            assert complete(Path(where), tag), (tag, where)
            siblings.add(Path(where).name)
    assert sorted(os.listdir(parent)) == sorted({target.name, *siblings})  # nothing hidden


@pytest.mark.parametrize("n, trials", [(2, 30), (3, 10)])
def test_concurrent_runs_to_one_new_folder_lose_nothing(tmp_path, n, trials):
    for trial in range(trials):
        parent = tmp_path / str(trial)
        parent.mkdir()
        target = parent / "out"
        assert_nothing_lost(parent, target, race(target, n, overwrite=False))


def test_concurrent_overwrites_replace_only_the_folder_they_checked(tmp_path):
    for trial in range(20):
        parent = tmp_path / str(trial)
        target = results_folder(parent / "out", "old")
        assert_nothing_lost(parent, target, race(target, 2, overwrite=True))


def test_concurrent_runs_without_renameat2_or_flock_where_one_is_missing(tmp_path,
                                                                        monkeypatch):
    # no renameat2 (other OS, old libc): the parent lock still makes check+rename atomic
    monkeypatch.setattr(outdir, "_renameat2_fn", lambda: None)
    for trial in range(10):
        parent = tmp_path / str(trial)
        parent.mkdir()
        assert_nothing_lost(parent, parent / "out", race(parent / "out", 2, overwrite=False))


def events_child(target: Path, kill_at: int, overwrite: bool, fallback: bool) -> None:
    """Publish, SIGKILLing this process right before filesystem event number ``kill_at``.

    Events: each file the writer writes, each rename (os.rename, os.replace, renameat2)
    and each unlink of the clean-up.
    """
    count = [0]

    def event() -> None:
        count[0] += 1
        if count[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def hooked(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            event()
            return fn(*args, **kwargs)
        return call

    for name in ("rename", "replace", "unlink"):
        setattr(os, name, hooked(getattr(os, name)))
    if fallback:
        outdir._renameat2_fn = lambda: None  # type: ignore[assignment]
    outdir._rename2 = hooked(outdir._rename2)  # type: ignore[assignment]

    def write(folder: Path) -> None:
        for name in FILES:
            event()
            text = json.dumps({"producer": "simulator", "tag": "new"}) \
                if name == "run.json" else "new"
            (folder / name).write_text(text)

    impl.publish(impl.preflight(target, overwrite), write)
    os._exit(0)


def assert_safe_after_kill(parent: Path, target: Path, had_old: bool, fallback: bool) -> str:
    """The target holds the old results intact or the new ones complete, never missing;
    everything else is a documented hidden leftover with consistent content."""
    state = "missing"
    if target.exists():
        state = "new" if complete(target, "new") else "old"
        assert state == "new" or (had_old and complete(target, "old"))
    old_aside = False
    for name in os.listdir(parent):
        if name == target.name:
            continue
        match = HIDDEN.match(name)
        assert match, f"undocumented leftover {name}"
        content = tags(parent / name)
        assert len(content) <= 1
        if match[1] == "probe":  # an empty folder from a killed preflight
            assert os.listdir(parent / name) == []
        elif match[1] == "tmp":  # new results (partial or complete), or old after an exchange
            assert content <= {"new"} or complete(parent / name, "old")
        else:  # old results awaiting deletion, possibly partly deleted
            assert content <= {"old"}
            old_aside = old_aside or complete(parent / name, "old")
    if state == "missing" and had_old:  # only the documented fallback window: kept aside
        assert fallback and old_aside, os.listdir(parent)
    return state


@pytest.mark.parametrize("overwrite, fallback", [
    (False, False), (True, False),
    pytest.param(True, True),
])
def test_kill_at_every_step_never_loses_the_folder(tmp_path, overwrite, fallback):
    states = []
    for kill_at in range(1, 40):
        parent = tmp_path / str(kill_at)
        parent.mkdir()
        target = parent / "out"
        if overwrite:
            results_folder(target, "old")
        child = FORK.Process(target=events_child, args=(target, kill_at, overwrite, fallback))
        child.start()
        child.join(timeout=30)
        states.append(assert_safe_after_kill(parent, target, overwrite, fallback))
        if child.exitcode == 0:  # ran to the end: nothing was killed any more
            assert complete(target, "new") and os.listdir(parent) == ["out"]
            break
        assert child.exitcode == -signal.SIGKILL
    else:
        pytest.fail("publish never finished")
    assert "new" in states and ("old" in states or "missing" in states or not overwrite)


def looping_child(target: Path) -> None:
    """Replace ``target`` again and again until killed."""
    n = 0
    while True:
        n += 1
        tag = "new" if n % 2 else "old"
        impl.publish(impl.preflight(target, True), writer(tag, delay=0.0005))


def test_sigkill_at_random_moments_never_loses_the_folder(tmp_path):
    rng = random.Random(5)
    for trial in range(20):
        parent = tmp_path / str(trial)
        target = results_folder(parent / "out", "old")
        child = FORK.Process(target=looping_child, args=(target,))
        child.start()
        time.sleep(0.01 + rng.random() * 0.03)
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
        assert target.is_dir(), os.listdir(parent)  # never missing
        assert complete(target, "old") or complete(target, "new")
        for name in os.listdir(parent):  # documented leftovers, each of one run only
            match = HIDDEN.match(name)
            assert name == "out" or match, name
            assert len(tags(parent / name)) <= 1
            assert not match or match[1] != "probe" or os.listdir(parent / name) == []


# -- finding 3: unwritable targets are refused before the run --------------------------------

def test_read_only_mount_refused_before_the_run(tmp_path, tmpfs):
    mnt = tmpfs(tmp_path / "mnt", "size=64k,ro")
    assert "read-only file system (EROFS)" in refused(mnt / "out")
    assert "read-only file system (EROFS)" in refused(mnt / "deeper" / "out")
    assert os.listdir(mnt) == []


def test_read_only_remounted_results_refused_and_untouched(tmp_path, tmpfs):
    mnt = tmpfs(tmp_path / "mnt")
    target = results_folder(mnt / "out")
    subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
    before = snapshot(mnt)
    assert "read-only file system (EROFS)" in refused(target, overwrite=True)
    assert snapshot(mnt) == before


def test_mount_point_as_target_refused(tmp_path, tmpfs):
    target = tmpfs(tmp_path / "out")
    assert "mount point" in refused(target)
    assert "mount point" in refused(target, overwrite=True)
    assert os.listdir(target) == [] and os.listdir(tmp_path) == ["out"]


def test_mount_point_refused_without_mounting(tmp_path, monkeypatch):
    target = tmp_path / "out"
    target.mkdir()
    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: str(p) == str(target) or real(p))
    assert "mount point" in refused(target)


def test_immutable_parent_refused(tmp_path):
    parent = tmp_path / "frozen"
    parent.mkdir()
    if subprocess.run(["chattr", "+i", str(parent)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        message = refused(parent / "out")
        assert "operation not permitted (EPERM)" in message
        assert os.listdir(parent) == []
    finally:
        subprocess.run(["chattr", "-i", str(parent)], check=True)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_read_only_folder_refused(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir(mode=0o555)
    try:
        assert "permission denied (EACCES)" in refused(parent / "out")
    finally:
        parent.chmod(0o755)


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.EPERM, errno.ENOSPC,
                                  errno.EDQUOT], ids=errno.errorcode.get)
def test_parent_refusing_a_folder_is_found_by_trying(tmp_path, monkeypatch, code):
    real_mkdir = os.mkdir

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if Path(path).parent == tmp_path:
            raise OSError(code, os.strerror(code), str(path))
        real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    message = refused(tmp_path / "out")
    assert f"({errno.errorcode[code]})" in message
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_unreadable_folder_refused(tmp_path):
    target = tmp_path / "out"
    target.mkdir(mode=0o311)
    try:
        assert "cannot read it: permission denied" in refused(target, overwrite=True)
    finally:
        target.chmod(0o755)


def test_unreadable_folder_refused_as_root_too(tmp_path, monkeypatch):
    target = results_folder(tmp_path / "out")
    real = os.listdir

    def listdir(path: Any = ".") -> list[str]:
        if Path(path) == target:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path)

    monkeypatch.setattr(os, "listdir", listdir)
    assert "cannot read it: permission denied (EACCES)" in refused(target, overwrite=True)


def test_path_under_a_file_refused(tmp_path):
    (tmp_path / "afile").write_text("x\n")
    assert "afile is a file" in refused(tmp_path / "afile" / "sub" / "out")
    assert (tmp_path / "afile").read_text() == "x\n"


def test_name_over_name_max_refused(tmp_path):
    message = refused(tmp_path / ("é" * 128))  # 256 bytes in UTF-8, 128 characters
    assert "is 256 bytes long; at most 255 are allowed" in message
    assert os.listdir(tmp_path) == []


def test_path_over_path_max_refused(tmp_path):
    deep = tmp_path.joinpath(*(["d" * 200] * 21))  # > 4096 bytes
    assert "the path is" in refused(deep / "out")
    assert os.listdir(tmp_path) == []


def test_longest_allowed_name_is_written(tmp_path):
    target = tmp_path / ("r" * 255)  # the temporary sibling's name must be shortened
    assert impl.publish(impl.preflight(target), writer("new")) == target
    assert complete(target, "new") and os.listdir(tmp_path) == [target.name]


def test_longest_name_is_diverted_to_a_shortened_sibling(tmp_path):
    target = tmp_path / ("r" * 255)
    claim = outdir.preflight(target)
    results_folder(target, "other")  # another run got there first
    with pytest.raises(outdir.ResultsDiverted) as info:
        outdir.publish(claim, writer("new"))
    assert info.value.path == tmp_path / ("r" * 253 + "-2")
    assert complete(info.value.path, "new") and complete(target, "other")


def test_file_and_symlink_targets_refused(tmp_path):
    (tmp_path / "file").write_text("x\n")
    assert refused(tmp_path / "file", overwrite=True) == "exists and is not a folder"
    results_folder(tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert "symbolic link" in refused(tmp_path / "link", overwrite=True)
    assert complete(tmp_path / "real", "old")


# -- finding 4: a full disk is a clear error and the old folder stays ------------------------

def big_writer(folder: Path) -> None:
    (folder / "metrics.csv").write_bytes(b"0" * 200_000)  # more than the 64k filesystem
    writer("new")(folder)


def test_full_disk_on_a_real_small_filesystem(tmp_path, tmpfs):
    mnt = tmpfs(tmp_path / "mnt", "size=64k")
    target = results_folder(mnt / "out")
    before = snapshot(mnt)
    with pytest.raises(UserError) as info:
        impl.publish(impl.preflight(target, True), big_writer)
    (problem,) = info.value.problems
    assert (problem.file, problem.key) == (str(target), "out")
    assert "no space left on device (ENOSPC)" in problem.message
    assert snapshot(mnt) == before  # the old results intact, no temporary folder left


@pytest.mark.parametrize("existing", [True, False])
def test_full_disk_error_is_a_user_error(tmp_path, existing):
    target = tmp_path / "out"
    if existing:
        results_folder(target)
    before = snapshot(tmp_path)

    def full(folder: Path) -> None:
        (folder / "metrics.csv").write_text("half\n")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "summary.csv"))

    with pytest.raises(UserError) as info:
        impl.publish(impl.preflight(target, True), full)
    assert "no space left on device (ENOSPC)" in str(info.value)
    assert snapshot(tmp_path) == before


def test_other_errors_of_the_writer_pass_through_and_leave_nothing(tmp_path):
    target = results_folder(tmp_path / "out")
    before = snapshot(tmp_path)

    def buggy(folder: Path) -> None:
        (folder / "metrics.csv").write_text("half\n")
        raise KeyError("a bug, not the disk")

    with pytest.raises(KeyError):
        outdir.publish(outdir.preflight(target, True), buggy)
    assert snapshot(tmp_path) == before


# -- mechanics ------------------------------------------------------------------------------

def test_folder_mode_follows_umask(tmp_path):
    old = os.umask(0o027)
    try:
        target = impl.publish(impl.preflight(tmp_path / "a" / "out"), writer("new"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o750


@pytest.mark.parametrize("how", ["missing", "einval"])
def test_without_renameat2_the_fallback_still_replaces(tmp_path, monkeypatch, how):
    def einval(*args: Any) -> int:
        ctypes.set_errno(errno.EINVAL)
        return -1

    monkeypatch.setattr(outdir, "_renameat2_fn", lambda: None if how == "missing" else einval)
    target = results_folder(tmp_path / "out")
    assert outdir.publish(outdir.preflight(target, True), writer("new")) == target
    assert complete(target, "new") and os.listdir(tmp_path) == ["out"]
    claim = outdir.preflight(tmp_path / "next")
    results_folder(tmp_path / "next", "other")  # another run got there first
    with pytest.raises(outdir.ResultsDiverted):
        outdir.publish(claim, writer("b"))
    assert complete(tmp_path / "next", "other") and complete(tmp_path / "next-2", "b")
    assert sorted(os.listdir(tmp_path)) == ["next", "next-2", "out"]


def test_fallback_restores_the_old_folder_when_the_second_rename_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(outdir, "_renameat2_fn", lambda: None)
    target = results_folder(tmp_path / "out")
    real = os.rename

    def rename(src: Any, dst: Any) -> None:
        if Path(dst) == target and ".tmp-" in str(src):  # the new folder into place
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(src))
        real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    claim = outdir.preflight(target, True)
    with pytest.raises(outdir.ResultsDiverted) as info:
        outdir.publish(claim, writer("new"))
    assert "input/output error (EIO)" in str(info.value)
    assert complete(target, "old") and complete(tmp_path / "out-2", "new")
    assert sorted(os.listdir(tmp_path)) == ["out", "out-2"]


def test_without_flock_a_single_run_still_works(tmp_path, monkeypatch):
    import fcntl

    def no_lock(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_lock)
    target = results_folder(tmp_path / "out")
    assert outdir.publish(outdir.preflight(target, True), writer("new")) == target
    assert complete(target, "new") and os.listdir(tmp_path) == ["out"]


def test_diverted_error_survives_pickling():
    import pickle

    exc = outdir.ResultsDiverted([Problem("out", None, "out", "m")], Path("out-2"))
    again = pickle.loads(pickle.dumps(exc))
    assert (again.problems, again.path) == (exc.problems, exc.path)
