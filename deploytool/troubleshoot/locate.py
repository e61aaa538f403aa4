"""Where things are: the environment being looked at, the app stack's outputs, AWS errors in one line.

``Where`` names one branch environment (or the environment itself) and the commands that fix it.
What the emulator cannot answer is known from ``Where.emulator``; where the tasks run (ECS, or the
local stand-in for Fargate) from ``Where.runtime``, the interface the release strategies use too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from deploytool import naming
from deploytool.errors import DeployError
from deploytool.runtime import Runtime
from deploytool.stack import Target
from deploytool.state import app_outputs as read_app_outputs
from deploytool.state import platform_outputs

CONTAINER_PORT = 8000  # the Geo API's port (service contract)
DB_PORT = 5432


@dataclass(frozen=True)
class Where:
    """The branch environment (or the environment) being looked at, and how to name commands for it."""

    target: Target
    names: naming.Names
    platform: Mapping[str, Any]

    @property
    def env(self) -> str:
        return self.target.env

    @property
    def cluster(self) -> str:
        return str(self.platform.get("cluster_name") or "")

    @property
    def emulator(self) -> bool:
        return self.target.local

    def command(self, verb: str, *extra: str) -> str:
        """A deploytool command line for this environment, e.g. ``deploytool apply --env staging --branch x``."""
        parts = ["deploytool", verb, "--env", self.env]
        if self.names.branch:
            parts += ["--branch", self.names.branch]
        if self.target.local and not self.target.settings.emulator:
            parts.append("--local")
        parts += list(extra)
        return "`" + " ".join(parts) + "`"

    def platform_command(self) -> str:
        """The command that re-applies this environment's platform stack."""
        return f"`deploytool apply --env {self.env} --stack platform --yes`"

    @property
    def runtime(self) -> Runtime:
        """Where the service's tasks run (ECS, or the local stand-in on the emulator)."""
        return self.target.runtime

    @property
    def service(self) -> str:
        return self.names.service


def locate(target: Target, branch: str | None) -> Where:
    """Names of ``branch`` in ``target`` and the platform's outputs (one-line error if not deployed)."""
    return Where(target, target.names(branch), platform_outputs(target))


def app_outputs(target: Target, workspace: str) -> dict[str, Any]:
    """The app stack's outputs for ``workspace`` ({} when it has none, or its state cannot be read:
    the checks then say what is missing)."""
    try:
        outputs = read_app_outputs(target, workspace)
    except DeployError:
        return {}
    return outputs.to_dict() if outputs is not None else {}


def aws_error(exc: ClientError | BotoCoreError) -> str:
    """``Code: Message`` of an AWS error, for a one-line finding or message."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)


def error_code(exc: ClientError | BotoCoreError) -> str:
    """The AWS error code (``ResourceNotFoundException``), '' when the error is not from AWS."""
    return str(exc.response.get("Error", {}).get("Code", "")) if isinstance(exc, ClientError) else ""
