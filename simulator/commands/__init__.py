"""Commands of ``simulator`` that live in modules of their own (see ``simulator.cli.PLUGGED``).

Each module has ``HELP`` (one line for ``simulator --help``), ``add_arguments(parser)`` and
``run(args) -> int``; it imports nothing heavy at module level, because the parser imports it.
"""
