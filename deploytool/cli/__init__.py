"""The click layer: parse options, call one core function, print, map errors to exit codes.

Progress and diagnostics go to stderr, data (plans, JSON, rendered files) to stdout. One module per
command group, loaded when its command runs (``base.COMMAND_MODULES``); ``load_commands`` loads them all.
"""

from __future__ import annotations

from deploytool.cli.base import load_commands, main


def run() -> None:
    main(prog_name="deploytool")


__all__ = ["load_commands", "main", "run"]
