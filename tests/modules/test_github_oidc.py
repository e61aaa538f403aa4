"""modules/github-oidc: a deploy role and a build role per environment, each trusted by exactly the
workflow runs that need it, with least-privilege policies; one apply.

Trust and permissions are read from the plan's JSON (what Terraform would send to IAM, not the HCL)
and evaluated with IAM's semantics (tests/modules/iam_eval.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import tftest

from deploytool.state import StateLayout
from tests.conftest import Emulator, TfRoot
from tests.modules.conftest import Applied
from tests.modules.iam_eval import allowing, allows, as_list, can_assume, github_claims, statements
from tests.modules.plans import output

FIXTURE = "tests/modules/fixtures/github-oidc"
REPOSITORY = "theobroma/geo-api-deploy"
ACCOUNT = "123456789012"
EXISTING_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
BUCKET = "arn:aws:s3:::theobroma-terraform-state"
IMAGE_REPOSITORY = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/theobroma-geo-api"
ALERT_TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:theobroma-production-alarms"
ROLE = 'module.github_oidc.aws_iam_role.this["{}"]'
POLICY = 'module.github_oidc.aws_iam_role_policy.this["{}"]'

# Actions AWS cannot scope to a resource: the only ones allowed with Resource "*".
UNSCOPABLE_ACTIONS = frozenset(
    {
        "ecr:GetAuthorizationToken",
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DescribeTags",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSecurityGroupRules",
        "ec2:DescribeNetworkInterfaces",
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:DescribeScalingPolicies",
    }
)
# What pushing an image takes (the Docker client's calls and the workflow's "already there?" check).
PUSH_ACTIONS = frozenset(
    {
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchGetImage",
        "ecr:DescribeImages",
    }
)
SECURITY_GROUP_MUTATIONS = (
    "ec2:CreateSecurityGroup",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:DeleteSecurityGroup",
    "ec2:CreateTags",
    "ec2:DeleteTags",
)


class Roles:
    """The planned roles of one fixture plan: trust and permission policies as IAM would get them."""

    def __init__(self, plan: tftest.TerraformPlanOutput) -> None:
        self.plan = plan

    def role(self, key: str) -> dict[str, Any]:
        change: dict[str, Any] = self.plan.resource_changes[ROLE.format(key)]["change"]
        assert change["actions"] == ["create"]
        after: dict[str, Any] = change["after"]
        return after

    def trust(self, key: str) -> str:
        document = self.role(key)["assume_role_policy"]
        assert isinstance(document, str), f"the {key} trust policy must be known at plan time"
        return document

    def policy(self, key: str) -> str:
        document = self.plan.resource_changes[POLICY.format(key)]["change"]["after"]["policy"]
        assert isinstance(document, str), f"the {key} permission policy must be known at plan time"
        return document

    def by_sid(self, key: str) -> dict[str, dict[str, Any]]:
        return {str(s["Sid"]): dict(s) for s in statements(self.policy(key))}


def plan_kind(root: TfRoot, kind: str, **tf_vars: Any) -> Roles:
    # An existing provider ARN makes the trust policies known at plan time.
    existing = {"create_oidc_provider": False, "oidc_provider_arn": EXISTING_PROVIDER}
    return Roles(root.plan({"kind": kind, **existing, **tf_vars}))


@pytest.fixture(scope="module")
def staging(root: TfRoot) -> Roles:
    return plan_kind(root, "staging")


@pytest.fixture(scope="module")
def production(root: TfRoot) -> Roles:
    return plan_kind(root, "production")


@pytest.fixture(scope="module")
def roles(staging: Roles, production: Roles) -> dict[str, tuple[Roles, str]]:
    """The four roles the two environments get, by name."""
    return {
        "staging deploy": (staging, "deploy"),
        "staging build": (staging, "build"),
        "production deploy": (production, "deploy"),
        "production build": (production, "build"),
    }


def conditions(statement: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """A statement's Condition with every value as a list (providers differ on one-element lists)."""
    return {op: {key: as_list(v) for key, v in keys.items()} for op, keys in statement.get("Condition", {}).items()}


def s3(key: str) -> str:
    return f"{BUCKET}/{key}"


# --------------------------------------------------------------------------- trust

SUB = f"repo:{REPOSITORY}"
# Who presents which token, and which of the four roles it may assume. A pull request from a fork
# presents the same `sub` as one from the repository: GitHub tells them apart only by not giving
# forks the id-token permission in pull_request runs (and the workflows' same-repository guard).
CLAIMS: list[tuple[str, dict[str, str], set[str]]] = [
    ("pull request", github_claims(f"{SUB}:pull_request"), {"staging deploy"}),
    ("fork pull request", github_claims(f"{SUB}:pull_request"), {"staging deploy"}),
    ("push to main, no environment", github_claims(f"{SUB}:ref:refs/heads/main"), {"production build"}),
    (
        "push to a feature branch",
        github_claims(f"{SUB}:ref:refs/heads/feature/new-api-endpoint"),
        {"staging deploy", "staging build"},
    ),
    (
        "push to a nested feature branch",
        github_claims(f"{SUB}:ref:refs/heads/feature/a/b"),
        {"staging deploy", "staging build"},
    ),
    (
        "push to a hotfix branch",
        github_claims(f"{SUB}:ref:refs/heads/hotfix/db-timeout"),
        {"staging deploy", "staging build"},
    ),
    ("push to develop", github_claims(f"{SUB}:ref:refs/heads/develop"), {"staging deploy", "staging build"}),
    ("push to developer", github_claims(f"{SUB}:ref:refs/heads/developer"), set()),
    ("push to release/1.0", github_claims(f"{SUB}:ref:refs/heads/release/1.0"), set()),
    ("job in the production environment", github_claims(f"{SUB}:environment:production"), {"production deploy"}),
    ("job in the staging environment (cleanup)", github_claims(f"{SUB}:environment:staging"), {"staging deploy"}),
    ("push of tag v1.2.3", github_claims(f"{SUB}:ref:refs/tags/v1.2.3"), {"production build"}),
    ("push of another tag", github_claims(f"{SUB}:ref:refs/tags/release-1"), set()),
    ("another repository, feature branch", github_claims("repo:theobroma/another:ref:refs/heads/feature/x"), set()),
    (
        "another owner, production environment",
        github_claims("repo:attacker/geo-api-deploy:environment:production"),
        set(),
    ),
    ("a look-alike repository", github_claims(f"{SUB}-fork:ref:refs/heads/main"), set()),
    ("wrong audience", github_claims(f"{SUB}:environment:production", aud="https://github.com/theobroma"), set()),
    ("wrong audience, pull request", github_claims(f"{SUB}:pull_request", aud="sts.amazonaws.com.evil"), set()),
]


@pytest.mark.parametrize("who, claims, admitted", CLAIMS, ids=[c[0] for c in CLAIMS])
def test_each_role_admits_exactly_its_runs(
    roles: dict[str, tuple[Roles, str]], who: str, claims: dict[str, str], admitted: set[str]
) -> None:
    assumed = {name for name, (plan, key) in roles.items() if can_assume(plan.trust(key), EXISTING_PROVIDER, claims)}
    assert assumed == admitted, who


def test_another_identity_provider_is_not_trusted(roles: dict[str, tuple[Roles, str]]) -> None:
    other = EXISTING_PROVIDER.replace(ACCOUNT, "210987654321")
    for name, (plan, key) in roles.items():
        assert not can_assume(plan.trust(key), other, github_claims(f"{SUB}:environment:production")), name
        assert not can_assume(plan.trust(key), other, github_claims(f"{SUB}:ref:refs/heads/feature/x")), name


def test_trust_statements_are_shaped_for_github(roles: dict[str, tuple[Roles, str]]) -> None:
    for name, (plan, key) in roles.items():
        [statement] = statements(plan.trust(key))
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"] == {"Federated": EXISTING_PROVIDER}
        condition = conditions(statement)
        assert set(condition) == {"StringEquals", "StringLike"}, name
        assert condition["StringEquals"] == {"token.actions.githubusercontent.com:aud": ["sts.amazonaws.com"]}
        subjects = condition["StringLike"]["token.actions.githubusercontent.com:sub"]
        assert all(s.startswith(f"{SUB}:") for s in subjects), name


def test_production_deploy_role_trusts_only_its_environment(production: Roles) -> None:
    [statement] = statements(production.trust("deploy"))
    assert conditions(statement)["StringLike"]["token.actions.githubusercontent.com:sub"] == [
        f"{SUB}:environment:production"
    ]


def test_trusted_subjects_output_matches_the_policies(staging: Roles, production: Roles) -> None:
    for plan in (staging, production):
        by_role = output(plan.plan, "trusted_subjects")
        assert set(by_role) == {"deploy", "build"}
        for key, subjects in by_role.items():
            [statement] = statements(plan.trust(key))
            trusted = conditions(statement)["StringLike"]["token.actions.githubusercontent.com:sub"]
            assert sorted(subjects) == sorted(trusted)


@pytest.mark.parametrize("repository", ["theobroma/*", "*", "theobroma", "theobroma/geo api"])
def test_repository_wildcards_are_rejected(root: TfRoot, repository: str) -> None:
    result = root.plan_raw({"github_repository": repository})
    assert result.code != 0
    assert "OWNER/NAME without wildcards" in " ".join(result.output.split())


def test_role_nobody_can_assume_is_rejected(root: TfRoot) -> None:
    result = root.plan_raw({"deploy_role": {"name": "modtest-nobody"}})
    assert result.code != 0
    assert "Allow at least one branch, tag, environment or pull requests for the deploy role" in " ".join(
        result.output.split()
    )


def test_roles_are_created_as_asked(root: TfRoot, staging: Roles) -> None:
    assert staging.role("deploy")["name"] == "modtest-staging-github-deploy"
    assert staging.role("build")["name"] == "modtest-staging-github-build"
    without_build = root.plan(
        {
            "create_oidc_provider": False,
            "oidc_provider_arn": EXISTING_PROVIDER,
            "build_role_enabled": False,
        }
    )
    assert ROLE.format("build") not in without_build.resource_changes
    assert POLICY.format("build") not in without_build.resource_changes
    assert output(without_build, "build_role_name") is None
    assert ROLE.format("deploy") in without_build.resource_changes


def test_existing_provider_is_not_created(staging: Roles) -> None:
    assert not [a for a in staging.plan.resource_changes if "aws_iam_openid_connect_provider" in a]
    assert output(staging.plan, "oidc_provider_arn") == EXISTING_PROVIDER


def test_provider_is_created_by_default(root: TfRoot) -> None:
    plan = root.plan()
    provider = plan.resource_changes["module.github_oidc.aws_iam_openid_connect_provider.github[0]"]["change"]["after"]
    assert provider["url"] == "https://token.actions.githubusercontent.com"
    assert provider["client_id_list"] == ["sts.amazonaws.com"]


# --------------------------------------------------------------------------- permissions: every role


def test_policies_have_no_wildcard_actions(roles: dict[str, tuple[Roles, str]]) -> None:
    for name, (plan, key) in roles.items():
        for statement in statements(plan.policy(key)):
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                service, _, action_name = action.partition(":")
                assert service and action_name, f"{name}: malformed action {action!r}"
                assert "*" not in action, f"{name}: wildcard action {action!r} in {statement.get('Sid')}"


def test_star_resources_hold_only_unscopable_actions(roles: dict[str, tuple[Roles, str]]) -> None:
    for name, (plan, key) in roles.items():
        star_statements = [s for s in statements(plan.policy(key)) if "*" in as_list(s["Resource"])]
        assert star_statements, f"{name}: the unscopable actions must be granted somewhere"
        for statement in star_statements:
            assert as_list(statement["Resource"]) == ["*"], statement
            extra = set(as_list(statement["Action"])) - UNSCOPABLE_ACTIONS
            assert not extra, f"{name} {statement.get('Sid')}: {sorted(extra)} can be scoped to a resource"


def test_policies_match_the_planned_outputs(staging: Roles, production: Roles) -> None:
    for plan in (staging, production):
        by_role = output(plan.plan, "policy_json")
        assert {key: json.loads(doc) for key, doc in by_role.items()} == {
            key: json.loads(plan.policy(key)) for key in ("deploy", "build")
        }


# --------------------------------------------------------------------------- permissions: images


def test_deploy_roles_look_the_repository_up(roles: dict[str, tuple[Roles, str]]) -> None:
    for name in ("staging deploy", "production deploy"):
        plan, key = roles[name]
        # deploytool.inputs.image_repository_uri calls DescribeRepositories on every deploy.
        assert allows(plan.policy(key), "ecr:DescribeRepositories", IMAGE_REPOSITORY), name


def test_only_the_build_roles_push_images(roles: dict[str, tuple[Roles, str]]) -> None:
    for name, (plan, key) in roles.items():
        policy = plan.policy(key)
        pushes = [allows(policy, action, IMAGE_REPOSITORY) for action in sorted(PUSH_ACTIONS - {"ecr:DescribeImages"})]
        login = allows(policy, "ecr:GetAuthorizationToken", "*")
        if key == "build":
            assert all(pushes) and login, name
        else:
            assert not any(pushes) and not login, name


def test_build_roles_push_to_the_one_repository_and_do_nothing_else(roles: dict[str, tuple[Roles, str]]) -> None:
    for name in ("staging build", "production build"):
        plan, key = roles[name]
        found = statements(plan.policy(key))
        granted = {(a, r) for s in found for a in as_list(s["Action"]) for r in as_list(s["Resource"])}
        assert granted == {("ecr:GetAuthorizationToken", "*")} | {(a, IMAGE_REPOSITORY) for a in PUSH_ACTIONS}, name
        assert not any("Condition" in s for s in found)
        other = IMAGE_REPOSITORY.replace("theobroma-geo-api", "another-image")
        assert not allows(plan.policy(key), "ecr:PutImage", other)
        for action, resource in [
            ("ecs:UpdateService", f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/theobroma-staging/staging-x"),
            ("s3:GetObject", s3("staging/platform/terraform.tfstate")),
            ("sns:Publish", ALERT_TOPIC),
            ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/theobroma-staging-task-execution"),
            ("ecr:DeleteRepository", IMAGE_REPOSITORY),
            ("ecr:BatchDeleteImage", IMAGE_REPOSITORY),
        ]:
            assert not allows(plan.policy(key), action, resource), f"{name}: {action}"


# --------------------------------------------------------------------------- permissions: state


@pytest.mark.parametrize("action", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
@pytest.mark.parametrize(
    "key, allowed",
    [
        # Branch workspaces (workspace_key_prefix "workspaces", see deploytool/state.py) and their locks.
        ("workspaces/staging-feature-x/staging/app/terraform.tfstate", True),
        ("workspaces/staging-feature-x/staging/app/terraform.tfstate.tflock", True),
        ("staging/app/terraform.tfstate", True),
        ("deploy-history/staging/staging-feature-x/20250101T000000Z-1.json", True),
        # The record of the branch a workspace belongs to (deploytool/ledger.py), beside its history.
        ("deploy-history/staging/staging-feature-x.branch.json", True),
        # The platform's state (database master password) is never written by the staging role.
        ("staging/platform/terraform.tfstate", False),
        ("env:/staging-feature-x/staging/app/terraform.tfstate", False),
        ("production/app/terraform.tfstate", False),
        ("production/platform/terraform.tfstate", False),
        ("workspaces/staging-feature-x/production/app/terraform.tfstate", False),
        ("deploy-history/production/default/20250101T000000Z-1.json", False),
    ],
)
def test_staging_state_access(staging: Roles, action: str, key: str, allowed: bool) -> None:
    # Reading its own platform's outputs document is the one exception (below).
    assert allows(staging.policy("deploy"), action, s3(key)) is allowed


@pytest.mark.parametrize("action", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
@pytest.mark.parametrize(
    "key, allowed",
    [
        ("production/app/terraform.tfstate", True),
        ("production/app/terraform.tfstate.tflock", True),
        ("deploy-history/production/default/20250101T000000Z-1.json", True),
        ("production/platform/terraform.tfstate", False),
        ("staging/app/terraform.tfstate", False),
        ("workspaces/staging-feature-x/staging/app/terraform.tfstate", False),
        ("deploy-history/staging/staging-feature-x/20250101T000000Z-1.json", False),
        ("deploy-history/staging/staging-feature-x.branch.json", False),
    ],
)
def test_production_state_access(production: Roles, action: str, key: str, allowed: bool) -> None:
    assert allows(production.policy("deploy"), action, s3(key)) is allowed


@pytest.mark.parametrize("env", ["staging", "production"])
def test_deploy_roles_never_reach_the_platform_state(staging: Roles, production: Roles, env: str) -> None:
    """The platform's state holds the database master password: no deploy role reads or writes it,
    in either environment; app deploys read the platform's published outputs instead."""
    for plan in (staging, production):
        for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"):
            assert not allows(plan.policy("deploy"), action, s3(f"{env}/platform/terraform.tfstate")), action
            assert not allows(plan.policy("deploy"), action, s3(f"{env}/platform/terraform.tfstate.tflock")), action


@pytest.mark.parametrize("env", ["staging", "production"])
def test_platform_outputs_are_read_in_one_statement_only(staging: Roles, production: Roles, env: str) -> None:
    plan = {"staging": staging, "production": production}[env]
    other = {"staging": production, "production": staging}[env]
    document = s3(f"{env}/platform/outputs.json")
    assert allowing(plan.policy("deploy"), "s3:GetObject", document) == ["PlatformOutputsRead"]
    statement = plan.by_sid("deploy")["PlatformOutputsRead"]
    assert as_list(statement["Action"]) == ["s3:GetObject"]
    assert as_list(statement["Resource"]) == [document]
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert not allows(plan.policy("deploy"), action, document)
    assert not allows(other.policy("deploy"), "s3:GetObject", document)
    assert not allows(plan.policy("build"), "s3:GetObject", document)


def test_platform_outputs_read_can_be_left_out(root: TfRoot) -> None:
    plan = plan_kind(root, "staging", platform_outputs_key=None, build_role_enabled=False)
    assert "PlatformOutputsRead" not in plan.by_sid("deploy")
    assert not allows(plan.policy("deploy"), "s3:GetObject", s3("staging/platform/outputs.json"))


def _list(plan: Roles, prefix: str | None) -> bool:
    """Whether the deploy role may list the state bucket with ``prefix`` (None: no prefix parameter)."""
    return allows(plan.policy("deploy"), "s3:ListBucket", BUCKET, {} if prefix is None else {"s3:prefix": prefix})


@pytest.mark.parametrize("env", ["staging", "production"])
def test_state_bucket_listing_is_held_to_the_prefixes_the_runs_list(
    staging: Roles, production: Roles, env: str
) -> None:
    """The prefixes listed, taken from the code that lists them: Terraform's S3 backend lists
    ``<workspace_key_prefix>/`` (its Workspaces(): init, workspace select/new); deploytool lists the
    branch environments' state objects (``StateLayout.workspaces_prefix``) and the deploy history and
    locks of the environment (``Ledger``, ``LedgerIndex``). S3 also checks ListBucket, with the key
    as s3:prefix, before it answers a GET of a missing object with 404 rather than 403: the keys read
    as "none yet" (a new workspace's state, a branch record, the platform's outputs) stay listable."""
    plan = {"staging": staging, "production": production}[env]
    other = "production" if env == "staging" else "staging"
    layout = StateLayout("theobroma-terraform-state", "us-east-1", env)
    backend_prefix = f"{layout.backend_settings('app')['workspace_key_prefix']}/"
    history = f"deploy-history/{env}/"
    listed = [backend_prefix, layout.workspaces_prefix(), history, f"{history}{env}-feature-x/", f"{history}locks/"]
    missing = [f"{env}/app/terraform.tfstate", f"{history}{env}-feature-x.branch.json", f"{env}/platform/outputs.json"]
    if env == "staging":
        missing.append("workspaces/staging-feature-x/staging/app/terraform.tfstate")
    for prefix in listed + missing:
        assert _list(plan, prefix), prefix
    outside = [None, "", "deploy-history/", f"deploy-history/{other}/", f"{other}/", "env:/", f"{env}/platform/"]
    outside += [f"{env}/platform/terraform.tfstate", f"workspaces/{other}-x/{other}/app/terraform.tfstate"]
    for prefix in outside:
        assert not _list(plan, prefix), prefix
    assert conditions(plan.by_sid("deploy")["StateBucketList"]).keys() == {"StringLike"}


# --------------------------------------------------------------------------- permissions: alerts, groups, the rest


def test_only_production_publishes_the_failure_alert(staging: Roles, production: Roles) -> None:
    assert allowing(production.policy("deploy"), "sns:Publish", ALERT_TOPIC) == ["PublishDeployAlerts"]
    assert not allows(production.policy("deploy"), "sns:Publish", ALERT_TOPIC.replace("alarms", "other"))
    assert not allows(staging.policy("deploy"), "sns:Publish", ALERT_TOPIC.replace("production", "staging"))
    assert not allows(production.policy("build"), "sns:Publish", ALERT_TOPIC)


ALARM = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm"
ALARM_ACTIONS = ("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms")


@pytest.mark.parametrize("action", ALARM_ACTIONS)
def test_deploy_roles_manage_their_services_unhealthy_host_alarms_only(
    staging: Roles, production: Roles, action: str
) -> None:
    """The app stacks alarm on their target groups' unhealthy hosts; the platform's alarms stay out of reach."""
    assert allows(staging.policy("deploy"), action, f"{ALARM}:staging-feature-x-unhealthy-hosts")
    assert allows(production.policy("deploy"), action, f"{ALARM}:theobroma-production-blue-unhealthy-hosts")
    for plan, name in [
        (production, "theobroma-production-alb-5xx-count"),
        (production, "theobroma-production-unhealthy-hosts-0"),
        (production, "theobroma-production-theobroma-production-blue-cpu-high"),
        (staging, "theobroma-staging-db-cpu-high"),
        (staging, "theobroma-production-blue-unhealthy-hosts"),
    ]:
        assert not allows(plan.policy("deploy"), action, f"{ALARM}:{name}"), name
    assert not allows(staging.policy("build"), action, f"{ALARM}:staging-feature-x-unhealthy-hosts")


VPC = f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/vpc-0123456789abcdef0"
GROUP = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-0123456789abcdef0"


def owned(env: str, name: str) -> dict[str, str]:
    return {
        "ec2:Vpc": VPC,
        "aws:ResourceTag/ManagedBy": "deploytool",
        "aws:ResourceTag/Environment": env,
        "aws:ResourceTag/Name": name,
    }


@pytest.mark.parametrize("action", [a for a in SECURITY_GROUP_MUTATIONS if a != "ec2:CreateSecurityGroup"])
@pytest.mark.parametrize(
    "env, context, allowed",
    [
        ("staging", owned("staging", "staging-feature-x-service"), True),
        ("production", owned("production", "theobroma-production-blue-service"), True),
        # The platform's groups carry the same default tags, but not a service group's name.
        ("staging", owned("staging", "theobroma-staging-db"), False),
        ("staging", owned("staging", "theobroma-staging-alb"), False),
        ("production", owned("production", "theobroma-production-tasks"), False),
        # Another environment's, another VPC's, an untagged group.
        ("staging", owned("production", "staging-feature-x-service"), False),
        ("staging", {**owned("staging", "staging-feature-x-service"), "ec2:Vpc": VPC.replace("0123", "9999")}, False),
        ("staging", {"ec2:Vpc": VPC}, False),
    ],
)
def test_security_group_changes_only_on_the_tools_groups(
    staging: Roles, production: Roles, action: str, env: str, context: dict[str, str], allowed: bool
) -> None:
    plan = {"staging": staging, "production": production}[env]
    assert allows(plan.policy("deploy"), action, GROUP, context) is allowed


@pytest.mark.parametrize(
    "tags, allowed",
    [
        ({"ManagedBy": "deploytool", "Environment": "staging", "Name": "staging-feature-x-service"}, True),
        ({"ManagedBy": "deploytool", "Environment": "staging", "Name": "theobroma-staging-db"}, False),
        ({"ManagedBy": "deploytool", "Name": "staging-feature-x-service"}, False),
        ({}, False),
    ],
)
def test_security_groups_are_created_only_with_the_tools_tags(
    staging: Roles, tags: dict[str, str], allowed: bool
) -> None:
    context = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    policy = staging.policy("deploy")
    assert allows(policy, "ec2:CreateSecurityGroup", GROUP, context) is allowed
    assert allows(policy, "ec2:CreateSecurityGroup", VPC, context) is allowed
    # Tag-on-create needs CreateTags in the same request, and only there.
    assert allows(policy, "ec2:CreateTags", GROUP, {"ec2:CreateAction": "CreateSecurityGroup"})


def test_every_security_group_mutation_carries_a_tag_condition(roles: dict[str, tuple[Roles, str]]) -> None:
    for name, (plan, key) in roles.items():
        for statement in statements(plan.policy(key)):
            mutating = set(as_list(statement["Action"])) & set(SECURITY_GROUP_MUTATIONS)
            if not mutating:
                continue
            keys = {k for op in conditions(statement).values() for k in op}
            tagged = any(k.startswith(("aws:ResourceTag/", "aws:RequestTag/")) for k in keys)
            assert tagged or keys == {"ec2:CreateAction"}, f"{name} {statement['Sid']}: {sorted(mutating)}"
            for resource in as_list(statement["Resource"]):
                assert resource.endswith(":security-group/*") or resource == VPC, f"{name} {statement['Sid']}"


def test_policy_resources_are_scoped_to_the_project(staging: Roles) -> None:
    by_sid = staging.by_sid("deploy")
    assert as_list(by_sid["EcsServices"]["Resource"]) == [
        f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/theobroma-staging/staging-*"
    ]
    assert as_list(by_sid["EcsTaskDefinitionTags"]["Resource"]) == [
        f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/staging-*:*"
    ]
    assert as_list(by_sid["TargetGroups"]["Resource"]) == [
        f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/staging-*/*"
    ]
    alb = "app/theobroma-staging/0123456789abcdef"
    assert sorted(as_list(by_sid["ListenerRules"]["Resource"])) == [
        f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:listener-rule/{alb}/*",
        f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:listener/{alb}/*",
    ]
    assert as_list(by_sid["StateBucketList"]["Resource"]) == [BUCKET]
    assert sorted(as_list(by_sid["StateObjects"]["Resource"])) == [
        s3("deploy-history/staging/*"),
        s3("staging/app/*"),
        s3("workspaces/*/staging/app/*"),
    ]
    assert as_list(by_sid["ImageRepositoryRead"]["Resource"]) == [IMAGE_REPOSITORY]
    assert set(as_list(by_sid["ImageRepositoryRead"]["Action"])) == {"ecr:DescribeRepositories", "ecr:DescribeImages"}


def test_pass_role_is_limited_to_task_roles_and_ecs_tasks(staging: Roles) -> None:
    passing = [s for s in statements(staging.policy("deploy")) if "iam:PassRole" in as_list(s["Action"])]
    assert len(passing) == 1
    statement = passing[0]
    assert as_list(statement["Action"]) == ["iam:PassRole"]
    assert sorted(as_list(statement["Resource"])) == [
        f"arn:aws:iam::{ACCOUNT}:role/theobroma-staging-task",
        f"arn:aws:iam::{ACCOUNT}:role/theobroma-staging-task-execution",
    ]
    assert conditions(statement) == {"StringEquals": {"iam:PassedToService": ["ecs-tasks.amazonaws.com"]}}


def test_security_group_changes_are_held_to_the_vpc(staging: Roles) -> None:
    manage = staging.by_sid("deploy")["ManageServiceSecurityGroups"]
    assert conditions(manage)["ArnEquals"] == {"ec2:Vpc": [VPC]}
    assert conditions(manage)["StringEquals"] == {
        "aws:ResourceTag/ManagedBy": ["deploytool"],
        "aws:ResourceTag/Environment": ["staging"],
    }
    assert conditions(manage)["StringLike"] == {"aws:ResourceTag/Name": ["staging-*-service"]}


def test_optional_statements_disappear(staging: Roles, root: TfRoot) -> None:
    optional = {
        "PassTaskRolesToEcsTasks",
        "BranchDnsRecords",
        "DnsChangeStatus",
        "PlatformOutputsRead",
        "CreateServiceSecurityGroups",
        "TagServiceSecurityGroupsOnCreate",
        "ManageServiceSecurityGroups",
    }
    assert optional <= set(staging.by_sid("deploy"))
    bare = plan_kind(root, "staging", vpc_id=None, pass_role_arns=[], route53_zone_ids=[], platform_outputs_key=None)
    sids = set(bare.by_sid("deploy"))
    assert not optional & sids
    assert not [s for s in statements(bare.policy("deploy")) if "iam:PassRole" in as_list(s["Action"])]
    assert not [s for s in statements(bare.policy("deploy")) if {"ec2:CreateSecurityGroup"} & set(as_list(s["Action"]))]


# --------------------------------------------------------------------------- apply against the emulator


@pytest.mark.apply
def test_apply_creates_provider_and_roles_then_destroy_removes_them(applied: Applied, emulator: Emulator) -> None:
    root, outputs = applied.root, applied.outputs
    iam = emulator.client("iam")
    providers = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert outputs["oidc_provider_arn"] in providers
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=outputs["oidc_provider_arn"])
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]

    policies = outputs["policy_json"]
    for key in ("deploy", "build"):
        role = iam.get_role(RoleName=outputs[f"{key}_role_name"])["Role"]
        assert role["Arn"] == outputs[f"{key}_role_arn"]
        trust = role["AssumeRolePolicyDocument"]
        if isinstance(trust, str):
            trust = json.loads(trust)
        assert trust["Statement"][0]["Principal"] == {"Federated": outputs["oidc_provider_arn"]}
        assert can_assume(trust, outputs["oidc_provider_arn"], github_claims(f"{SUB}:ref:refs/heads/feature/x"))
        policy = iam.get_role_policy(RoleName=outputs[f"{key}_role_name"], PolicyName=key)["PolicyDocument"]
        if isinstance(policy, str):
            policy = json.loads(policy)
        assert policy == json.loads(policies[key])

    root.destroy()
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert outputs["deploy_role_name"] not in roles and outputs["build_role_name"] not in roles
    providers = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert outputs["oidc_provider_arn"] not in providers


def test_deploy_roles_run_the_migration_only_from_their_task_definitions_in_their_cluster(
    staging: Roles, production: Roles
) -> None:
    ecs = f"arn:aws:ecs:us-east-1:{ACCOUNT}"
    for plan, env, family in [
        (staging, "staging", "staging-feature-x"),
        (production, "production", "theobroma-production-blue"),
    ]:
        cluster = {"ecs:cluster": f"{ecs}:cluster/theobroma-{env}"}
        policy = plan.policy("deploy")
        assert allows(policy, "ecs:RunTask", f"{ecs}:task-definition/{family}:7", cluster)
        assert not allows(
            policy, "ecs:RunTask", f"{ecs}:task-definition/{family}:7", {"ecs:cluster": f"{ecs}:cluster/x"}
        )
        assert not allows(policy, "ecs:RunTask", f"{ecs}:task-definition/other-family:1", cluster)
        for action in ("ecs:DescribeTasks", "ecs:StopTask"):
            assert allows(policy, action, f"{ecs}:task/theobroma-{env}/0f1e2d3c4b5a6978")
            assert not allows(policy, action, f"{ecs}:task/another-cluster/0f1e2d3c4b5a6978")
        assert not allows(plan.policy("build"), "ecs:RunTask", f"{ecs}:task-definition/{family}:7", cluster)
