"""Read-only views of an environment: what one app stack runs now, and which branch environments exist.

Nothing here runs Terraform. The app stack's outputs come straight from its state object in the
state bucket (the JSON ``terraform output`` reads), running counts from ECS, history from the
ledger. The branch environments of an environment are the S3 state objects under the backend's
``workspace_key_prefix`` (``workspaces/<workspace>/<env>/app/terraform.tfstate``): one paginated
listing, where Terraform would need an ``init`` of the app root before ``workspace list`` and a
``workspace select`` + ``output`` per workspace.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from deploytool.durations import format_age
from deploytool.errors import DeployError
from deploytool.ledger import LOCKS, Ledger, Record
from deploytool.stack import Target
from deploytool.state import app_outputs

_COLOR_SERVICE = re.compile(r"(?P<label>[a-z0-9]+)_service_name")
_ROLES = ("active", "idle")  # blue-green outputs that alias a colour


def parse_time(text: str) -> datetime:
    """A ledger record time (``2024-05-01T12:00:00.000000Z``) as an aware UTC datetime."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- state objects -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StateObject:
    """The S3 state object of one app workspace."""

    workspace: str
    key: str
    last_modified: datetime
    size: int


def list_app_states(target: Target) -> list[StateObject]:
    """The app stack's non-default workspaces of ``target``, from one listing of the state bucket."""
    layout = target.layout
    prefix = layout.workspaces_prefix()
    s3 = target.clients()("s3")
    found: list[StateObject] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=target.state_bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                workspace = layout.workspace_of("app", obj["Key"])
                if workspace:
                    found.append(StateObject(workspace, obj["Key"], obj["LastModified"], int(obj.get("Size", 0))))
    except ClientError as exc:
        raise DeployError(f"cannot list s3://{target.state_bucket}/{prefix}: {_code(exc)}") from exc
    return sorted(found, key=lambda s: s.workspace)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error"))


# -- ledger ---------------------------------------------------------------------------------------------
class LedgerIndex:
    """The ledger's record keys of one environment (or one workspace), read lazily.

    Record keys sort by time within a workspace (see ``deploytool.ledger``), so the first and the
    newest records are found from one listing and read with a GET each, not one GET per record.
    """

    def __init__(self, ledger: Ledger, env: str, workspace: str | None = None) -> None:
        self.ledger = ledger
        self.env = env
        self._keys: dict[str, list[str]] = {}
        self._cache: dict[str, Record] = {}
        self.locked: set[str] = set()  # workspaces whose deploy lock is held (listed beside the records)
        base = f"{ledger.prefix}/{env}/"
        prefix = base + (f"{workspace}/" if workspace else "")
        try:
            for page in ledger.s3.get_paginator("list_objects_v2").paginate(Bucket=ledger.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    ws, sep, rest = obj["Key"][len(base) :].partition("/")
                    if ws == LOCKS:  # the deploy locks are no records (``deploytool.deploylock``)
                        self.locked.add(rest)
                    elif sep:
                        self._keys.setdefault(ws, []).append(obj["Key"])
        except ClientError as exc:
            raise DeployError(
                f"cannot list the deploy history under s3://{ledger.bucket}/{prefix}: {_code(exc)}"
            ) from exc
        for keys in self._keys.values():
            keys.sort()

    def workspaces(self) -> list[str]:
        return sorted(self._keys)

    def _read(self, key: str) -> Record:
        if key not in self._cache:
            body = self.ledger.s3.get_object(Bucket=self.ledger.bucket, Key=key)["Body"].read()
            self._cache[key] = Record.from_dict(json.loads(body))
        return self._cache[key]

    def newest_first(self, workspace: str) -> Iterator[Record]:
        for key in reversed(self._keys.get(workspace, [])):
            yield self._read(key)

    def first(self, workspace: str) -> Record | None:
        keys = self._keys.get(workspace)
        return self._read(keys[0]) if keys else None

    def newest(self, workspace: str, where: Callable[[Record], bool] = lambda _: True) -> Record | None:
        return next((r for r in self.newest_first(workspace) if where(r)), None)


def is_activity(record: Record) -> bool:
    """Records that show a branch environment in use (a destroy attempt does not)."""
    return record.stack == "app" and record.action != "destroy"


# -- workspaces -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BranchEnvironment:
    """One branch environment (an app workspace other than default) and what is known of its life."""

    workspace: str
    state_modified: datetime | None
    first_record: Record | None = None
    last_record: Record | None = None  # newest app record other than a destroy attempt
    deploy_locked: bool = False  # a run holds its deploy lock (a release, or a destroy)

    @property
    def created(self) -> datetime | None:
        """When it appeared: its first ledger record, else its state object's last write."""
        return parse_time(self.first_record.time) if self.first_record else self.state_modified

    @property
    def last_active(self) -> datetime | None:
        """Its last deploy/apply/rollback in the ledger, else its state object's last write."""
        return parse_time(self.last_record.time) if self.last_record else self.state_modified

    def age(self, now: datetime) -> timedelta | None:
        return now - self.created if self.created else None

    def idle(self, now: datetime) -> timedelta | None:
        return now - self.last_active if self.last_active else None

    def to_dict(self, now: datetime, ttl: timedelta | None = None) -> dict[str, Any]:
        idle = self.idle(now)
        last = self.last_record
        return {
            "workspace": self.workspace,
            "created": self.created.isoformat() if self.created else None,
            "age": format_age(self.age(now)),
            "idle": format_age(idle),
            "expires_in": format_age(ttl - idle) if ttl is not None and idle is not None else None,
            "state_modified": self.state_modified.isoformat() if self.state_modified else None,
            "last_deploy": _record_summary(last) if last else None,
        }


def branch_environments(target: Target) -> list[BranchEnvironment]:
    """Every branch environment of ``target``: state listing + one ledger listing (its deploy locks
    included), no Terraform run."""
    if not target.settings.branch_environments:
        raise DeployError(f"environment {target.env!r} has no branch environments (branch_environments = false)")
    states = list_app_states(target)
    index = LedgerIndex(target.ledger(), target.env)
    return [
        BranchEnvironment(
            workspace=state.workspace,
            state_modified=state.last_modified,
            first_record=index.first(state.workspace),
            last_record=index.newest(state.workspace, is_activity),
            deploy_locked=state.workspace in index.locked,
        )
        for state in states
    ]


# -- one stack ------------------------------------------------------------------------------------------
@dataclass
class ServiceStatus:
    """One ECS service of the app stack (blue-green stacks have one per colour)."""

    name: str
    label: str | None = None  # the colour, for blue-green
    active: bool | None = None
    image_tag: str | None = None
    task_definition: str | None = None
    status: str = "UNKNOWN"
    desired: int | None = None
    running: int | None = None
    pending: int | None = None
    rollout: str | None = None
    ecs_task_definition: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class AppStatus:
    """What an app stack workspace runs now."""

    env: str
    workspace: str
    branch: str | None
    url: str | None
    image_tag: str | None
    cluster: str
    services: list[ServiceStatus] = field(default_factory=list)
    active_color: str | None = None
    last_record: Record | None = None
    outputs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "workspace": self.workspace,
            "branch": self.branch,
            "url": self.url,
            "image_tag": self.image_tag,
            "cluster": self.cluster,
            "active_color": self.active_color,
            "services": [s.to_dict() for s in self.services],
            "last_deploy": _record_summary(self.last_record) if self.last_record else None,
            "outputs": self.outputs,
        }


def _record_summary(record: Record) -> dict[str, Any]:
    return {
        "time": record.time,
        "action": record.action,
        "outcome": record.outcome,
        "actor": record.actor,
        "image_before": record.image_before,
        "image_after": record.image_after,
        "git_sha": record.git_sha,
    }


def services_from_outputs(outputs: dict[str, Any]) -> list[ServiceStatus]:
    """The ECS services an app stack's outputs name: ``service_name`` (one service), or
    ``<colour>_service_name`` per colour with ``<colour>_image_tag`` / ``<colour>_task_definition_arn``."""
    if outputs.get("service_name"):
        return [
            ServiceStatus(
                name=str(outputs["service_name"]),
                image_tag=_str(outputs.get("image_tag")),
                task_definition=_str(outputs.get("task_definition_arn")),
            )
        ]
    active = outputs.get("active_color")
    services = []
    for key in sorted(outputs):
        match = _COLOR_SERVICE.fullmatch(key)
        if not match or match["label"] in _ROLES or not outputs[key]:
            continue
        label = match["label"]
        services.append(
            ServiceStatus(
                name=str(outputs[key]),
                label=label,
                active=(label == active) if active else None,
                image_tag=_str(outputs.get(f"{label}_image_tag")),
                task_definition=_str(outputs.get(f"{label}_task_definition_arn")),
            )
        )
    return services


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def describe_services(ecs: Any, cluster: str, services: list[ServiceStatus]) -> None:
    """Fill desired/running/pending counts, status and rollout state from ECS (in place)."""
    for start in range(0, len(services), 10):
        chunk = services[start : start + 10]
        try:
            resp = ecs.describe_services(cluster=cluster, services=[s.name for s in chunk])
        except ClientError as exc:
            for service in chunk:
                service.status = f"ERROR ({_code(exc)})"
            continue
        found = {s.get("serviceName"): s for s in resp.get("services", [])}
        for service in chunk:
            data = found.get(service.name)
            if data is None:
                service.status = "MISSING"
                continue
            service.status = str(data.get("status", "UNKNOWN"))
            service.desired = data.get("desiredCount")
            service.running = data.get("runningCount")
            service.pending = data.get("pendingCount")
            service.ecs_task_definition = data.get("taskDefinition")
            primary = next((d for d in data.get("deployments", []) if d.get("status") == "PRIMARY"), None)
            service.rollout = primary.get("rolloutState") if primary else None


def app_status(target: Target, branch: str | None) -> AppStatus:
    """Image, task definition, ECS counts, URL and last deploy of the branch's (or the environment's) app stack."""
    names = target.names(branch)
    app = app_outputs(target, names.workspace)
    last = LedgerIndex(target.ledger(), target.env, names.workspace).newest(names.workspace, lambda r: r.stack == "app")
    if app is None or not app:
        where = f"{target.env} ({names.workspace})"
        seen = f"; last recorded: {last.action} {last.outcome} at {last.time} by {last.actor}" if last else ""
        raise DeployError(f"{where} is not deployed: the app stack has no state or no outputs{seen}")
    outputs = app.to_dict()
    cluster = str(outputs.get("cluster_name") or target.settings.cluster)
    services = services_from_outputs(outputs)
    describe_services(target.clients()("ecs"), cluster, services)
    return AppStatus(
        env=target.env,
        workspace=names.workspace,
        branch=branch if target.settings.branch_environments else None,
        url=app.url,
        image_tag=app.image_tag,
        cluster=cluster,
        services=services,
        active_color=app.active_color,
        last_record=last,
        outputs=outputs,
    )
