"""Ctrl-C while the ``simulator`` command starts: one line and exit 130, never a traceback.

Imported first by the package, so it is in force from the first line of ours that runs (and
it imports nothing that is not loaded already). It does something only when the process is
the ``simulator`` command, or ``python -m simulator``; a library user's signal handling is
never touched. The command's ``main()`` then replaces it with ordinary KeyboardInterrupt
handling (``simulator.cli``).
"""
import os
import signal
import sys

INTERRUPTED = "interrupted; no results were written"
EXIT_INTERRUPTED = 130


def quiet_exit(signum, frame):  # type: ignore[no-untyped-def]
    """SIGINT handler while the command starts, before ``main()`` can catch anything."""
    os.write(2, (INTERRUPTED + "\n").encode())
    os._exit(EXIT_INTERRUPTED)


def _is_the_command() -> bool:
    """The process is ``simulator ...`` or ``python -m simulator ...`` (whose package is
    imported before ``__main__`` runs, while ``sys.argv[0]`` is still ``-m``)."""
    if os.path.basename(sys.argv[0] if sys.argv else "") == "simulator":
        return True
    orig = list(getattr(sys, "orig_argv", []))
    return any(a == "-m" and b == "simulator" for a, b in zip(orig, orig[1:], strict=False))


if _is_the_command() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    try:
        signal.signal(signal.SIGINT, quiet_exit)
    except ValueError:  # not the main thread: signals are not ours to handle there
        pass
