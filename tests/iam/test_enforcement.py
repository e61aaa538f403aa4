"""What the IAM-enforcing emulator allows and refuses, checked through boto3 against a real server."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from deploytool import emulator as emu
from tests.iam.conftest import ACCOUNT, IamEmulator

CLUSTER_ARNS = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/iam-*"
PARAMETER_ARNS = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/theobroma/*"


def _name(arn: str) -> str:
    return arn.rsplit("/", maxsplit=1)[-1]


def _denied(decisions: list[dict[str, object]], role_arn: str) -> list[str]:
    """The actions denied to sessions of ``role_arn``."""
    return emu.denied_actions([d for d in decisions if f":assumed-role/{_name(role_arn)}/" in str(d["principal"])])


def test_resource_scoped_statement_is_honoured_where_moto_derives_no_arn(iam_emulator: IamEmulator) -> None:
    iam_emulator.client("ecs").create_cluster(clusterName="iam-a")
    lister = iam_emulator.role("lister", [{"Effect": "Allow", "Action": "ecs:ListServices", "Resource": CLUSTER_ARNS}])
    other = iam_emulator.role("other", [{"Effect": "Allow", "Action": "ecs:ListClusters", "Resource": "*"}])

    assert iam_emulator.client("ecs", iam_emulator.assume(lister)).list_services(cluster="iam-a")["serviceArns"] == []

    mark = iam_emulator.mark()
    with pytest.raises(ClientError):
        iam_emulator.client("ecs", iam_emulator.assume(other)).list_services(cluster="iam-a")
    assert _denied(iam_emulator.since(mark), other) == ["ecs:ListServices"]


def test_s3_object_arns_are_checked_exactly(iam_emulator: IamEmulator) -> None:
    s3 = iam_emulator.client("s3")
    s3.create_bucket(Bucket="iam-state")
    for key in ("workspaces/a", "env:/a"):
        s3.put_object(Bucket="iam-state", Key=key, Body=b"state")
    reader = iam_emulator.role(
        "reader", [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::iam-state/workspaces/*"}]
    )
    as_reader = iam_emulator.client("s3", iam_emulator.assume(reader))

    assert as_reader.get_object(Bucket="iam-state", Key="workspaces/a")["Body"].read() == b"state"
    mark = iam_emulator.mark()
    with pytest.raises(ClientError) as denied:
        as_reader.get_object(Bucket="iam-state", Key="env:/a")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    [decision] = [d for d in iam_emulator.since(mark) if d["decision"] == "denied"]
    assert (decision["action"], decision["resource"]) == ("s3:GetObject", "arn:aws:s3:::iam-state/env:/a")


def test_iam_role_arns_are_checked_exactly(iam_emulator: IamEmulator) -> None:
    iam = iam_emulator.client("iam")
    app = iam_emulator.role("app", [])
    outsider = iam_emulator.role("outsider", [])
    inspector = iam_emulator.role(
        "inspector", [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "arn:aws:iam::*:role/app-*"}]
    )
    as_inspector = iam_emulator.client("iam", iam_emulator.assume(inspector))

    assert as_inspector.get_role(RoleName=_name(app))["Role"]["Arn"] == app
    with pytest.raises(ClientError):
        as_inspector.get_role(RoleName=_name(outsider))
    assert iam.get_role(RoleName=_name(outsider))["Role"]["Arn"] == outsider


def test_assumed_role_credentials_are_checked_against_that_role(iam_emulator: IamEmulator) -> None:
    iam_emulator.client("ssm").put_parameter(Name="/iam/assumed", Value="x", Type="String")
    allowed = iam_emulator.role("ssm-reader", [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}])
    refused = iam_emulator.role("ssm-none", [{"Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*"}])

    creds = iam_emulator.assume(allowed)
    assert creds.session_token
    assert iam_emulator.client("ssm", creds).get_parameter(Name="/iam/assumed")["Parameter"]["Value"] == "x"

    mark = iam_emulator.mark()
    with pytest.raises(ClientError):
        iam_emulator.client("ssm", iam_emulator.assume(refused)).get_parameter(Name="/iam/assumed")
    [decision] = [d for d in iam_emulator.since(mark) if d["decision"] == "denied"]
    assert decision["action"] == "ssm:GetParameter"
    assert decision["principal"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{_name(refused)}/deploytool"


def test_a_role_that_does_not_trust_the_caller_cannot_be_assumed(iam_emulator: IamEmulator) -> None:
    trust = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        f'"Principal": {{"AWS": "arn:aws:iam::{ACCOUNT}:user/someone-else"}}, "Action": "sts:AssumeRole"}}]}}'
    )
    arn = iam_emulator.client("iam").create_role(RoleName="untrusting", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    with pytest.raises(ClientError):
        iam_emulator.assume(arn)


def test_the_admin_user_may_do_anything_and_unknown_keys_nothing(iam_emulator: IamEmulator) -> None:
    mark = iam_emulator.mark()
    iam_emulator.client("s3").create_bucket(Bucket="iam-admin")
    iam_emulator.client("ecs").create_cluster(clusterName="iam-admin")
    iam_emulator.client("ssm").put_parameter(Name="/iam/admin", Value="x", Type="String")
    iam_emulator.client("iam").create_policy(
        PolicyName="iam-admin",
        PolicyDocument='{"Version": "2012-10-17", '
        '"Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}',
    )
    decisions = iam_emulator.since(mark)
    assert {d["action"] for d in decisions} >= {
        "s3:CreateBucket",
        "ecs:CreateCluster",
        "ssm:PutParameter",
        "iam:CreatePolicy",
    }
    assert {d["decision"] for d in decisions} == {"allowed"}
    assert {d["principal"] for d in decisions} == {f"arn:aws:iam::{ACCOUNT}:user/{emu.ADMIN_USER}"}

    fake = emu.Credentials(**{"access_key_id": "testing", "secret_access_key": "testing"})
    with pytest.raises(ClientError) as refused:
        iam_emulator.client("s3", fake).list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_an_explicit_deny_wins_over_an_allow(iam_emulator: IamEmulator) -> None:
    iam_emulator.client("ssm").put_parameter(Name="/theobroma/keep", Value="x", Type="String")
    keeper = iam_emulator.role(
        "keeper",
        [
            {"Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "ssm:DeleteParameter", "Resource": PARAMETER_ARNS},
        ],
    )
    as_keeper = iam_emulator.client("ssm", iam_emulator.assume(keeper))
    assert as_keeper.get_parameter(Name="/theobroma/keep")["Parameter"]["Value"] == "x"
    with pytest.raises(ClientError):
        as_keeper.delete_parameter(Name="/theobroma/keep")


def test_identity_policy_conditions_are_not_evaluated(iam_emulator: IamEmulator) -> None:
    """A gap the README names: moto takes every condition of an identity policy as met, so a
    statement that AWS would apply only to tagged resources applies to all. Plan-level policy tests
    cover the conditions the modules rely on."""
    iam_emulator.client("ssm").put_parameter(Name="/theobroma/untagged", Value="x", Type="String")
    tagged_only = iam_emulator.role(
        "tagged-only",
        [
            {
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "nobody"}},
            }
        ],
    )
    as_role = iam_emulator.client("ssm", iam_emulator.assume(tagged_only))
    assert as_role.get_parameter(Name="/theobroma/untagged")["Parameter"]["Value"] == "x"


def test_cloudwatch_actions_carry_iams_prefix_not_the_signing_name(iam_emulator: IamEmulator) -> None:
    """CloudWatch signs as ``monitoring``; IAM policies (and AWS) name its actions ``cloudwatch:``."""
    alarms = iam_emulator.role("alarms", [{"Effect": "Allow", "Action": "cloudwatch:PutMetricAlarm", "Resource": "*"}])
    cloudwatch = iam_emulator.client("cloudwatch", iam_emulator.assume(alarms))
    mark = iam_emulator.mark()
    cloudwatch.put_metric_alarm(
        AlarmName="iam-unhealthy-hosts",
        Namespace="AWS/ApplicationELB",
        MetricName="UnHealthyHostCount",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
    )
    with pytest.raises(ClientError):
        cloudwatch.delete_alarms(AlarmNames=["iam-unhealthy-hosts"])
    ours = [d for d in iam_emulator.since(mark) if f":assumed-role/{_name(alarms)}/" in str(d["principal"])]
    assert [(d["action"], d["decision"]) for d in ours] == [
        ("cloudwatch:PutMetricAlarm", "allowed"),
        ("cloudwatch:DeleteAlarms", "denied"),
    ]


def test_the_s3_prefix_of_a_listing_is_not_evaluated(iam_emulator: IamEmulator) -> None:
    """The same gap for ``s3:prefix``: a ListBucket allowed only under one prefix lists anywhere on
    moto (AWS refuses the second listing), so the deploy roles' listing scope is proven by the
    plan-level test of the policy (tests/modules/test_github_oidc.py), not by the enforced flows."""
    s3 = iam_emulator.client("s3")
    s3.create_bucket(Bucket="iam-listing")
    s3.put_object(Bucket="iam-listing", Key="elsewhere/a", Body=b"x")
    lister = iam_emulator.role(
        "prefix-lister",
        [
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::iam-listing",
                "Condition": {"StringLike": {"s3:prefix": ["workspaces/*"]}},
            }
        ],
    )
    as_lister = iam_emulator.client("s3", iam_emulator.assume(lister))
    listed = as_lister.list_objects_v2(Bucket="iam-listing", Prefix="elsewhere/")
    assert [o["Key"] for o in listed["Contents"]] == ["elsewhere/a"]
