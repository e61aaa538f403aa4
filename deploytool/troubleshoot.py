"""Troubleshooting: the service's logs, its ECS events explained, and the diagnose checklist.

Three tools for the questions people ask when a deploy goes wrong:

- ``read_logs`` / ``follow_logs``: the service's CloudWatch log events (the platform's log group,
  the streams under the branch's awslogs prefix), newest last.
- ``service_events``: the ECS service's recent events and its stopped tasks, each explained in
  plain words with the likely fix (``explain``).
- ``diagnose``: a checklist of everything a healthy branch environment needs (service, image,
  target group, security groups, database, execution role, HTTP health), each failure with its fix.

Every check result is a ``deploytool.health.CheckResult``. On the AWS emulator no task runs and no
target is registered: checks that need them are ``unavailable`` (never ``pass``) and do not fail
the diagnosis; everything the emulator does know is checked as on AWS.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from deploytool import naming
from deploytool.aws import Clients
from deploytool.awschecks import TARGETS_CHECK, check_target_health, task_definition_label
from deploytool.deploy import platform_outputs
from deploytool.errors import DeployError
from deploytool.health import CheckResult, HealthSettings, Status, Verdict, check_http
from deploytool.stack import Target
from deploytool.terraform import output_values

CONTAINER_PORT = 8000  # the Geo API's port (service contract)
DB_PORT = 5432
EXECUTION_ROLE_POLICY = "AmazonECSTaskExecutionRolePolicy"
EMULATOR = "unavailable on the emulator"
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repo>.+)$"
)


# --- where things are -----------------------------------------------------------------------------


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
    return output_values(outputs)


def _aws_error(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)


def _error_code(exc: ClientError | BotoCoreError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) if isinstance(exc, ClientError) else ""


# --- logs -----------------------------------------------------------------------------------------


class LogGroupMissingError(DeployError):
    """The log group does not exist (yet)."""


@dataclass(frozen=True)
class LogEvent:
    """One CloudWatch log event of the service."""

    timestamp_ms: int
    stream: str
    message: str
    event_id: str

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)

    def line(self, prefix: str = "") -> str:
        """``<UTC time>  <stream without the prefix>  <message>``."""
        stamp = self.time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.timestamp_ms % 1000:03d}Z"
        stream = self.stream[len(prefix) :] if prefix and self.stream.startswith(prefix) else self.stream
        return f"{stamp}  {stream}  {self.message.rstrip()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "timestamp_ms": self.timestamp_ms,
            "stream": self.stream,
            "message": self.message,
            "event_id": self.event_id,
        }


@dataclass(frozen=True)
class LogSource:
    """A log group and the stream prefix of one service (awslogs: ``<prefix>/<container>/<task id>``)."""

    group: str
    prefix: str

    @property
    def stream_prefix(self) -> str:
        return self.prefix.rstrip("/") + "/"


def log_source(where: Where) -> LogSource:
    """The platform's log group and the branch's stream prefix (the app stack's, else the naming rule)."""
    outputs = app_outputs(where.target, where.names.workspace)
    group = str(outputs.get("log_group_name") or where.platform.get("log_group_name") or "")
    if not group:
        raise DeployError(f"the {where.env} platform has no log_group_name output; apply the platform stack again")
    return LogSource(group, str(outputs.get("log_prefix") or where.names.log_prefix))


_DURATION_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, *, now: datetime | None = None) -> int:
    """Epoch milliseconds for ``--since``: a duration back from now (``30m``, ``2h``, ``1h30m``, ``7d``)
    or an ISO 8601 time (``2024-05-01T12:00:00Z``; naive times are UTC)."""
    now = now or datetime.now(UTC)
    value = text.strip().lower()
    if value and _DURATION_PART.sub("", value).strip() == "":
        seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(value))
        return int((now - timedelta(seconds=seconds)).timestamp() * 1000)
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise DeployError(
            f"--since {text!r} is neither a duration (30m, 2h, 1d, 1h30m) nor an ISO time (2024-05-01T12:00:00Z)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def check_log_source(logs: Any, source: LogSource) -> str | None:
    """Raise ``LogGroupMissingError`` when the group does not exist; a notice when no stream exists yet."""
    try:
        streams = logs.describe_log_streams(
            logGroupName=source.group, logStreamNamePrefix=source.stream_prefix, limit=1
        ).get("logStreams", [])
    except ClientError as exc:
        if _error_code(exc) == "ResourceNotFoundException":
            raise LogGroupMissingError(
                f"log group {source.group} does not exist yet: the platform stack creates it "
                "(`deploytool apply --stack platform` for this environment)"
            ) from None
        raise DeployError(f"cannot read log group {source.group}: {_aws_error(exc)}") from exc
    if not streams:
        return (
            f"no log streams under {source.stream_prefix} in {source.group} yet: no task of this service has "
            "started and logged (see `deploytool events`)"
        )
    return None


def open_logs(where: Where) -> tuple[Any, LogSource, str | None]:
    """The Logs client, the service's log source and a notice when it has no streams yet.

    Raises ``LogGroupMissingError`` when the log group does not exist. In local mode the notice
    names the file the local stand-in writes its output to (it does not log to the emulator).
    """
    source = log_source(where)
    client = where.target.clients()("logs")
    notice = check_log_source(client, source)
    if notice and where.emulator:
        from deploytool.localrun import LocalRuntime

        output = LocalRuntime(where.target).dir / f"{where.names.workspace}.log"
        notice += f"; the local stand-in of the task writes its output to {output}, not to the emulator"
    return client, source, notice


def read_logs(
    logs: Any,
    source: LogSource,
    *,
    start_ms: int,
    end_ms: int | None = None,
    pattern: str | None = None,
) -> list[LogEvent]:
    """Every event of the service's streams from ``start_ms`` on, oldest first (newest last).

    ``pattern`` is a CloudWatch Logs filter pattern: plain words match events containing all of
    them, a double-quoted phrase matches it exactly, ``{ $.level = "error" }`` matches JSON events.
    """
    request: dict[str, Any] = {
        "logGroupName": source.group,
        "logStreamNamePrefix": source.stream_prefix,
        "startTime": start_ms,
        "interleaved": True,
    }
    if end_ms is not None:
        request["endTime"] = end_ms
    if pattern:
        request["filterPattern"] = pattern
    events: list[LogEvent] = []
    token: str | None = None
    for _ in range(10000):
        try:
            page = logs.filter_log_events(**request, **({"nextToken": token} if token else {}))
        except ClientError as exc:
            if _error_code(exc) == "ResourceNotFoundException":
                raise LogGroupMissingError(f"log group {source.group} does not exist yet") from None
            raise DeployError(f"cannot read log group {source.group}: {_aws_error(exc)}") from exc
        for item in page.get("events", []):
            if not str(item.get("logStreamName", "")).startswith(source.stream_prefix):
                continue  # only this service's streams, whatever the backend does with the prefix
            events.append(
                LogEvent(
                    timestamp_ms=int(item.get("timestamp", 0)),
                    stream=str(item.get("logStreamName", "")),
                    message=str(item.get("message", "")),
                    event_id=str(item.get("eventId") or f"{item.get('logStreamName')}/{item.get('timestamp')}"),
                )
            )
        next_token = page.get("nextToken")
        if not next_token or next_token == token:
            break
        token = next_token
    events.sort(key=lambda e: (e.timestamp_ms, e.stream, e.event_id))
    return events


def follow_logs(
    logs: Any,
    source: LogSource,
    on_event: Callable[[LogEvent], None],
    *,
    start_ms: int,
    pattern: str | None = None,
    poll_s: float = 2.0,
    max_polls: int | None = None,
    timeout_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print-as-they-come: read from ``start_ms``, then poll every ``poll_s`` for newer events.

    Each event is passed to ``on_event`` once, in time order within a poll. Stops after
    ``max_polls`` reads or ``timeout_s`` seconds (None: until interrupted). Returns the number of
    events passed on.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    cursor = start_ms
    seen: dict[str, int] = {}  # event id -> timestamp, for events at or after the cursor
    passed = 0
    polls = 0
    while True:
        for event in read_logs(logs, source, start_ms=cursor, pattern=pattern):
            if event.event_id in seen:
                continue
            seen[event.event_id] = event.timestamp_ms
            on_event(event)
            passed += 1
        if seen:
            cursor = max(cursor, *seen.values())
            seen = {key: ts for key, ts in seen.items() if ts >= cursor}
        polls += 1
        if max_polls is not None and polls >= max_polls:
            return passed
        if deadline is not None and time.monotonic() + poll_s > deadline:
            return passed
        sleep(poll_s)


# --- ECS events, explained ------------------------------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    """What an ECS message means in plain words and what usually fixes it."""

    kind: str
    meaning: str
    fix: str
    problem: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "meaning": self.meaning, "fix": self.fix, "problem": self.problem}


# Placeholders in the fixes, filled with the commands for the environment at hand (see ``explain``).
_LOGS_FIX = "read what the container printed before it stopped: {logs}"
_DIAGNOSE = "{diagnose}"
DEFAULT_COMMANDS = {"logs": "`deploytool logs --since 1h`", "diagnose": "`deploytool diagnose`"}


def _exit_code_note(code: int | None) -> str:
    notes = {
        0: "it exited with code 0: the process ended on its own, but a service must keep running",
        1: "it exited with code 1: the application failed at start (configuration, database, import error)",
        2: "it exited with code 2: the command line of the container is wrong",
        126: "it exited with code 126: the container command is not executable",
        127: "it exited with code 127: the container command was not found in the image",
        137: "it exited with code 137: it was killed (out of memory, or it ignored SIGTERM when stopped)",
        139: "it exited with code 139: it crashed (segmentation fault)",
        143: "it exited with code 143: it was stopped with SIGTERM",
    }
    if code is None:
        return "it exited"
    return notes.get(code, f"it exited with code {code}")


Matcher = Callable[[str], bool]


def _any(*words: str) -> Matcher:
    return lambda text: any(word in text for word in words)


def _all(*matchers: Matcher) -> Matcher:
    return lambda text: all(m(text) for m in matchers)


_DENIED = _any("accessdenied", "access denied", "not authorized", "403", "unauthorized")
_UNREACHABLE = _any("timeout", "timed out", "dial tcp", "deadline exceeded", "no route", "request canceled")
_PULL = _any("cannotpullcontainererror", "pull image manifest", "failed to resolve ref")
_INIT = _any("resourceinitializationerror")
_INIT_ECR = _all(_INIT, _any("ecr registry auth", "api.ecr"))
# Every task-init message says "unable to pull secrets or registry auth"; the cause follows it.
_INIT_SECRETS = _all(_INIT, _any("retrieve secret", "from asm", "secretsmanager", "ssm", "parameter"))


def _elb_health_check(text: str) -> bool:
    return "failed elb health checks" in text or ("unhealthy in" in text and "target-group" in text)


# Ordered: the first rule that matches explains the message. ``container-exited`` gets the exit code.
_RULES: tuple[tuple[Matcher, Explanation], ...] = (
    (
        _all(_PULL, _any("not found", "manifest unknown", "does not exist")),
        Explanation(
            "image-not-found",
            "ECS could not pull the image: the tag is not in the repository.",
            f"push the image (CI builds and pushes it) or deploy a tag that exists; {_DIAGNOSE} checks image.ecr",
        ),
    ),
    (
        _all(_PULL, _DENIED),
        Explanation(
            "image-pull-denied",
            "ECS could not pull the image: the task execution role may not read the repository.",
            f"attach {EXECUTION_ROLE_POLICY} to the execution role (re-apply the platform); "
            f"{_DIAGNOSE} checks iam.execution_role",
        ),
    ),
    (
        _all(_PULL, _UNREACHABLE),
        Explanation(
            "image-pull-network",
            "ECS could not reach the registry: the task's subnets have no route to ECR.",
            "give the private subnets a NAT gateway or VPC endpoints for ECR (api, dkr) and S3",
        ),
    ),
    (
        _PULL,
        Explanation(
            "image-pull",
            "ECS could not pull the container image.",
            f"check the tag exists and the execution role may pull it: {_DIAGNOSE} (image.ecr, iam.execution_role)",
        ),
    ),
    (
        _all(_INIT_ECR, _DENIED),
        Explanation(
            "registry-auth-denied",
            "The task could not start: the execution role may not get ECR credentials.",
            f"re-apply the platform (it attaches {EXECUTION_ROLE_POLICY}); {_DIAGNOSE} checks iam.execution_role",
        ),
    ),
    (
        _INIT_ECR,
        Explanation(
            "registry-unreachable",
            "The task could not start: ECS could not reach ECR from the task's subnets.",
            "give the private subnets a NAT gateway or VPC endpoints for ECR (api, dkr) and S3",
        ),
    ),
    (
        _all(_INIT_SECRETS, _DENIED),
        Explanation(
            "secrets-denied",
            "The task could not start: the execution role may not read one of its secrets.",
            "add the secret's ARN to the platform's task secrets and re-apply the platform; "
            f"{_DIAGNOSE} checks iam.execution_role",
        ),
    ),
    (
        _all(_INIT_SECRETS, _any("resourcenotfound", "not found", "can't find", "parameternotfound")),
        Explanation(
            "secret-missing",
            "The task could not start: a secret it references does not exist.",
            "create the secret (`deploytool bootstrap` creates the database one) or fix its ARN in deploy.toml",
        ),
    ),
    (
        _INIT_SECRETS,
        Explanation(
            "secrets-unreachable",
            "The task could not start: ECS could not fetch its secrets (no network path to Secrets Manager / SSM).",
            "give the private subnets a NAT gateway or a Secrets Manager VPC endpoint; "
            f"{_DIAGNOSE} checks the execution role's permissions",
        ),
    ),
    (
        _all(_INIT, _any("logger", "log group", "log stream")),
        Explanation(
            "log-setup",
            "The task could not start: its awslogs configuration failed (log group missing or no permission).",
            "re-apply the platform (it creates the log group and the execution role's log permissions)",
        ),
    ),
    (
        _INIT,
        Explanation(
            "task-init",
            "The task could not start: ECS failed preparing it (secrets, registry credentials, logs or network).",
            f"{_DIAGNOSE} checks the execution role, the image and the network",
        ),
    ),
    (
        _any("outofmemory", "killed due to memory"),
        Explanation(
            "out-of-memory",
            "The container used more memory than the task has and was killed.",
            "raise `memory` for this environment in deploy.toml (and cpu to a valid pair), then deploy again",
        ),
    ),
    (
        _elb_health_check,
        Explanation(
            "health-check",
            f"The load balancer's health check failed: the app did not answer 200 on /health, port "
            f"{CONTAINER_PORT}, in time (crashing, slow to start, listening elsewhere, or blocked).",
            f"{_DIAGNOSE} checks the target group's path/port and the ALB -> service security group; "
            f"the app must listen on 0.0.0.0:{CONTAINER_PORT}; {_LOGS_FIX}",
        ),
    ),
    (
        _any("failed container health checks"),
        Explanation(
            "container-health-check",
            "The container's own health check command failed.",
            f"check the health check command of the image and /health; {_LOGS_FIX}",
        ),
    ),
    (
        _any("essential container in task exited"),
        Explanation("container-exited", "The application container stopped, so ECS stopped the task.", _LOGS_FIX),
    ),
    (
        _any("circuit breaker", "deployment failed"),
        Explanation(
            "deployment-failed",
            "The deployment failed (its tasks kept stopping) and ECS rolled back to the previous task definition.",
            "read the stopped tasks' reasons (this command) and the logs, fix, then deploy again",
        ),
    ),
    (
        _any("unable to assume the role", "not authorized to perform", "accessdenied"),
        Explanation(
            "permissions",
            "ECS was denied an AWS action (a role is missing, not trusted by ECS, or lacks a permission).",
            f"re-apply the platform (it owns the roles); {_DIAGNOSE} checks iam.execution_role",
        ),
    ),
    (
        _any("unable to place a task", "no container instance met"),
        Explanation(
            "placement",
            "ECS could not place a task (capacity, subnets or account limits).",
            "check the service's subnets have free IP addresses and the account's Fargate quota",
        ),
    ),
    (
        _any("network interface"),
        Explanation(
            "networking",
            "ECS could not attach a network interface to the task.",
            "check the subnets have free IP addresses and the security groups exist",
        ),
    ),
    (
        _any("failed to register targets", "failed to deregister targets"),
        Explanation(
            "target-registration",
            "ECS could not register the task with the target group.",
            "re-apply the app stack so the service and its target group match",
        ),
    ),
    (
        _any("has reached a steady state", "deployment completed"),
        Explanation("steady", "The service runs the desired number of healthy tasks.", "nothing to do", False),
    ),
    (
        _any(
            "scaling activity initiated by", "stopped by user", "has started", "has stopped", "registered", "draining"
        ),
        Explanation(
            "routine", "Routine ECS work (a deployment or scaling starting or stopping tasks).", "nothing to do", False
        ),
    ),
)


def explain(
    message: str, *, exit_code: int | None = None, commands: Mapping[str, str] | None = None
) -> Explanation | None:
    """Plain words and the likely fix for an ECS service event or a stopped task's reason (None: unknown).

    ``commands`` fills the commands the fixes name (``logs``, ``diagnose``) for one environment.
    """
    text = message.lower()
    filled = {**DEFAULT_COMMANDS, **(commands or {})}
    for matches, explanation in _RULES:
        if matches(text):
            meaning = explanation.meaning
            if explanation.kind == "container-exited":
                meaning = f"The application container stopped, so ECS stopped the task: {_exit_code_note(exit_code)}."
            return replace(explanation, meaning=meaning, fix=explanation.fix.format(**filled))
    return None


@dataclass(frozen=True)
class EventItem:
    """A service event or a stopped task, with its explanation."""

    source: str  # "service" | "task"
    time: str
    message: str
    explanation: Explanation | None
    task: str | None = None
    task_definition: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "time": self.time,
            "message": self.message,
            "task": self.task,
            "task_definition": self.task_definition,
            "explanation": self.explanation.to_dict() if self.explanation else None,
        }


@dataclass
class EventsReport:
    """What ECS says about the service: its state, recent events, stopped tasks and notes."""

    service: str
    cluster: str
    status: str | None = None
    running: int | None = None
    desired: int | None = None
    task_definition: str | None = None
    events: list[EventItem] = field(default_factory=list)
    stopped_tasks: list[EventItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[EventItem]:
        return [i for i in (*self.stopped_tasks, *self.events) if i.explanation and i.explanation.problem]

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "cluster": self.cluster,
            "status": self.status,
            "running": self.running,
            "desired": self.desired,
            "task_definition": self.task_definition,
            "events": [e.to_dict() for e in self.events],
            "stopped_tasks": [t.to_dict() for t in self.stopped_tasks],
            "notes": list(self.notes),
        }

    def text(self) -> str:
        lines = [f"service {self.service} in {self.cluster}: " + self._state()]
        lines.append("")
        lines.append("stopped tasks (newest first):" if self.stopped_tasks else "stopped tasks: none recorded")
        for item in self.stopped_tasks:
            lines.extend(_item_lines(item))
        lines.append("")
        lines.append("service events (newest first):" if self.events else "service events: none")
        for item in self.events:
            lines.extend(_item_lines(item))
        if self.notes:
            lines.append("")
            lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)

    def _state(self) -> str:
        if self.status is None:
            return "not found"
        parts = [str(self.status)]
        if self.running is not None and self.desired is not None:
            parts.append(f"{self.running}/{self.desired} tasks running")
        if self.task_definition:
            parts.append(f"task definition {self.task_definition}")
        return ", ".join(parts)


def _item_lines(item: EventItem) -> list[str]:
    head = f"  {item.time}  "
    if item.task:
        head += f"task {item.task}"
        if item.task_definition:
            head += f" ({item.task_definition})"
        head += ": "
    lines = [head + item.message]
    if item.explanation and item.explanation.problem:
        lines.append(f"      what it means: {item.explanation.meaning}")
        lines.append(f"      fix: {item.explanation.fix}")
    return lines


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return str(value or "-")


def task_stop_message(task: Mapping[str, Any]) -> tuple[str, int | None]:
    """One line for a stopped task (its stop reason and the containers' reasons) and the essential exit code."""
    parts: list[str] = []
    reason = str(task.get("stoppedReason") or "").strip()
    code = str(task.get("stopCode") or "").strip()
    if reason:
        parts.append(reason)
    elif code:
        parts.append(code)
    exit_code: int | None = None
    containers: Sequence[Mapping[str, Any]] = task.get("containers", [])
    for container in containers:
        name = str(container.get("name", "?"))
        bits = []
        if container.get("reason"):
            bits.append(str(container["reason"]))
        if container.get("exitCode") is not None:
            bits.append(f"exit code {container['exitCode']}")
            if exit_code is None:
                exit_code = int(container["exitCode"])
        if bits:
            parts.append(f"container {name}: " + ", ".join(bits))
    return ("; ".join(parts) or "stopped, no reason given"), exit_code


def summarize_events(
    service: Mapping[str, Any] | None,
    stopped_tasks: Sequence[Mapping[str, Any]],
    *,
    service_name: str,
    cluster: str,
    limit: int = 10,
    commands: Mapping[str, str] | None = None,
) -> EventsReport:
    """The report of a ``describe_services`` service (None: missing) and ``describe_tasks`` stopped tasks.

    ``commands``: the commands the fixes name, for this environment (see ``explain``).
    """
    report = EventsReport(service=service_name, cluster=cluster)
    if service is not None:
        report.status = str(service.get("status"))
        report.running = int(service.get("runningCount", 0))
        report.desired = int(service.get("desiredCount", 0))
        report.task_definition = task_definition_label(str(service.get("taskDefinition", ""))) or None
        events: Sequence[Mapping[str, Any]] = service.get("events", [])
        ordered = sorted(events, key=lambda e: _sort_key(e.get("createdAt")), reverse=True)
        for event in ordered[:limit]:
            message = str(event.get("message", ""))
            report.events.append(
                EventItem("service", _when(event.get("createdAt")), message, explain(message, commands=commands))
            )
    tasks = sorted(stopped_tasks, key=lambda t: _sort_key(t.get("stoppedAt") or t.get("createdAt")), reverse=True)
    for task in tasks[:limit]:
        message, exit_code = task_stop_message(task)
        arn = str(task.get("taskArn", ""))
        report.stopped_tasks.append(
            EventItem(
                "task",
                _when(task.get("stoppedAt") or task.get("stoppingAt")),
                message,
                explain(message, exit_code=exit_code, commands=commands),
                task=arn.rsplit("/", 1)[-1] or None,
                task_definition=task_definition_label(str(task.get("taskDefinitionArn", ""))) or None,
            )
        )
    return report


def _sort_key(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return 0.0


def service_events(where: Where, *, limit: int = 10) -> EventsReport:
    """The service's recent events and stopped tasks from ECS, explained."""
    ecs = where.target.clients()("ecs")
    service_name = where.names.service
    try:
        services = ecs.describe_services(cluster=where.cluster, services=[service_name]).get("services", [])
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(f"cannot describe service {service_name}: {_aws_error(exc)}") from exc
    service = services[0] if services else None
    stopped: list[Mapping[str, Any]] = []
    if service is not None:
        try:
            arns = ecs.list_tasks(cluster=where.cluster, serviceName=service_name, desiredStatus="STOPPED").get(
                "taskArns", []
            )
            if arns:
                stopped = ecs.describe_tasks(cluster=where.cluster, tasks=arns[:100]).get("tasks", [])
        except (ClientError, BotoCoreError) as exc:
            raise DeployError(f"cannot list the stopped tasks of {service_name}: {_aws_error(exc)}") from exc
    commands = {"logs": where.command("logs", "--since", "1h"), "diagnose": where.command("diagnose")}
    report = summarize_events(
        service, stopped, service_name=service_name, cluster=where.cluster, limit=limit, commands=commands
    )
    if service is None:
        report.notes.append(f"the service does not exist: deploy the branch first ({where.command('deploy')})")
    elif not stopped and not where.emulator:
        report.notes.append("ECS keeps stopped tasks for about an hour; older failures only show in the events")
    if where.emulator:
        report.running = None  # the emulator's running count is made up: no task runs there
        report.notes.append(f"running tasks, stopped tasks and service events are {EMULATOR}: no task runs there")
        local = _local_task_state(where)
        if local:
            report.notes.append(local)
    return report


def _local_task_state(where: Where) -> str | None:
    from deploytool.localrun import LocalRuntime

    runtime = LocalRuntime(where.target)
    task = runtime.task(where.names.workspace)
    if task is not None:
        return f"the local stand-in for the task runs at {task.url} (pid {task.pid}, image {task.image})"
    why = runtime.exited(where.names.workspace)
    if why:
        log = runtime.dir / f"{where.names.workspace}.log"
        return f"the local stand-in for the task is not running: {why} (its output: {log})"
    return None


# --- diagnose -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One check of the checklist and, when it fails, what to do about it."""

    check: CheckResult
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**self.check.to_dict(), "fix": self.fix if self.check.status == "fail" else ""}


@dataclass(frozen=True)
class Diagnosis:
    """The checklist's findings for one environment/workspace."""

    env: str
    workspace: str
    emulator: bool
    findings: tuple[Finding, ...]

    @property
    def verdict(self) -> Verdict:
        return Verdict(tuple(f.check for f in self.findings))

    @property
    def ok(self) -> bool:
        """No check failed (``unavailable`` checks are neither passes nor failures)."""
        return self.verdict.ok

    def finding(self, name: str) -> Finding | None:
        return next((f for f in self.findings if f.check.name == name), None)

    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.check.status == "fail"]

    def counts(self) -> dict[Status, int]:
        out: dict[Status, int] = {"pass": 0, "fail": 0, "unavailable": 0}
        for f in self.findings:
            out[f.check.status] += 1
        return out

    def summary(self) -> str:
        c = self.counts()
        line = f"{len(self.findings)} checks: {c['pass']} passed, {c['fail']} failed"
        if c["unavailable"]:
            where = EMULATOR if self.emulator else "unavailable here"
            line += f", {c['unavailable']} {where} (not counted as passed)"
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "workspace": self.workspace,
            "emulator": self.emulator,
            "ok": self.ok,
            "summary": self.summary(),
            "checks": [f.to_dict() for f in self.findings],
        }

    def table(self) -> str:
        labels = {"pass": "PASS", "fail": "FAIL", "unavailable": "UNAVAILABLE"}
        width = max((len(f.check.name) for f in self.findings), default=10)
        where = " (emulator)" if self.emulator else ""
        lines = [f"diagnose {self.env} / {self.workspace}{where}"]
        for f in self.findings:
            lines.append(f"  {labels[f.check.status]:<11}  {f.check.name:<{width}}  {f.check.detail}")
            if f.check.status == "fail" and f.fix:
                lines.append(f"  {'':<11}  {'':<{width}}  fix: {f.fix}")
        lines.append(self.summary())
        return "\n".join(lines)


def _pass(name: str, detail: str) -> Finding:
    return Finding(CheckResult(name, "pass", detail))


def _fail(name: str, detail: str, fix: str) -> Finding:
    return Finding(CheckResult(name, "fail", detail), fix)


def _unavailable(name: str, detail: str) -> Finding:
    return Finding(CheckResult(name, "unavailable", detail))


def _not_checked(name: str, because: str, first: str) -> Finding:
    return Finding(CheckResult(name, "fail", f"not checked: {because}"), f"fix {first} first")


@dataclass
class _Facts:
    """What the checks read from AWS, fetched once."""

    service: Mapping[str, Any] | None = None
    service_error: str = ""
    task_definition: Mapping[str, Any] | None = None
    container: Mapping[str, Any] | None = None
    db_instance: Mapping[str, Any] | None = None
    db_error: str = ""
    app_outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def service_groups(self) -> list[str]:
        if self.service is None:
            return []
        config = self.service.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
        return [str(g) for g in config.get("securityGroups", [])]

    @property
    def load_balancer(self) -> Mapping[str, Any] | None:
        if self.service is None:
            return None
        balancers: Sequence[Mapping[str, Any]] = self.service.get("loadBalancers", [])
        return balancers[0] if balancers else None

    @property
    def container_port(self) -> int | None:
        lb = self.load_balancer
        if lb and lb.get("containerPort"):
            return int(lb["containerPort"])
        mappings: Sequence[Mapping[str, Any]] = (self.container or {}).get("portMappings", [])
        return int(mappings[0]["containerPort"]) if mappings else None


def diagnose(
    target: Target,
    branch: str | None,
    *,
    base_url: str | None = None,
    http_budget_s: float = 8.0,
    progress: Callable[[str], None] | None = None,
) -> Diagnosis:
    """Run the checklist for ``branch`` (or the environment) and return every finding.

    Order: service, running tasks (local stand-in in local mode), image tag, image in ECR, target
    health, target group health check, ALB -> service and service -> database security groups,
    database status, task execution role, HTTP ``/health`` and ``/health/detailed``.
    """
    where = locate(target, branch)
    clients = target.clients()
    say = progress or (lambda _: None)
    facts = _gather(where, clients)
    say(f"diagnosing {where.names.workspace} in {where.cluster}")
    findings: list[Finding] = [
        _check_service(where, facts),
        _check_running(where, facts),
    ]
    if where.emulator:
        findings.append(_check_local_task(where))
    findings += [
        _check_image_tag(where, facts),
        _check_image_in_ecr(where, facts, clients),
        _check_targets(where, facts, clients),
        _check_health_check(where, facts, clients),
        _check_alb_to_service(where, facts, clients),
        _check_service_to_db(where, facts, clients),
        _check_db_status(where, facts),
        _check_execution_role(where, facts, clients),
    ]
    findings += _check_http(where, facts, base_url=base_url, budget_s=http_budget_s)
    return Diagnosis(target.env, where.names.workspace, where.emulator, tuple(findings))


def _gather(where: Where, clients: Clients) -> _Facts:
    facts = _Facts(app_outputs=app_outputs(where.target, where.names.workspace))
    ecs = clients("ecs")
    try:
        services = ecs.describe_services(cluster=where.cluster, services=[where.names.service]).get("services", [])
        facts.service = services[0] if services else None
        if facts.service is None:
            facts.service_error = f"service {where.names.service} not found in cluster {where.cluster}"
    except (ClientError, BotoCoreError) as exc:
        facts.service_error = f"describe_services failed: {_aws_error(exc)}"
    if facts.service is not None and facts.service.get("taskDefinition"):
        try:
            td = ecs.describe_task_definition(taskDefinition=facts.service["taskDefinition"])["taskDefinition"]
            facts.task_definition = td
            containers: Sequence[Mapping[str, Any]] = td.get("containerDefinitions", [])
            lb = facts.load_balancer or {}
            facts.container = next(
                (c for c in containers if c.get("name") == lb.get("containerName")),
                containers[0] if containers else None,
            )
        except (ClientError, BotoCoreError) as exc:
            facts.service_error = f"describe_task_definition failed: {_aws_error(exc)}"
    identifier = where.platform.get("db_instance_identifier")
    if identifier:
        try:
            instances = clients("rds").describe_db_instances(DBInstanceIdentifier=str(identifier))
            facts.db_instance = (instances.get("DBInstances") or [None])[0]
        except (ClientError, BotoCoreError) as exc:
            facts.db_error = _aws_error(exc)
    else:
        facts.db_error = "the platform has no db_instance_identifier output"
    return facts


def _service_ok(facts: _Facts) -> bool:
    return facts.service is not None and facts.service.get("status") == "ACTIVE" and facts.task_definition is not None


# -- ECS -------------------------------------------------------------------------------------------


def _check_service(where: Where, facts: _Facts) -> Finding:
    name = "ecs.service"
    deploy = where.command("deploy", "--image-tag", "TAG")
    if facts.service is None:
        return _fail(name, facts.service_error or "service not found", f"deploy the branch: {deploy}")
    status = str(facts.service.get("status"))
    if status != "ACTIVE":
        return _fail(
            name,
            f"service {where.names.service} is {status}, not ACTIVE (it is being or was deleted)",
            f"deploy again: {deploy}",
        )
    if facts.task_definition is None:
        return _fail(
            name, facts.service_error or "the service's task definition cannot be read", f"deploy again: {deploy}"
        )
    label = task_definition_label(str(facts.service.get("taskDefinition", "")))
    return _pass(name, f"{where.names.service} is ACTIVE in {where.cluster}, task definition {label}")


def _check_running(where: Where, facts: _Facts) -> Finding:
    name = "ecs.running"
    if not _service_ok(facts):
        return _not_checked(name, "the service is missing", "ecs.service")
    assert facts.service is not None
    desired = int(facts.service.get("desiredCount", 0))
    if where.emulator:
        return _unavailable(name, f"{EMULATOR}: no tasks run there (desired count {desired})")
    running = int(facts.service.get("runningCount", 0))
    pending = int(facts.service.get("pendingCount", 0))
    events_cmd = where.command("events")
    if desired == 0:
        return _fail(
            name,
            "desired count is 0: the service runs no tasks",
            f"deploy again or raise the desired count ({events_cmd})",
        )
    if running != desired:
        events: Sequence[Mapping[str, Any]] = facts.service.get("events", [])
        latest = str(events[0].get("message", ""))[:200] if events else ""
        detail = f"{running}/{desired} tasks running" + (f", {pending} pending" if pending else "")
        if latest:
            detail += f"; last event: {latest}"
        return _fail(
            name,
            detail,
            f"see why tasks stop: {events_cmd}, then {where.command('logs', '--since', '1h')}",
        )
    return _pass(name, f"{running}/{desired} tasks running")


def _check_local_task(where: Where) -> Finding:
    from deploytool.localrun import LABEL, LocalRuntime

    name = "local.task"
    runtime = LocalRuntime(where.target)
    task = runtime.task(where.names.workspace)
    if task is not None:
        return _pass(name, f"{LABEL} runs at {task.url} (image {task.image.rsplit('/', 1)[-1]})")
    why = runtime.exited(where.names.workspace) or "not running"
    log = runtime.dir / f"{where.names.workspace}.log"
    return _fail(
        name,
        f"{LABEL}: {why}",
        f"read its output in {log}; deploy again to restart it: {where.command('deploy', '--image-tag', 'TAG')}",
    )


# -- image -----------------------------------------------------------------------------------------


def split_image(image: str) -> tuple[str, str, str]:
    """(repository, separator, tag or digest) of an image reference.

    ``("repo", ":", "v1")`` for ``repo:v1``, ``("repo", "@", "sha256:..")`` for a digest reference.
    """
    if "@" in image:
        repo, ref = image.split("@", 1)
        return repo, "@", ref
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], ":", image[colon + 1 :]
    return image, ":", "latest"


def expected_image_tag(where: Where, facts: _Facts) -> tuple[str | None, str]:
    """The tag the last deploy recorded (the ledger), else the one in the app stack's state; and where from."""
    try:
        recorded = where.target.ledger().current_image(where.env, where.names.workspace)
    except (DeployError, ClientError, BotoCoreError):
        recorded = None
    if recorded:
        return recorded, "the deploy history"
    tag = facts.app_outputs.get("image_tag")
    return (str(tag), "the app stack's state") if tag else (None, "")


def _check_image_tag(where: Where, facts: _Facts) -> Finding:
    name = "image.tag"
    if not _service_ok(facts) or facts.container is None:
        return _not_checked(name, "the service or its task definition is missing", "ecs.service")
    image = str(facts.container.get("image", ""))
    _, _, actual = split_image(image)
    expected, source = expected_image_tag(where, facts)
    label = task_definition_label(str(facts.service.get("taskDefinition", ""))) if facts.service else "?"
    if expected is None:
        return _fail(
            name,
            f"the service runs {actual}; no deploy of {where.names.workspace} is recorded to compare with",
            f"deploy through deploytool so the release is recorded: {where.command('deploy', '--image-tag', actual)}",
        )
    if actual != expected:
        return _fail(
            name,
            f"task definition {label} runs image tag {actual}, but {source} says {expected}",
            f"the service was changed outside deploytool; restore the recorded release: "
            f"{where.command('rollback', '--to', expected)}, or deploy the tag you meant",
        )
    return _pass(name, f"task definition {label} runs {actual}, as {source} records")


def _check_image_in_ecr(where: Where, facts: _Facts, clients: Clients) -> Finding:  # noqa: PLR0911
    name = "image.ecr"
    if not _service_ok(facts) or facts.container is None:
        return _not_checked(name, "the service or its task definition is missing", "ecs.service")
    image = str(facts.container.get("image", ""))
    repo, sep, ref = split_image(image)
    match = _ECR_IMAGE.match(repo)
    if match is None:
        return _unavailable(name, f"{image} is not an ECR image: its registry is not checked")
    image_id = {"imageDigest": ref} if sep == "@" else {"imageTag": ref}
    repository = match["repo"]
    try:
        clients("ecr").describe_images(registryId=match["account"], repositoryName=repository, imageIds=[image_id])
    except ClientError as exc:
        code = _error_code(exc)
        if code == "ImageNotFoundException":
            return _fail(
                name,
                f"{repository}{sep}{ref} is not in ECR: tasks fail with CannotPullContainerError",
                "push the image (CI builds and pushes it on merge) or deploy a tag that exists "
                f"(`aws ecr describe-images --repository-name {repository}`)",
            )
        if code == "RepositoryNotFoundException":
            return _fail(
                name,
                f"ECR repository {repository} does not exist",
                f"create it: `deploytool bootstrap --env {where.env}`, then push the image",
            )
        return _fail(name, f"describe_images failed: {_aws_error(exc)}", "check the credentials may read ECR")
    except BotoCoreError as exc:
        return _fail(name, f"describe_images failed: {_aws_error(exc)}", "check the network path to ECR")
    return _pass(name, f"{repository}{sep}{ref} exists in ECR")


# -- load balancer ---------------------------------------------------------------------------------


def _check_targets(where: Where, facts: _Facts, clients: Clients) -> Finding:
    lb = facts.load_balancer
    if not _service_ok(facts) or lb is None or not lb.get("targetGroupArn"):
        because = "the service is missing" if not _service_ok(facts) else "the service has no load balancer"
        return _not_checked(TARGETS_CHECK, because, "ecs.service")
    result = check_target_health(clients("elbv2"), str(lb["targetGroupArn"]), emulator=where.emulator)
    if result.status == "unavailable":
        return _unavailable(TARGETS_CHECK, f"{EMULATOR}: ECS registers no targets there")
    fix = (
        f"targets register only when tasks run and pass /health on port {CONTAINER_PORT}: "
        f"{where.command('events')} says why tasks stop or fail health checks; "
        f"{where.command('logs', '--since', '1h')} shows what the app printed"
    )
    return Finding(result, fix)


def _matcher_accepts_200(matcher: str) -> bool:
    for raw in matcher.split(","):
        part = raw.strip()
        if "-" in part:
            low, _, high = part.partition("-")
            if low.strip().isdigit() and high.strip().isdigit() and int(low) <= 200 <= int(high):
                return True
        elif part == "200":
            return True
    return False


def _check_health_check(where: Where, facts: _Facts, clients: Clients) -> Finding:
    name = "alb.health_check"
    lb = facts.load_balancer
    if not _service_ok(facts) or lb is None or not lb.get("targetGroupArn"):
        return _not_checked(name, "the service or its load balancer is missing", "ecs.service")
    tg_arn = str(lb["targetGroupArn"])
    try:
        groups = clients("elbv2").describe_target_groups(TargetGroupArns=[tg_arn]).get("TargetGroups", [])
    except (ClientError, BotoCoreError) as exc:
        return _fail(name, f"describe_target_groups failed: {_aws_error(exc)}", f"re-apply: {where.command('apply')}")
    if not groups:
        return _fail(name, f"target group {tg_arn} not found", f"re-apply the app stack: {where.command('apply')}")
    tg = groups[0]
    path = where.target.settings.health.paths.basic
    port = facts.container_port
    td_ports = [
        int(m["containerPort"]) for m in (facts.container or {}).get("portMappings", []) if m.get("containerPort")
    ]
    problems: list[str] = []
    hc_port = str(tg.get("HealthCheckPort", "traffic-port"))
    if hc_port != "traffic-port" and port is not None and hc_port != str(port):
        problems.append(f"health check port is {hc_port}, the container listens on {port}")
    if tg.get("HealthCheckPath") != path:
        problems.append(f"health check path is {tg.get('HealthCheckPath')!r}, the service answers on {path!r}")
    if str(tg.get("HealthCheckProtocol", "HTTP")).upper() != "HTTP":
        problems.append(f"health check protocol is {tg.get('HealthCheckProtocol')}, the container serves plain HTTP")
    if tg.get("HealthCheckEnabled") is False:
        problems.append("health checks are disabled")
    matcher = str((tg.get("Matcher") or {}).get("HttpCode") or "200")
    if not _matcher_accepts_200(matcher):
        problems.append(f"success codes {matcher!r} do not include 200")
    if port is not None and td_ports and port not in td_ports:
        problems.append(f"the service sends traffic to port {port}, the container maps {td_ports}")
    if port is not None and port != CONTAINER_PORT:
        problems.append(f"the container port is {port}, the Geo API listens on {CONTAINER_PORT}")
    if problems:
        return _fail(
            name,
            f"target group {tg.get('TargetGroupName', tg_arn)}: " + "; ".join(problems),
            f"re-apply the app stack so the target group checks {path} on the traffic port ({CONTAINER_PORT}): "
            f"{where.command('apply', '--yes')}",
        )
    shown_port = f"traffic port {port}" if hc_port == "traffic-port" else f"port {hc_port}"
    return _pass(name, f"target group {tg.get('TargetGroupName', '?')} checks HTTP {path} on {shown_port}")


# -- security groups -------------------------------------------------------------------------------


def _covers_port(permission: Mapping[str, Any], port: int) -> bool:
    protocol = str(permission.get("IpProtocol", ""))
    if protocol in ("-1", "all"):
        return True
    if protocol not in ("tcp", "6"):
        return False
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if low is None or high is None:
        return True
    return int(low) <= port <= int(high)


def _cidr_covers(cidr: str, vpc_cidr: str | None) -> bool:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
        if vpc_cidr is None:
            return network.prefixlen == 0
        inner = ipaddress.ip_network(vpc_cidr, strict=False)
    except ValueError:
        return False
    return network.version == inner.version and inner.subnet_of(network)  # type: ignore[arg-type]


def permits(
    permissions: Iterable[Mapping[str, Any]], port: int, *, groups: Iterable[str], vpc_cidr: str | None
) -> str | None:
    """How a security group's rules (ingress or egress) let ``port`` through to/from ``groups``:
    the matching group ID or CIDR, or None when no rule does. A CIDR counts when it covers the VPC."""
    wanted = set(groups)
    for permission in permissions:
        if not _covers_port(permission, port):
            continue
        for pair in permission.get("UserIdGroupPairs", []):
            if pair.get("GroupId") in wanted:
                return str(pair["GroupId"])
        for ip_range in permission.get("IpRanges", []):
            cidr = str(ip_range.get("CidrIp", ""))
            if cidr and _cidr_covers(cidr, vpc_cidr):
                return cidr
    return None


def _describe_groups(clients: Clients, group_ids: Iterable[str]) -> dict[str, Mapping[str, Any]]:
    ids = sorted(set(group_ids))
    if not ids:
        return {}
    groups = clients("ec2").describe_security_groups(GroupIds=ids).get("SecurityGroups", [])
    return {str(g["GroupId"]): g for g in groups}


def _reach(
    groups: Mapping[str, Mapping[str, Any]],
    *,
    sources: tuple[str, Sequence[str]],
    destinations: tuple[str, Sequence[str]],
    port: int,
    vpc_cidr: str | None,
) -> tuple[str | None, str | None]:
    """(how the destinations admit the sources, how the sources allow egress to the destinations).

    ``sources`` and ``destinations`` are (label, group IDs), e.g. ``("service", ["sg-1"])``.
    """
    (source_label, source_ids), (dest_label, dest_ids) = sources, destinations
    ingress = egress = None
    for dest in dest_ids:
        rules = groups.get(dest, {}).get("IpPermissions", [])
        how = permits(rules, port, groups=source_ids, vpc_cidr=vpc_cidr)
        if how:
            ingress = f"{dest_label} {dest} admits tcp/{port} from {how}"
            break
    for src in source_ids:
        rules = groups.get(src, {}).get("IpPermissionsEgress", [])
        how = permits(rules, port, groups=dest_ids, vpc_cidr=vpc_cidr)
        if how:
            egress = f"{source_label} {src} allows tcp/{port} out to {how}"
            break
    return ingress, egress


def _check_alb_to_service(where: Where, facts: _Facts, clients: Clients) -> Finding:
    name = "network.alb"
    if not _service_ok(facts) or not facts.service_groups:
        return _not_checked(name, "the service or its security groups are missing", "ecs.service")
    port = facts.container_port or CONTAINER_PORT
    alb_groups: list[str] = []
    alb_arn = where.platform.get("alb_arn")
    try:
        if alb_arn:
            balancers = (
                clients("elbv2").describe_load_balancers(LoadBalancerArns=[str(alb_arn)]).get("LoadBalancers", [])
            )
            alb_groups = [str(g) for b in balancers for g in b.get("SecurityGroups", [])]
        if not alb_groups and where.platform.get("alb_security_group_id"):
            alb_groups = [str(where.platform["alb_security_group_id"])]
        if not alb_groups:
            return _fail(name, "the load balancer has no security group", f"re-apply the platform: {_platform(where)}")
        groups = _describe_groups(clients, [*alb_groups, *facts.service_groups])
    except (ClientError, BotoCoreError) as exc:
        return _fail(name, f"reading security groups failed: {_aws_error(exc)}", "check the credentials may read EC2")
    ingress, egress = _reach(
        groups,
        sources=("load balancer", alb_groups),
        destinations=("service", facts.service_groups),
        port=port,
        vpc_cidr=_vpc_cidr(where),
    )
    service_groups = ", ".join(facts.service_groups)
    if ingress is None:
        return _fail(
            name,
            f"the service's security group ({service_groups}) does not admit tcp/{port} from the load balancer "
            f"({', '.join(alb_groups)}): health checks and requests time out",
            f"re-apply the app stack (it owns the rule from the load balancer): {where.command('apply', '--yes')}",
        )
    if egress is None:
        return _fail(
            name,
            f"the load balancer's security group ({', '.join(alb_groups)}) allows no tcp/{port} out to the service",
            f"re-apply the platform (the load balancer's egress to the VPC): {_platform(where)}",
        )
    return _pass(name, f"{ingress}; {egress}")


def _check_service_to_db(where: Where, facts: _Facts, clients: Clients) -> Finding:
    name = "network.db"
    if not _service_ok(facts) or not facts.service_groups:
        return _not_checked(name, "the service or its security groups are missing", "ecs.service")
    db_groups = [
        str(g["VpcSecurityGroupId"])
        for g in (facts.db_instance or {}).get("VpcSecurityGroups", [])
        if g.get("VpcSecurityGroupId")
    ]
    if not db_groups and where.platform.get("db_security_group_id"):
        db_groups = [str(where.platform["db_security_group_id"])]
    if not db_groups:
        return _fail(name, "the database's security group is unknown", f"re-apply the platform: {_platform(where)}")
    port = _db_port(where, facts)
    try:
        groups = _describe_groups(clients, [*db_groups, *facts.service_groups])
    except (ClientError, BotoCoreError) as exc:
        return _fail(name, f"reading security groups failed: {_aws_error(exc)}", "check the credentials may read EC2")
    ingress, egress = _reach(
        groups,
        sources=("service", facts.service_groups),
        destinations=("database", db_groups),
        port=port,
        vpc_cidr=_vpc_cidr(where),
    )
    service_groups = ", ".join(facts.service_groups)
    if ingress is None:
        return _fail(
            name,
            f"the database's security group ({', '.join(db_groups)}) has no tcp/{port} ingress from the service's "
            f"security group ({service_groups}): the app cannot reach PostgreSQL",
            f"add the rule back by re-applying the app stack (it owns the database rule for this service): "
            f"{where.command('apply', '--yes')}",
        )
    if egress is None:
        return _fail(
            name,
            f"the service's security group ({service_groups}) allows no tcp/{port} out to the database",
            f"re-apply the app stack: {where.command('apply', '--yes')}",
        )
    return _pass(name, f"{ingress}; {egress}")


def _vpc_cidr(where: Where) -> str | None:
    value = where.platform.get("vpc_cidr_block")
    return str(value) if value else None


def _db_port(where: Where, facts: _Facts) -> int:
    endpoint = (facts.db_instance or {}).get("Endpoint") or {}
    value = endpoint.get("Port") or where.platform.get("db_port") or DB_PORT
    return int(value)


def _platform(where: Where) -> str:
    return f"`deploytool apply --env {where.env} --stack platform --yes`"


# -- database --------------------------------------------------------------------------------------


def _check_db_status(where: Where, facts: _Facts) -> Finding:
    name = "rds.status"
    identifier = where.platform.get("db_instance_identifier", "?")
    if facts.db_instance is None:
        return _fail(
            name,
            f"database {identifier} not found ({facts.db_error or 'not returned'})",
            f"re-apply the platform, which creates it: {_platform(where)}",
        )
    status = str(facts.db_instance.get("DBInstanceStatus", "unknown"))
    if status == "available":
        return _pass(name, f"{identifier} is available on port {_db_port(where, facts)}")
    if status in ("stopped", "stopping"):
        return _fail(
            name,
            f"{identifier} is {status}: the app cannot connect to the database",
            f"start it: `aws rds start-db-instance --db-instance-identifier {identifier}` "
            "(takes a few minutes; AWS also starts a stopped instance by itself after 7 days)",
        )
    waiting = {
        "creating",
        "modifying",
        "backing-up",
        "rebooting",
        "starting",
        "upgrading",
        "maintenance",
        "configuring-enhanced-monitoring",
    }
    if status in waiting:
        return _fail(
            name,
            f"{identifier} is {status}, not available yet",
            "wait until it is available (`aws rds wait db-instance-available`), then run diagnose again",
        )
    return _fail(
        name,
        f"{identifier} is {status}",
        "see the RDS events of the instance (`aws rds describe-events --source-type db-instance`)",
    )


# -- IAM -------------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _document(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            loaded = json.loads(unquote(value))
        except ValueError:
            return {}
        return loaded if isinstance(loaded, Mapping) else {}
    return {}


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = document.get("Statement", [])
    items = raw if isinstance(raw, list) else [raw]
    return [s for s in items if isinstance(s, Mapping)]


def _matches(patterns: list[str], value: str, *, case: bool) -> bool:
    if case:
        return any(fnmatch.fnmatchcase(value, p) for p in patterns)
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def _statement_applies(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    if "NotAction" in statement:
        action_ok = not _matches(_as_list(statement["NotAction"]), action, case=False)
    else:
        action_ok = _matches(_as_list(statement.get("Action")), action, case=False)
    if "NotResource" in statement:
        resource_ok = not _matches(_as_list(statement["NotResource"]), resource, case=True)
    else:
        resource_ok = _matches(_as_list(statement.get("Resource")), resource, case=True)
    return action_ok and resource_ok


def allowed(statements: Sequence[Mapping[str, Any]], action: str, resource: str) -> bool:
    """Whether identity policy ``statements`` allow ``action`` on ``resource`` (an explicit Deny wins;
    conditions are not evaluated)."""
    applicable = [s for s in statements if _statement_applies(s, action, resource)]
    if any(str(s.get("Effect")) == "Deny" for s in applicable):
        return False
    return any(str(s.get("Effect")) == "Allow" for s in applicable)


def _trusts_ecs_tasks(document: Mapping[str, Any]) -> bool:
    for statement in _statements(document):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        services = _as_list(principal.get("Service")) if isinstance(principal, Mapping) else []
        actions = _as_list(statement.get("Action"))
        if "ecs-tasks.amazonaws.com" in services and any(fnmatch.fnmatchcase("sts:AssumeRole", a) for a in actions):
            return True
    return False


def _role_statements(iam: Any, role: str) -> tuple[list[Mapping[str, Any]], list[str]]:
    """All identity policy statements of ``role`` and the names of its attached managed policies."""
    statements: list[Mapping[str, Any]] = []
    attached_names: list[str] = []
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role):
        for policy in page.get("AttachedPolicies", []):
            attached_names.append(str(policy.get("PolicyName")))
            meta = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]
            version = iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=meta["DefaultVersionId"])
            statements += _statements(_document(version["PolicyVersion"]["Document"]))
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role):
        for policy_name in page.get("PolicyNames", []):
            inline = iam.get_role_policy(RoleName=role, PolicyName=policy_name)
            statements += _statements(_document(inline.get("PolicyDocument")))
    return statements, attached_names


def required_permissions(
    container: Mapping[str, Any], *, partition: str, region: str, account: str
) -> list[tuple[str, str, str]]:
    """(purpose, action, resource) the execution role needs to start ``container``: pull its ECR image,
    write its awslogs logs, read its secrets."""
    needs: list[tuple[str, str, str]] = []
    repo, _, _ = split_image(str(container.get("image", "")))
    match = _ECR_IMAGE.match(repo)
    if match:
        repo_arn = f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"
        needs += [
            ("pull the image", "ecr:GetAuthorizationToken", "*"),
            ("pull the image", "ecr:BatchGetImage", repo_arn),
            ("pull the image", "ecr:GetDownloadUrlForLayer", repo_arn),
        ]
    log = container.get("logConfiguration") or {}
    if log.get("logDriver") == "awslogs":
        options = log.get("options") or {}
        group = str(options.get("awslogs-group", "*"))
        log_region = str(options.get("awslogs-region", region))
        group_arn = f"arn:{partition}:logs:{log_region}:{account}:log-group:{group}"
        needs += [
            ("write logs", "logs:CreateLogStream", f"{group_arn}:log-stream:*"),
            ("write logs", "logs:PutLogEvents", f"{group_arn}:log-stream:*"),
        ]
    for secret in container.get("secrets", []):
        ref = str(secret.get("valueFrom", ""))
        if ":secretsmanager:" in ref:
            from deploytool.localrun import secret_id

            needs.append((f"read secret {secret.get('name')}", "secretsmanager:GetSecretValue", secret_id(ref)))
        elif ":ssm:" in ref or not ref.startswith("arn:"):
            arn = (
                ref if ref.startswith("arn:") else f"arn:{partition}:ssm:{region}:{account}:parameter/{ref.lstrip('/')}"
            )
            needs.append((f"read parameter {secret.get('name')}", "ssm:GetParameters", arn))
    return needs


def _check_execution_role(where: Where, facts: _Facts, clients: Clients) -> Finding:  # noqa: PLR0911
    name = "iam.execution_role"
    if not _service_ok(facts) or facts.container is None or facts.task_definition is None:
        return _not_checked(name, "the service or its task definition is missing", "ecs.service")
    role_arn = str(facts.task_definition.get("executionRoleArn") or "")
    platform = _platform(where)
    if not role_arn:
        return _fail(
            name,
            "the task definition has no execution role: ECS cannot pull from ECR, write logs or read secrets",
            f"re-apply the platform and the app stack: {platform}, {where.command('apply', '--yes')}",
        )
    parts = role_arn.split(":")
    partition, account = (parts[1], parts[4]) if len(parts) > 5 else ("aws", "")
    role = role_arn.rsplit("/", 1)[-1]
    iam = clients("iam")
    try:
        trust = _document(iam.get_role(RoleName=role)["Role"].get("AssumeRolePolicyDocument"))
        statements, attached = _role_statements(iam, role)
    except ClientError as exc:
        if _error_code(exc) == "NoSuchEntity":
            return _fail(name, f"execution role {role} does not exist", f"re-apply the platform: {platform}")
        return _fail(name, f"reading role {role} failed: {_aws_error(exc)}", "check the credentials may read IAM")
    except BotoCoreError as exc:
        return _fail(name, f"reading role {role} failed: {_aws_error(exc)}", "check the network path to IAM")
    problems: list[str] = []
    if not _trusts_ecs_tasks(trust):
        problems.append("it does not trust ecs-tasks.amazonaws.com (ECS cannot assume it)")
    needs = required_permissions(
        facts.container, partition=partition, region=where.target.settings.region, account=account
    )
    missing: dict[str, list[str]] = {}
    for purpose, action, resource in needs:
        if not allowed(statements, action, resource):
            missing.setdefault(purpose, []).append(action)
    for purpose, actions in missing.items():
        problems.append(f"it may not {purpose} ({', '.join(actions)})")
    if problems:
        fix = f"re-apply the platform, which attaches {EXECUTION_ROLE_POLICY} and the secret permissions: {platform}"
        if any(p.startswith("read ") for p in missing):
            fix += "; a secret from deploy.toml must also be listed in the platform's task secrets"
        return _fail(name, f"execution role {role}: " + "; ".join(problems), fix)
    how = EXECUTION_ROLE_POLICY if EXECUTION_ROLE_POLICY in attached else "its policies"
    purposes = list(dict.fromkeys(p for p, _, _ in needs if not p.startswith("read ")))
    secrets = sum(1 for p, _, _ in needs if p.startswith("read "))
    if secrets:
        purposes.append(f"read {secrets} secret{'s' if secrets != 1 else ''}")
    return _pass(name, f"{role} can {', '.join(purposes) or 'start tasks'} ({how})")


# -- HTTP ------------------------------------------------------------------------------------------


def _check_http(where: Where, facts: _Facts, *, base_url: str | None, budget_s: float) -> list[Finding]:
    health = where.target.settings.health
    url = base_url or health.base_url
    if url is None and where.emulator:
        from deploytool.localrun import LocalRuntime

        task = LocalRuntime(where.target).task(where.names.workspace)
        if task is None:
            return [_not_checked("http.basic", "the local stand-in of the task is not running", "local.task")]
        url = task.url
    if url is None:
        app_url = facts.app_outputs.get("url")
        scheme = str(where.platform.get("url_scheme") or "https")
        url = str(app_url) if app_url else f"{scheme}://{where.names.host}"
    settings = HealthSettings(
        base_url=url,
        basic_path=health.paths.basic,
        detailed_path=health.paths.detailed,
        metrics_path=None,
        request_timeout_s=min(health.request_timeout_seconds, 3.0),
        budget_s=budget_s,
        interval_s=1.0,
        max_interval_s=2.0,
        consecutive_passes=1,
        required_components=tuple(health.required_components),
    )
    verdict = check_http(settings)
    fixes = {
        "http.basic": (
            f"{url}{health.paths.basic} must answer 200: {where.command('events')} and "
            f"{where.command('logs', '--since', '1h')} show why the app is not serving"
        ),
        "http.detailed": (
            "a component reports unhealthy (the database, usually): the network.db and rds.status checks "
            f"above, then {where.command('logs', '--since', '1h')}"
        ),
    }
    findings = [
        Finding(c, fixes.get(c.name, f"see {where.command('logs')}"))
        for c in verdict.checks
        if c.name != "http.stability"
    ]
    return findings or [_fail("http.basic", verdict.summary(), fixes["http.basic"])]
