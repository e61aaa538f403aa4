"""The one verification step every release strategy ends with.

A release is checked on three sides: HTTP (health, detailed health, smoke requests, optionally
the version it reports) at the URL the runtime gives, the ECS rollout of the applied task
definition, and the health of the targets registered in its target group. A task the runtime
already knows to have crashed is a verdict at once, without waiting out the HTTP budget.
"""

from __future__ import annotations

from deploytool.awschecks import check_ecs_rollout, check_target_health
from deploytool.health import CheckResult, HealthSettings, SmokeRequest, Verdict, check_http
from deploytool.naming import Names
from deploytool.runtime import check_url
from deploytool.stack import Target
from deploytool.stackops import Progress, quiet
from deploytool.state import AppOutputs, ServiceOutputs


def health_settings(
    target: Target, base_url: str, *, expected_version: str | None, headers: dict[str, str] | None = None
) -> HealthSettings:
    """The environment's health settings for one check of ``base_url``."""
    h = target.settings.health
    return HealthSettings(
        base_url=base_url,
        basic_path=h.paths.basic,
        detailed_path=h.paths.detailed,
        metrics_path=h.paths.metrics,
        request_timeout_s=h.request_timeout_seconds,
        budget_s=h.timeout_seconds,
        interval_s=h.interval_seconds,
        max_interval_s=h.max_interval_seconds,
        consecutive_passes=h.consecutive_passes,
        expected_version=expected_version if h.require_version else None,
        required_components=tuple(h.required_components),
        extra_headers=dict(headers or {}),
        smoke=[
            SmokeRequest(
                name=s.name,
                path=s.path,
                method=s.method,
                expect_status=s.expect_status,
                json_field=s.json_field,
                expect_value=s.expect_value,
            )
            for s in target.settings.smoke
        ],
    )


def verify(
    target: Target,
    names: Names,
    app: AppOutputs,
    service: ServiceOutputs,
    *,
    image_tag: str,
    test_route: bool = False,
    health_url: str | None = None,
    progress: Progress = quiet,
) -> tuple[str, Verdict]:
    """Roll ``service`` out on the target's runtime and check it; the URL checked and the verdict."""
    runtime = target.runtime
    runtime.roll_out(service)
    url, headers = check_url(target, names, app, service.service_name, override=health_url, test_route=test_route)
    progress(f"verifying {url} (health, ECS rollout, target health)")
    clients = target.clients()
    checks: list[CheckResult] = []
    crashed = runtime.task_failure(service.service_name)
    if crashed:
        checks.append(CheckResult("local.task", "fail", crashed))
    else:
        checks.extend(check_http(health_settings(target, url, expected_version=image_tag, headers=headers)).checks)
    checks.append(
        check_ecs_rollout(
            clients("ecs"),
            service.cluster_name,
            service.service_name,
            service.task_definition_arn,
            emulator=clients.emulator,
            budget_s=target.settings.health.timeout_seconds,
            poll_s=5.0,
        )
    )
    checks.append(check_target_health(clients("elbv2"), service.target_group_arn, emulator=clients.emulator))
    return url, Verdict(tuple(checks))
