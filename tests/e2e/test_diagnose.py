"""diagnose, logs and events against a branch deployed on the emulator, breaking one thing at a time.

One branch is deployed with the local stand-in for its task; each test breaks one thing through
boto3 (the database rule, the health check port, the database itself, the image), asserts that
diagnose names that failure and its fix, and restores it. The branch is destroyed at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from deploytool import release, stackops
from deploytool.cli import main
from deploytool.localrun import push_stand_in_image
from deploytool.troubleshoot.diagnose import diagnose
from deploytool.troubleshoot.findings import Diagnosis, Finding
from deploytool.troubleshoot.locate import app_outputs, locate
from deploytool.troubleshoot.logs import follow_logs, open_logs

pytestmark = pytest.mark.apply

REPO = Path(__file__).resolve().parents[2]
BRANCH = "feature/diagnose"
TAG = "v1"
MISSING_TAG = "v404-not-pushed"
# What the emulator cannot answer: no task runs there and no target is registered.
EMULATOR_UNAVAILABLE = {"ecs.running", "alb.targets"}


@pytest.fixture(scope="module")
def deployed(local_platform: dict[str, Any], local_target: Any, emulator: Any) -> Iterator[dict[str, Any]]:
    """The branch deployed with image ``v1``, whose manifest is in the emulator's ECR (no image is built here)."""
    push_stand_in_image(local_target, TAG)
    outcome = release.deploy_release(local_target, BRANCH, TAG)
    assert outcome.outcome == "success", outcome.verdict.summary()
    outputs = app_outputs(local_target, outcome.workspace)
    try:
        yield {"outcome": outcome, "outputs": outputs, "platform": local_platform}
    finally:
        stackops.destroy(local_target, BRANCH)


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(
        main, [*args, "--env", "local", "--branch", BRANCH, "--config", str(REPO / "deploy.toml")]
    )


def statuses(diagnosis: Diagnosis) -> dict[str, str]:
    return {f.check.name: f.check.status for f in diagnosis.findings}


def assert_clean(diagnosis: Diagnosis) -> None:
    failing = {f.check.name: (f.check.detail, f.fix) for f in diagnosis.failures()}
    assert failing == {}
    assert diagnosis.ok
    found = statuses(diagnosis)
    assert {name for name, status in found.items() if status == "unavailable"} == EMULATOR_UNAVAILABLE
    for name in ("ecs.service", "local.task", "image.tag", "image.ecr", "alb.health_check", "network.alb"):
        assert found[name] == "pass", name
    for name in ("network.db", "rds.status", "iam.execution_role", "http.basic", "http.detailed"):
        assert found[name] == "pass", name


def only_failure(diagnosis: Diagnosis, *names: str) -> list[Finding]:
    failures = diagnosis.failures()
    assert sorted(f.check.name for f in failures) == sorted(names), [(f.check.name, f.check.detail) for f in failures]
    assert not diagnosis.ok
    return failures


def test_healthy_branch_diagnoses_clean(deployed: dict[str, Any], local_target: Any) -> None:
    started = time.monotonic()
    diagnosis = diagnose(local_target, BRANCH)
    assert_clean(diagnosis)
    assert time.monotonic() - started < 30
    unavailable = [f for f in diagnosis.findings if f.check.status == "unavailable"]
    assert all("unavailable on the emulator" in f.check.detail for f in unavailable)
    assert "2 unavailable on the emulator (not counted as passed)" in diagnosis.summary()


def test_cli_diagnose_json_exit_zero_when_only_unavailable(deployed: dict[str, Any]) -> None:
    result = run_cli("diagnose", "--output", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert {c["name"] for c in document["checks"] if c["status"] == "unavailable"} == EMULATOR_UNAVAILABLE


def test_missing_database_rule_is_named_with_its_fix(
    deployed: dict[str, Any], local_target: Any, emulator: Any
) -> None:
    ec2 = emulator.client("ec2")
    db_group = deployed["platform"]["db_security_group_id"]
    service_group = deployed["outputs"]["security_group_id"]
    # The rule as the emulator records it (it only revokes an exact match, description included).
    permissions = ec2.describe_security_groups(GroupIds=[db_group])["SecurityGroups"][0]["IpPermissions"]
    rule = next(
        {**p, "UserIdGroupPairs": [pair]}
        for p in permissions
        if p.get("FromPort") == 5432
        for pair in p["UserIdGroupPairs"]
        if pair["GroupId"] == service_group
    )
    ec2.revoke_security_group_ingress(GroupId=db_group, IpPermissions=[rule])
    try:
        diagnosis = diagnose(local_target, BRANCH)
        (failure,) = only_failure(diagnosis, "network.db")
        assert db_group in failure.check.detail
        assert service_group in failure.check.detail
        assert "5432" in failure.check.detail
        assert "deploytool apply --env local --branch feature/diagnose" in failure.fix
    finally:
        ec2.authorize_security_group_ingress(GroupId=db_group, IpPermissions=[rule])
    assert_clean(diagnose(local_target, BRANCH))


def test_changed_health_check_port_is_named_with_its_fix(
    deployed: dict[str, Any], local_target: Any, emulator: Any
) -> None:
    elbv2 = emulator.client("elbv2")
    target_group = deployed["outputs"]["target_group_arn"]
    elbv2.modify_target_group(TargetGroupArn=target_group, HealthCheckPort="8080")
    try:
        result = run_cli("diagnose")
        assert result.exit_code == 1, result.output
        row = next(line for line in result.stdout.splitlines() if "alb.health_check" in line)
        assert row.strip().startswith("FAIL")
        assert "health check port is 8080, the container listens on 8000" in row
        assert "fix: re-apply the app stack" in result.stdout
        assert "failing: alb.health_check" in result.stderr
        only_failure(diagnose(local_target, BRANCH), "alb.health_check")
    finally:
        elbv2.modify_target_group(TargetGroupArn=target_group, HealthCheckPort="traffic-port")
    assert_clean(diagnose(local_target, BRANCH))


def test_stopped_database_is_named_with_its_fix(deployed: dict[str, Any], local_target: Any, emulator: Any) -> None:
    rds = emulator.client("rds")
    identifier = deployed["platform"]["db_instance_identifier"]
    rds.stop_db_instance(DBInstanceIdentifier=identifier)
    try:
        (failure,) = only_failure(diagnose(local_target, BRANCH), "rds.status")
        assert failure.check.detail.startswith(f"{identifier} is stopped")
        assert f"aws rds start-db-instance --db-instance-identifier {identifier}" in failure.fix
    finally:
        rds.start_db_instance(DBInstanceIdentifier=identifier)
    assert_clean(diagnose(local_target, BRANCH))


def test_image_missing_from_ecr_is_named_with_its_fix(
    deployed: dict[str, Any], local_target: Any, emulator: Any
) -> None:
    ecs = emulator.client("ecs")
    outputs = deployed["outputs"]
    cluster, service = outputs["cluster_name"], outputs["service_name"]
    current = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
    definition = ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
    container = dict(definition["containerDefinitions"][0])
    repository = container["image"].rsplit(":", 1)[0]
    container["image"] = f"{repository}:{MISSING_TAG}"
    keys = ("family", "executionRoleArn", "networkMode", "requiresCompatibilities", "cpu", "memory", "volumes")
    broken = ecs.register_task_definition(
        **{k: definition[k] for k in keys if definition.get(k)}, containerDefinitions=[container]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=cluster, service=service, taskDefinition=broken)
    try:
        diagnosis = diagnose(local_target, BRANCH)
        missing, tag = (diagnosis.finding("image.ecr"), diagnosis.finding("image.tag"))
        only_failure(diagnosis, "image.ecr", "image.tag")
        assert missing is not None and tag is not None
        assert f"{MISSING_TAG} is not in ECR" in missing.check.detail
        assert "CannotPullContainerError" in missing.check.detail
        assert "push the image" in missing.fix
        assert f"runs image tag {MISSING_TAG}, but the deploy history says {TAG}" in tag.check.detail
        assert f"deploytool rollback --env local --branch {BRANCH} --to {TAG}" in tag.fix
    finally:
        ecs.update_service(cluster=cluster, service=service, taskDefinition=current)
        ecs.deregister_task_definition(taskDefinition=broken)
    assert_clean(diagnose(local_target, BRANCH))


def test_execution_role_without_its_policy_is_named_with_its_fix(
    deployed: dict[str, Any], local_target: Any, emulator: Any
) -> None:
    iam = emulator.client("iam")
    role = deployed["platform"]["task_execution_role_arn"].rsplit("/", 1)[-1]
    policy = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    iam.detach_role_policy(RoleName=role, PolicyArn=policy)
    try:
        (failure,) = only_failure(diagnose(local_target, BRANCH), "iam.execution_role")
        assert "may not pull the image (ecr:GetAuthorizationToken" in failure.check.detail
        assert "may not write logs (logs:CreateLogStream, logs:PutLogEvents)" in failure.check.detail
        assert "read secret" not in failure.check.detail  # the platform's inline policy still allows it
        assert "deploytool apply --env local --stack platform" in failure.fix
    finally:
        iam.attach_role_policy(RoleName=role, PolicyArn=policy)
    assert_clean(diagnose(local_target, BRANCH))


def test_logs_of_the_branch_from_the_platform_log_group(
    deployed: dict[str, Any], local_target: Any, emulator: Any
) -> None:
    logs = emulator.client("logs")
    group, prefix = deployed["outputs"]["log_group_name"], deployed["outputs"]["log_prefix"]
    assert prefix == "local-feature-diagnose"
    stream = f"{prefix}/app/0123456789abcdef"
    other = "local-feature-diagnose-two/app/fedcba9876543210"  # another branch whose name starts the same
    now = int(time.time() * 1000)
    for name in (stream, other):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": now - 3_600_000, "message": "two hours ago: outside --since"},
            {"timestamp": now - 2000, "message": "INFO started on 0.0.0.0:8000"},
            {"timestamp": now - 1000, "message": "ERROR database connection refused"},
        ],
    )
    logs.put_log_events(
        logGroupName=group, logStreamName=other, logEvents=[{"timestamp": now - 1500, "message": "ERROR other"}]
    )

    result = run_cli("logs", "--since", "10m")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split("  ", 2)[2] for line in lines] == [
        "INFO started on 0.0.0.0:8000",
        "ERROR database connection refused",
    ]
    assert all(line.split("  ")[1] == "app/0123456789abcdef" for line in lines)

    filtered = run_cli("logs", "--since", "10m", "--filter", "ERROR", "--output", "json")
    assert filtered.exit_code == 0, filtered.output
    assert [json.loads(line)["message"] for line in filtered.stdout.splitlines()] == [
        "ERROR database connection refused"
    ]

    # --follow: the core loop, bounded; an event written between two polls shows once.
    where = locate(local_target, BRANCH)
    client, source, notice = open_logs(where)
    assert notice is None
    seen: list[str] = []

    def write_more(_: float) -> None:
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(time.time() * 1000), "message": f"poll {len(seen)}"}],
        )

    count = follow_logs(
        client, source, lambda e: seen.append(e.message), start_ms=now - 1500, max_polls=3, sleep=write_more
    )
    assert seen == ["ERROR database connection refused", "poll 1", "poll 2"]
    assert count == 3


def test_events_on_the_emulator_say_what_cannot_be_known(deployed: dict[str, Any]) -> None:
    result = run_cli("events")
    assert result.exit_code == 0, result.output
    assert "service local-feature-diagnose in theobroma-local: ACTIVE" in result.stdout
    assert "stopped tasks: none recorded" in result.stdout
    assert "unavailable on the emulator" in result.stdout
    assert "the local stand-in for the task runs at http://127.0.0.1:" in result.stdout


def test_destroyed_branch_diagnoses_as_missing_service(deployed: dict[str, Any], local_target: Any) -> None:
    stackops.destroy(local_target, BRANCH)
    diagnosis = diagnose(local_target, BRANCH)
    service = diagnosis.finding("ecs.service")
    assert service is not None and service.check.status == "fail"
    assert "not found" in service.check.detail or "is INACTIVE, not ACTIVE" in service.check.detail
    assert "deploytool deploy --env local --branch feature/diagnose" in service.fix
    # The log group belongs to the platform: a destroyed branch's logs stay readable.
    logs = run_cli("logs")
    assert logs.exit_code == 0, logs.output
    assert "ERROR database connection refused" in logs.stdout
    result = run_cli("diagnose")
    assert result.exit_code == 1
