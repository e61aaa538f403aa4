"""modules/ecs-cluster: plan-level contract checks and one apply against the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
import tftest
from botocore.exceptions import ClientError

from tests.conftest import Emulator, TfRoot
from tests.modules.conftest import Applied, ApplyRoot
from tests.modules.plans import changes, created, plan_error

FIXTURE = "tests/modules/fixtures/ecs-cluster"
MODULE = "module.ecs_cluster"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:theobroma/db-AbCdEf"
PARAMETER = "arn:aws:ssm:us-east-1:123456789012:parameter/theobroma/api-key"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="module")
def default_plan(root: TfRoot) -> tftest.TerraformPlanOutput:
    return root.plan()


@pytest.fixture(scope="module")
def secrets_plan(root: TfRoot) -> tftest.TerraformPlanOutput:
    return root.plan({"secret_arns": [SECRET], "ssm_parameter_arns": [PARAMETER], "kms_key_arn": KMS_KEY})


def after(plan: tftest.TerraformPlanOutput, address: str) -> dict[str, Any]:
    return created(plan, f"{MODULE}.{address}")


# --------------------------------------------------------------------------- cluster and logs


def test_cluster_is_named_and_has_container_insights(default_plan: tftest.TerraformPlanOutput) -> None:
    cluster = after(default_plan, "aws_ecs_cluster.this")
    assert cluster["name"] == "theobroma-test"
    assert cluster["setting"] == [{"name": "containerInsights", "value": "enabled"}]
    assert cluster["tags"] == {"Project": "theobroma"}


def test_container_insights_can_be_turned_off(root: TfRoot) -> None:
    plan = root.plan({"container_insights": False})
    assert after(plan, "aws_ecs_cluster.this")["setting"] == [{"name": "containerInsights", "value": "disabled"}]


def test_log_group_is_named_after_the_cluster(default_plan: tftest.TerraformPlanOutput) -> None:
    group = after(default_plan, "aws_cloudwatch_log_group.this")
    assert group["name"] == "/ecs/theobroma-test"
    assert group["retention_in_days"] == 14
    assert group["kms_key_id"] is None
    assert default_plan.planned_values["outputs"]["log_group_name"]["value"] == "/ecs/theobroma-test"


# --------------------------------------------------------------------------- task execution role


def test_execution_role_trusts_only_ecs_tasks(default_plan: tftest.TerraformPlanOutput) -> None:
    role = after(default_plan, "aws_iam_role.task_execution")
    assert role["name"] == "theobroma-test-task-execution"
    trust = json.loads(role["assume_role_policy"])
    (statement,) = trust["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}


def test_execution_role_has_the_managed_policy(default_plan: tftest.TerraformPlanOutput) -> None:
    attachment = after(default_plan, "aws_iam_role_policy_attachment.task_execution")
    assert attachment["policy_arn"] == "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


def test_no_secret_policy_without_secrets(default_plan: tftest.TerraformPlanOutput) -> None:
    assert not [a for a in default_plan.resource_changes if "aws_iam_role_policy.task_execution_secrets" in a]


def test_secret_policy_reads_exactly_the_given_secrets(secrets_plan: tftest.TerraformPlanOutput) -> None:
    policy = json.loads(after(secrets_plan, "aws_iam_role_policy.task_execution_secrets[0]")["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert set(statements) == {"ReadSecrets", "ReadParameters", "DecryptSecrets"}
    assert statements["ReadSecrets"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert statements["ReadSecrets"]["Resource"] == [SECRET]
    assert statements["ReadParameters"]["Action"] == ["ssm:GetParameters"]
    assert statements["ReadParameters"]["Resource"] == [PARAMETER]
    assert statements["DecryptSecrets"]["Action"] == ["kms:Decrypt"]
    assert statements["DecryptSecrets"]["Resource"] == [KMS_KEY]
    assert all(s["Effect"] == "Allow" for s in statements.values())
    assert "*" not in json.dumps([s["Resource"] for s in statements.values()])


def test_secret_policy_with_secrets_only(root: TfRoot) -> None:
    plan = root.plan({"secret_arns": [SECRET]})
    policy = json.loads(after(plan, "aws_iam_role_policy.task_execution_secrets[0]")["policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["ReadSecrets"]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("bad", ["Theobroma-Staging", "theobroma_staging", "-theobroma", "x" * 41])
def test_invalid_names_are_rejected(root: TfRoot, bad: str) -> None:
    assert "The name must be 1-40 characters" in plan_error(root, {"name": bad})


def test_non_secret_arn_is_rejected(root: TfRoot) -> None:
    message = plan_error(root, {"secret_arns": ["arn:aws:s3:::bucket/key"]})
    assert "must be a Secrets Manager secret ARN" in message


def test_unsupported_retention_is_rejected(root: TfRoot) -> None:
    assert "log_retention_in_days must be one of" in plan_error(root, {"log_retention_in_days": 10})


# --------------------------------------------------------------------------- apply


@pytest.fixture(scope="module")
def applied(apply_root: ApplyRoot, emulator: Emulator) -> Applied:
    secret_arn = emulator.client("secretsmanager").create_secret(
        Name="modtest-ecs-cluster/db", SecretString=json.dumps({"password": "not-a-real-one"})
    )["ARN"]
    return apply_root({"name": "modtest-ecs-cluster", "secret_arns": [secret_arn]})


@pytest.mark.apply
def test_apply_creates_the_cluster(applied: Applied, emulator: Emulator) -> None:
    ecs = emulator.client("ecs")
    (cluster,) = ecs.describe_clusters(clusters=[applied.outputs["name"]], include=["SETTINGS"])["clusters"]
    assert cluster["clusterArn"] == applied.outputs["arn"]
    assert cluster["status"] == "ACTIVE"
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]


@pytest.mark.apply
def test_apply_creates_the_execution_role(applied: Applied, emulator: Emulator) -> None:
    iam = emulator.client("iam")
    name = applied.outputs["task_execution_role_name"]
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Arn"] == applied.outputs["task_execution_role_arn"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
    assert attached == ["AmazonECSTaskExecutionRolePolicy"]
    document = iam.get_role_policy(RoleName=name, PolicyName="read-task-secrets")["PolicyDocument"]
    assert document["Statement"] == [
        {
            "Sid": "ReadSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": applied.tf_vars["secret_arns"],
        }
    ]


@pytest.mark.apply
def test_apply_creates_the_log_group(applied: Applied, emulator: Emulator) -> None:
    groups = emulator.client("logs").describe_log_groups(logGroupNamePrefix="/ecs/modtest-ecs-cluster")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [("/ecs/modtest-ecs-cluster", 14)]


@pytest.mark.apply
def test_apply_second_plan_is_empty(applied: Applied) -> None:
    plan = applied.root.plan(applied.tf_vars)
    changed = changes(plan)
    assert changed == {}


@pytest.mark.apply
def test_destroy_removes_cluster_role_and_logs(applied: Applied, emulator: Emulator) -> None:
    applied.destroy()
    clusters = emulator.client("ecs").describe_clusters(clusters=[applied.outputs["name"]])["clusters"]
    assert all(c["status"] == "INACTIVE" for c in clusters)
    with pytest.raises(ClientError, match="NoSuchEntity"):
        emulator.client("iam").get_role(RoleName=applied.outputs["task_execution_role_name"])
    logs = emulator.client("logs").describe_log_groups(logGroupNamePrefix="/ecs/modtest-ecs-cluster")
    assert logs["logGroups"] == []
