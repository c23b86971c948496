"""Ctrl-C while the ``simulator`` command starts: one line and exit 130, never a traceback.

Imported first by the package, so it is in force from the first line of ours that runs. It
does something only when the process is the ``simulator`` command (``sys.argv[0]``); a
library user's signal handling is never touched. The command's ``main()`` then replaces it
with ordinary ``KeyboardInterrupt`` handling (``simulator.cli``).
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

INTERRUPTED = "interrupted; no results were written"
EXIT_INTERRUPTED = 130


def quiet_exit(signum: int, frame: Any) -> None:
    """SIGINT handler while the command starts, before ``main()`` can catch anything."""
    os.write(2, (INTERRUPTED + "\n").encode())
    os._exit(EXIT_INTERRUPTED)


def _is_the_command() -> bool:
    return os.path.basename(sys.argv[0] if sys.argv else "") == "simulator" \
        and threading.current_thread() is threading.main_thread()


if _is_the_command() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, quiet_exit)
