"""LOCAL MODE ONLY: the stand-in for Fargate when the target is the AWS emulator.

The emulator has no container runtime, so in local mode the tool runs what the applied ECS task
definition describes as a local process: it reads the task definition from the emulator (image
tag, environment, secrets, port), starts the reference Geo API (``examples/geo-api``) with that
environment on a free loopback port and registers it in the service's target group, where the
local load balancer (``deploytool.locallb``) health-checks it and routes to it. A release's
configuration therefore changes what runs, exactly as on ECS. Deploys and rollbacks roll the
service's tasks as ECS does (see ``LocalRuntime``), destroys stop them; ``stop_all`` leaves nothing
running, the load balancer included.

The database: the emulator's RDS endpoint is not a server, so database URLs that point at it are
mapped to a local PostgreSQL (``$DEPLOYTOOL_LOCAL_DATABASE_URL``, default the one
``.ci/install-postgis.sh`` creates: bare, as RDS gives one; see ``map_database``). Nothing here
creates the schema: the release's migration does, as a one-off task (``run_one_off``), before the
service moves. Any other database URL is kept, so a release configured for a database that does
not exist fails for real.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from botocore.exceptions import ClientError

from deploytool import locallb, oneoff
from deploytool.emulator import HOST, free_port
from deploytool.errors import DeployError
from deploytool.naming import Names
from deploytool.oneoff import OneOffResult
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
    deployment: str = ""
    target_group_arn: str = ""

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


#: Manifest annotations that carry a stand-in image's environment (a Docker image's ENV), one per variable.
IMAGE_ENV_PREFIX = "io.deploytool.stand-in.env."


class ImagePullError(DeployError):
    """The task's image is not in the emulator's ECR: ECS stops such a task with CannotPullContainerError."""


def push_stand_in_image(target: Target, tag: str, env: Mapping[str, str] | None = None) -> str:
    """Put ``tag`` in the emulator's ECR repository as a manifest of its own, and return its digest.

    The local stand-in runs the reference service from source, so no image is built; but ``deploy``
    refuses a tag the registry does not hold, exactly as on AWS, so the demo and the tests push one
    first, as CI's build job does. ``env`` is the image's environment (what ``ENV`` gives a Docker
    image), kept in the manifest's annotations; the stand-in applies it under the task definition's
    environment when it starts a task (see ``LocalRuntime.image_environment``). Idempotent per
    (tag, env); the same tag with another env is refused, as ECR refuses an immutable tag. Refused
    outside the emulator.
    """
    if not target.local:
        raise DeployError("stand-in images are pushed to the emulator only; on AWS the build job pushes images")
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(tag),
            "digest": "sha256:" + hashlib.sha256(tag.encode()).hexdigest(),
        },
        "layers": [],
    }
    if env:
        document["annotations"] = {IMAGE_ENV_PREFIX + key: str(value) for key, value in sorted(env.items())}
    manifest = json.dumps(document, sort_keys=True)
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    ecr = target.clients()("ecr")
    name = target.config.project.image_repository

    def held() -> str | None:
        images = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": tag}]).get("images", [])
        return str(images[0]["imageId"]["imageDigest"]) if images else None

    def same_or_refuse(existing: str) -> str:
        if existing != digest:
            raise DeployError(
                f"{tag} already holds another image ({existing}) in the emulator's ECR repository {name}; "
                f"image tags are immutable: push the changed image under a new tag"
            )
        return digest

    try:
        existing = held()  # checked first: the emulator lets a MUTABLE repository's tag move, ECR tags here do not
        if existing is not None:
            return same_or_refuse(existing)
        ecr.put_image(repositoryName=name, imageManifest=manifest, imageTag=tag, imageDigest=digest)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in (
            "ImageAlreadyExistsException",
            "ImageTagAlreadyExistsException",
        ):
            raise DeployError(f"cannot push {tag} to the emulator's ECR repository {name}: {exc}") from exc
        existing = held()  # pushed meanwhile
        if existing is None:
            raise DeployError(f"cannot push {tag} to the emulator's ECR repository {name}: {exc}") from exc
        return same_or_refuse(existing)
    return digest


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_image_env(items: Iterable[str]) -> dict[str, str]:
    """``KEY=VALUE`` items (``--image-env``, a Dockerfile's ``ENV``) as an environment; a bad item is refused."""
    env: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not _ENV_NAME.match(key):
            raise DeployError(f"image env {item!r} is not KEY=VALUE with KEY a variable name")
        if key in env:
            raise DeployError(f"image env {key} is given twice")
        env[key] = value
    return env


def image_reference(image: str) -> tuple[str, dict[str, str]]:
    """(repository, ECR image id) of an image URI ``REGISTRY/REPOSITORY:TAG`` or ``REGISTRY/REPOSITORY@DIGEST``."""
    _, _, path = image.partition("/")
    if "@" in path:
        repository, _, digest = path.partition("@")
        return repository, {"imageDigest": digest}
    repository, sep, tag = path.rpartition(":")
    if not sep or "/" in tag:
        return path, {"imageTag": "latest"}
    return repository, {"imageTag": tag}


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


@dataclass
class Deployment:
    """One rollout of the stand-in, in the shape of an ECS service deployment."""

    id: str
    status: str  # PRIMARY, ACTIVE, INACTIVE
    taskDefinition: str
    rolloutState: str
    rolloutStateReason: str = ""
    desiredCount: int = 1
    runningCount: int = 0
    pendingCount: int = 0
    failedTasks: int = 0


@dataclass
class ServiceState:
    """What the stand-in runs for one service: its tasks and its deployments (newest first)."""

    tasks: list[LocalTask]
    deployments: list[Deployment]
    events: list[str]

    @classmethod
    def load(cls, path: Path) -> ServiceState | None:
        if not path.is_file():
            return None
        raw = json.loads(path.read_text())
        if "tasks" not in raw:  # one task, as older versions of the stand-in recorded it
            return cls([LocalTask(**raw)], [], [])
        return cls(
            [LocalTask(**t) for t in raw["tasks"]],
            [Deployment(**d) for d in raw["deployments"]],
            list(raw.get("events", [])),
        )

    def save(self, path: Path) -> None:
        document = {
            "tasks": [asdict(t) for t in self.tasks],
            "deployments": [asdict(d) for d in self.deployments],
            "events": self.events[:20],
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document))
        tmp.replace(path)

    @property
    def primary(self) -> Deployment | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)


class LocalRuntime:
    """Starts, rolls and stops local tasks for one emulator target (the ``Runtime`` of local mode).

    A rollout is what ECS does with ``minimumHealthyPercent = 100``: the new deployment's tasks
    (the service's ``desiredCount``, at least one) start beside the old ones and are registered in
    the service's target group; the local load balancer (``deploytool.locallb``) health-checks
    them with the group's settings; once every new target is healthy and stays so for as long as it
    took to become healthy (healthy threshold x interval), the old targets are deregistered, drained
    for the group's deregistration delay and stopped: COMPLETED. A new task that exits, or whose
    target turns unhealthy or is not healthy within the health budget, is deregistered and stopped
    at its first failure while the old tasks keep serving: FAILED, and the old deployment is
    PRIMARY again (the circuit breaker's rollback, without ECS's retries).
    """

    name = LABEL

    def __init__(self, target: Target) -> None:
        if not target.local:
            raise DeployError("the local runtime only runs against the emulator (--local)")
        self.target = target
        self.dir = target.data_root / "local" / target.env
        self.dir.mkdir(parents=True, exist_ok=True)
        # One load balancer per project's listener: two projects' environments of the same name
        # (their own platforms, one data root) must not share one that routes to the other's rules.
        self.lb_dir = self.dir / "lb" / target.config.project.name
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    # -- the Runtime interface -------------------------------------------------------------------------
    def roll_out(self, service: ServiceOutputs) -> None:
        """What ECS does after an apply: roll the service to the applied task definition."""
        self.load_balancer()
        self.deploy(
            service.service_name,
            service.cluster_name,
            service=service.service_name,
            target_group_arn=service.target_group_arn,
        )

    def settle(self, services: Sequence[ServiceOutputs]) -> None:
        """After any apply of an app stack: a service scaled to 0 (its desired count, as the
        autoscaler's bounds hold it) has its tasks deregistered, drained for the target group's
        deregistration delay and stopped, as ECS does at once; other services are left to their
        rollout (``roll_out``)."""
        idle = [
            s
            for s in services
            if self.tasks(s.service_name) and self.desired_count(s.cluster_name, s.service_name) == 0
        ]
        if idle:
            self.scale_to_zero(idle)

    def url(self, names: Names, app: AppOutputs, service_name: str, *, test_route: bool) -> tuple[str, dict[str, str]]:
        """The local load balancer, with the environment's Host header (and the test route's header)."""
        if not self._state(service_name).is_file():
            raise DeployError(f"no local stand-in was started for {service_name}; deploy it again")
        lb = self.load_balancer()
        host = (urlsplit(app.url).hostname if app.url else None) or names.host
        headers = {"Host": host, **(app.test_route_header if test_route else {})}
        return lb.url, headers

    def observers(self) -> tuple[Any, Any, bool]:
        """The emulator's service and target groups, with what the stand-in and the local load
        balancer observe: its deployments and tasks, its targets' health."""
        clients = self.target.clients()
        return (
            StandInServiceView(clients("ecs"), self),
            locallb.TargetHealthView(clients("elbv2"), self.lb_dir),
            True,
        )

    def task_failure(self, service_name: str) -> str | None:
        """Why no task of ``service_name`` runs (None when one runs or none was started here)."""
        state = ServiceState.load(self._state(service_name))
        if state is None or any(_alive(t.pid) for t in state.tasks):
            return None
        failed = next((d for d in state.deployments if d.rolloutState == "FAILED"), None)
        if failed is not None and not state.tasks:
            return f"no task runs: {failed.rolloutStateReason}"
        return self.exited(service_name)

    def log_path(self, service_name: str) -> Path:
        return self.dir / f"{service_name}.log"

    def _state(self, workspace: str) -> Path:
        return self.dir / f"{workspace}.json"

    def state(self, service_name: str) -> ServiceState | None:
        return ServiceState.load(self._state(service_name))

    def task(self, workspace: str) -> LocalTask | None:
        """A running task of the service's PRIMARY deployment (any running task of it, else None)."""
        state = ServiceState.load(self._state(workspace))
        if state is None:
            return None
        primary = state.primary
        alive = [t for t in state.tasks if _alive(t.pid)]
        ours = [t for t in alive if primary is None or t.task_definition == primary.taskDefinition]
        chosen = ours or alive
        return chosen[0] if chosen else None

    def tasks(self, service_name: str) -> list[LocalTask]:
        state = ServiceState.load(self._state(service_name))
        return [t for t in state.tasks if _alive(t.pid)] if state else []

    # -- the local load balancer -----------------------------------------------------------------------
    def load_balancer(self) -> locallb.LoadBalancerInfo:
        """The local stand-in of the environment's ALB (its listener), started unless it runs."""
        from deploytool.state import platform_outputs

        running = locallb.running(self.lb_dir)
        if running is not None:
            return running
        listener = platform_outputs(self.target).listener_arn  # ensure_running replaces one of another listener
        credentials = self.target.runtime_credentials
        assert self.target.endpoint is not None
        return locallb.ensure_running(
            self.lb_dir,
            endpoint=self.target.endpoint,
            region=self.target.settings.region,
            listener_arn=listener,
            credentials=credentials.env() if credentials else {},
        )

    def _health_check(self, target_group_arn: str) -> locallb.HealthCheck:
        elbv2 = self.target.runtime_clients()("elbv2")
        (group,) = elbv2.describe_target_groups(TargetGroupArns=[target_group_arn])["TargetGroups"]
        attributes = {
            a["Key"]: a["Value"]
            for a in elbv2.describe_target_group_attributes(TargetGroupArn=target_group_arn)["Attributes"]
        }
        return locallb.HealthCheck.of(group, attributes, locallb.TIME_SCALE)

    def _observed(self, target_group_arn: str) -> dict[int, dict[str, Any]]:
        """The local load balancer's view of the group's targets, by port."""
        path = self.lb_dir / locallb.HEALTH_FILE
        try:
            groups = json.loads(path.read_text()).get("target_groups", {})
        except (OSError, ValueError):
            return {}
        return {int(d["Target"]["Port"]): d["TargetHealth"] for d in groups.get(target_group_arn, [])}

    def _register(self, target_group_arn: str, tasks: list[LocalTask], *, register: bool) -> None:
        if not tasks or not target_group_arn:
            return
        elbv2 = self.target.runtime_clients()("elbv2")
        targets: Any = [{"Id": HOST, "Port": t.port} for t in tasks]
        try:
            if register:
                elbv2.register_targets(TargetGroupArn=target_group_arn, Targets=targets)
            else:
                elbv2.deregister_targets(TargetGroupArn=target_group_arn, Targets=targets)
        except ClientError:
            if register:
                raise
            # The target group is gone (destroyed): nothing is registered any more.

    # -- a rollout ---------------------------------------------------------------------------------------
    def deploy(self, workspace: str, cluster: str, service: str | None = None, target_group_arn: str = "") -> None:
        """Roll the stand-in of ``service`` to its current task definition (see the class docstring)."""
        service = service or workspace
        env, arn, image, desired = self.service_definition(cluster, service)
        try:
            env = self.launch_environment(env, image)
            pull_failure = None
        except ImagePullError as exc:
            pull_failure = str(exc)
        path = self._state(workspace)
        state = ServiceState.load(path) or ServiceState([], [], [])
        old = [t for t in state.tasks if _alive(t.pid)]
        primary = state.primary
        if (
            old
            and all(t.task_definition == arn for t in old)
            and len(old) == desired
            and primary is not None
            and primary.rolloutState == "COMPLETED"
        ):
            return  # nothing to roll: ECS starts no deployment either
        number = 1 + max((int(d.id.rsplit("/", 1)[-1]) for d in state.deployments), default=0)
        deployment = Deployment(f"ecs-svc/{number}", "PRIMARY", arn, "IN_PROGRESS", desiredCount=desired)
        for d in state.deployments:
            d.status = "ACTIVE" if d.status == "PRIMARY" and old else "INACTIVE" if d.status == "PRIMARY" else d.status
        state.deployments = [deployment, *[d for d in state.deployments if d.status != "INACTIVE"][:4]]
        state.tasks = old
        if pull_failure is None:
            new = [self._spawn(workspace, env, arn, image, deployment.id, target_group_arn) for _ in range(desired)]
        else:
            new = []  # ECS starts the tasks and stops them before their container runs
        state.tasks = old + new
        deployment.pendingCount = len(new)
        state.events.insert(0, f"(service {service}) has started {desired} tasks: {deployment.id}.")
        state.save(path)
        self._register(target_group_arn, new, register=True)

        failure = pull_failure or self._await_healthy(workspace, new, target_group_arn)
        check = self._health_check(target_group_arn) if target_group_arn else None
        if failure is None:
            self._register(target_group_arn, old, register=False)
            if old and check is not None:
                time.sleep(check.deregistration_delay_s)
            for task in old:
                _terminate(task.pid)
            deployment.rolloutState, deployment.rolloutStateReason = (
                "COMPLETED",
                f"ECS deployment {deployment.id} completed.",
            )
            deployment.runningCount, deployment.pendingCount = len(new), 0
            for d in state.deployments[1:]:
                d.status = "INACTIVE"
            state.tasks = new
            state.events.insert(0, f"(service {service}) has reached a steady state.")
        else:
            self._register(target_group_arn, new, register=False)
            for task in new:
                _terminate(task.pid)
            reason = f"ECS deployment {deployment.id} failed: {failure}"
            deployment.rolloutState, deployment.rolloutStateReason = "FAILED", reason
            deployment.runningCount, deployment.pendingCount, deployment.failedTasks = 0, 0, desired
            deployment.status = "INACTIVE" if old else "PRIMARY"
            previous = next((d for d in state.deployments[1:] if d.status == "ACTIVE"), None)
            if previous is not None:
                previous.status = "PRIMARY"
            state.tasks = old
            rolled = f" The deployment circuit breaker rolled back to {previous.id}." if previous else ""
            state.events.insert(
                0, f"(service {service}) (deployment {deployment.id}) deployment failed: {failure}.{rolled}"
            )
        state.save(path)

    def _await_healthy(self, workspace: str, new: list[LocalTask], target_group_arn: str) -> str | None:
        """None when every new task's target is healthy and stays so; else why not."""
        budget = self.target.settings.health.timeout_seconds
        deadline = time.monotonic() + budget
        check = self._health_check(target_group_arn) if target_group_arn else None
        steady_s = check.interval_s * check.healthy_threshold if check else 2.0
        healthy_since: float | None = None
        was_healthy: set[int] = set()
        while True:
            for task in new:
                exited = self._exit(task)
                if exited:
                    when = "after its target was healthy" if task.port in was_healthy else "at start"
                    last = self._last_line(workspace)
                    return f"the task exited {when} ({exited}, {HOST}:{task.port}): {last}"
            if check is None:  # no target group (a service without a load balancer): running is enough
                states = ["healthy"] * len(new)
                observed: dict[int, dict[str, Any]] = {}
            else:
                observed = self._observed(target_group_arn)
                states = [observed.get(t.port, {}).get("State", "initial") for t in new]
            bad = next((t for t in new if observed.get(t.port, {}).get("State") == "unhealthy"), None)
            if bad is not None:
                health = observed[bad.port]
                return (
                    f"target {HOST}:{bad.port} is unhealthy "
                    f"({health.get('Reason', '')}: {health.get('Description', '')})"
                )
            was_healthy.update(t.port for t, state in zip(new, states, strict=True) if state == "healthy")
            now = time.monotonic()
            if all(s == "healthy" for s in states):
                healthy_since = healthy_since or now
                if now - healthy_since >= steady_s:
                    return None
            else:
                healthy_since = None
            if now >= deadline:
                return f"targets not healthy within {budget:g} s ({', '.join(states)})"
            time.sleep(0.1)

    def _exit(self, task: LocalTask) -> str | None:
        """How ``task`` ended (its exit status when this runtime started it), None while it runs."""
        proc = self._procs.get(task.pid)
        if proc is not None:
            status = proc.poll()
            return None if status is None else f"status {status}"
        return None if _alive(task.pid) else "status unknown"

    def _last_line(self, workspace: str) -> str:
        """The task output's last line that is not a metric document (EMF lines are JSON)."""
        log = self.log_path(workspace)
        text = log.read_text(errors="replace") if log.is_file() else ""
        lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("{")]
        return lines[-1][:300] if lines else "no output"

    # -- scaling to zero ---------------------------------------------------------------------------------
    def scale_to_zero(self, services: Sequence[ServiceOutputs]) -> None:
        """Deregister the tasks of ``services``, wait until the load balancer has drained them (the
        group's deregistration delay), stop them; each service's deployment then runs 0 of 0."""
        stopping: list[tuple[ServiceOutputs, list[LocalTask]]] = [(s, self.tasks(s.service_name)) for s in services]
        waits: list[tuple[str, set[int], float]] = []
        for service, tasks in stopping:
            self._register(service.target_group_arn, tasks, register=False)
            if service.target_group_arn:
                delay = self._health_check(service.target_group_arn).deregistration_delay_s
                waits.append((service.target_group_arn, {t.port for t in tasks}, delay))
        for arn, ports, delay in waits:
            # The load balancer notices a deregistration within its refresh and drains for the delay.
            deadline = time.monotonic() + delay + 4 * locallb.REFRESH_S + 2.0
            while time.monotonic() < deadline and ports & set(self._observed(arn)):
                time.sleep(0.1)
        for service, tasks in stopping:
            for task in tasks:
                _terminate(task.pid)
            path = self._state(service.service_name)
            state = ServiceState.load(path)
            if state is None:
                continue
            stopped = {t.pid for t in tasks}
            state.tasks = [t for t in state.tasks if t.pid not in stopped and _alive(t.pid)]
            for d in state.deployments:
                if d.status == "PRIMARY":
                    d.desiredCount, d.runningCount, d.pendingCount = 0, 0, 0
            name = service.service_name
            state.events.insert(0, f"(service {name}) has stopped {len(tasks)} running tasks: desired count 0.")
            state.events.insert(0, f"(service {name}) has reached a steady state.")
            state.save(path)

    # -- task definition -> process environment ------------------------------------------------------
    def desired_count(self, cluster: str, service: str, ecs_count: int | None = None) -> int:
        """The service's desired count as ECS holds it: the count Terraform set, moved into the bounds
        of the service's autoscaling target when it has one (Application Auto Scaling moves the
        current capacity into ``[MinCapacity, MaxCapacity]`` whenever they change; with
        ``ignore_changes = [desired_count]`` only those bounds reach the service after its creation)."""
        if ecs_count is None:
            ecs = self.target.runtime_clients()("ecs")
            services = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
            ecs_count = int(services[0].get("desiredCount", 0)) if services else 0
        try:
            scaling = self.target.runtime_clients()("application-autoscaling")
            found = scaling.describe_scalable_targets(
                ServiceNamespace="ecs",
                ResourceIds=[f"service/{cluster.rsplit('/', 1)[-1]}/{service}"],
                ScalableDimension="ecs:service:DesiredCount",
            ).get("ScalableTargets", [])
        except ClientError:
            found = []
        if not found:
            return ecs_count
        low, high = int(found[0]["MinCapacity"]), int(found[0]["MaxCapacity"])
        return min(max(ecs_count, low), high)

    def service_definition(self, cluster: str, service: str) -> tuple[dict[str, str], str, str, int]:
        """(environment incl. resolved secrets, task definition ARN, image, desired count) of the service."""
        ecs = self.target.runtime_clients()("ecs")
        services = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
        if not services or services[0].get("status") != "ACTIVE":
            raise DeployError(f"service {service} does not exist in the emulator's cluster {cluster}")
        env, arn, image = self.container_environment(cluster, service)
        return env, arn, image, self.desired_count(cluster, service, int(services[0].get("desiredCount", 0)))

    def container_environment(self, cluster: str, service: str) -> tuple[dict[str, str], str, str]:
        """(environment incl. resolved secrets, task definition ARN, image) of the applied service."""
        ecs = self.target.runtime_clients()("ecs")
        services = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
        if not services or services[0].get("status") != "ACTIVE":
            raise DeployError(f"service {service} does not exist in the emulator's cluster {cluster}")
        arn = services[0]["taskDefinition"]
        env, image = self.task_environment(arn)
        return env, arn, image

    def task_environment(self, arn: str) -> tuple[dict[str, str], str]:
        """(environment incl. resolved secrets, image) of the task definition ``arn``'s container."""
        ecs = self.target.runtime_clients()("ecs")
        container = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"][0]
        env = {item["name"]: item["value"] for item in container.get("environment", [])}
        sm = self.target.runtime_clients()("secretsmanager")
        for secret in container.get("secrets", []):
            env[secret["name"]] = sm.get_secret_value(SecretId=secret_id(secret["valueFrom"]))["SecretString"]
        return env, str(container.get("image", ""))

    def run_one_off(self, service: ServiceOutputs, command: Sequence[str], budget_s: float) -> OneOffResult:
        """``command`` once, as a local process with the environment of ``service.task_definition_arn``."""
        env, image = self.task_environment(service.task_definition_arn)
        try:
            env = self.launch_environment(env, image)
        except ImagePullError as exc:
            return OneOffResult(None, str(exc))
        workdir = service_dir(self.target)
        process_env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(workdir), **env}
        return oneoff.run_locally(command, env=process_env, cwd=workdir, budget_s=budget_s)

    def image_environment(self, image: str) -> dict[str, str]:
        """The environment ``image`` carries (its manifest's annotations, see ``push_stand_in_image``), read
        from the emulator's ECR as ECS pulls it; ImagePullError when ECR does not hold it."""
        repository, image_id = image_reference(image)
        ecr = self.target.runtime_clients()("ecr")
        try:
            answer = ecr.batch_get_image(repositoryName=repository, imageIds=[image_id])
        except ClientError as exc:
            raise ImagePullError(f"CannotPullContainerError: pull image manifest of {image}: {exc}") from exc
        images = answer.get("images", [])
        if not images:
            failures = answer.get("failures", [])
            why = failures[0].get("failureReason", "not found") if failures else "not found"
            raise ImagePullError(f"CannotPullContainerError: pull image manifest of {image}: {why}")
        try:
            annotations = json.loads(images[0]["imageManifest"]).get("annotations") or {}
        except (KeyError, ValueError, AttributeError):
            annotations = {}
        return {
            key[len(IMAGE_ENV_PREFIX) :]: str(value)
            for key, value in annotations.items()
            if key.startswith(IMAGE_ENV_PREFIX)
        }

    def launch_environment(self, env: Mapping[str, str], image: str) -> dict[str, str]:
        """What a task of ``image`` with the task definition's ``env`` runs with: the image's environment
        under the task definition's (which wins, as on ECS), database URLs mapped (``map_database``)."""
        return self.local_database({**self.image_environment(image), **env})

    def role_suffix(self) -> str:
        """What this data directory appends to the application role's name in the local database.

        Each RDS instance has its own roles; the one local PostgreSQL serves every emulator session on
        the machine (parallel test workers, the demo), each with its own random password for the same
        role name, and the last migration to run would lock the others' services out. So locally the
        role is ``<APP_DB_USER>_<6 hex of the data directory>``, for the migration and the service alike.
        """
        return "_" + hashlib.sha256(str(self.target.data_root.resolve()).encode()).hexdigest()[:6]

    def local_database(self, env: dict[str, str]) -> dict[str, str]:
        """``map_database`` with this data directory's role suffix."""
        return self.map_database(env, role_suffix=self.role_suffix())

    @staticmethod
    def map_database(env: dict[str, str], *, role_suffix: str = "") -> dict[str, str]:
        """Point database URLs aimed at the emulator's RDS endpoint at the local PostgreSQL.

        The master user's (``MIGRATION_DATABASE_URL``, or a ``DATABASE_URL`` of the master user) becomes
        the local database's owner, which ``.ci/install-postgis.sh`` gives what the RDS master user has.
        A ``DATABASE_URL`` of the application role (``APP_DB_USER``) keeps that role and its password
        (``PGPASSWORD``, resolved from its secret): the service logs in as the role its migration made,
        exactly as on RDS. ``role_suffix`` is appended to that role's name (see ``role_suffix``).
        """
        local = os.environ.get(LOCAL_DB_ENV, DEFAULT_LOCAL_DB)
        app_user = env.get("APP_DB_USER")

        def aimed(url: str) -> bool:
            host = urlsplit(url).hostname or ""
            return bool(url) and (host.endswith(".amazonaws.com") or host == env.get("PGHOST"))

        mapped = dict(env)
        if aimed(env.get("MIGRATION_DATABASE_URL", "")):
            mapped["MIGRATION_DATABASE_URL"] = local
            mapped.pop("MIGRATION_DB_PASSWORD", None)  # the local URL carries the owner's
        url = env.get("DATABASE_URL", "")
        local_user = (app_user + role_suffix)[:63] if app_user else None
        if local_user and aimed(env.get("MIGRATION_DATABASE_URL", "") or url):
            mapped["APP_DB_USER"] = local_user
        if aimed(url):
            user = urlsplit(url).username
            if user and user == app_user and local_user:
                parts = urlsplit(local)
                netloc = f"{quote(local_user, safe='')}:{quote(env.get('PGPASSWORD', ''), safe='')}@{parts.hostname}"
                netloc += f":{parts.port}" if parts.port else ""
                mapped["DATABASE_URL"] = urlunsplit(parts._replace(netloc=netloc))
            else:
                mapped["DATABASE_URL"] = local
        if mapped != env:
            mapped = {k: v for k, v in mapped.items() if not k.startswith("PG")}
        return mapped

    def _spawn(
        self, workspace: str, env: dict[str, str], arn: str, image: str, deployment: str, target_group_arn: str
    ) -> LocalTask:
        port = free_port()
        workdir = service_dir(self.target)
        if not (workdir / "geoapi").is_dir():
            raise DeployError(f"the reference service is missing at {workdir}")
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
        self._procs[proc.pid] = proc
        return LocalTask(
            workspace=workspace,
            pid=proc.pid,
            port=port,
            task_definition=arn,
            image=image,
            deployment=deployment,
            target_group_arn=target_group_arn,
        )

    def exited(self, workspace: str) -> str | None:
        """Why no local task of ``workspace`` runs (its last log line), or None if one runs."""
        state = ServiceState.load(self._state(workspace))
        if state is None:
            return "no local task was started"
        if any(_alive(t.pid) for t in state.tasks):
            return None
        return f"the task exited at start: {self._last_line(workspace)}"

    def stop(self, workspace: str) -> bool:
        path = self._state(workspace)
        state = ServiceState.load(path)
        if state is None:
            return False
        by_group: dict[str, list[LocalTask]] = {}
        for task in state.tasks:
            by_group.setdefault(task.target_group_arn, []).append(task)
        for arn, tasks in by_group.items():
            with contextlib.suppress(ClientError, DeployError):
                self._register(arn, tasks, register=False)
        stopped = [_terminate(task.pid) for task in state.tasks]
        path.unlink(missing_ok=True)
        return any(stopped)

    def stop_all(self) -> int:
        count = sum(self.stop(path.stem) for path in self.dir.glob("*.json"))
        locallb.stop(self.lb_dir)
        return count

    def running(self) -> list[LocalTask]:
        return [t for p in self.dir.glob("*.json") for t in self.tasks(p.stem)]


def _terminate(pid: int) -> bool:
    """SIGTERM the task's process group (uvicorn finishes in-flight requests), SIGKILL after 5 s."""
    if not _alive(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    for _ in range(50):
        if not _alive(pid):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return True


class StandInServiceView:
    """``describe_services`` in local mode: the emulator's service with the stand-in's deployments,
    task counts and events, as ECS reports them."""

    def __init__(self, ecs: Any, runtime: LocalRuntime) -> None:
        self.ecs = ecs
        self.runtime = runtime

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        response: dict[str, Any] = dict(self.ecs.describe_services(cluster=cluster, services=services))
        for svc in response.get("services", []):
            state = self.runtime.state(str(svc.get("serviceName", "")))
            if state is None or not state.deployments:
                continue
            alive = {t.deployment for t in state.tasks if _alive(t.pid)}
            deployments = []
            for d in state.deployments:
                shown = asdict(d)
                if d.rolloutState != "FAILED" and d.status != "INACTIVE" and d.id not in alive:
                    shown["runningCount"] = 0  # its tasks died after the rollout
                deployments.append(shown)
            svc["deployments"] = deployments
            svc["runningCount"] = sum(1 for t in state.tasks if _alive(t.pid))
            svc["events"] = [{"id": str(i), "message": m} for i, m in enumerate(state.events)]
        return response
