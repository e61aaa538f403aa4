"""Stand-in for aws-actions/amazon-ecr-login: as the real action, it needs the job's AWS credentials
(from configure-aws-credentials) and asks ECR for an authorization token; the output ``registry`` is
the account's registry host. No Docker login happens (nothing here pulls or pushes layers)."""

from __future__ import annotations

import os
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError


def main() -> None:
    region = os.environ.get("AWS_REGION", "")
    if not region or not os.environ.get("AWS_ACCESS_KEY_ID"):
        print(
            "::error title=amazon-ecr-login stand-in::no AWS credentials or region: run configure-aws-credentials first"
        )
        sys.exit(1)
    try:
        account = boto3.client("sts").get_caller_identity()["Account"]
        boto3.client("ecr").get_authorization_token()
    except (BotoCoreError, ClientError) as exc:
        print(f"::error title=amazon-ecr-login stand-in::{exc}")
        sys.exit(1)
    registry = f"{account}.dkr.ecr.{region}.amazonaws.com"
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as fh:
        fh.write(f"registry={registry}\n")
    print(f"amazon-ecr-login stand-in: registry {registry} (the AWS emulator's ECR)")


if __name__ == "__main__":
    main()
