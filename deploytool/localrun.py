"""LOCAL MODE ONLY: the stand-in for Fargate when the target is the AWS emulator.

The emulator has no container runtime, so in local mode the tool runs what the applied ECS task
definition describes as a local process: it reads the task definition from the emulator (image
tag, environment, secrets, port), starts the reference Geo API (``examples/geo-api``) with that
environment on a free loopback port, and points verification at it. A release's configuration
therefore changes what runs, exactly as on ECS. Deploys, rollbacks and destroys replace or stop
the process; ``stop_all`` leaves nothing running.

The database: the emulator's RDS endpoint is not a server, so a ``DATABASE_URL`` that points at it
is mapped to a local PostgreSQL (``$DEPLOYTOOL_LOCAL_DATABASE_URL``, default the one
``.ci/install-postgis.sh`` creates). Any other database URL is kept, so a release configured for a
database that does not exist fails for real.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from botocore.exceptions import ClientError

from deploytool.emulator import HOST, free_port
from deploytool.errors import DeployError
from deploytool.naming import Names
from deploytool.state import AppOutputs, ServiceOutputs

if TYPE_CHECKING:
    from deploytool.stack import Target

LOCAL_DB_ENV = "DEPLOYTOOL_LOCAL_DATABASE_URL"
DEFAULT_LOCAL_DB = "postgresql://geoapi:geoapi@127.0.0.1:5432/geoapi_test"
LABEL = "local stand-in for Fargate (emulator only)"


@dataclass
class LocalTask:
    """A running local process standing in for the service's task."""

    workspace: str
    pid: int
    port: int
    task_definition: str
    image: str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def push_stand_in_image(target: Target, tag: str) -> str:
    """Put ``tag`` in the emulator's ECR repository as a manifest of its own, and return its digest.

    The local stand-in runs the reference service from source, so no image is built; but ``deploy``
    refuses a tag the registry does not hold, exactly as on AWS, so the demo and the tests push one
    first, as CI's build job does. Idempotent; refused outside the emulator.
    """
    if not target.local:
        raise DeployError("stand-in images are pushed to the emulator only; on AWS the build job pushes images")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(tag),
                "digest": "sha256:" + hashlib.sha256(tag.encode()).hexdigest(),
            },
            "layers": [],
        },
        sort_keys=True,
    )
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    ecr = target.clients()("ecr")
    name = target.config.project.image_repository
    try:
        ecr.put_image(repositoryName=name, imageManifest=manifest, imageTag=tag, imageDigest=digest)
    except ClientError as exc:
        # The tag is there already (tags are immutable): the registry holds it, which is all a deploy needs.
        if exc.response.get("Error", {}).get("Code") not in (
            "ImageAlreadyExistsException",
            "ImageTagAlreadyExistsException",
        ):
            raise DeployError(f"cannot push {tag} to the emulator's ECR repository {name}: {exc}") from exc
        (detail,) = ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": tag}])["imageDetails"]
        return str(detail["imageDigest"])
    return digest


def service_dir(target: Target) -> Path:
    return target.config.root / "examples" / "geo-api"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def secret_id(value_from: str) -> str:
    """The secret ARN of an ECS ``valueFrom`` (which may add ``:json-key:version-stage:version-id``)."""
    head, sep, tail = value_from.partition(":secret:")
    return f"{head}{sep}{tail.split(':')[0]}" if sep else value_from


class LocalRuntime:
    """Starts, replaces and stops local tasks for one emulator target (the ``Runtime`` of local mode).

    A local task is keyed by the ECS service it stands in for.
    """

    name = LABEL

    def __init__(self, target: Target) -> None:
        if not target.local:
            raise DeployError("the local runtime only runs against the emulator (--local)")
        self.target = target
        self.dir = target.data_root / "local" / target.env
        self.dir.mkdir(parents=True, exist_ok=True)

    # -- the Runtime interface -------------------------------------------------------------------------
    def roll_out(self, service: ServiceOutputs) -> None:
        """What ECS does after an apply: replace the task with one of the applied task definition."""
        self.start(service.service_name, service.cluster_name, service.service_name)

    def url(self, names: Names, app: AppOutputs, service_name: str, *, test_route: bool) -> tuple[str, dict[str, str]]:
        """The stand-in task of ``service`` (there is no load balancer in local mode: no routing headers).

        A task that crashed keeps its address: checks find nothing there, ``task_failure`` says why.
        """
        path = self._state(service_name)
        if not path.is_file():
            raise DeployError(f"no local stand-in was started for {service_name}; deploy it again")
        return LocalTask(**json.loads(path.read_text())).url, {}

    def task_failure(self, service_name: str) -> str | None:
        """Why the stand-in of ``service_name`` is not running (it crashed at start), None when it runs
        or was never started here."""
        if not self._state(service_name).is_file():
            return None
        return self.exited(service_name)

    def observers(self) -> tuple[Any, Any, bool]:
        """The emulator runs no tasks and registers no targets: the rollout and target checks are unavailable."""
        clients = self.target.clients()
        return clients("ecs"), clients("elbv2"), False

    def log_path(self, service_name: str) -> Path:
        return self.dir / f"{service_name}.log"

    def _state(self, workspace: str) -> Path:
        return self.dir / f"{workspace}.json"

    def task(self, workspace: str) -> LocalTask | None:
        path = self._state(workspace)
        if not path.is_file():
            return None
        task = LocalTask(**json.loads(path.read_text()))
        return task if _alive(task.pid) else None

    # -- task definition -> process environment ------------------------------------------------------
    def container_environment(self, cluster: str, service: str) -> tuple[dict[str, str], str, str]:
        """(environment incl. resolved secrets, task definition ARN, image) of the applied service."""
        ecs = self.target.runtime_clients()("ecs")
        services = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
        if not services or services[0].get("status") != "ACTIVE":
            raise DeployError(f"service {service} does not exist in the emulator's cluster {cluster}")
        arn = services[0]["taskDefinition"]
        container = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"][0]
        env = {item["name"]: item["value"] for item in container.get("environment", [])}
        sm = self.target.runtime_clients()("secretsmanager")
        for secret in container.get("secrets", []):
            env[secret["name"]] = sm.get_secret_value(SecretId=secret_id(secret["valueFrom"]))["SecretString"]
        return env, arn, str(container.get("image", ""))

    @staticmethod
    def map_database(env: dict[str, str]) -> dict[str, str]:
        """Point a DATABASE_URL aimed at the emulator's RDS endpoint at the local PostgreSQL."""
        url = env.get("DATABASE_URL", "")
        host = urlsplit(url).hostname or ""
        if url and (host.endswith(".amazonaws.com") or host == env.get("PGHOST")):
            env = {k: v for k, v in env.items() if not k.startswith("PG")}
            env["DATABASE_URL"] = os.environ.get(LOCAL_DB_ENV, DEFAULT_LOCAL_DB)
        return env

    def start(self, workspace: str, cluster: str, service: str, *, wait_s: float = 20.0) -> LocalTask:
        """(Re)start the local task of ``workspace`` from the service's current task definition."""
        env, arn, image = self.container_environment(cluster, service)
        env = self.map_database(env)
        self.stop(workspace)
        port = free_port()
        workdir = service_dir(self.target)
        if not (workdir / "geoapi").is_dir():
            raise DeployError(f"the reference service is missing at {workdir}")
        if env.get("DATABASE_URL"):
            # Like a migration job before the rollout: the schema exists before the service starts.
            subprocess.run(
                [sys.executable, "-m", "geoapi.seed", "--schema-only", "--database-url", env["DATABASE_URL"]],
                cwd=workdir,
                capture_output=True,
                timeout=60,
                check=False,
            )
        process_env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(workdir),
            **env,
            "PORT": str(port),
            "HOST": HOST,
        }
        log = self.log_path(workspace).open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "geoapi"],
            cwd=workdir,
            env=process_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        task = LocalTask(workspace=workspace, pid=proc.pid, port=port, task_definition=arn, image=image)
        self._state(workspace).write_text(json.dumps(asdict(task)))
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                httpx.get(f"{task.url}/health", timeout=1.0)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        # A task that exits at start is what ECS would see too: verification reports it.
        return task

    def exited(self, workspace: str) -> str | None:
        """Why the local task of ``workspace`` is not running (its last log line), or None if it runs."""
        path = self._state(workspace)
        if not path.is_file():
            return "no local task was started"
        task = LocalTask(**json.loads(path.read_text()))
        if _alive(task.pid):
            return None
        log = self.log_path(workspace)
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()] if log.is_file() else []
        return f"the task exited at start: {lines[-1][:300] if lines else 'no output'}"

    def stop(self, workspace: str) -> bool:
        path = self._state(workspace)
        if not path.is_file():
            return False
        task = LocalTask(**json.loads(path.read_text()))
        stopped = False
        if _alive(task.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(task.pid, signal.SIGTERM)
            for _ in range(50):
                if not _alive(task.pid):
                    break
                time.sleep(0.1)
            else:
                os.killpg(task.pid, signal.SIGKILL)
            stopped = True
        path.unlink(missing_ok=True)
        return stopped

    def stop_all(self) -> int:
        return sum(self.stop(path.stem) for path in self.dir.glob("*.json"))

    def running(self) -> list[LocalTask]:
        return [t for t in (self.task(p.stem) for p in self.dir.glob("*.json")) if t is not None]
