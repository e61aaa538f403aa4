"""Where things are: the environment being looked at, the app stack's outputs, AWS errors in one line.

``Where`` names one branch environment (or the environment itself) and the commands that fix it.
Local mode (the emulator with the local stand-in for Fargate) is read here and nowhere else in
the package: ``Where.emulator``, the ``--local`` flag of ``Where.command`` and ``LocalStandIn``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from deploytool import naming
from deploytool.deploy import platform_outputs
from deploytool.localrun import LABEL, LocalRuntime, LocalTask
from deploytool.stack import Target

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

    def local_stand_in(self) -> LocalStandIn:
        """LOCAL MODE ONLY (``emulator`` is true): the local process standing in for the service's task."""
        return LocalStandIn(self.target, self.names.workspace)


class LocalStandIn:
    """LOCAL MODE ONLY: the local process that stands in for one workspace's Fargate task.

    The troubleshooting tools reach the local runtime through this class only.
    """

    label = LABEL

    def __init__(self, target: Target, workspace: str) -> None:
        self._runtime = LocalRuntime(target)
        self._workspace = workspace

    @property
    def log_path(self) -> Path:
        """The file the stand-in writes its output to (it does not log to the emulator)."""
        return self._runtime.dir / f"{self._workspace}.log"

    def task(self) -> LocalTask | None:
        """The running stand-in (its URL, pid and image), None when it is not running."""
        return self._runtime.task(self._workspace)

    def exited(self) -> str | None:
        """Why the stand-in is not running (its last output line), None when it runs."""
        return self._runtime.exited(self._workspace)


def locate(target: Target, branch: str | None) -> Where:
    """Names of ``branch`` in ``target`` and the platform's outputs (one-line error if not deployed)."""
    return Where(target, target.names(branch), platform_outputs(target))


def app_outputs(target: Target, workspace: str) -> dict[str, Any]:
    """The app stack's outputs for ``workspace``, read from its state object ({} when there is none)."""
    key = f"{target.env}/app/terraform.tfstate"
    if workspace != "default":
        key = f"workspaces/{workspace}/{key}"
    try:
        body = target.clients()("s3").get_object(Bucket=target.state_bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError):
        return {}
    try:
        outputs = json.loads(body).get("outputs", {})
    except ValueError:
        return {}
    return {name: value.get("value") for name, value in outputs.items() if isinstance(value, Mapping)}


def aws_error(exc: ClientError | BotoCoreError) -> str:
    """``Code: Message`` of an AWS error, for a one-line finding or message."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)


def error_code(exc: ClientError | BotoCoreError) -> str:
    """The AWS error code (``ResourceNotFoundException``), '' when the error is not from AWS."""
    return str(exc.response.get("Error", {}).get("Code", "")) if isinstance(exc, ClientError) else ""
