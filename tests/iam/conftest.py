"""An emulator of its own with IAM enforced, for the tests that check what a role may do.

It is not the session's emulator: once enforcement is on, the fake credentials every other test
signs with are refused. The admin user is created first; everything else is set up through it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import boto3
import pytest

from deploytool import emulator as emu
from tests.conftest import REGION

ACCOUNT = "123456789012"


@dataclass
class IamEmulator:
    """An IAM-enforcing emulator, its admin credentials and its decision log."""

    info: emu.EmulatorInfo
    admin: emu.Credentials
    decisions: Path

    def __post_init__(self) -> None:
        self._names = count(1)

    @property
    def endpoint(self) -> str:
        return self.info.endpoint

    def client(self, service: str, credentials: emu.Credentials | None = None) -> Any:
        creds = credentials or self.admin
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            aws_session_token=creds.session_token,
        )

    def role(self, prefix: str, statements: list[dict[str, Any]]) -> str:
        """A new role the admin user may assume, allowed ``statements``; returns its ARN."""
        name = f"{prefix}-{next(self._names)}"
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{emu.ADMIN_USER}"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam = self.client("iam")
        arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        if statements:
            policy = {"Version": "2012-10-17", "Statement": statements}
            iam.put_role_policy(RoleName=name, PolicyName="access", PolicyDocument=json.dumps(policy))
        return arn

    def assume(self, role_arn: str) -> emu.Credentials:
        return emu.assume_role(self.endpoint, role_arn, self.admin)

    def mark(self) -> int:
        """The number of decisions so far (pass to :meth:`since`)."""
        return len(emu.read_decisions(self.decisions))

    def since(self, mark: int) -> list[dict[str, Any]]:
        return emu.read_decisions(self.decisions, since=mark)


@pytest.fixture(scope="package")
def iam_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IamEmulator]:
    workdir = tmp_path_factory.mktemp("iam-emulator")
    decisions = workdir / "decisions.jsonl"
    info = emu.launch(emu.free_port(), log=workdir / "emulator.log", decisions=decisions)
    try:
        admin = emu.create_admin(info.endpoint)
        emu.enforce_iam(info.endpoint)
        yield IamEmulator(info=info, admin=admin, decisions=decisions)
    finally:
        emu.terminate(info.pid)
