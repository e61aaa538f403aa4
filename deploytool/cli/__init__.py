"""The click layer: parse options, call one core function, print, map errors to exit codes.

Progress and diagnostics go to stderr, data (plans, JSON, rendered files) to stdout. One module per
command group; importing this package registers them all on ``main``.
"""

from __future__ import annotations

from deploytool.cli import (  # noqa: F401  (registers the commands)
    cleanup,
    demo,
    github,
    health,
    migrate,
    stacks,
    status,
    toolchain,
    troubleshoot,
)
from deploytool.cli.base import main


def run() -> None:
    main(prog_name="deploytool")


__all__ = ["main", "run"]
