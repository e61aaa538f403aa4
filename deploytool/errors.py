"""The one user-facing error type and the exit codes the CLI promises.

The core raises ``DeployError`` (or a subclass) with a message that says what went wrong and what
to do; it knows nothing of click. The CLI (``deploytool.cli.base``) prints it as one line and exits
with its ``exit_code``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Exit codes of every deploytool command (documented in --help and the README)."""

    OK = 0
    ERROR = 1  # bad input, configuration, Terraform failure
    USAGE = 2  # wrong command-line usage (click's own code)
    ROLLED_BACK = 3  # deploy failed, the previous release was restored and verified
    ROLLBACK_FAILED = 4  # deploy failed and rollback failed or was impossible
    LOCKED = 5  # state locked by another run


class DeployError(Exception):
    """An error the user can act on: one line, no traceback (unless --debug).

    ``result`` carries what a failed run still has to report (for example a deploy's outcome, so
    that ``--output json`` can print it).
    """

    default_exit_code: int = ExitCode.ERROR

    def __init__(self, message: str, *, exit_code: int | None = None, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = int(exit_code if exit_code is not None else self.default_exit_code)
        self.result = result

    def __str__(self) -> str:
        return self.message


class StateLockedError(DeployError):
    """Another run holds the Terraform state lock."""

    default_exit_code = ExitCode.LOCKED

    def __init__(self, message: str, *, lock_id: str | None = None, holder: str | None = None) -> None:
        super().__init__(message)
        self.lock_id = lock_id
        self.holder = holder


class RolledBackError(DeployError):
    """The deploy failed verification; the previous release was re-applied and verified."""

    default_exit_code = ExitCode.ROLLED_BACK


class RollbackFailedError(DeployError):
    """The deploy failed and the rollback failed or was impossible."""

    default_exit_code = ExitCode.ROLLBACK_FAILED
