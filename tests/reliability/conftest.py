"""Fixtures of the reliability suite: the CLI as a real process, behind a proxy that can fail.

Runs that need a fault go through :class:`FaultEnv`: ``python -m deploytool.cli`` processes whose
emulator endpoint is a :class:`~tests.reliability.faultproxy.FaultProxy` in front of the session's
emulator (a ``DEPLOYTOOL_HOME`` whose emulator record names the proxy's port), with a data
directory of their own. They share the session's platform (``local_platform``) and one branch
environment (``fault_branch``) that the fault tests move from image to image.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deploytool.localrun import push_stand_in_image
from tests.conftest import REPO, Emulator
from tests.reliability.faultproxy import FaultProxy

FAULT_BRANCH = "reliability/faults"
ENV = "local"


@dataclass
class Done:
    """A finished CLI run."""

    args: list[str]
    code: int
    stdout: str
    stderr: str

    @property
    def last_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def __str__(self) -> str:
        return f"deploytool {' '.join(self.args)} -> {self.code}\n{self.stderr[-3000:]}"


class Running:
    """A CLI run in progress; its stderr lines are collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deploytool.cli", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own process group, so a test can kill the run and its Terraform
        )
        self.lines: list[str] = []
        self._stdout: list[str] = []
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.lines), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stdout, self._stdout), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _pump(pipe: Any, into: list[str]) -> None:
        for line in pipe:
            into.append(line)

    def wait_for_line(self, text: str, timeout_s: float = 240.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = next((line for line in list(self.lines) if text in line), None)
            if found is not None:
                return found
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the pumps drain
                found = next((line for line in list(self.lines) if text in line), None)
                if found is not None:
                    return found
                raise AssertionError(f"run ended ({self.proc.returncode}) before printing {text!r}:\n{self.text()}")
            time.sleep(0.02)
        raise AssertionError(f"no {text!r} within {timeout_s} s:\n{self.text()}")

    def text(self) -> str:
        return "".join(self.lines)[-4000:]

    def wait(self, timeout_s: float = 300.0) -> Done:
        self.proc.wait(timeout_s)
        for thread in self._threads:
            thread.join(10)
        return Done(self.args, int(self.proc.returncode), "".join(self._stdout), "".join(self.lines))

    def kill_group(self, sig: signal.Signals) -> None:
        os.killpg(self.proc.pid, sig)


@dataclass
class FaultEnv:
    """Where proxied runs go: the proxy, their DEPLOYTOOL_HOME and data directory, the emulator."""

    proxy: FaultProxy
    home: Path
    data_dir: Path
    emulator: Emulator
    target: Any  # the session's local target (settings, names, state bucket)
    platform: dict[str, Any]  # the local platform's outputs

    def environ(self, data_dir: Path | None = None) -> dict[str, str]:
        return {
            **os.environ,
            "DEPLOYTOOL_HOME": str(self.home),
            "DEPLOYTOOL_DATA_DIR": str(data_dir or self.data_dir),
            "AWS_ENDPOINT_URL": self.proxy.endpoint,
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, *args: str, data_dir: Path | None = None) -> Running:
        return Running(list(args), self.environ(data_dir))

    def run(self, *args: str, data_dir: Path | None = None, timeout_s: float = 300.0) -> Done:
        return self.start(*args, data_dir=data_dir).wait(timeout_s)

    # -- what the emulator holds -------------------------------------------------------------------
    def state_key(self, branch: str) -> str:
        workspace = self.target.names(branch).workspace
        return f"workspaces/{workspace}/{ENV}/app/terraform.tfstate"

    def state(self, branch: str) -> dict[str, Any]:
        s3 = self.emulator.client("s3")
        body = s3.get_object(Bucket=self.target.state_bucket, Key=self.state_key(branch))["Body"].read()
        document: dict[str, Any] = json.loads(body)
        return document

    def lock(self, branch: str) -> dict[str, Any] | None:
        s3 = self.emulator.client("s3")
        key = self.state_key(branch) + ".tflock"
        if not s3.list_objects_v2(Bucket=self.target.state_bucket, Prefix=key).get("KeyCount"):
            return None
        document: dict[str, Any] = json.loads(s3.get_object(Bucket=self.target.state_bucket, Key=key)["Body"].read())
        return document

    def records(self, branch: str) -> list[Any]:
        return list(self.target.ledger().records(ENV, self.target.names(branch).workspace))


def state_image(state: dict[str, Any]) -> str:
    """The image of the task definition in a state document."""
    for resource in state.get("resources", []):
        if resource["type"] == "aws_ecs_task_definition":
            container = json.loads(resource["instances"][0]["attributes"]["container_definitions"])[0]
            return str(container["image"]).rsplit(":", 1)[-1]
    raise AssertionError("no task definition in the state")


def service_image(emulator: Emulator, cluster: str, service: str) -> str:
    ecs = emulator.client("ecs")
    svc = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"]).rsplit(":", 1)[-1]


def stop_local_tasks(data_dir: Path) -> None:
    """Stop the local stand-in tasks and load balancer that runs with ``data_dir`` started (their
    process groups): a service's record lists its tasks, the load balancer's record is its own."""
    for record in (data_dir / "local").glob("**/*.json"):
        with contextlib.suppress(ValueError, OSError):
            document = json.loads(record.read_text())
            entries = document.get("tasks", [document]) if isinstance(document, dict) else []
            for entry in entries:
                with contextlib.suppress(ProcessLookupError, PermissionError, ValueError, KeyError, TypeError):
                    os.killpg(int(entry["pid"]), signal.SIGTERM)


@pytest.fixture(scope="session")
def fault_env(
    emulator: Emulator,
    local_target: Any,
    local_platform: dict[str, Any],
    deploytool_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FaultEnv]:
    proxy = FaultProxy(emulator.endpoint)
    home = tmp_path_factory.mktemp("proxied-home")
    for name in ("terraform.rc", "provider-mirror", "plugin-cache"):
        if (deploytool_home / name).exists():
            (home / name).symlink_to(deploytool_home / name)
    (home / "emulator.json").write_text(json.dumps({"pid": emulator.info.pid, "port": proxy.port}))
    data_dir = tmp_path_factory.mktemp("proxied-data")
    try:
        yield FaultEnv(proxy, home, data_dir, emulator, local_target, local_platform)
    finally:
        proxy.close()
        stop_local_tasks(data_dir)


@pytest.fixture()
def faults(fault_env: FaultEnv) -> Iterator[FaultEnv]:
    """The fault environment, with every fault disarmed after the test."""
    fault_env.proxy.clear()
    yield fault_env
    fault_env.proxy.clear()


@pytest.fixture(scope="session")
def fault_branch(fault_env: FaultEnv) -> Iterator[str]:
    """One branch environment, applied once, that fault tests move from image to image."""
    # The tags the fault tests deploy, in the registry as CI's build job would leave them.
    for tag in (
        "f0",
        "outage-1",
        "term-1",
        "kill-1",
        "race-win",
        "race-lose",
        "good-a",
        "bad-b",
        "ledger-good",
        "ledger-bad",
        "lock-first",
        "lock-rival",
        "look-1",
    ):
        push_stand_in_image(fault_env.target, tag)
    done = fault_env.run("apply", "--env", ENV, "--branch", FAULT_BRANCH, "--image-tag", "f0", "--yes")
    assert done.code == 0, str(done)
    try:
        yield FAULT_BRANCH
    finally:
        fault_env.proxy.clear()
        lock = fault_env.lock(FAULT_BRANCH)
        if lock is not None:
            fault_env.run("force-unlock", "--env", ENV, "--branch", FAULT_BRANCH, "--lock-id", lock["ID"])
        fault_env.run("destroy", "--env", ENV, "--branch", FAULT_BRANCH, "--yes")
