"""ECS rollout and ALB target checks on recorded AWS response shapes (botocore Stubber)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from deploytool.awschecks import check_ecs_rollout, check_target_health, task_definition_label
from deploytool.health import CheckResult

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

REGION = "us-east-1"
ACCOUNT = "123456789012"
CLUSTER = "theobroma-staging"
SERVICE = "theobroma-staging-feature-x"
TD_OLD = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/theobroma-staging-feature-x:6"
TD_NEW = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/theobroma-staging-feature-x:7"
TG_ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/tb-stg-feature-x/0123456789abcdef"
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BREAKER_EVENT = (
    "(service theobroma-staging-feature-x) (deployment ecs-svc/2) deployment failed: "
    "tasks failed to start. The deployment circuit breaker rolled back to ecs-svc/1."
)


@pytest.fixture
def ecs() -> Iterator[tuple[ECSClient, Stubber]]:
    ecs = boto3.client("ecs", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(ecs) as stubber:
        yield ecs, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def elbv2() -> Iterator[tuple[ElasticLoadBalancingv2Client, Stubber]]:
    elbv2 = boto3.client("elbv2", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(elbv2) as stubber:
        yield elbv2, stubber
        stubber.assert_no_pending_responses()


def deployment(
    number: int,
    status: str,
    task_definition: str,
    *,
    rollout: str | None,
    running: int = 2,
    desired: int = 2,
    pending: int = 0,
    failed: int = 0,
    reason: str | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": f"ecs-svc/{number}",
        "status": status,
        "taskDefinition": task_definition,
        "desiredCount": desired,
        "pendingCount": pending,
        "runningCount": running,
        "failedTasks": failed,
        "createdAt": WHEN,
        "updatedAt": WHEN,
        "launchType": "FARGATE",
    }
    if rollout is not None:
        entry["rolloutState"] = rollout
        entry["rolloutStateReason"] = reason or f"ECS deployment ecs-svc/{number} {rollout.lower()}."
    return entry


def describe_services(
    deployments: list[dict[str, Any]], *, task_definition: str | None = None, events: list[str] | None = None
) -> dict[str, Any]:
    primary = next(d for d in deployments if d["status"] == "PRIMARY")
    return {
        "services": [
            {
                "serviceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{SERVICE}",
                "serviceName": SERVICE,
                "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}",
                "status": "ACTIVE",
                "desiredCount": primary["desiredCount"],
                "runningCount": sum(d["runningCount"] for d in deployments),
                "pendingCount": primary["pendingCount"],
                "launchType": "FARGATE",
                "taskDefinition": task_definition or primary["taskDefinition"],
                "deploymentConfiguration": {
                    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
                    "maximumPercent": 200,
                    "minimumHealthyPercent": 100,
                },
                "deployments": deployments,
                "events": [
                    {"id": f"event-{i}", "createdAt": WHEN, "message": message}
                    for i, message in enumerate(events or [])
                ],
            }
        ],
        "failures": [],
    }


EXPECTED_PARAMS = {"cluster": CLUSTER, "services": [SERVICE]}


def rollout(ecs: ECSClient, *, emulator: bool = False, budget_s: float = 5.0, poll_s: float = 0.01) -> CheckResult:
    return check_ecs_rollout(ecs, CLUSTER, SERVICE, TD_NEW, emulator=emulator, budget_s=budget_s, poll_s=poll_s)


# --- ECS rollout ----------------------------------------------------------------------------------


def test_completed_rollout_passes(ecs: tuple[ECSClient, Stubber]) -> None:
    client_, stub = ecs
    stub.add_response(
        "describe_services",
        describe_services([deployment(2, "PRIMARY", TD_NEW, rollout="COMPLETED")]),
        EXPECTED_PARAMS,
    )
    result = rollout(client_)
    assert result.status == "pass", result.detail
    assert result.name == "ecs.rollout"
    assert result.detail == "theobroma-staging-feature-x:7 COMPLETED: 2/2 tasks running"


def test_in_progress_then_completed_passes(ecs: tuple[ECSClient, Stubber]) -> None:
    client_, stub = ecs
    old = deployment(1, "ACTIVE", TD_OLD, rollout="COMPLETED")
    stub.add_response(
        "describe_services",
        describe_services([deployment(2, "PRIMARY", TD_NEW, rollout="IN_PROGRESS", running=1, pending=1), old]),
        EXPECTED_PARAMS,
    )
    stub.add_response(
        "describe_services",
        describe_services([deployment(2, "PRIMARY", TD_NEW, rollout="COMPLETED")]),
        EXPECTED_PARAMS,
    )
    assert rollout(client_).status == "pass"


def test_circuit_breaker_failed_rollout_fails(ecs: tuple[ECSClient, Stubber]) -> None:
    client_, stub = ecs
    failed = deployment(
        2,
        "PRIMARY",
        TD_NEW,
        rollout="FAILED",
        running=0,
        failed=3,
        reason="ECS deployment circuit breaker: tasks failed to start.",
    )
    stub.add_response(
        "describe_services",
        describe_services([failed, deployment(1, "ACTIVE", TD_OLD, rollout="COMPLETED")]),
        EXPECTED_PARAMS,
    )
    result = rollout(client_)
    assert result.status == "fail"
    assert result.detail.startswith("rolled back by the deployment circuit breaker")
    assert "tasks failed to start" in result.detail
    assert "0/2 tasks running, 3 failed to start" in result.detail


def test_primary_back_on_the_old_task_definition_fails(ecs: tuple[ECSClient, Stubber]) -> None:
    client_, stub = ecs
    # After the circuit breaker rolls back, a new PRIMARY deployment runs the previous revision.
    rolled_back = [
        deployment(3, "PRIMARY", TD_OLD, rollout="COMPLETED"),
        deployment(2, "INACTIVE", TD_NEW, rollout="FAILED", running=0, failed=4, reason="circuit breaker: failed"),
    ]
    stub.add_response("describe_services", describe_services(rolled_back, events=[BREAKER_EVENT]), EXPECTED_PARAMS)
    result = rollout(client_)
    assert result.status == "fail"
    assert result.detail.startswith("rolled back by the deployment circuit breaker")
    assert "PRIMARY deployment runs theobroma-staging-feature-x:6, not theobroma-staging-feature-x:7" in result.detail


def test_primary_on_another_task_definition_without_breaker_evidence_fails(ecs: tuple[ECSClient, Stubber]) -> None:
    client_, stub = ecs
    stub.add_response(
        "describe_services",
        describe_services([deployment(3, "PRIMARY", TD_OLD, rollout="COMPLETED")]),
        EXPECTED_PARAMS,
    )
    result = rollout(client_)
    assert result.status == "fail"
    assert "rolled back by the deployment circuit breaker or replaced by another deploy" in result.detail


def test_in_progress_past_the_budget_times_out(ecs: tuple[ECSClient, Stubber]) -> None:
    client_, stub = ecs
    stuck = describe_services(
        [
            deployment(2, "PRIMARY", TD_NEW, rollout="IN_PROGRESS", running=1, pending=1),
            deployment(1, "ACTIVE", TD_OLD, rollout="COMPLETED"),
        ],
        events=["(service theobroma-staging-feature-x) has started 1 tasks: (task 0123)."],
    )
    stub.add_response("describe_services", stuck, EXPECTED_PARAMS)
    started = time.monotonic()
    result = rollout(client_, budget_s=0)
    assert time.monotonic() - started < 1.0
    assert result.status == "fail"
    assert result.detail.startswith("timed out after 0 s: rollout of theobroma-staging-feature-x:7 still IN_PROGRESS")
    assert "1/2 tasks running, 1 pending" in result.detail
    assert "1 older deployment(s) still active" in result.detail
    assert "has started 1 tasks" in result.detail


def test_in_progress_polls_until_the_budget(ecs: tuple[ECSClient, Stubber]) -> None:
    client_, stub = ecs
    stuck = describe_services([deployment(2, "PRIMARY", TD_NEW, rollout="IN_PROGRESS", running=0, pending=2)])
    for _ in range(3):
        stub.add_response("describe_services", stuck, EXPECTED_PARAMS)
    started = time.monotonic()
    result = rollout(client_, budget_s=0.25, poll_s=0.1)
    assert 0.15 < time.monotonic() - started < 1.0
    assert result.status == "fail" and result.detail.startswith("timed out after 0.25 s")


def test_missing_service_fails(ecs: tuple[ECSClient, Stubber]) -> None:
    client_, stub = ecs
    stub.add_response(
        "describe_services",
        {
            "services": [],
            "failures": [{"arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{SERVICE}", "reason": "MISSING"}],
        },
        EXPECTED_PARAMS,
    )
    result = rollout(client_)
    assert result.status == "fail"
    assert result.detail == f"service {SERVICE!r} not found in cluster {CLUSTER!r} (MISSING)"


def test_missing_cluster_fails(ecs: tuple[ECSClient, Stubber]) -> None:
    client_, stub = ecs
    stub.add_client_error(
        "describe_services", service_error_code="ClusterNotFoundException", service_message="Cluster not found."
    )
    result = rollout(client_)
    assert result.status == "fail"
    assert result.detail == "describe_services failed: ClusterNotFoundException: Cluster not found."


def test_emulator_with_expected_task_definition_is_unavailable(ecs: tuple[ECSClient, Stubber]) -> None:
    client_, stub = ecs
    # The emulator updates service.taskDefinition but keeps deployments[] on the old revision.
    response = describe_services(
        [deployment(1, "PRIMARY", TD_OLD, rollout=None, running=0)],
        task_definition=TD_NEW,
    )
    stub.add_response("describe_services", response, EXPECTED_PARAMS)
    result = rollout(client_, emulator=True)
    assert result.status == "unavailable"
    assert result.detail.startswith("not available on the emulator: no tasks run")


def test_emulator_with_old_task_definition_fails(ecs: tuple[ECSClient, Stubber]) -> None:
    client_, stub = ecs
    response = describe_services([deployment(1, "PRIMARY", TD_OLD, rollout=None, running=0)])
    stub.add_response("describe_services", response, EXPECTED_PARAMS)
    result = rollout(client_, emulator=True)
    assert result.status == "fail"
    assert (
        result.detail
        == "service uses task definition theobroma-staging-feature-x:6, expected theobroma-staging-feature-x:7"
    )


def test_expected_task_definition_may_be_given_as_family_revision(ecs: tuple[ECSClient, Stubber]) -> None:
    client_, stub = ecs
    stub.add_response(
        "describe_services",
        describe_services([deployment(2, "PRIMARY", TD_NEW, rollout="COMPLETED")]),
        EXPECTED_PARAMS,
    )
    result = check_ecs_rollout(
        client_, CLUSTER, SERVICE, "theobroma-staging-feature-x:7", emulator=False, budget_s=1, poll_s=0.1
    )
    assert result.status == "pass"
    assert task_definition_label(TD_NEW) == "theobroma-staging-feature-x:7"


# --- ALB targets ----------------------------------------------------------------------------------


def target(ip: str, state: str, reason: str | None = None, description: str | None = None) -> dict[str, Any]:
    health: dict[str, Any] = {"State": state}
    if reason:
        health["Reason"] = reason
    if description:
        health["Description"] = description
    return {"Target": {"Id": ip, "Port": 8000}, "HealthCheckPort": "8000", "TargetHealth": health}


TG_PARAMS = {"TargetGroupArn": TG_ARN}


def test_all_targets_healthy_passes(elbv2: tuple[ElasticLoadBalancingv2Client, Stubber]) -> None:
    client_, stub = elbv2
    stub.add_response(
        "describe_target_health",
        {"TargetHealthDescriptions": [target("10.0.1.10", "healthy"), target("10.0.2.11", "healthy")]},
        TG_PARAMS,
    )
    result = check_target_health(client_, TG_ARN, emulator=False)
    assert result.status == "pass"
    assert result.name == "alb.targets"
    assert result.detail == "2 targets healthy"


def test_empty_target_group_fails(elbv2: tuple[ElasticLoadBalancingv2Client, Stubber]) -> None:
    client_, stub = elbv2
    stub.add_response("describe_target_health", {"TargetHealthDescriptions": []}, TG_PARAMS)
    result = check_target_health(client_, TG_ARN, emulator=False)
    assert result.status == "fail"
    assert result.detail == "no registered targets"


def test_draining_and_unhealthy_targets_fail_with_reasons(elbv2: tuple[ElasticLoadBalancingv2Client, Stubber]) -> None:
    client_, stub = elbv2
    stub.add_response(
        "describe_target_health",
        {
            "TargetHealthDescriptions": [
                target("10.0.1.10", "healthy"),
                target(
                    "10.0.1.20", "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"
                ),
                target(
                    "10.0.2.21",
                    "unhealthy",
                    "Target.ResponseCodeMismatch",
                    "Health checks failed with these codes: [503]",
                ),
            ]
        },
        TG_PARAMS,
    )
    result = check_target_health(client_, TG_ARN, emulator=False)
    assert result.status == "fail"
    assert result.detail.startswith("2 of 3 targets not healthy")
    assert "10.0.1.20:8000 draining (Target.DeregistrationInProgress: Target deregistration is in progress)" in (
        result.detail
    )
    assert "10.0.2.21:8000 unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [503])" in (
        result.detail
    )


def test_initial_targets_are_rechecked_within_the_budget(elbv2: tuple[ElasticLoadBalancingv2Client, Stubber]) -> None:
    client_, stub = elbv2
    stub.add_response(
        "describe_target_health",
        {"TargetHealthDescriptions": [target("10.0.1.10", "initial", "Elb.RegistrationInProgress")]},
        TG_PARAMS,
    )
    stub.add_response(
        "describe_target_health", {"TargetHealthDescriptions": [target("10.0.1.10", "healthy")]}, TG_PARAMS
    )
    result = check_target_health(client_, TG_ARN, emulator=False, budget_s=2, poll_s=0.01)
    assert result.status == "pass"


def test_unhealthy_target_fails_without_waiting(elbv2: tuple[ElasticLoadBalancingv2Client, Stubber]) -> None:
    client_, stub = elbv2
    stub.add_response(
        "describe_target_health",
        {"TargetHealthDescriptions": [target("10.0.1.10", "unhealthy", "Target.Timeout")]},
        TG_PARAMS,
    )
    started = time.monotonic()
    result = check_target_health(client_, TG_ARN, emulator=False, budget_s=30, poll_s=5)
    assert time.monotonic() - started < 1.0
    assert result.status == "fail" and "Target.Timeout" in result.detail


def test_emulator_targets_are_unavailable(elbv2: tuple[ElasticLoadBalancingv2Client, Stubber]) -> None:
    client_, stub = elbv2
    stub.add_response("describe_target_health", {"TargetHealthDescriptions": []}, TG_PARAMS)
    result = check_target_health(client_, TG_ARN, emulator=True)
    assert result.status == "unavailable"
    assert result.detail == "not available on the emulator: ECS registers no targets there"


def test_missing_target_group_fails_even_on_the_emulator(elbv2: tuple[ElasticLoadBalancingv2Client, Stubber]) -> None:
    client_, stub = elbv2
    stub.add_client_error(
        "describe_target_health",
        service_error_code="TargetGroupNotFound",
        service_message="One or more target groups not found",
    )
    result = check_target_health(client_, TG_ARN, emulator=True)
    assert result.status == "fail"
    assert result.detail == "describe_target_health failed: TargetGroupNotFound: One or more target groups not found"
