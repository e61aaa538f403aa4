"""Every flow CI runs, under IAM enforcement, as the role CI would use, and each role's policy held
to what those flows actually call.

On an emulator of its own that enforces IAM (``iam_emulator``), its admin user bootstraps and
applies the ``local`` (staging-like, branch environments) and ``production`` platforms with the
GitHub roles, as an operator does once. Everything after that signs with a session of a role the
``github-oidc`` module created, as ``aws-actions/configure-aws-credentials`` would hand it to a job:

* staging deploy role: the pull-request plan, a branch deploy, a failing release and its rollback,
  the janitor, and destroy on close;
* production deploy role: blue-green releases, a failing one never switched to, the switch-back,
  finalize, and the failure alert (``sns:Publish``, as the workflow's ``aws sns publish``);
* the build roles: an image push to ECR, call for call what ``docker push`` makes.

The web-identity step cannot run here (moto ignores ``Federated`` principals; the trust matrix in
``tests/modules/test_github_roles.py`` covers it): the harness adds one statement letting its admin
user assume each role, and nothing else about the roles changes.

The emulator logs every decision; a flow denied an action fails naming it. Afterwards each role's
policy (as applied, read back from IAM) is compared with the actions its flows were allowed: none
missing (no denial), and none granted that no flow used beyond :data:`UNUSED_HERE`, the actions
only real AWS or paths the emulator cannot take need, each with its reason. Removing any action
from a policy therefore fails a test: a used one is denied, an unused one leaves the exception
list out of step.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from deploytool import bootstrap, cleanup, release, stackops
from deploytool import emulator as emu
from deploytool.config import Config, load_config
from deploytool.errors import RolledBackError
from deploytool.stack import Target
from deploytool.troubleshoot.iam import role_statements
from tests.conftest import REPO
from tests.e2e.test_branch_lifecycle import real_changes
from tests.iam.conftest import ACCOUNT, IamEmulator

pytestmark = pytest.mark.apply

REPOSITORY = "theobroma-labs/geo-api"
BROKEN = {"GEOAPI_REQUIRE_DATABASE": "true", "DATABASE_URL": ""}

# Actions a role holds that no flow here calls, and why. Keyed by role kind.
# Calls AWS authorizes implicitly, inside another call, which moto never checks:
_IMPLICIT = {
    "iam:PassRole": "AWS checks it when a task definition names the task roles; moto does not",
    "iam:CreateServiceLinkedRole": "AWS creates ECS autoscaling's service-linked role on first use in an account",
    "ecs:TagResource": "AWS authorizes tags sent with CreateService/RegisterTaskDefinition as ecs:TagResource",
    "ec2:CreateTags": "AWS authorizes tags sent with CreateSecurityGroup as ec2:CreateTags",
    "cloudwatch:TagResource": "AWS authorizes tags sent with PutMetricAlarm as cloudwatch:TagResource",
}
# Calls of hashicorp/aws versions other than the mirror's 3.39 (the modules support >= 3.39, < 7):
_PROVIDER = {
    "application-autoscaling:TagResource": "5.x tags scalable targets (default_tags); 3.39 cannot",
    "application-autoscaling:ListTagsForResource": "5.x reads those tags back",
    "ecs:ListTagsForResource": "newer versions read ECS tags with it; 3.39 reads them from Describe*",
    "ec2:DescribeSecurityGroupRules": "4.x+ reads security group rules by rule ID",
}
# Changes no flow makes: a tag key dropped from default_tags.
_UNTAG = {
    "ecs:UntagResource": "a tag removed",
    "ec2:DeleteTags": "a tag removed",
    "elasticloadbalancing:RemoveTags": "a tag removed",
    "cloudwatch:UntagResource": "a tag removed",
}
# Production never destroys: these serve a replaced resource (a renamed colour, a new target group).
_REPLACE = {
    action: "production replaces or removes a colour's resource; staging's destroy uses it"
    for action in (
        "application-autoscaling:DeleteScalingPolicy",
        "application-autoscaling:DeregisterScalableTarget",
        "cloudwatch:DeleteAlarms",
        "ec2:DeleteSecurityGroup",
        "ec2:DescribeNetworkInterfaces",
        "ec2:RevokeSecurityGroupIngress",
        "ecs:DeleteService",
        "elasticloadbalancing:DeleteRule",
        "elasticloadbalancing:DeleteTargetGroup",
    )
}
# The release's migration runs as an ECS one-off task on AWS; the local stand-in runs it as a process.
_ONE_OFF = {
    action: "the migration's one-off task runs as a local process here (the ECS side: tests/unit/test_oneoff.py)"
    for action in ("ecs:RunTask", "ecs:DescribeTasks", "ecs:StopTask")
}
UNUSED_HERE: dict[str, dict[str, str]] = {
    "staging-deploy": {
        **_IMPLICIT,
        **_PROVIDER,
        **_UNTAG,
        **_ONE_OFF,
        "elasticloadbalancing:ModifyRule": "a branch rule's conditions change (a new domain)",
        "elasticloadbalancing:SetRulePriorities": "a rule's priority changes",
    },
    "production-deploy": {
        **_IMPLICIT,
        **_PROVIDER,
        **_UNTAG,
        **_REPLACE,
        **_ONE_OFF,
        "elasticloadbalancing:SetRulePriorities": "a rule's priority changes",
    },
    "staging-build": {
        "ecr:DescribeImages": "one build policy for both environments; only production's build asks for its tag first",
    },
    "production-build": {},
}


@dataclass
class Flows:
    """The enforcing emulator, the applied platforms and the role sessions of their GitHub roles."""

    iam: IamEmulator
    config: Config
    data_dir: Path
    platforms: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # kind -> role ARN
    targets: list[Target] = field(default_factory=list)

    def target(self, env: str, credentials: emu.Credentials) -> Target:
        made = Target(
            config=self.config,
            settings=self.config.environment(env),
            endpoint=self.iam.endpoint,
            credentials=credentials,
            runtime_credentials=self.iam.admin,
            data_dir=self.data_dir,
        )
        self.targets.append(made)
        return made

    def admin_target(self, env: str) -> Target:
        return self.target(env, self.iam.admin)

    def session(self, kind: str) -> emu.Credentials:
        return self.iam.assume(self.roles[kind])

    def role_target(self, env: str, kind: str) -> Target:
        return self.target(env, self.session(kind))

    def decisions_of(self, kind: str, mark: int = 0) -> list[dict[str, Any]]:
        name = self.roles[kind].rsplit("/", 1)[-1]
        return [d for d in self.iam.since(mark) if f":assumed-role/{name}/" in str(d["principal"])]

    def granted(self, kind: str) -> set[str]:
        """The actions the role's policies (inline and attached, as applied) allow."""
        statements, _ = role_statements(self.iam.client("iam"), self.roles[kind].rsplit("/", 1)[-1])
        actions: set[str] = set()
        for statement in statements:
            if statement["Effect"] == "Allow":
                listed = statement.get("Action", [])
                actions.update([listed] if isinstance(listed, str) else listed)
        return actions


def _trust_admin(iam: IamEmulator, role_arn: str) -> None:
    """Let the harness's admin user assume ``role_arn`` as well (moto ignores Federated principals)."""
    client = iam.client("iam")
    name = role_arn.rsplit("/", 1)[-1]
    trust = client.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    trust["Statement"].append(
        {
            "Sid": "TestHarnessOnly",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{emu.ADMIN_USER}"},
            "Action": "sts:AssumeRole",
        }
    )
    client.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))


def _assert_allowed(flows: Flows, kind: str, mark: int) -> None:
    denied = emu.denied_actions(flows.decisions_of(kind, mark))
    assert not denied, f"the {kind} role was denied {denied}"


@pytest.fixture(scope="module")
def flows(
    iam_emulator: IamEmulator, tf_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flows]:
    config = load_config(REPO / "deploy.toml")
    config.project.github_repository = REPOSITORY
    made = Flows(iam=iam_emulator, config=config, data_dir=tmp_path_factory.mktemp("enforced-data"))
    try:
        for env, prefix in (("local", "staging"), ("production", "production")):
            admin = made.admin_target(env)
            bootstrap.bootstrap(admin)
            outputs = stackops.apply_stack(admin, "platform")
            made.platforms[env] = outputs
            made.roles[f"{prefix}-deploy"] = outputs["github_deploy_role_arn"]
            made.roles[f"{prefix}-build"] = outputs["github_build_role_arn"]
            # One account, one GitHub OIDC provider: production trusts the one staging created.
            config.environment("production").platform.github_oidc_provider_arn = outputs["github_oidc_provider_arn"]
        for arn in made.roles.values():
            _trust_admin(iam_emulator, arn)
        yield made
    finally:
        for target in made.targets:
            target.runtime.stop_all()


def _push_image(flows: Flows, kind: str, tag: str) -> None:
    """What a build job calls on ECR, as the build role: production's asks whether the tag exists
    (``aws ecr describe-images``), then ``docker push``: login, a HEAD of the tag's manifest
    (``BatchGetImage``), the layer check and upload, and the manifest."""
    session = flows.session(kind)
    ecr = flows.iam.client("ecr", session)
    repository = flows.config.project.image_repository
    if kind == "production-build":
        with pytest.raises(ecr.exceptions.ImageNotFoundException):
            ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    ecr.get_authorization_token()
    assert not ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag}])["images"]
    layer = f"layer of {tag}".encode()
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    checked = ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=[digest])
    if not [x for x in checked["layers"] if x.get("layerAvailability") == "AVAILABLE"]:
        upload = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
        ecr.upload_layer_part(
            repositoryName=repository,
            uploadId=upload,
            partFirstByte=0,
            partLastByte=len(layer) - 1,
            layerPartBlob=layer,
        )
        ecr.complete_layer_upload(repositoryName=repository, uploadId=upload, layerDigests=[digest])
    media = "application/vnd.docker"
    manifest = {
        "schemaVersion": 2,
        "mediaType": f"{media}.distribution.manifest.v2+json",
        "config": {"mediaType": f"{media}.container.image.v1+json", "size": len(layer), "digest": digest},
        "layers": [{"mediaType": f"{media}.image.rootfs.diff.tar.gzip", "size": len(layer), "digest": digest}],
    }
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)


def test_staging_flows_run_as_the_staging_deploy_role(flows: Flows) -> None:
    mark = flows.iam.mark()
    _push_image(flows, "staging-build", "feature-enforced-1")
    _push_image(flows, "staging-build", "feature-enforced-2")
    _assert_allowed(flows, "staging-build", mark)

    target = flows.role_target("local", "staging-deploy")
    branch, other = "feature/enforced", "feature/abandoned"

    # Pull request: a plan of the branch's environment.
    plan = release.plan_release(target, branch, "feature-enforced-1")
    plan.planfile.unlink()
    # Push: deploy, then a broken release that is rolled back.
    assert release.deploy_release(target, branch, "feature-enforced-1").outcome == "success"
    with pytest.raises(RolledBackError):
        release.deploy_release(target, branch, "feature-enforced-2", environment=BROKEN)
    # The janitor destroys a branch whose pull request is gone (and which is idle: a zero TTL here).
    assert release.deploy_release(target, other, "feature-enforced-1").outcome == "success"
    selected = cleanup.plan_cleanup(target, open_branches=[branch], older_than=timedelta(0))
    assert [d.workspace for d in selected.to_destroy] == [target.names(other).workspace]
    outcomes = cleanup.run_cleanup(target, selected.decisions, parallel=1)
    assert [o.failed for o in outcomes] == [False]
    # Pull request closed: destroy.
    assert "destroyed" in stackops.destroy(target, branch)
    _assert_allowed(flows, "staging-deploy", mark)

    # All of it without the platform's state, which holds the database password: out of reach.
    s3 = flows.iam.client("s3", flows.session("staging-deploy"))
    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket=target.layout.bucket, Key=target.layout.key("platform"))
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_production_flows_run_as_the_production_deploy_role(flows: Flows) -> None:
    mark = flows.iam.mark()
    for tag in ("prod-rel-a", "prod-rel-b", "prod-rel-c"):
        _push_image(flows, "production-build", tag)
    _assert_allowed(flows, "production-build", mark)

    target = flows.role_target("production", "production-deploy")
    release.plan_release(target, None, "prod-rel-a").planfile.unlink()
    assert release.deploy_release(target, None, "prod-rel-a", finalize_first=True).outcome == "success"
    # The plan of the next release stages it on the idle colour and leaves the active one alone.
    staged = release.plan_release(target, None, "prod-rel-b")
    staged.planfile.unlink()
    changed = real_changes(staged.plan_json)
    assert changed and not [a for a in changed if '["blue"]' in a], changed
    # prod-rel-a bakes when it was a switch: the role also ends a bake (finalize_first).
    assert release.deploy_release(target, None, "prod-rel-b", finalize_first=True).outcome == "success"
    assert release.rollback_release(target, None).image_after == "prod-rel-a"
    with pytest.raises(RolledBackError):
        release.deploy_release(target, None, "prod-rel-c", environment=BROKEN)
    assert "scaled down" in release.finalize(target)
    # The workflow's failure alert.
    sns = flows.iam.client("sns", flows.session("production-deploy"))
    sns.publish(TopicArn=flows.platforms["production"]["sns_topic_arn"], Subject="deploy failed", Message="prod-rel-c")
    _assert_allowed(flows, "production-deploy", mark)


@pytest.mark.parametrize("kind", sorted(UNUSED_HERE))
def test_each_role_holds_exactly_what_its_flows_use(flows: Flows, kind: str) -> None:
    used = {str(d["action"]) for d in flows.decisions_of(kind) if d["decision"] == "allowed"}
    assert used, f"no flow ran as the {kind} role (run the flow tests first)"
    granted = flows.granted(kind)
    print(f"{kind}: {len(granted)} actions granted, {len(used)} used by the flows")
    assert used <= granted
    assert sorted(granted - used) == sorted(UNUSED_HERE[kind]), f"granted but used by no flow: {sorted(granted - used)}"


def test_a_flow_missing_one_action_fails_naming_it(flows: Flows) -> None:
    """The live check behind the comparison above: one action taken out of the staging deploy
    role's policy, and the pull-request plan that needs it is refused by the emulator."""
    iam = flows.iam.client("iam")
    name = flows.roles["staging-deploy"].rsplit("/", 1)[-1]
    (policy_name,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
    original = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
    original = json.loads(original) if isinstance(original, str) else original
    removed = "ecr:DescribeRepositories"
    reduced = json.loads(json.dumps(original))
    for statement in reduced["Statement"]:
        listed = statement.get("Action", [])
        if isinstance(listed, list) and removed in listed:
            statement["Action"] = [a for a in listed if a != removed]
    assert reduced != original
    iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(reduced))
    try:
        mark = flows.iam.mark()
        target = flows.role_target("local", "staging-deploy")
        with pytest.raises(ClientError) as caught:
            release.plan_release(target, "feature/reduced", "feature-enforced-1")
        assert "denied" in str(caught.value).lower() or "not authorized" in str(caught.value).lower()
        assert emu.denied_actions(flows.decisions_of("staging-deploy", mark)) == [removed]
    finally:
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(original))
