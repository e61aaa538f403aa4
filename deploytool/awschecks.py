"""Post-deploy checks through the AWS API: the ECS service rollout and the ALB target health.

The boto3 clients are passed in, so callers choose the endpoint (AWS or the emulator) and tests
can stub the responses. On the emulator no task ever runs and no target is registered: those
checks report ``unavailable`` (never ``pass``) after verifying what the emulator does know.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import RetryCallState, Retrying, retry_if_result, wait_fixed

from deploytool.health import CheckResult

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

ROLLOUT_CHECK = "ecs.rollout"
TARGETS_CHECK = "alb.targets"
EMULATOR_NO_TASKS = "not available on the emulator: no tasks run"
EMULATOR_NO_TARGETS = "not available on the emulator: ECS registers no targets there"
_TRANSITIONAL_TARGET_STATES = frozenset({"initial", "draining"})


@dataclass(frozen=True)
class _Poll:
    """One look at the AWS state: a final result, or still settling (``result`` describes how far)."""

    result: CheckResult
    final: bool


def task_definition_label(arn_or_name: str) -> str:
    """``family:revision`` from a task definition ARN (or the input unchanged if it is no ARN)."""
    return arn_or_name.split("task-definition/", 1)[-1]


def check_ecs_rollout(
    ecs: ECSClient,
    cluster: str,
    service: str,
    expected_task_definition_arn: str,
    *,
    emulator: bool,
    budget_s: float = 600.0,
    poll_s: float = 10.0,
) -> CheckResult:
    """Wait for the ECS deployment of ``expected_task_definition_arn`` to complete.

    pass: the PRIMARY deployment uses the expected task definition, its rollout is COMPLETED and
    running == desired. fail: the rollout FAILED or the PRIMARY deployment went back to another
    task definition (the deployment circuit breaker rolled back), the service is missing, or the
    rollout is still in progress when ``budget_s`` is spent.

    With ``emulator=True`` (no tasks run, deployments[] stays on the old revision) only the
    service's ``taskDefinition`` is compared: a mismatch fails, a match is ``unavailable``.
    """
    started = time.monotonic()
    expected = task_definition_label(expected_task_definition_arn)

    def look() -> _Poll:
        described = _describe_service(ecs, cluster, service)
        if isinstance(described, CheckResult):
            return _Poll(described, final=True)
        if emulator:
            return _Poll(_judge_emulator_service(described, expected), final=True)
        return _judge_rollout(described, expected)

    final = _poll(look, budget_s=budget_s, poll_s=poll_s)
    elapsed = time.monotonic() - started
    result = final.result
    if not final.final:
        detail = f"timed out after {budget_s:g} s: {result.detail}"
        return CheckResult(ROLLOUT_CHECK, "fail", detail, elapsed)
    return CheckResult(result.name, result.status, result.detail, elapsed)


def check_target_health(
    elbv2: ElasticLoadBalancingv2Client,
    target_group_arn: str,
    *,
    emulator: bool,
    budget_s: float = 0.0,
    poll_s: float = 5.0,
) -> CheckResult:
    """Every registered target of the target group is healthy (and there is at least one).

    ``initial``/``draining`` targets and an empty group are re-checked every ``poll_s`` until
    ``budget_s`` is spent (0: look once); ``unhealthy``/``unused``/``unavailable`` fail at once.
    With ``emulator=True`` the group's existence is verified and the result is ``unavailable``.
    """
    started = time.monotonic()

    def look() -> _Poll:
        try:
            response = elbv2.describe_target_health(TargetGroupArn=target_group_arn)
        except (ClientError, BotoCoreError) as exc:
            return _Poll(CheckResult(TARGETS_CHECK, "fail", f"describe_target_health failed: {_aws_error(exc)}"), True)
        if emulator:
            return _Poll(CheckResult(TARGETS_CHECK, "unavailable", EMULATOR_NO_TARGETS), True)
        return _judge_targets(response.get("TargetHealthDescriptions", []))

    final = _poll(look, budget_s=budget_s, poll_s=poll_s)
    result = final.result
    if not final.final:
        return CheckResult(TARGETS_CHECK, "fail", result.detail, time.monotonic() - started)
    return CheckResult(result.name, result.status, result.detail, time.monotonic() - started)


# --- polling --------------------------------------------------------------------------------------


def _poll(look: Callable[[], _Poll], *, budget_s: float, poll_s: float) -> _Poll:
    """Call ``look`` every ``poll_s`` until it gives a final result or the next look would pass the budget."""
    deadline = time.monotonic() + budget_s

    def out_of_budget(state: RetryCallState) -> bool:
        return time.monotonic() + (state.upcoming_sleep or 0.0) > deadline

    def last_look(state: RetryCallState) -> _Poll:
        assert state.outcome is not None
        last: _Poll = state.outcome.result()
        return last

    retrying = Retrying(
        retry=retry_if_result(lambda poll: not poll.final),
        wait=wait_fixed(poll_s),
        stop=out_of_budget,
        retry_error_callback=last_look,
        reraise=True,
    )
    result: _Poll = retrying(look)
    return result


# --- ECS ------------------------------------------------------------------------------------------


def _describe_service(ecs: ECSClient, cluster: str, service: str) -> Mapping[str, Any] | CheckResult:
    try:
        response = ecs.describe_services(cluster=cluster, services=[service])
    except (ClientError, BotoCoreError) as exc:
        return CheckResult(ROLLOUT_CHECK, "fail", f"describe_services failed: {_aws_error(exc)}")
    services: Sequence[Mapping[str, Any]] = response.get("services", [])
    if not services:
        reasons = ", ".join(str(f.get("reason", "?")) for f in response.get("failures", [])) or "not returned"
        return CheckResult(ROLLOUT_CHECK, "fail", f"service {service!r} not found in cluster {cluster!r} ({reasons})")
    return services[0]


def _judge_emulator_service(svc: Mapping[str, Any], expected: str) -> CheckResult:
    actual = task_definition_label(str(svc.get("taskDefinition", "")))
    if actual != expected:
        return CheckResult(ROLLOUT_CHECK, "fail", f"service uses task definition {actual}, expected {expected}")
    return CheckResult(ROLLOUT_CHECK, "unavailable", f"{EMULATOR_NO_TASKS} (service task definition is {actual})")


def _judge_rollout(svc: Mapping[str, Any], expected: str) -> _Poll:
    if svc.get("status") != "ACTIVE":
        return _Poll(CheckResult(ROLLOUT_CHECK, "fail", f"service is {svc.get('status')}, not ACTIVE"), True)
    deployments: Sequence[Mapping[str, Any]] = svc.get("deployments", [])
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None:
        return _Poll(CheckResult(ROLLOUT_CHECK, "fail", "service has no PRIMARY deployment"), True)

    primary_td = task_definition_label(str(primary.get("taskDefinition", "")))
    if primary_td != expected:
        return _Poll(
            CheckResult(ROLLOUT_CHECK, "fail", _rolled_back_detail(svc, deployments, primary_td, expected)), True
        )

    state = primary.get("rolloutState")
    running, desired = int(primary.get("runningCount", 0)), int(primary.get("desiredCount", 0))
    progress = _deployment_progress(primary)
    if state == "FAILED":
        reason = primary.get("rolloutStateReason") or _circuit_breaker_event(svc) or "no reason given"
        detail = f"rolled back by the deployment circuit breaker: {reason} ({progress})"
        return _Poll(CheckResult(ROLLOUT_CHECK, "fail", detail), True)

    others_active = [d for d in deployments if d is not primary and d.get("status") != "INACTIVE"]
    settled = state == "COMPLETED" or (state is None and not others_active)
    if settled and running == desired and int(primary.get("pendingCount", 0)) == 0:
        return _Poll(CheckResult(ROLLOUT_CHECK, "pass", f"{primary_td} {state or 'steady'}: {progress}"), True)

    detail = f"rollout of {primary_td} still {state or 'in progress'}: {progress}"
    if others_active:
        detail += f"; {len(others_active)} older deployment(s) still active"
    event = _latest_event(svc)
    if event:
        detail += f"; last event: {event}"
    return _Poll(CheckResult(ROLLOUT_CHECK, "fail", detail), final=False)


def _rolled_back_detail(
    svc: Mapping[str, Any], deployments: Sequence[Mapping[str, Any]], primary_td: str, expected: str
) -> str:
    ours = next((d for d in deployments if task_definition_label(str(d.get("taskDefinition", ""))) == expected), None)
    reason = (ours or {}).get("rolloutStateReason") or _circuit_breaker_event(svc)
    head = f"PRIMARY deployment runs {primary_td}, not {expected}"
    if reason or (ours is not None and ours.get("rolloutState") == "FAILED"):
        return f"rolled back by the deployment circuit breaker: {head}" + (f" ({reason})" if reason else "")
    return f"{head}: rolled back by the deployment circuit breaker or replaced by another deploy"


def _deployment_progress(deployment: Mapping[str, Any]) -> str:
    text = f"{deployment.get('runningCount', 0)}/{deployment.get('desiredCount', 0)} tasks running"
    if deployment.get("pendingCount"):
        text += f", {deployment['pendingCount']} pending"
    if deployment.get("failedTasks"):
        text += f", {deployment['failedTasks']} failed to start"
    return text


def _latest_event(svc: Mapping[str, Any]) -> str:
    events: Sequence[Mapping[str, Any]] = svc.get("events", [])
    return str(events[0].get("message", ""))[:300] if events else ""


def _circuit_breaker_event(svc: Mapping[str, Any]) -> str:
    events: Sequence[Mapping[str, Any]] = svc.get("events", [])
    for event in events[:20]:
        message = str(event.get("message", ""))
        if "circuit breaker" in message.lower():
            return message[:300]
    return ""


# --- ELB ------------------------------------------------------------------------------------------


def _judge_targets(descriptions: Sequence[Mapping[str, Any]]) -> _Poll:
    if not descriptions:
        return _Poll(CheckResult(TARGETS_CHECK, "fail", "no registered targets"), final=False)
    problems: list[str] = []
    transitional = True
    for description in descriptions:
        health: Mapping[str, Any] = description.get("TargetHealth", {})
        state = str(health.get("State", "unknown"))
        if state == "healthy":
            continue
        transitional = transitional and state in _TRANSITIONAL_TARGET_STATES
        target: Mapping[str, Any] = description.get("Target", {})
        where = f"{target.get('Id', '?')}:{target.get('Port', '?')}"
        why = ": ".join(str(p) for p in (health.get("Reason"), health.get("Description")) if p)
        problems.append(f"{where} {state}" + (f" ({why})" if why else ""))
    if not problems:
        count = len(descriptions)
        return _Poll(CheckResult(TARGETS_CHECK, "pass", f"{count} target{'s' if count != 1 else ''} healthy"), True)
    detail = f"{len(problems)} of {len(descriptions)} targets not healthy: " + "; ".join(problems)
    return _Poll(CheckResult(TARGETS_CHECK, "fail", detail), final=not transitional)


def _aws_error(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)
