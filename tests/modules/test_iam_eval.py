"""The IAM evaluator the role tests rely on: wildcards, condition logic, principals, Deny."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.modules.iam_eval import allowing, allows, can_assume, condition_holds, github_claims, like

PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"


def trust(condition: dict[str, Any], principal: str = PROVIDER) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Principal": {"Federated": principal},
                    "Condition": condition,
                }
            ],
        }
    )


@pytest.mark.parametrize(
    "pattern, value, expected",
    [
        ("repo:o/r:ref:refs/heads/feature/*", "repo:o/r:ref:refs/heads/feature/a/b", True),
        ("repo:o/r:ref:refs/heads/feature/*", "repo:o/r:ref:refs/heads/feature", False),
        ("repo:o/r:ref:refs/tags/v?", "repo:o/r:ref:refs/tags/v1", True),
        ("repo:o/r:ref:refs/tags/v?", "repo:o/r:ref:refs/tags/v12", False),
        ("repo:o/r:ref:refs/heads/develop", "repo:o/r:ref:refs/heads/developer", False),
        ("a.b[c]", "a.b[c]", True),
        ("a.b[c]", "a.bc", False),
        (
            "arn:aws:s3:::b/workspaces/*/staging/app/*",
            "arn:aws:s3:::b/workspaces/x/staging/app/terraform.tfstate",
            True,
        ),
        ("arn:aws:s3:::b/workspaces/*/staging/app/*", "arn:aws:s3:::b/workspaces/x/production/app/tfstate", False),
    ],
)
def test_like_uses_iam_wildcards_only(pattern: str, value: str, expected: bool) -> None:
    assert like(pattern, value) is expected


def test_values_of_one_key_are_alternatives() -> None:
    condition = {"StringLike": {SUB: ["repo:o/r:pull_request", "repo:o/r:ref:refs/heads/*"]}}
    assert condition_holds(condition, {SUB: "repo:o/r:pull_request"})
    assert condition_holds(condition, {SUB: "repo:o/r:ref:refs/heads/x"})
    assert not condition_holds(condition, {SUB: "repo:o/r:environment:production"})


def test_keys_and_operators_must_all_hold() -> None:
    condition = {"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: "repo:o/r:*"}}
    assert condition_holds(condition, github_claims("repo:o/r:pull_request"))
    assert not condition_holds(condition, github_claims("repo:o/r:pull_request", aud="https://github.com/o"))
    assert not condition_holds(condition, github_claims("repo:x/r:pull_request"))
    two_keys = {"StringEquals": {"aws:ResourceTag/A": "1", "aws:ResourceTag/B": "2"}}
    assert condition_holds(two_keys, {"aws:ResourceTag/A": "1", "aws:ResourceTag/B": "2"})
    assert not condition_holds(two_keys, {"aws:ResourceTag/A": "1", "aws:ResourceTag/B": "3"})


def test_a_missing_key_fails_positive_operators() -> None:
    assert not condition_holds({"StringEquals": {"aws:RequestTag/ManagedBy": "deploytool"}}, {})
    assert condition_holds({"StringEqualsIfExists": {"aws:RequestTag/ManagedBy": "deploytool"}}, {})
    assert condition_holds({"StringNotEquals": {"aws:RequestTag/ManagedBy": "x"}}, {})


def test_string_equals_is_exact_and_keys_are_case_insensitive() -> None:
    assert not condition_holds({"StringEquals": {SUB: "repo:o/r:*"}}, {SUB: "repo:o/r:pull_request"})
    assert condition_holds({"StringEquals": {SUB.upper(): "x"}}, {SUB: "x"})
    assert not condition_holds({"StringEquals": {SUB: "X"}}, {SUB: "x"})


def test_negated_operators() -> None:
    assert not condition_holds({"StringNotLike": {SUB: "repo:o/*"}}, {SUB: "repo:o/r:x"})
    assert condition_holds({"StringNotLike": {SUB: "repo:o/*"}}, {SUB: "repo:p/r:x"})


def test_unknown_operators_are_refused() -> None:
    with pytest.raises(NotImplementedError):
        condition_holds({"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}, {"aws:MultiFactorAuthAge": "1"})
    with pytest.raises(NotImplementedError):
        condition_holds({"ForAnyValue:StringLike": {"aws:TagKeys": "a*"}}, {"aws:TagKeys": ["ab"]})


def test_assume_needs_the_provider_the_action_and_the_conditions() -> None:
    policy = trust({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: "repo:o/r:pull_request"}})
    assert can_assume(policy, PROVIDER, github_claims("repo:o/r:pull_request"))
    other_provider = PROVIDER.replace("123456789012", "210987654321")
    assert not can_assume(policy, other_provider, github_claims("repo:o/r:pull_request"))
    assert not can_assume(policy, PROVIDER, github_claims("repo:o/r:pull_request", aud="other"))
    unconditioned = trust({})
    assert can_assume(unconditioned, PROVIDER, github_claims("anything"))
    other_action = json.loads(policy)
    other_action["Statement"][0]["Action"] = "sts:AssumeRole"
    assert not can_assume(other_action, PROVIDER, github_claims("repo:o/r:pull_request"))


def test_explicit_deny_wins() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
            {"Sid": "D", "Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/secret"},
        ],
    }
    assert allowing(policy, "s3:GetObject", "arn:aws:s3:::b/secret") == ["A"]
    assert not allows(policy, "s3:PutObject", "arn:aws:s3:::b/secret")
    assert allows(policy, "S3:putobject", "arn:aws:s3:::b/other")
    assert not allows(policy, "s3:PutObject", "arn:aws:s3:::B/other")


def test_conditioned_statements_need_their_context() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Tagged",
                "Effect": "Allow",
                "Action": ["ec2:DeleteSecurityGroup"],
                "Resource": "arn:aws:ec2:us-east-1:1:security-group/*",
                "Condition": {"StringEquals": {"aws:ResourceTag/ManagedBy": "deploytool"}},
            }
        ],
    }
    group = "arn:aws:ec2:us-east-1:1:security-group/sg-1"
    assert allows(policy, "ec2:DeleteSecurityGroup", group, {"aws:ResourceTag/ManagedBy": "deploytool"})
    assert not allows(policy, "ec2:DeleteSecurityGroup", group, {"aws:ResourceTag/ManagedBy": "someone"})
    assert not allows(policy, "ec2:DeleteSecurityGroup", group)


def test_not_elements_are_refused() -> None:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    with pytest.raises(NotImplementedError):
        allows(policy, "s3:GetObject", "*")
