"""Reading a user's input file safely: a regular file, bounded in size, never blocking on a FIFO
or a device (shared by the scenario, order-log and history readers, which turn the two
exceptions below into their own ``FILE:LINE: key: message`` problems)."""
from __future__ import annotations

import os
import stat
from pathlib import Path


class TooBig(Exception):
    """The file is larger than the limit."""


class Unreadable(Exception):
    """The file cannot be read; ``str(exc)`` is the message (``cannot read: ...``)."""


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes``.

    Raises
    ------
    TooBig
        If it is larger (by its size, or by what could be read: it may grow meanwhile).
    Unreadable
        If it is not a regular file (a directory, a FIFO, a device), or reading fails.
    """
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise Unreadable(f"cannot read: {what}")
        if st.st_size > max_bytes:
            raise TooBig()
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_BINARY", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the stat
                raise Unreadable("cannot read: not a regular file")
            chunks, size = [], 0
            while size <= max_bytes:
                chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
    except OSError as exc:
        raise Unreadable(f"cannot read: {exc.strerror or exc}") from None
    if size > max_bytes:
        raise TooBig()
    return b"".join(chunks)
