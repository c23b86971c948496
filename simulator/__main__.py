"""``python -m simulator``: the same as the ``simulator`` command."""
import os
import signal
import sys


def _starting(signum: int, frame: object) -> None:  # Ctrl-C while the modules load: quiet
    os.write(2, b"interrupted; no results were written\n")
    os._exit(130)


signal.signal(signal.SIGINT, _starting)

from simulator import _startup, cli  # noqa: E402  (after the handler: importing takes a moment)

signal.signal(signal.SIGINT, _startup.quiet_exit)  # main() replaces it once it can report itself
sys.exit(cli.entry())
