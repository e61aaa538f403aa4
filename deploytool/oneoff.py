"""One-off tasks: a command run once from a release's task definition (the database migration).

On AWS (``run_on_ecs``): ``ecs:RunTask`` with the task definition, on FARGATE, in the service's own
private subnets and security groups (no public IP), the container's command overridden; the task is
polled until it stops or the time budget runs out, and the answer is the container's exit code, the
reason ECS gives when there is none (``CannotPullContainerError``, ``ResourceInitializationError``,
never started within the budget) and the last lines of its CloudWatch log stream (awslogs:
``<prefix>/<container>/<task id>``).

Locally (``run_locally``): the same command as a local process with the environment the task
definition gives (secrets resolved as for the service's stand-in, the database URL mapped as for it),
within the same budget.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from deploytool.errors import DeployError

#: How many log lines a result keeps.
TAIL_LINES = 20
#: ``startedBy`` of the tasks this module runs (visible in the ECS console and ``list_tasks``).
STARTED_BY = "deploytool-one-off"


@dataclass(frozen=True)
class OneOffResult:
    """How a one-off task ended: ``exit_code`` None when its container never exited on its own."""

    exit_code: int | None
    reason: str
    log_tail: list[str] = field(default_factory=list)
    task: str = ""
    #: From the request to the end (set by the caller that timed it).
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        """One line for messages and the ledger."""
        how = f"exit code {self.exit_code}" if self.exit_code is not None else "no exit code"
        return f"{how}: {self.reason}" if self.reason else how

    def to_dict(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "reason": self.reason,
            "log_tail": list(self.log_tail),
            "task": self.task,
            "duration_s": round(self.duration_s, 2),
        }


Clients = Callable[[str], Any]


def _log_tail(logs: Any, group: str, stream: str, lines: int) -> list[str]:
    try:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=lines, startFromHead=False)
    except ClientError:
        return []  # no stream: the container never wrote (or never started)
    return [str(e.get("message", "")).rstrip() for e in events.get("events", [])][-lines:]


def run_on_ecs(
    clients: Clients,
    *,
    cluster: str,
    service: str,
    task_definition: str,
    command: Sequence[str],
    budget_s: float,
    poll_s: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> OneOffResult:
    """Run ``command`` once from ``task_definition`` where ``service`` runs; wait within ``budget_s``."""
    ecs = clients("ecs")
    found = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
    if not found or found[0].get("status") != "ACTIVE":
        raise DeployError(f"service {service} does not exist in cluster {cluster}: deploy it first")
    network = (found[0].get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    if not network.get("subnets"):
        raise DeployError(f"service {service} has no awsvpc subnets to run a one-off task in")
    definition = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    container = definition["containerDefinitions"][0]
    name = str(container["name"])
    options = (container.get("logConfiguration") or {}).get("options") or {}

    started = clock()
    answer = ecs.run_task(
        cluster=cluster,
        taskDefinition=task_definition,
        launchType="FARGATE",
        count=1,
        startedBy=STARTED_BY,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": list(network["subnets"]),
                "securityGroups": list(network.get("securityGroups") or []),
                "assignPublicIp": "DISABLED",
            }
        },
        overrides={"containerOverrides": [{"name": name, "command": list(command)}]},
    )
    if answer.get("failures") or not answer.get("tasks"):
        failures = "; ".join(
            f"{f.get('reason', '?')} ({f.get('detail') or f.get('arn', '')})" for f in answer.get("failures", [])
        )
        return OneOffResult(None, f"ECS did not start the task: {failures or 'no task returned'}")
    task_arn = str(answer["tasks"][0]["taskArn"])
    task: dict[str, Any] = answer["tasks"][0]
    ever_running = False
    while True:
        status = str(task.get("lastStatus", ""))
        ever_running = ever_running or status == "RUNNING" or bool(task.get("startedAt"))
        if status == "STOPPED":
            break
        if clock() - started >= budget_s:
            reason = (
                f"did not finish within the {budget_s:.0f} s budget (stopped)"
                if ever_running
                else f"never started within the {budget_s:.0f} s budget (last status {status or 'unknown'})"
            )
            ecs.stop_task(cluster=cluster, task=task_arn, reason=f"{STARTED_BY}: {reason}")
            return OneOffResult(None, reason, _tail(clients, options, name, task_arn), task_arn)
        sleep(poll_s)
        described = ecs.describe_tasks(cluster=cluster, tasks=[task_arn]).get("tasks", [])
        if described:
            task = described[0]
    mine: dict[str, Any] = next((c for c in task.get("containers", []) if c.get("name") == name), {})
    exit_code = mine.get("exitCode")
    reasons = [str(r) for r in (task.get("stoppedReason"), mine.get("reason")) if r]
    if exit_code is None and not reasons:
        reasons = [str(task.get("stopCode") or "stopped without an exit code")]
    reason = "; ".join(dict.fromkeys(reasons))
    return OneOffResult(
        int(exit_code) if exit_code is not None else None, reason, _tail(clients, options, name, task_arn), task_arn
    )


def stopped_one_offs(ecs: Any, cluster: str, family: str) -> list[dict[str, Any]]:
    """The stopped one-off tasks this module ran from task definitions of ``family`` (a service's),
    as ``describe_tasks`` gives them (ECS keeps stopped tasks for about an hour)."""
    arns = ecs.list_tasks(cluster=cluster, startedBy=STARTED_BY, desiredStatus="STOPPED").get("taskArns", [])
    if not arns:
        return []
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[:100]).get("tasks", [])
    return [t for t in tasks if str(t.get("taskDefinitionArn", "")).rsplit("/", 1)[-1].rsplit(":", 1)[0] == family]


def _tail(clients: Clients, options: Mapping[str, str], container: str, task_arn: str) -> list[str]:
    group, prefix = options.get("awslogs-group"), options.get("awslogs-stream-prefix")
    if not group or not prefix:
        return []
    stream = f"{prefix}/{container}/{task_arn.rsplit('/', 1)[-1]}"
    return _log_tail(clients("logs"), group, stream, TAIL_LINES)


def local_command(command: Sequence[str]) -> list[str]:
    """``python ...`` runs with this interpreter (the stand-in runs the service from source)."""
    argv = list(command)
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    return argv


def run_locally(command: Sequence[str], *, env: Mapping[str, str], cwd: Path, budget_s: float) -> OneOffResult:
    """Run ``command`` once as a local process with ``env`` (nothing else of ours) within ``budget_s``."""
    try:
        proc = subprocess.run(
            local_command(command),
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=budget_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else ""
        return OneOffResult(None, f"did not finish within the {budget_s:.0f} s budget (killed)", _lines(out))
    except OSError as exc:
        return OneOffResult(None, f"cannot start {command[0] if command else 'the command'}: {exc}")
    lines = _lines(proc.stdout.decode(errors="replace"))
    reason = "" if proc.returncode == 0 else (lines[-1][:300] if lines else "no output")
    return OneOffResult(proc.returncode, reason, lines)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][-TAIL_LINES:]
