"""The one verification step every release strategy ends with.

A release is verified only when, in this order and within one budget: the ECS deployment of the
applied task definition COMPLETED, every target registered in its target group is healthy (at
least one), and the HTTP checks (health, detailed health, smoke requests) passed N times in a row
with the detailed health reporting the deployed image tag. During a rolling update the old tasks
keep serving and stay registered until the new ones are healthy: HTTP checks that ran first, or
that did not ask which version answered, could pass against the old release while the new one
crash-loops. A task the runtime already knows to have crashed is a verdict at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from deploytool.awschecks import check_ecs_rollout, check_target_health
from deploytool.health import CheckResult, HealthSettings, SmokeRequest, Verdict, check_http
from deploytool.naming import Names
from deploytool.runtime import check_url
from deploytool.stack import Target
from deploytool.stackops import Progress, quiet
from deploytool.state import AppOutputs, ServiceOutputs

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client


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
    progress(f"verifying {service.service_name}: ECS rollout, target health, then {url} from {image_tag}")
    ecs, elbv2, observable = runtime.observers()
    verdict = verify_release(
        ecs,
        elbv2,
        service,
        health_settings(target, url, expected_version=image_tag, headers=headers),
        observable=observable,
        task_failure=lambda: runtime.task_failure(service.service_name),
    )
    return url, verdict


def verify_release(
    ecs: ECSClient,
    elbv2: ElasticLoadBalancingv2Client,
    service: ServiceOutputs,
    http: HealthSettings,
    *,
    observable: bool = True,
    task_failure: Callable[[], str | None] = lambda: None,
    poll_s: float = 5.0,
) -> Verdict:
    """The checks in order, each polled within what is left of one budget (``http.budget_s``).

    1. ``ecs.rollout``: the deployment running ``service.task_definition_arn`` is PRIMARY and
       COMPLETED (running == desired); IN_PROGRESS is waited for, FAILED (the circuit breaker) or a
       PRIMARY on another task definition fails at once.
    2. ``alb.targets``: every target registered in the service's target group is healthy and there
       is at least one; ``initial`` and ``draining`` are waited for.
    3. HTTP through the URL users reach: ``consecutive_passes`` full passes in a row, each from the new
       release when ``http.expected_version`` is set (an answer from the old version is "not yet").

    A check that fails ends the verification: what comes after it would only look at the old
    release (HTTP passing against old tasks proves nothing about the new ones). With
    ``observable=False`` (an emulator without a stand-in) the first two are ``unavailable``.
    """
    deadline = time.monotonic() + http.budget_s

    def left() -> float:
        return max(0.0, deadline - time.monotonic())

    crashed = task_failure()
    if crashed:
        return Verdict((CheckResult("local.task", "fail", crashed),))
    checks: list[CheckResult] = []
    rollout = check_ecs_rollout(
        ecs,
        service.cluster_name,
        service.service_name,
        service.task_definition_arn,
        emulator=not observable,
        budget_s=left(),
        poll_s=poll_s,
    )
    checks.append(rollout)
    if rollout.status == "fail":
        return Verdict(tuple(checks))
    targets = check_target_health(
        elbv2, service.target_group_arn, emulator=not observable, budget_s=left(), poll_s=min(poll_s, 2.0)
    )
    checks.append(targets)
    if targets.status == "fail":
        return Verdict(tuple(checks))
    crashed = task_failure()
    if crashed:
        return Verdict((*checks, CheckResult("local.task", "fail", crashed)))
    checks.extend(check_http(replace(http, budget_s=left())).checks)
    return Verdict(tuple(checks))
