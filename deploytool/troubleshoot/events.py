"""What ECS says about the service: its recent events and stopped tasks, each explained.

``service_events`` reads them from ECS for one environment; ``summarize_events`` turns the
``describe_services`` / ``describe_tasks`` shapes into the report (text or JSON).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from deploytool.awschecks import task_definition_label
from deploytool.errors import DeployError
from deploytool.oneoff import stopped_one_offs
from deploytool.troubleshoot.explain import Explanation, explain
from deploytool.troubleshoot.findings import EMULATOR
from deploytool.troubleshoot.locate import Where, aws_error


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
        raise DeployError(f"cannot describe service {service_name}: {aws_error(exc)}") from exc
    service = services[0] if services else None
    stopped: list[Mapping[str, Any]] = []
    if service is not None:
        try:
            arns = ecs.list_tasks(cluster=where.cluster, serviceName=service_name, desiredStatus="STOPPED").get(
                "taskArns", []
            )
            if arns:
                stopped = ecs.describe_tasks(cluster=where.cluster, tasks=arns[:100]).get("tasks", [])
            # The release's migration runs as a one-off task of the service's task definition.
            stopped = [*stopped, *stopped_one_offs(ecs, where.cluster, service_name)]
        except (ClientError, BotoCoreError) as exc:
            raise DeployError(f"cannot list the stopped tasks of {service_name}: {aws_error(exc)}") from exc
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
    runtime = where.runtime
    task = runtime.task(where.service)
    if task is not None:
        return f"the local stand-in for the task runs at {task.url} (pid {task.pid}, image {task.image})"
    why = runtime.task_failure(where.service)
    if why:
        return f"the local stand-in for the task is not running: {why} (its output: {runtime.log_path(where.service)})"
    return None
