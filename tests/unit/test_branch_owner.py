"""Two branches that share a workspace (``feature/x`` and ``feature-x``) never replace each other.

The first deploy records the branch a workspace belongs to beside its deploy history; a deploy or
plan of another branch with the same workspace is refused before Terraform runs; a destroy
removes the record. Runs against an in-process S3 mock (moto), Terraform replaced by fakes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from deploytool import naming, release, stackops
from deploytool import plansummary as summaries
from deploytool.config import load_config
from deploytool.errors import DeployError
from deploytool.ledger import Record
from deploytool.stack import Stack, Target
from deploytool.state import StateObject
from deploytool.terraform import Applied, Runner

REPO = Path(__file__).resolve().parents[2]
BUCKET = "theobroma-terraform-state"
WORKSPACE = "staging-feature-x"


@pytest.fixture()
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("DEPLOYTOOL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTOOL_HOME", str(tmp_path / "home"))
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture()
def target(s3: Any) -> Target:
    config = load_config(REPO / "deploy.toml")
    return Target(config=config, settings=config.environment("staging"))


class FakeRunner:
    def __init__(self) -> None:
        self.applied = 0

    def apply(self, plan: Path, *, discard: bool = False) -> None:
        self.applied += 1

    def apply_now(self, *, late_vars: Any = None, **_: Any) -> Applied:
        if late_vars is not None:
            late_vars.produce()  # what must happen before Terraform goes on: the branch claimed
        self.applied += 1
        return Applied(outputs={})


class FakeStack:
    def __init__(self, workspace: str) -> None:
        self.workspace = workspace
        self.runner = FakeRunner()
        self.root = Path("root")

    def prepare(self) -> None:
        return None

    def tfvars_path(self) -> Path:
        return Path("v")


@pytest.fixture()
def fake_terraform(monkeypatch: pytest.MonkeyPatch) -> list[FakeStack]:
    """plan_stack, the rendering and look-ups of a one-process apply and the outputs without
    Terraform; the stacks "applied" so far."""
    stacks: list[FakeStack] = []

    def plan(target: Target, stack_name: str, *, branch: str | None = None, **_: Any) -> stackops.PlanResult:
        stack = FakeStack(target.names(branch).workspace)
        stacks.append(stack)
        return stackops.PlanResult(stack, Path("p"), Path("v"), True, summaries.summarize({}), {})  # type: ignore[arg-type]

    def rendered(target: Target, stack_name: str, *, branch: str | None = None, **_: Any) -> tuple[Any, Path]:
        stack = FakeStack(target.names(branch).workspace)
        stacks.append(stack)
        return stack, Path("v")

    def opened(target: Target, stack_name: str, branch: str | None, image_tag: str | None) -> tuple[Any, Any]:
        names = target.names(branch)
        stack = FakeStack(names.workspace)
        stacks.append(stack)
        return stack, names

    monkeypatch.setattr(stackops, "plan_stack", plan)
    monkeypatch.setattr(stackops, "_rendered", rendered)
    monkeypatch.setattr(stackops, "_opened", opened)
    monkeypatch.setattr(stackops, "_context", lambda *_: {})
    monkeypatch.setattr(stackops, "render_tfvars", lambda root, context: "")
    monkeypatch.setattr(stackops, "stack_outputs", lambda stack: {})
    return stacks


def no_terraform(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Terraform ran")

    monkeypatch.setattr(Stack, "prepare", refuse)


def test_the_two_branches_do_share_a_workspace(target: Target) -> None:
    assert target.names("feature/x").workspace == target.names("feature-x").workspace == WORKSPACE


def test_first_apply_records_the_branch_and_another_branch_is_refused(
    target: Target, fake_terraform: list[FakeStack]
) -> None:
    stackops.apply_app(target, target.names("feature/x"), "v1")
    assert target.ledger().branch_of("staging", WORKSPACE) == "feature/x"
    stackops.apply_app(target, target.names("feature/x"), "v2")  # the owner deploys again
    with pytest.raises(DeployError) as refused:
        stackops.apply_app(target, target.names("feature-x"), "v3")
    message = str(refused.value)
    assert "'feature-x'" in message and "'feature/x'" in message and "\n" not in message
    assert "deploytool destroy --env staging --branch feature/x" in message
    assert [s.runner.applied for s in fake_terraform] == [1, 1, 0]
    assert target.ledger().branch_of("staging", WORKSPACE) == "feature/x"


def test_plan_of_another_branch_is_refused_before_terraform_runs(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_terraform(monkeypatch)
    target.ledger().claim_branch("staging", WORKSPACE, "feature/x")
    refused = r"'feature-x' maps to staging-feature-x, which belongs to branch 'feature/x'"
    with pytest.raises(DeployError, match=refused):
        stackops.plan_stack(target, "app", branch="feature-x", image_tag="v1")
    with pytest.raises(AssertionError, match="Terraform ran"):  # the owner gets through the check
        stackops.plan_stack(target, "app", branch="feature/x", image_tag="v1")


def test_deploy_of_another_branch_is_refused_before_anything_is_recorded(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_terraform(monkeypatch)
    target.ledger().claim_branch("staging", WORKSPACE, "feature/x")
    with pytest.raises(DeployError, match="belongs to branch 'feature/x'"):
        release.deploy_release(target, "feature-x", "v2")
    with pytest.raises(DeployError, match="belongs to branch 'feature/x'"):
        release.rollback_release(target, "feature-x", "v1")
    assert target.ledger().records("staging", WORKSPACE) == []


def test_a_claim_is_written_once(target: Target) -> None:
    ledger = target.ledger()
    assert ledger.branch_of("staging", WORKSPACE) is None
    assert ledger.claim_branch("staging", WORKSPACE, "feature/x") == "feature/x"
    assert ledger.claim_branch("staging", WORKSPACE, "feature-x") == "feature/x"
    assert ledger.branch_of("staging", WORKSPACE) == "feature/x"


def test_history_and_status_ignore_the_branch_record(target: Target, s3: Any) -> None:
    from deploytool.status import LedgerIndex

    ledger = target.ledger()
    ledger.write(Record("staging", WORKSPACE, "app", "deploy", outcome="success", image_after="v1"))
    ledger.claim_branch("staging", WORKSPACE, "feature/x")
    assert [r.image_after for r in ledger.records("staging")] == ["v1"]
    assert LedgerIndex(ledger, "staging").workspaces() == [WORKSPACE]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="deploy-history/staging/")["Contents"]]
    assert f"deploy-history/staging/{WORKSPACE}.branch.json" in keys  # inside what the deploy roles may write


@pytest.fixture()
def fake_destroy(target: Target, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Destroy without Terraform: the workspace exists, holds nothing; the workspaces deleted so far."""
    deleted: list[str] = []

    class Runtime:
        def stop(self, service: str) -> None:
            return None

        def settle(self, services: Any) -> None:
            return None

    target._runtime = Runtime()  # type: ignore[assignment]
    monkeypatch.setattr(Stack, "prepare", lambda self, **_: None)
    monkeypatch.setattr(stackops, "read_state", lambda *_: StateObject(resources=(), outputs={}))
    monkeypatch.setattr(Runner, "delete_workspace", lambda self, name, **_: deleted.append(name) or True)
    return deleted


def test_destroy_removes_the_record_so_the_other_branch_can_deploy(
    target: Target, fake_destroy: list[str], fake_terraform: list[FakeStack]
) -> None:
    ledger = target.ledger()
    ledger.claim_branch("staging", WORKSPACE, "feature/x")
    stackops.destroy(target, "feature/x")
    assert fake_destroy == [WORKSPACE]
    assert ledger.branch_of("staging", WORKSPACE) is None
    stackops.apply_app(target, target.names("feature-x"), "v1")
    assert ledger.branch_of("staging", WORKSPACE) == "feature-x"


def test_destroy_of_the_other_branch_leaves_the_environment_alone(target: Target, fake_destroy: list[str]) -> None:
    ledger = target.ledger()
    ledger.claim_branch("staging", WORKSPACE, "feature/x")
    message = stackops.destroy(target, "feature-x")
    assert "belongs to branch 'feature/x'" in message
    assert fake_destroy == []
    assert ledger.branch_of("staging", WORKSPACE) == "feature/x"


def test_the_janitor_destroy_removes_the_record(target: Target, fake_destroy: list[str]) -> None:
    ledger = target.ledger()
    ledger.claim_branch("staging", WORKSPACE, "feature/x")
    stackops.destroy_workspace(target, WORKSPACE, reason="branch gone")
    assert fake_destroy == [WORKSPACE]
    assert ledger.branch_of("staging", WORKSPACE) is None


def test_environments_without_branches_record_nothing(s3: Any) -> None:
    config = load_config(REPO / "deploy.toml")
    production = Target(config=config, settings=config.environment("production"))
    names = production.names(None)
    stackops.check_branch(production, names)
    stackops.claim_branch(production, names)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="deploy-history/")
    assert names.workspace == naming.DEFAULT_WORKSPACE
