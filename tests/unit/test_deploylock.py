"""One release run per workspace from its plan to its final verdict: the deploy lock.

The rolling strategy runs with Terraform and the checks replaced (``apply_app``, ``verify``) over
moto's S3, which honours ``If-None-Match: *`` on PutObject as S3 does (a second put of the key
answers 412 PreconditionFailed). A rival run that arrives while the first one is verifying is
refused with exit 5, naming the holder, the age and the lock ID; the lock goes when the run ends.
A ``destroy`` of the workspace is refused the same way, and holds the lock itself while it runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from deploytool import release, stackops
from deploytool.config import load_config
from deploytool.errors import DeployError, RolledBackError, StateLockedError
from deploytool.health import CheckResult, Verdict
from deploytool.release import rolling
from deploytool.stack import Target
from deploytool.status import LedgerIndex

REPO = Path(__file__).resolve().parents[2]
BRANCH = "feature/x"


@pytest.fixture()
def target(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Target]:
    monkeypatch.setenv("DEPLOYTOOL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # moto in-process, not a running emulator
    monkeypatch.setenv("GITHUB_ACTOR", "ci-first")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    config = load_config(REPO / "deploy.toml")
    with mock_aws():
        made = Target(config=config, settings=config.environment("staging"))
        made.clients()("s3").create_bucket(Bucket=made.state_bucket)
        yield made


def locks(target: Target) -> list[str]:
    s3 = target.clients()("s3")
    prefix = f"{target.config.project.ledger_prefix}/{target.env}/locks/"
    return [o["Key"] for o in s3.list_objects_v2(Bucket=target.state_bucket, Prefix=prefix).get("Contents", [])]


@pytest.fixture()
def during_verification(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Each entry a callable run while the next release is being verified; returns what they gave."""
    rivals: list[Any] = []
    applied: list[str] = []

    def apply_app(_target: Any, _names: Any, image_tag: str, **_: Any) -> tuple[Any, Any]:
        applied.append(image_tag)
        return SimpleNamespace(summary=None), SimpleNamespace(service=lambda: None)

    def verify(*_: Any, image_tag: str, **__: Any) -> tuple[str, Verdict]:
        if rivals and callable(rivals[0]):
            rivals.append(rivals.pop(0)())
        status = "fail" if image_tag.startswith("bad") else "pass"
        return "http://svc.example.test", Verdict((CheckResult("http.basic", status, image_tag),))

    monkeypatch.setattr(rolling, "apply_app", apply_app)
    monkeypatch.setattr(rolling, "verify", verify)
    monkeypatch.setattr(rolling, "counts", lambda _summary: {})
    monkeypatch.setattr(rolling.migration, "command", lambda _target: [])  # no database, no migration here
    monkeypatch.setattr(rolling.inputs, "require_image", lambda *_a, **_k: None)  # no registry here
    monkeypatch.setattr(rolling, "deployed_image", lambda _t, _w: applied[-1] if applied else None)
    return rivals


def rival(target: Target, tag: str) -> Any:
    def run() -> Any:
        try:
            return release.deploy_release(target, BRANCH, tag)
        except DeployError as exc:
            return exc

    return run


def test_a_rival_deploy_during_verification_is_refused_with_holder_and_age(
    target: Target, during_verification: list[Any]
) -> None:
    during_verification.append(rival(target, "rival-2"))
    first = release.deploy_release(target, BRANCH, "first-1")

    assert first.outcome == "success"
    refused = during_verification[-1]
    assert isinstance(refused, StateLockedError), refused
    assert refused.exit_code == 5
    message = refused.message
    workspace = target.names(BRANCH).workspace
    assert f"deploy of staging {workspace} is locked by ci-first (deploy first-1) since " in message
    assert " ago), lock ID " in message and refused.lock_id and refused.lock_id in message
    assert f"deploytool force-unlock --env staging --branch {BRANCH} --deploy-lock --lock-id {refused.lock_id}" in (
        message
    )
    assert "\n" not in message
    assert locks(target) == [], "the lock goes when the run ends"
    assert release.deploy_release(target, BRANCH, "next-3").outcome == "success"


def test_the_lock_is_held_through_the_rollback_and_released_after_it(
    target: Target, during_verification: list[Any]
) -> None:
    assert release.deploy_release(target, BRANCH, "good-1").outcome == "success"
    during_verification.append(lambda: None)  # bad-2's verification: nothing yet
    during_verification.append(rival(target, "rival-3"))  # good-1's verification again: the rollback
    with pytest.raises(RolledBackError):
        release.deploy_release(target, BRANCH, "bad-2")
    refused = during_verification[-1]
    assert isinstance(refused, StateLockedError) and "(deploy bad-2)" in refused.message
    assert locks(target) == []


def test_a_destroy_during_verification_is_refused_and_changes_nothing(
    target: Target, during_verification: list[Any]
) -> None:
    s3 = target.clients()("s3")
    workspace = target.names(BRANCH).workspace
    state_key = target.layout.object_key("app", workspace)
    state = b'{"version": 4, "serial": 7, "resources": [], "outputs": {}}'
    s3.put_object(Bucket=target.state_bucket, Key=state_key, Body=state)
    target.ledger().claim_branch(target.env, workspace, BRANCH)

    def destroy() -> Any:
        try:
            return stackops.destroy(target, BRANCH)
        except DeployError as exc:
            return exc

    during_verification.append(destroy)
    assert release.deploy_release(target, BRANCH, "first-1").outcome == "success"

    refused = during_verification[-1]
    assert isinstance(refused, StateLockedError), refused
    assert refused.exit_code == 5
    assert f"deploy of staging {workspace} is locked by ci-first (deploy first-1) since " in refused.message
    assert f"force-unlock --env staging --branch {BRANCH} --deploy-lock --lock-id {refused.lock_id}" in refused.message
    assert s3.get_object(Bucket=target.state_bucket, Key=state_key)["Body"].read() == state
    assert target.ledger().branch_of(target.env, workspace) == BRANCH
    assert [r.action for r in target.ledger().records(target.env, workspace)] == ["deploy"]
    assert locks(target) == []


@pytest.mark.parametrize("ending", [None, KeyboardInterrupt, DeployError])
def test_a_destroy_holds_the_lock_throughout_and_releases_it_however_it_ends(
    target: Target, monkeypatch: pytest.MonkeyPatch, ending: type[BaseException] | None
) -> None:
    workspace = target.names(BRANCH).workspace
    seen: list[dict[str, Any]] = []

    def destroy_stack(*_: Any, **__: Any) -> str:
        s3 = target.clients()("s3")
        (key,) = locks(target)
        seen.append(json.loads(s3.get_object(Bucket=target.state_bucket, Key=key)["Body"].read()))
        with pytest.raises(StateLockedError, match=r"\(destroy\) since "):
            release.deploy_release(target, BRANCH, "v1")  # a deploy meanwhile is refused
        if ending is not None:
            raise ending("stopped")
        return f"{workspace} destroyed and its workspace deleted"

    monkeypatch.setattr(stackops, "_destroy_stack", destroy_stack)
    if ending is None:
        stackops.destroy(target, BRANCH)
    else:
        with pytest.raises(ending):
            stackops.destroy(target, BRANCH)
    assert [(s["Operation"], s["Who"]) for s in seen] == [("destroy", "ci-first")]
    assert locks(target) == [], "no lock outlives the destroy"


def test_the_history_ignores_a_held_lock(target: Target) -> None:
    with target.deploy_lock(BRANCH, operation="deploy", release="v1"):
        assert len(locks(target)) == 1
        ledger = target.ledger()
        assert ledger.records(target.env) == []
        assert LedgerIndex(ledger, target.env).workspaces() == []


def test_a_lock_left_by_a_dead_run_is_released_by_force_unlock(target: Target, during_verification: list[Any]) -> None:
    held = target.deploy_lock(BRANCH, operation="deploy", release="died-1")
    info = held.__enter__()  # the run dies holding it: never exits
    with pytest.raises(StateLockedError):
        release.deploy_release(target, BRANCH, "v2")
    with pytest.raises(DeployError, match="no deploy lock with ID nope"):
        release.force_unlock_deploy(target, BRANCH, "nope")
    release.force_unlock_deploy(target, BRANCH, info["ID"])
    assert release.deploy_release(target, BRANCH, "v2").outcome == "success"


def test_the_emulator_honours_if_none_match(target: Target) -> None:
    from deploytool.deploylock import lock_key

    s3 = target.clients()("s3")
    key = lock_key("deploy-history", "staging", "staging-x")
    s3.put_object(Bucket=target.state_bucket, Key=key, Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=target.state_bucket, Key=key, Body=b"2", IfNoneMatch="*")
    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
