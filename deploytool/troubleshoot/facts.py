"""What the checklist reads from AWS, fetched once: the service, its task definition and container,
the database instance and the app stack's outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from deploytool.aws import Clients
from deploytool.troubleshoot.locate import DB_PORT, Where, app_outputs, aws_error


@dataclass
class Facts:
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


def gather(where: Where, clients: Clients) -> Facts:
    """Read the facts; what cannot be read is recorded (``service_error``, ``db_error``), never raised."""
    facts = Facts(app_outputs=app_outputs(where.target, where.names.workspace))
    ecs = clients("ecs")
    try:
        services = ecs.describe_services(cluster=where.cluster, services=[where.names.service]).get("services", [])
        facts.service = services[0] if services else None
        if facts.service is None:
            facts.service_error = f"service {where.names.service} not found in cluster {where.cluster}"
    except (ClientError, BotoCoreError) as exc:
        facts.service_error = f"describe_services failed: {aws_error(exc)}"
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
            facts.service_error = f"describe_task_definition failed: {aws_error(exc)}"
    identifier = where.platform.get("db_instance_identifier")
    if identifier:
        try:
            instances = clients("rds").describe_db_instances(DBInstanceIdentifier=str(identifier))
            facts.db_instance = (instances.get("DBInstances") or [None])[0]
        except (ClientError, BotoCoreError) as exc:
            facts.db_error = aws_error(exc)
    else:
        facts.db_error = "the platform has no db_instance_identifier output"
    return facts


def service_ok(facts: Facts) -> bool:
    """The service exists, is ACTIVE and its task definition was read (the checks after it need that)."""
    return facts.service is not None and facts.service.get("status") == "ACTIVE" and facts.task_definition is not None


def db_port(where: Where, facts: Facts) -> int:
    """The database's port: its endpoint's, else the platform's output, else PostgreSQL's default."""
    endpoint = (facts.db_instance or {}).get("Endpoint") or {}
    value = endpoint.get("Port") or where.platform.get("db_port") or DB_PORT
    return int(value)
