"""Stand-in for aws-actions/configure-aws-credentials: a role session from the AWS emulator's STS.

As the real action: a role and a region are required, the session name must satisfy STS's
pattern, and the role must exist (STS refuses to assume a missing one). Exports what the real action
exports, plus the emulator's endpoint: ``AWS_ENDPOINT_URL`` (the AWS CLI and SDKs) and
``DEPLOYTOOL_EMULATOR_URL`` (deploytool's switch to the emulator). Every assume is appended to
``$DEPLOYTOOL_HOME/assumed-roles.jsonl``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

from botocore.exceptions import ClientError

from deploytool import emulator as emu

ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]{1,64}$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")


def fail(message: str) -> None:
    print(f"::error title=configure-aws-credentials stand-in::{message}")
    sys.exit(1)


def main() -> None:
    role = os.environ.get("INPUT_ROLE_TO_ASSUME", "").strip()
    region = os.environ.get("INPUT_AWS_REGION", "").strip()
    session = os.environ.get("INPUT_ROLE_SESSION_NAME", "").strip() or "GitHubActions"
    if not region:
        fail("Input required and not supplied: aws-region")
    if not role:
        fail("Credentials could not be loaded: no role-to-assume (the repository variable is not set?)")
    if not ROLE_ARN.match(role):
        fail(f"role-to-assume is not a role ARN: {role!r}")
    if not SESSION_NAME.match(session):
        fail(f"role-session-name {session!r} does not match STS's pattern [\\w+=,.@-]{{2,64}}")
    info = emu.status()
    if info is None:
        fail("no AWS emulator is running (deploytool emulator start)")
    assert info is not None
    endpoint = info.endpoint
    # On GitHub the OIDC token is the caller; here the harness's own identity asks STS.
    caller = emu.admin_credentials() if info.enforce_iam else None
    try:
        emu.client("iam", endpoint, caller).get_role(RoleName=role.rsplit("/", 1)[-1])
        issued = emu.client("sts", endpoint, caller, region).assume_role(RoleArn=role, RoleSessionName=session)
    except ClientError as exc:
        fail(f"Could not assume role {role}: {exc}")
        return
    issued = issued["Credentials"]
    account = role.split(":")[4]
    record = {
        "time": time.time(),
        "role": role,
        "session": session,
        "workflow": os.environ.get("GITHUB_WORKFLOW", ""),
        "job": os.environ.get("GITHUB_JOB", ""),
        "event": os.environ.get("GITHUB_EVENT_NAME", ""),
        "ref": os.environ.get("GITHUB_REF", ""),
    }
    log = Path(os.environ.get("DEPLOYTOOL_HOME", str(Path.home() / ".deploytool"))) / "assumed-roles.jsonl"
    with log.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    for secret in (issued["SecretAccessKey"], issued["SessionToken"]):
        print(f"::add-mask::{secret}")
    exported = {
        "AWS_ACCESS_KEY_ID": issued["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": issued["SecretAccessKey"],
        "AWS_SESSION_TOKEN": issued["SessionToken"],
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": endpoint,
        emu.EMULATOR_URL_ENV: endpoint,
    }
    with open(os.environ["GITHUB_ENV"], "a", encoding="utf-8") as fh:
        fh.writelines(f"{key}={value}\n" for key, value in exported.items())
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as fh:
        fh.write(f"aws-account-id={account}\n")
    print(f"configure-aws-credentials stand-in: assumed {role} as {session} on the AWS emulator at {endpoint}")


if __name__ == "__main__":
    main()
