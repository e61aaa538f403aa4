"""modules/github-oidc: trust limited to one repository, a least-privilege policy, one apply."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
import tftest

from tests.conftest import Emulator, TfRoot
from tests.modules.conftest import Applied
from tests.modules.plans import output

FIXTURE = "tests/modules/fixtures/github-oidc"
REPOSITORY = "theobroma/geo-api-deploy"
EXISTING_PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"

# Actions AWS cannot scope to a resource: the only ones allowed with Resource "*".
UNSCOPABLE_ACTIONS = frozenset({
    "ecr:GetAuthorizationToken",
    "ecs:DescribeTaskDefinition",
    "ecs:RegisterTaskDefinition",
    "ecs:DeregisterTaskDefinition",
    "ecs:ListTaskDefinitions",
    "ecs:ListServices",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTags",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ec2:DescribeNetworkInterfaces",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
    "application-autoscaling:DescribeScalingActivities",
    "logs:DescribeLogGroups",
})


@pytest.fixture(scope="module")
def plan(root: TfRoot) -> tftest.TerraformPlanOutput:
    # An existing provider ARN makes the trust policy known at plan time.
    return root.plan({"create_oidc_provider": False, "oidc_provider_arn": EXISTING_PROVIDER})


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def conditions(statement: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """A statement's Condition with every value as a list (providers differ on one-element lists)."""
    return {op: {key: as_list(v) for key, v in keys.items()} for op, keys in statement.get("Condition", {}).items()}


def statements(policy_json: str) -> list[dict[str, Any]]:
    policy = json.loads(policy_json)
    assert policy["Version"] == "2012-10-17"
    found: list[dict[str, Any]] = policy["Statement"]
    return found


# --------------------------------------------------------------------------- trust


def test_trust_is_limited_to_the_repository(plan: tftest.TerraformPlanOutput) -> None:
    [statement] = statements(output(plan, "trust_policy_json"))
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": EXISTING_PROVIDER}
    condition = conditions(statement)
    assert set(condition) == {"StringEquals", "StringLike"}
    assert condition["StringEquals"] == {"token.actions.githubusercontent.com:aud": ["sts.amazonaws.com"]}
    subjects = condition["StringLike"]["token.actions.githubusercontent.com:sub"]
    assert sorted(subjects) == sorted([
        f"repo:{REPOSITORY}:ref:refs/heads/main",
        f"repo:{REPOSITORY}:ref:refs/heads/feature/*",
        f"repo:{REPOSITORY}:environment:production",
        f"repo:{REPOSITORY}:pull_request",
    ])


@pytest.mark.parametrize("subject, trusted", [
    (f"repo:{REPOSITORY}:ref:refs/heads/main", True),
    (f"repo:{REPOSITORY}:ref:refs/heads/feature/new-api-endpoint", True),
    (f"repo:{REPOSITORY}:environment:production", True),
    (f"repo:{REPOSITORY}:pull_request", True),
    (f"repo:{REPOSITORY}:ref:refs/heads/release/1.0", False),
    (f"repo:{REPOSITORY}:environment:staging", False),
    ("repo:theobroma/another-repo:ref:refs/heads/main", False),
    ("repo:attacker/geo-api-deploy:pull_request", False),
    (f"repo:{REPOSITORY}-fork:ref:refs/heads/main", False),
])
def test_trusted_subjects_match_like_iam(plan: tftest.TerraformPlanOutput, subject: str, trusted: bool) -> None:
    # IAM StringLike: `*` matches any run of characters (fnmatchcase also knows `?` and `[]`, unused here).
    patterns = output(plan, "trusted_subjects")
    assert any(fnmatch.fnmatchcase(subject, p) for p in patterns) is trusted


@pytest.mark.parametrize("repository", ["theobroma/*", "*", "theobroma", "theobroma/geo api"])
def test_repository_wildcards_are_rejected(root: TfRoot, repository: str) -> None:
    result = root.plan_raw({"github_repository": repository})
    assert result.code != 0
    assert "OWNER/NAME without wildcards" in " ".join(result.output.split())


def test_role_nobody_can_assume_is_rejected(root: TfRoot) -> None:
    result = root.plan_raw({"allowed_branches": [], "allowed_environments": [], "allow_pull_requests": False})
    assert result.code != 0
    assert "Allow at least one branch, environment or pull requests" in " ".join(result.output.split())


def test_existing_provider_is_not_created(plan: tftest.TerraformPlanOutput) -> None:
    assert not [a for a in plan.resource_changes if "aws_iam_openid_connect_provider" in a]
    assert output(plan, "oidc_provider_arn") == EXISTING_PROVIDER


def test_provider_is_created_by_default(root: TfRoot) -> None:
    plan = root.plan()
    provider = plan.resource_changes["module.github_oidc.aws_iam_openid_connect_provider.github[0]"]["change"]["after"]
    assert provider["url"] == "https://token.actions.githubusercontent.com"
    assert provider["client_id_list"] == ["sts.amazonaws.com"]


# --------------------------------------------------------------------------- permissions


def test_policy_has_no_wildcard_actions(plan: tftest.TerraformPlanOutput) -> None:
    for statement in statements(output(plan, "policy_json")):
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in as_list(statement["Action"]):
            service, _, name = action.partition(":")
            assert action != "*", statement
            assert service and name, f"malformed action {action!r}"
            assert name != "*", f"whole-service wildcard {action!r} in {statement.get('Sid')}"
            assert "*" not in name, f"wildcard action {action!r} in {statement.get('Sid')}"


def test_star_resources_hold_only_unscopable_actions(plan: tftest.TerraformPlanOutput) -> None:
    star_statements = [s for s in statements(output(plan, "policy_json")) if "*" in as_list(s["Resource"])]
    assert star_statements, "the unscopable actions must be granted somewhere"
    for statement in star_statements:
        assert as_list(statement["Resource"]) == ["*"], statement
        extra = set(as_list(statement["Action"])) - UNSCOPABLE_ACTIONS
        assert not extra, f"{statement.get('Sid')}: {sorted(extra)} can be scoped to a resource"


def test_policy_resources_are_scoped_to_the_project(plan: tftest.TerraformPlanOutput) -> None:
    by_sid = {s["Sid"]: s for s in statements(output(plan, "policy_json"))}
    assert as_list(by_sid["EcsServices"]["Resource"]) == [
        "arn:aws:ecs:us-east-1:123456789012:service/theobroma-staging/staging-*"
    ]
    assert as_list(by_sid["EcsCluster"]["Resource"]) == ["arn:aws:ecs:us-east-1:123456789012:cluster/theobroma-staging"]
    assert conditions(by_sid["EcsListServicesInCluster"]) == {
        "ArnEquals": {"ecs:cluster": ["arn:aws:ecs:us-east-1:123456789012:cluster/theobroma-staging"]}
    }
    assert as_list(by_sid["EcsTaskDefinitionTags"]["Resource"]) == [
        "arn:aws:ecs:us-east-1:123456789012:task-definition/staging-*:*"
    ]
    assert as_list(by_sid["TargetGroups"]["Resource"]) == [
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/staging-*/*"
    ]
    alb = "app/theobroma-staging/0123456789abcdef"
    assert sorted(as_list(by_sid["ListenerRules"]["Resource"])) == [
        f"arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/{alb}/*",
        f"arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/{alb}/*",
    ]
    assert as_list(by_sid["StateBucketList"]["Resource"]) == ["arn:aws:s3:::theobroma-terraform-state"]
    assert sorted(as_list(by_sid["StateObjects"]["Resource"])) == [
        "arn:aws:s3:::theobroma-terraform-state/env:/*",
        "arn:aws:s3:::theobroma-terraform-state/history/*",
        "arn:aws:s3:::theobroma-terraform-state/staging/*",
    ]
    assert as_list(by_sid["EcrPushPull"]["Resource"]) == [
        "arn:aws:ecr:us-east-1:123456789012:repository/theobroma-geo-api"
    ]
    assert "ecr:PutImage" in as_list(by_sid["EcrPushPull"]["Action"])
    for resource in as_list(by_sid["ReadServiceLogs"]["Resource"]):
        assert resource.startswith("arn:aws:logs:us-east-1:123456789012:log-group:/ecs/")
    assert set(as_list(by_sid["ReadServiceLogs"]["Action"])) <= {
        "logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents",
    }


def test_pass_role_is_limited_to_task_roles_and_ecs_tasks(plan: tftest.TerraformPlanOutput) -> None:
    passing = [s for s in statements(output(plan, "policy_json")) if "iam:PassRole" in as_list(s["Action"])]
    assert len(passing) == 1
    statement = passing[0]
    assert as_list(statement["Action"]) == ["iam:PassRole"]
    assert sorted(as_list(statement["Resource"])) == [
        "arn:aws:iam::123456789012:role/theobroma-staging-task",
        "arn:aws:iam::123456789012:role/theobroma-staging-task-execution",
    ]
    assert conditions(statement) == {"StringEquals": {"iam:PassedToService": ["ecs-tasks.amazonaws.com"]}}


def test_security_group_changes_are_held_to_the_vpc(plan: tftest.TerraformPlanOutput) -> None:
    by_sid = {s["Sid"]: s for s in statements(output(plan, "policy_json"))}
    manage = by_sid["ManageServiceSecurityGroups"]
    assert conditions(manage) == {
        "ArnEquals": {"ec2:Vpc": ["arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123456789abcdef0"]}
    }


def test_optional_statements_disappear(plan: tftest.TerraformPlanOutput, root: TfRoot) -> None:
    optional = {
        "EcrPushPull", "PassTaskRolesToEcsTasks", "BranchDnsRecords", "DnsChangeStatus",
        "CreateServiceSecurityGroups", "ManageServiceSecurityGroups",
    }
    assert optional <= {s["Sid"] for s in statements(output(plan, "policy_json"))}
    bare = root.plan({
        "create_oidc_provider": False,
        "oidc_provider_arn": EXISTING_PROVIDER,
        "vpc_id": None,
        "ecr_repository_arns": [],
        "pass_role_arns": [],
        "route53_zone_ids": [],
    })
    sids = {s["Sid"] for s in statements(output(bare, "policy_json"))}
    assert not optional & sids
    assert not [s for s in statements(output(bare, "policy_json")) if "iam:PassRole" in as_list(s["Action"])]


# --------------------------------------------------------------------------- apply against the emulator


@pytest.mark.apply
def test_apply_creates_provider_and_role_then_destroy_removes_them(
    applied: Applied, emulator: Emulator
) -> None:
    root, outputs = applied.root, applied.outputs
    iam = emulator.client("iam")
    providers = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert outputs["oidc_provider_arn"] in providers
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=outputs["oidc_provider_arn"])
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]

    role = iam.get_role(RoleName=outputs["role_name"])["Role"]
    assert role["Arn"] == outputs["role_arn"]
    trust = role["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    assert trust["Statement"][0]["Principal"] == {"Federated": outputs["oidc_provider_arn"]}
    policy = iam.get_role_policy(RoleName=outputs["role_name"], PolicyName="deploy")["PolicyDocument"]
    if isinstance(policy, str):
        policy = json.loads(policy)
    assert policy == json.loads(outputs["policy_json"])

    root.destroy()
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert outputs["role_name"] not in roles
    providers = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert outputs["oidc_provider_arn"] not in providers
