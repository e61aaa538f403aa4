"""The diagnose checklist: everything a healthy branch environment needs, each failure with its fix.

``diagnose`` gathers the facts once (``facts``) and runs the checks in order. The checks of the
service, its tasks, the load balancer and the database live here; the image, security-group,
execution-role and HTTP checks in ``image``, ``reachability``, ``iam`` and ``http``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from deploytool.aws import Clients
from deploytool.awschecks import TARGETS_CHECK, check_target_health, task_definition_label
from deploytool.stack import Target
from deploytool.troubleshoot.facts import Facts, db_port, gather, service_ok
from deploytool.troubleshoot.findings import (
    EMULATOR,
    Diagnosis,
    Finding,
    failed,
    not_checked,
    passed,
    unavailable,
)
from deploytool.troubleshoot.http import check_http_endpoints
from deploytool.troubleshoot.iam import check_execution_role
from deploytool.troubleshoot.image import check_image_in_ecr, check_image_tag
from deploytool.troubleshoot.locate import CONTAINER_PORT, Where, aws_error, locate
from deploytool.troubleshoot.reachability import check_alb_to_service, check_service_to_db


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
    facts = gather(where, clients)
    say(f"diagnosing {where.names.workspace} in {where.cluster}")
    findings: list[Finding] = [
        check_service(where, facts),
        check_running(where, facts),
    ]
    if where.emulator:
        findings.append(check_local_task(where))
    findings += [
        check_image_tag(where, facts),
        check_image_in_ecr(where, facts, clients),
        check_targets(where, facts, clients),
        check_health_check(where, facts, clients),
        check_alb_to_service(where, facts, clients),
        check_service_to_db(where, facts, clients),
        check_db_status(where, facts),
        check_execution_role(where, facts, clients),
    ]
    findings += check_http_endpoints(where, facts, base_url=base_url, budget_s=http_budget_s)
    return Diagnosis(target.env, where.names.workspace, where.emulator, tuple(findings))


# -- ECS -------------------------------------------------------------------------------------------


def check_service(where: Where, facts: Facts) -> Finding:
    """``ecs.service``: the service exists and is ACTIVE, and its task definition can be read."""
    name = "ecs.service"
    deploy = where.command("deploy", "--image-tag", "TAG")
    if facts.service is None:
        return failed(name, facts.service_error or "service not found", f"deploy the branch: {deploy}")
    status = str(facts.service.get("status"))
    if status != "ACTIVE":
        return failed(
            name,
            f"service {where.names.service} is {status}, not ACTIVE (it is being or was deleted)",
            f"deploy again: {deploy}",
        )
    if facts.task_definition is None:
        return failed(
            name, facts.service_error or "the service's task definition cannot be read", f"deploy again: {deploy}"
        )
    label = task_definition_label(str(facts.service.get("taskDefinition", "")))
    return passed(name, f"{where.names.service} is ACTIVE in {where.cluster}, task definition {label}")


def check_running(where: Where, facts: Facts) -> Finding:
    """``ecs.running``: the service runs its desired number of tasks (unavailable on the emulator)."""
    name = "ecs.running"
    if not service_ok(facts):
        return not_checked(name, "the service is missing", "ecs.service")
    assert facts.service is not None
    desired = int(facts.service.get("desiredCount", 0))
    if where.emulator:
        return unavailable(name, f"{EMULATOR}: no tasks run there (desired count {desired})")
    running = int(facts.service.get("runningCount", 0))
    pending = int(facts.service.get("pendingCount", 0))
    events_cmd = where.command("events")
    if desired == 0:
        return failed(
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
        return failed(
            name,
            detail,
            f"see why tasks stop: {events_cmd}, then {where.command('logs', '--since', '1h')}",
        )
    return passed(name, f"{running}/{desired} tasks running")


def check_local_task(where: Where) -> Finding:
    """``local.task`` (local mode): the local stand-in for the task is running."""
    name = "local.task"
    runtime = where.runtime
    task = runtime.task(where.service)
    if task is not None:
        return passed(name, f"{runtime.name} runs at {task.url} (image {task.image.rsplit('/', 1)[-1]})")
    why = runtime.task_failure(where.service) or "not running"
    return failed(
        name,
        f"{runtime.name}: {why}",
        f"read its output in {runtime.log_path(where.service)}; deploy again to restart it: "
        f"{where.command('deploy', '--image-tag', 'TAG')}",
    )


# -- load balancer ---------------------------------------------------------------------------------


def check_targets(where: Where, facts: Facts, clients: Clients) -> Finding:
    """``alb.targets``: the target group's targets are healthy (unavailable on the emulator)."""
    lb = facts.load_balancer
    if not service_ok(facts) or lb is None or not lb.get("targetGroupArn"):
        because = "the service is missing" if not service_ok(facts) else "the service has no load balancer"
        return not_checked(TARGETS_CHECK, because, "ecs.service")
    result = check_target_health(clients("elbv2"), str(lb["targetGroupArn"]), emulator=where.emulator)
    if result.status == "unavailable":
        return unavailable(TARGETS_CHECK, f"{EMULATOR}: ECS registers no targets there")
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


def check_health_check(where: Where, facts: Facts, clients: Clients) -> Finding:
    """``alb.health_check``: the target group checks HTTP ``/health`` on the container's port."""
    name = "alb.health_check"
    lb = facts.load_balancer
    if not service_ok(facts) or lb is None or not lb.get("targetGroupArn"):
        return not_checked(name, "the service or its load balancer is missing", "ecs.service")
    tg_arn = str(lb["targetGroupArn"])
    try:
        groups = clients("elbv2").describe_target_groups(TargetGroupArns=[tg_arn]).get("TargetGroups", [])
    except (ClientError, BotoCoreError) as exc:
        return failed(name, f"describe_target_groups failed: {aws_error(exc)}", f"re-apply: {where.command('apply')}")
    if not groups:
        return failed(name, f"target group {tg_arn} not found", f"re-apply the app stack: {where.command('apply')}")
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
        return failed(
            name,
            f"target group {tg.get('TargetGroupName', tg_arn)}: " + "; ".join(problems),
            f"re-apply the app stack so the target group checks {path} on the traffic port ({CONTAINER_PORT}): "
            f"{where.command('apply', '--yes')}",
        )
    shown_port = f"traffic port {port}" if hc_port == "traffic-port" else f"port {hc_port}"
    return passed(name, f"target group {tg.get('TargetGroupName', '?')} checks HTTP {path} on {shown_port}")


# -- database --------------------------------------------------------------------------------------


def check_db_status(where: Where, facts: Facts) -> Finding:
    """``rds.status``: the database instance is available."""
    name = "rds.status"
    identifier = where.platform.get("db_instance_identifier", "?")
    if facts.db_instance is None:
        return failed(
            name,
            f"database {identifier} not found ({facts.db_error or 'not returned'})",
            f"re-apply the platform, which creates it: {where.platform_command()}",
        )
    status = str(facts.db_instance.get("DBInstanceStatus", "unknown"))
    if status == "available":
        return passed(name, f"{identifier} is available on port {db_port(where, facts)}")
    if status in ("stopped", "stopping"):
        return failed(
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
        return failed(
            name,
            f"{identifier} is {status}, not available yet",
            "wait until it is available (`aws rds wait db-instance-available`), then run diagnose again",
        )
    return failed(
        name,
        f"{identifier} is {status}",
        "see the RDS events of the instance (`aws rds describe-events --source-type db-instance`)",
    )
