"""AWS errors a user can cause (credentials, region, permissions) are one line saying what to do.

Through the CLI, against real botocore clients: without credentials at all, pointed at an endpoint
that does not answer, or with a botocore Stubber answering the service errors AWS sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.stub import Stubber
from click.testing import CliRunner, Result

from deploytool.aws import Clients
from deploytool.cli import main

REPO = Path(__file__).resolve().parents[2]
RENDER = ["render", "--env", "staging", "--branch", "feature/x", "--config", str(REPO / "deploy.toml")]
ROLE = "arn:aws:sts::123456789012:assumed-role/theobroma-staging-github-deploy/gh-run"


def run(args: list[str]) -> Result:
    return CliRunner().invoke(main, args)


def assert_one_line(result: Result, *expected: str) -> str:
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    line = errors[0]
    assert "unexpected" not in line and "Traceback" not in result.output
    for text in expected:
        assert text in line
    return line


@pytest.fixture()
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTOOL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture()
def no_credentials(isolated: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_no_credentials(no_credentials: None) -> None:
    assert_one_line(run(RENDER), "no usable AWS credentials", "aws sso login", "--local")


@pytest.fixture()
def s3(isolated: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """Every client the tool makes is this S3 client; the test queues AWS's answers."""
    client = boto3.client("s3", region_name="us-east-1")
    stubber = Stubber(client)
    monkeypatch.setattr(Clients, "__call__", lambda self, service: client)
    with stubber:
        yield stubber


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ExpiredToken", "The provided token has expired."),
        ("ExpiredTokenException", "The security token included in the request is expired"),
        ("RequestExpired", "Request has expired."),
    ],
)
def test_expired_token(s3: Stubber, code: str, message: str) -> None:
    s3.add_client_error("list_objects_v2", service_error_code=code, service_message=message, http_status_code=400)
    assert_one_line(run(RENDER), "AWS credentials have expired", code, "aws sso login")


@pytest.mark.parametrize(
    ("code", "message", "named"),
    [
        (
            "AccessDenied",
            f"User: {ROLE} is not authorized to perform: s3:ListBucket on resource: "
            '"arn:aws:s3:::theobroma-terraform-state" because no identity-based policy allows the s3:ListBucket action',
            f"AWS denied s3:ListBucket to {ROLE}",
        ),
        ("AccessDenied", "Access Denied", "AWS denied ListObjectsV2"),
        (
            "AccessDeniedException",
            f"User: {ROLE} is not authorized to perform: s3:ListBucket with an explicit deny in a service control "
            "policy",
            "AWS denied s3:ListBucket",
        ),
        (
            "UnauthorizedOperation",
            f"You are not authorized to perform this operation. User: {ROLE} is not authorized to perform: "
            "ec2:DescribeVpcs because no identity-based policy allows the ec2:DescribeVpcs action.",
            "AWS denied ec2:DescribeVpcs",
        ),
    ],
)
def test_access_denied_names_the_action(s3: Stubber, code: str, message: str, named: str) -> None:
    s3.add_client_error("list_objects_v2", service_error_code=code, service_message=message, http_status_code=403)
    assert_one_line(run(RENDER), named, "docs/ci-cd.md")


def test_access_denied_behind_a_wrapped_error_still_says_what_to_do(s3: Stubber) -> None:
    # plan reads the branch record first; that read wraps the ClientError in a DeployError
    s3.add_client_error(
        "get_object", service_error_code="AccessDenied", service_message="Access Denied", http_status_code=403
    )
    plan = ["plan", *RENDER[1:]]
    assert_one_line(run(plan), "cannot read s3://", "AWS denied GetObject")


def test_a_bucket_in_another_region(s3: Stubber) -> None:
    s3.add_client_error(
        "list_objects_v2",
        service_error_code="PermanentRedirect",
        service_message="The bucket you are attempting to access must be addressed using the specified endpoint.",
        http_status_code=301,
    )
    assert_one_line(run(RENDER), "another region", "`region` for the environment in deploy.toml")


def test_an_endpoint_that_does_not_answer(isolated: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # An unknown region has no endpoint: the same error as any endpoint that cannot be reached.
    config = BotoConfig(retries={"max_attempts": 1}, connect_timeout=1)

    def unreachable(self: Clients, service: str) -> Any:
        return boto3.client(service, region_name="us-east-1", endpoint_url="http://127.0.0.1:9", config=config)  # type: ignore[call-overload]

    monkeypatch.setattr(Clients, "__call__", unreachable)
    assert_one_line(run(RENDER), "cannot reach the AWS endpoint http://127.0.0.1:9", "`region`")


def test_other_errors_stay_unexpected(s3: Stubber) -> None:
    s3.add_client_error("list_objects_v2", service_error_code="InternalError", http_status_code=500)
    result = run(RENDER)
    assert result.exit_code == 1 and "unexpected ClientError" in result.output
