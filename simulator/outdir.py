"""Claiming and publishing a results folder without ever losing data.

Two steps, so that a folder that cannot be written is refused *before* a long run:

* :func:`preflight` (called by the CLI before simulating, and by ``Results.save``)
  checks that the folder can be written and may be replaced, and returns a
  :class:`Claim`. It changes nothing but briefly creating and removing a probe folder.
* :func:`publish` writes everything into a hidden sibling ``.NAME.tmp-<random>``
  (same parent, so the same filesystem) and then, in one atomic step serialised per
  parent folder, puts it in place:

  - a missing target: ``renameat2(RENAME_NOREPLACE)``;
  - an empty folder: ``rename`` (which replaces only an *empty* folder);
  - with ``overwrite``, the folder seen by :func:`preflight`, if it is still
    recognisably ours (:func:`is_results_folder`): ``renameat2(RENAME_EXCHANGE)``;
    the old results then sit under the hidden name and are deleted;
  - anything else (another run got there first, the folder changed, the rename
    failed): the new results are kept in a visible sibling ``NAME-2`` (``-3``, ...)
    and :class:`ResultsDiverted` (a :class:`~simulator.errors.UserError`) says where.

What can remain after the process is killed at any point is listed in
docs/results-folder.md.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from simulator.errors import Problem, UserError

#: Key and value this tool writes into ``run.json``; the lead merges it into ``Results.info``.
RUN_MARKER: Final = MappingProxyType({"producer": "simulator"})

#: Every name this tool writes into a results folder; a trailing ``/`` marks a folder.
#: New outputs (plots, reports, sweeps, ...) must be added here, or ``--overwrite``
#: will refuse to replace folders that hold them.
RESULT_NAMES: Final = frozenset({
    "metrics.csv", "summary.csv", "scenario.yaml", "run.json", "warnings.csv",
    "customer_metrics.csv", "supplier_metrics.csv", "sweep.parquet", "sweep.csv",
    "points.csv", "report.html", "plots/", "best.yaml", "trace.csv", "timeseries.parquet",
    "optimize.json",
})

#: What the version before :data:`RUN_MARKER` wrote (its run.json has "version" and "seed").
LEGACY_NAMES: Final = frozenset({
    "metrics.csv", "summary.csv", "scenario.yaml", "run.json", "warnings.csv",
})

_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2  # linux/fs.h
_AT_FDCWD = -100
_RUN_JSON_LIMIT = 4 << 20  # bytes; a run.json larger than this is not ours
_PATH_MARGIN = 64  # bytes kept free below PATH_MAX for the names written inside


@dataclass(frozen=True)
class Claim:
    """A checked results folder, from :func:`preflight`, to pass to :func:`publish`.

    Attributes
    ----------
    target : Path
        The folder as the user named it (used in messages and returned).
    path : Path
        The same folder, absolute and normalised.
    overwrite : bool
        Whether a results folder of this tool may be replaced.
    existing : tuple of int, or None
        ``(st_dev, st_ino)`` of the folder found at :attr:`path`, None if there was
        none. Only that very folder may be replaced, never one another run put there.
    """

    target: Path
    path: Path
    overwrite: bool
    existing: tuple[int, int] | None


class ResultsDiverted(UserError):
    """The results were written, but to :attr:`path` instead of the requested folder."""

    def __init__(self, problems: list[Problem], path: Path):
        super().__init__(problems)
        self.path = path

    def __reduce__(self) -> tuple[type, tuple[list[Problem], Path]]:  # type: ignore[override]
        return (type(self), (self.problems, self.path))


# -- public API -----------------------------------------------------------------------------

def preflight(target: str | os.PathLike[str], overwrite: bool = False,
              flag: str = "overwrite=True") -> Claim:
    """Check that ``target`` can become a results folder; change nothing.

    Parameters
    ----------
    target : str or path-like
        The results folder to write.
    overwrite : bool
        Allow replacing an existing results folder of this tool (never anything else).
    flag : str
        How the caller's user asks for ``overwrite`` (``--overwrite`` on the command
        line), for the messages.

    Returns
    -------
    Claim
        To pass to :func:`publish`.

    Raises
    ------
    UserError
        With one problem ``TARGET: out: message`` if the folder is not usable: a file
        or a non-empty folder is in the way, the name or path is too long, the folder
        is a mount point or unreadable, or the filesystem refuses to create a folder
        there (read-only, permission denied, no space, ...).
    """
    shown = Path(target)
    path = Path(os.path.abspath(shown))
    if path.name in ("", ".", ".."):
        raise _error(shown, "cannot be the root folder")
    _check_lengths(shown, path)
    existing = _inspect(shown, path, overwrite, flag)
    _probe(shown, path)
    return Claim(shown, path, overwrite, existing)


def publish(claim: Claim, write: Callable[[Path], None]) -> Path:
    """Write a results folder with ``write`` and put it in place atomically.

    Parameters
    ----------
    claim : Claim
        From :func:`preflight`.
    write : callable
        Called with an empty folder; writes every file of the results into it
        (ideally ``run.json`` last, so that a complete folder is recognisable).

    Returns
    -------
    Path
        ``claim.target``, now holding the new results.

    Raises
    ------
    ResultsDiverted
        The results are complete but are in a sibling folder (named in the message):
        another run took the target meanwhile, or it changed, or could not be replaced.
    UserError
        The folder could not be created or ``write`` failed with an ``OSError`` (e.g.
        no space left on device); nothing is left behind and an existing folder is
        untouched.
    """
    parent = claim.path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = _make_sibling(parent, claim.path.name, "tmp")
    except OSError as exc:
        raise _error(claim.target, f"cannot create it: {_words(exc)}") from exc
    try:
        write(tmp)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno is None:
            raise
        inside = _inside_name(exc, tmp)
        raise _error(claim.target, f"cannot write the results{inside}: {_words(exc)}; "
                                   "nothing was changed") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _put_in_place(claim, tmp)


def is_results_folder(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` is recognisably a results folder written by this tool.

    It is if it holds a ``run.json`` carrying :data:`RUN_MARKER` and nothing but
    names in :data:`RESULT_NAMES` (files as files, folders as real folders holding only
    files), or if it is exactly a subset of :data:`LEGACY_NAMES` with a ``run.json``
    that has ``version`` and ``seed`` keys (folders of the previous version).
    """
    try:
        entries = {e.name: e for e in os.scandir(folder)}
    except OSError:
        return False
    run = _read_run_json(Path(folder) / "run.json") if "run.json" in entries else None
    if run is None:
        return False
    if all(k in run and run[k] == v for k, v in RUN_MARKER.items()):
        return all(_is_ours(e) for e in entries.values())
    legacy = {"version", "seed"} <= run.keys()
    return legacy and all(e.name in LEGACY_NAMES and _is_file(e) for e in entries.values())


# -- preflight ------------------------------------------------------------------------------

def _error(shown: Path, message: str) -> UserError:
    return UserError([Problem(str(shown), None, "out", message)])


def _words(exc: OSError) -> str:
    """``no space left on device (ENOSPC)`` for an OSError with an errno."""
    if exc.errno is None:
        return str(exc)
    words = os.strerror(exc.errno)
    words = words[:1].lower() + words[1:]
    return f"{words} ({errno.errorcode.get(exc.errno, exc.errno)})"


def _limit(path: Path, name: str, default: int) -> int:
    try:
        return int(os.pathconf(path, name))
    except (OSError, ValueError, AttributeError):
        return default


def _nearest_existing(path: Path) -> Path:
    for p in (path, *path.parents):
        if os.path.isdir(p):
            return p
    return Path(path.anchor)


def _check_lengths(shown: Path, path: Path) -> None:
    """Refuse names over NAME_MAX bytes and paths over PATH_MAX (minus room inside)."""
    anchor = _nearest_existing(path.parent)
    name_max = _limit(anchor, "PC_NAME_MAX", 255)
    for part in path.parts[1:]:
        size = len(os.fsencode(part))
        if size > name_max:
            raise _error(shown, f"the name {part[:20]!r}... is {size} bytes long; "
                                f"at most {name_max} are allowed")
    size, path_max = len(os.fsencode(str(path))), _limit(anchor, "PC_PATH_MAX", 4096)
    if size + _PATH_MARGIN >= path_max:
        raise _error(shown, f"the path is {size} bytes long; at most "
                            f"{path_max - _PATH_MARGIN - 1} are allowed")


def _inspect(shown: Path, path: Path, overwrite: bool, flag: str) -> tuple[int, int] | None:
    """Identity of the existing target, None if missing; refuse what must not be replaced."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise _error(shown, f"cannot be created: {_file_in_the_way(path)} is a file") from None
    except OSError as exc:
        raise _error(shown, f"cannot look at it: {_words(exc)}") from exc
    if os.path.islink(path):
        raise _error(shown, "is a symbolic link; give the folder it points to")
    if not os.path.isdir(path):
        raise _error(shown, "exists and is not a folder")
    if os.path.ismount(path) or os.stat(path.parent).st_dev != st.st_dev:
        raise _error(shown, "is a mount point, which cannot be replaced; choose a folder "
                            "inside it")
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        raise _error(shown, f"cannot read it: {_words(exc)}") from exc
    if names and not overwrite:
        raise _error(shown, "already exists and is not empty; choose another folder or "
                            f"pass {flag}")
    if names and not is_results_folder(path):
        foreign = [n for n in names if n not in RESULT_NAMES and n + "/" not in RESULT_NAMES]
        held = ", ".join((foreign or names)[:3]) + (", ..." if len(foreign or names) > 3 else "")
        raise _error(shown, f"already exists and is not a results folder of this tool (it "
                            f"holds {held}); {flag} only replaces an empty folder or "
                            "one this tool wrote")
    if names and _read_only(path):
        raise _error(shown, f"cannot replace it: {_words(OSError(errno.EROFS, ''))}")
    if names and not os.access(path, os.W_OK | os.X_OK):  # its files could not be deleted
        raise _error(shown, f"cannot replace it: {_words(OSError(errno.EACCES, ''))}")
    return (st.st_dev, st.st_ino)


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def _file_in_the_way(path: Path) -> Path:
    for p in reversed(path.parents):
        if os.path.lexists(p) and not os.path.isdir(p):
            return p
    return path.parent


def _probe(shown: Path, path: Path) -> None:
    """Really create and remove a folder where the results folder will be created."""
    where = _nearest_existing(path.parent)
    try:
        probe = _make_sibling(where, path.name, "probe")
        os.rmdir(probe)
    except OSError as exc:
        raise _error(shown, f"cannot create a folder in {where}: {_words(exc)}") from exc


def _read_run_json(path: Path) -> dict[str, Any] | None:
    try:
        if not os.path.isfile(path) or os.path.islink(path):
            return None
        with open(path, "rb") as f:
            raw = f.read(_RUN_JSON_LIMIT + 1)
        data = json.loads(raw) if len(raw) <= _RUN_JSON_LIMIT else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_file(entry: os.DirEntry[str]) -> bool:
    return entry.is_file(follow_symlinks=False)


def _is_ours(entry: os.DirEntry[str]) -> bool:
    if entry.name in RESULT_NAMES:
        return _is_file(entry)
    if entry.name + "/" in RESULT_NAMES and entry.is_dir(follow_symlinks=False):
        try:
            return all(_is_file(e) for e in os.scandir(entry.path))
        except OSError:
            return False
    return False


# -- publish --------------------------------------------------------------------------------

def _fit(name: str, prefix: str, suffix: str, limit: int = 255) -> str:
    """``prefix + name + suffix``, ``name`` shortened so the whole fits in ``limit`` bytes."""
    while name and len(os.fsencode(prefix + name + suffix)) > limit:
        name = name[:-1]
    return prefix + name + suffix


def _make_sibling(parent: Path, name: str, kind: str) -> Path:
    """Create ``parent/.NAME.KIND-<random>`` with the user's umask (mkdtemp makes 0700)."""
    for _ in range(100):
        path = parent / _fit(name, ".", f".{kind}-{secrets.token_hex(4)}")
        try:
            os.mkdir(path, 0o777)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(parent))


def _hidden_name(parent: Path, name: str, kind: str) -> Path:
    return parent / _fit(name, ".", f".{kind}-{secrets.token_hex(4)}")


def _inside_name(exc: OSError, tmp: Path) -> str:
    try:
        rel = Path(exc.filename).resolve().relative_to(tmp.resolve())
    except (TypeError, ValueError, OSError):
        return ""
    return f" ({rel})" if str(rel) != "." else ""


_libc_renameat2: Any = None


def _renameat2_fn() -> Any:
    """libc's ``renameat2`` through ctypes, or None (not Linux, old libc)."""
    global _libc_renameat2
    if _libc_renameat2 is None:
        fn: Any = False
        if sys.platform.startswith("linux"):
            try:
                fn = ctypes.CDLL(None, use_errno=True).renameat2
                fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                               ctypes.c_uint]
                fn.restype = ctypes.c_int
            except (OSError, AttributeError):
                fn = False
        _libc_renameat2 = fn
    return _libc_renameat2 or None


def _rename2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False if the OS or filesystem does not support it."""
    fn = _renameat2_fn()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(src), None, str(dst))


def _rename_noreplace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``; FileExistsError if ``dst`` exists.

    Fallback without renameat2: check, then ``rename`` (which never replaces a
    non-empty folder or a file with a folder), run under the parent's lock.
    """
    if _rename2(src, dst, _RENAME_NOREPLACE):
        return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
    os.rename(src, dst)


def _exchange(new: Path, target: Path) -> Path:
    """Put ``new`` at ``target``; return the hidden folder now holding the old target.

    Atomic with renameat2(RENAME_EXCHANGE). Fallback: move the target aside to
    ``.NAME.old-*``, then ``new`` into place (moved back if that fails); a kill
    between the two renames leaves the target missing and the old results in
    ``.NAME.old-*`` (see docs/results-folder.md).
    """
    if _rename2(new, target, _RENAME_EXCHANGE):
        old = _hidden_name(target.parent, target.name, "old")
        try:
            os.rename(new, old)  # the hidden name now says what it holds
        except OSError:
            return new
        return old
    old = _hidden_name(target.parent, target.name, "old")
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    return old


@contextlib.contextmanager
def _parent_lock(parent: Path) -> Iterator[bool]:
    """Hold ``flock(LOCK_EX)`` on the folder ``parent``; yields False where unsupported.

    The lock lives on the folder's own file descriptor, so no lock file is left
    behind, and the kernel releases it when the process dies.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield False
        return
    try:
        fd = os.open(parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            locked = True
        except OSError:  # e.g. ENOLCK, EOPNOTSUPP on some network filesystems
            locked = False
        yield locked
    finally:
        os.close(fd)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _put_in_place(claim: Claim, tmp: Path) -> Path:
    """Move the complete results ``tmp`` to the target, or to a visible sibling."""
    try:
        with _parent_lock(claim.path.parent):
            old, reason = _place(claim, tmp)
            sibling = tmp if reason is None else _keep_elsewhere(claim, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # new results not placed, or old ones
        raise
    if reason is None:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)  # outside the lock: may take a while
        return claim.target
    shown = claim.target.with_name(sibling.name) if claim.target.name == claim.path.name \
        else sibling
    raise ResultsDiverted([Problem(str(claim.target), None, "out",
                                   f"{reason}; these results were written to {shown} "
                                   "instead")], shown)


def _place(claim: Claim, tmp: Path) -> tuple[Path | None, str | None]:
    """Under the lock: ``(old results to delete, None)`` or ``(None, why not placed)``."""
    target = claim.path
    try:
        if not os.path.lexists(target):
            _rename_noreplace(tmp, target)
            return None, None
        if os.path.isdir(target) and not os.path.islink(target) and not os.listdir(target):
            os.rename(tmp, target)  # replaces an empty folder only, atomically
            return None, None
        if not claim.overwrite or _identity(target) != claim.existing:
            return None, "was created or replaced by another run while this one was running"
        if not is_results_folder(target):
            return None, "changed while this run was running and is no longer a results " \
                         "folder of this tool"
        return _exchange(tmp, target), None
    except FileExistsError:
        return None, "was created by another run while this one was running"
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return None, "was filled by another run while this one was running"
        return None, f"could not be put in place: {_words(exc)}"


def _keep_elsewhere(claim: Claim, tmp: Path) -> Path:
    """Rename ``tmp`` to the first free ``NAME-2``, ``NAME-3``, ... (atomically claimed)."""
    for n in range(2, 10_000):
        sibling = claim.path.parent / _fit(claim.path.name, "", f"-{n}")
        try:
            _rename_noreplace(tmp, sibling)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                continue
            return tmp  # cannot rename at all: the results stay in the hidden folder
        return sibling
    return tmp
