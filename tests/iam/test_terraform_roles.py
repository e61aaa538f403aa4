"""Terraform under IAM enforcement: a root applied with an assumed role's session credentials works
when the role allows what the provider calls, and fails, with the denied action named from the
emulator's decision log, when one action is missing."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploytool import emulator as emu
from deploytool import toolchain
from deploytool.errors import DeployError
from deploytool.terraform import Runner
from tests.conftest import REGION
from tests.iam.conftest import IamEmulator

ROOT = Path(__file__).parent / "ssm_root"
# What the provider calls for one aws_ssm_parameter through create, refresh and destroy (as the
# decision log of a run allowed ssm:* lists them); the first test keeps this list exact.
ACTIONS = [
    "ssm:PutParameter",
    "ssm:GetParameter",
    "ssm:DescribeParameters",
    "ssm:ListTagsForResource",
    "ssm:DeleteParameter",
]
PARAMETER_ARNS = "arn:aws:ssm:us-east-1:123456789012:parameter/theobroma/*"


class RoleRun:
    """The SSM root, copied to ``workdir`` and run with ``credentials`` (local state)."""

    def __init__(self, workdir: Path, endpoint: str, credentials: emu.Credentials, tf_env: dict[str, str]) -> None:
        root = workdir / "root"
        shutil.copytree(ROOT, root)
        emu.write_override(root, endpoint, REGION, credentials)
        env = {**tf_env, **emu.aws_env(endpoint, REGION), **credentials.env()}
        self.runner = Runner(root=root, data_dir=workdir / "data", engine=toolchain.resolve_engine(), env=env)
        self.plan = workdir / "apply.tfplan"
        self.runner.init(backend=False)

    def apply(self, name: str) -> None:
        self.runner.plan(self.plan, variables={"name": name})
        self.runner.apply(self.plan)

    def destroy(self, name: str) -> None:
        self.runner.run(["destroy", "-input=false", "-no-color", "-auto-approve", f"-var=name={name}"])


@pytest.fixture
def role_run(
    iam_emulator: IamEmulator, tf_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[[list[str]], RoleRun]]:
    """Factory: ``role_run(actions)`` -> the root run by a new role allowed ``actions`` on
    parameters under ``/theobroma/``."""

    def make(actions: list[str]) -> RoleRun:
        arn = iam_emulator.role("terraform", [{"Effect": "Allow", "Action": actions, "Resource": PARAMETER_ARNS}])
        return RoleRun(tmp_path / arn.split("/")[-1], iam_emulator.endpoint, iam_emulator.assume(arn), tf_env)

    yield make


def _terraform_decisions(iam_emulator: IamEmulator, mark: int) -> list[dict[str, object]]:
    return [d for d in iam_emulator.since(mark) if ":assumed-role/terraform-" in str(d["principal"])]


@pytest.mark.apply
def test_apply_and_destroy_with_an_assumed_role_allowed_what_the_provider_calls(
    iam_emulator: IamEmulator, role_run: Callable[[list[str]], RoleRun]
) -> None:
    ssm = iam_emulator.client("ssm")
    mark = iam_emulator.mark()
    run = role_run(ACTIONS)
    run.apply("/theobroma/iam/allowed")
    assert ssm.get_parameter(Name="/theobroma/iam/allowed")["Parameter"]["Value"] == "v1"
    run.destroy("/theobroma/iam/allowed")
    assert ssm.get_parameters(Names=["/theobroma/iam/allowed"])["InvalidParameters"] == ["/theobroma/iam/allowed"]

    decisions = _terraform_decisions(iam_emulator, mark)
    assert {d["decision"] for d in decisions} == {"allowed"}
    assert sorted({str(d["action"]) for d in decisions}) == sorted(ACTIONS)


@pytest.mark.apply
def test_apply_fails_naming_the_one_action_the_role_lacks(
    iam_emulator: IamEmulator, role_run: Callable[[list[str]], RoleRun]
) -> None:
    lacking = "ssm:ListTagsForResource"
    mark = iam_emulator.mark()
    run = role_run([a for a in ACTIONS if a != lacking])
    try:
        with pytest.raises(DeployError):
            run.apply("/theobroma/iam/lacking")
        assert emu.denied_actions(_terraform_decisions(iam_emulator, mark)) == [lacking]
    finally:
        # PutParameter was allowed: the parameter exists although the apply failed.
        iam_emulator.client("ssm").delete_parameter(Name="/theobroma/iam/lacking")
