"""``deploy`` and ``rollback`` refuse an image that is not in the ECR repository (and a deploy, one not
built for its environment) before anything is applied or recorded. ECR here is moto in-process, which
answers DescribeImages for a missing tag with ImageNotFoundException, as ECR does."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from deploytool import inputs
from deploytool.config import load_config
from deploytool.errors import DeployError, RollbackFailedError
from deploytool.health import CheckResult, Verdict
from deploytool.localrun import push_stand_in_image
from deploytool.release import rolling
from deploytool.release.bluegreen import BlueGreen
from deploytool.release.outcome import DeployOutcome
from deploytool.release.rolling import Rolling
from tests.conftest import REPO

CONFIG = load_config(REPO / "deploy.toml")
REPOSITORY = CONFIG.project.image_repository
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7023,
            "digest": "sha256:" + "a" * 64,
        },
        "layers": [],
    }
)


class NoLedger:
    """Any ledger use fails the test: a refused image is refused before anything is recorded."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the ledger was used ({name}) for a refused image")


def target(ecr: Any, env: str) -> Any:
    settings = CONFIG.environment(env)
    return SimpleNamespace(
        env=env,
        settings=settings,
        config=CONFIG,
        clients=lambda: lambda service: ecr,
        names=lambda branch: SimpleNamespace(workspace="default" if branch is None else f"{env}-x", branch=branch),
        ledger=NoLedger,
    )


@pytest.fixture
def ecr(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # moto in-process, not a running emulator
    with mock_aws():
        client = boto3.client("ecr", region_name="us-east-1")
        client.create_repository(repositoryName=REPOSITORY)
        for tag in ("staging-3b1f2c9", "prod-3b1f2c9", "3b1f2c9"):
            manifest = MANIFEST.replace("7023", str(len(tag)))  # three distinct images
            digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
            client.put_image(repositoryName=REPOSITORY, imageManifest=manifest, imageTag=tag, imageDigest=digest)
        yield client


def digest_of(ecr: Any, tag: str) -> str:
    (detail,) = ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])["imageDetails"]
    return str(detail["imageDigest"])


def test_a_tag_not_in_the_registry_is_refused(ecr: Any) -> None:
    with pytest.raises(DeployError) as info:
        inputs.require_image(target(ecr, "staging"), "staging-0000000")
    assert info.value.message == (
        f"image staging-0000000 is not in the ECR repository {REPOSITORY}: push it first (the build job pushes "
        f"{REPOSITORY}:staging-0000000) or pick an image that is there "
        f"(`aws ecr describe-images --repository-name {REPOSITORY}`)"
    )


def test_a_digest_not_in_the_registry_is_refused(ecr: Any) -> None:
    with pytest.raises(DeployError, match="is not in the ECR repository"):
        inputs.require_image(target(ecr, "production"), "sha256:" + "0" * 64)


def test_images_in_the_registry_built_for_the_environment_pass(ecr: Any) -> None:
    inputs.require_image(target(ecr, "staging"), "staging-3b1f2c9")
    inputs.require_image(target(ecr, "production"), "prod-3b1f2c9")
    inputs.require_image(target(ecr, "production"), digest_of(ecr, "prod-3b1f2c9"))
    inputs.require_image(target(ecr, "local"), "3b1f2c9")  # local takes any tag


@pytest.mark.parametrize("ref", ["staging-3b1f2c9", "3b1f2c9", "digest of staging-3b1f2c9"])
def test_production_deploys_only_images_built_for_it(ecr: Any, ref: str) -> None:
    if ref.startswith("digest"):
        ref = digest_of(ecr, "staging-3b1f2c9")
    with pytest.raises(DeployError) as info:
        inputs.require_image(target(ecr, "production"), ref)
    assert "is not an image built for production" in info.value.message
    assert "production deploys only images tagged prod-*, which the registry keeps (never expire)" in info.value.message


def test_a_rollback_needs_the_image_only(ecr: Any) -> None:
    inputs.require_image(target(ecr, "production"), "3b1f2c9", deploy=False)  # tagged before the prefixes
    with pytest.raises(DeployError, match="is not in the ECR repository"):
        inputs.require_image(target(ecr, "production"), "prod-0000000", deploy=False)


def test_a_missing_repository_says_to_bootstrap(ecr: Any) -> None:
    ecr.delete_repository(repositoryName=REPOSITORY, force=True)
    with pytest.raises(DeployError, match=r"ECR repository theobroma-geo-api not found; run `deploytool bootstrap"):
        inputs.require_image(target(ecr, "staging"), "staging-3b1f2c9")


def test_rolling_deploy_and_rollback_refuse_before_anything_runs(ecr: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rolling, "deployed_image", lambda *a: "staging-3b1f2c9")
    strategy = Rolling(target(ecr, "staging"), "feature/x")  # type: ignore[arg-type]
    with pytest.raises(DeployError, match="image staging-404 is not in the ECR repository"):
        strategy.deploy("staging-404")
    with pytest.raises(DeployError, match="image staging-404 is not in the ECR repository"):
        strategy.rollback("staging-404")


def test_blue_green_deploy_refuses_before_anything_runs(ecr: Any) -> None:
    strategy = BlueGreen(target(ecr, "production"), None)  # type: ignore[arg-type]
    with pytest.raises(DeployError, match="image prod-404 is not in the ECR repository"):
        strategy.deploy("prod-404")
    with pytest.raises(DeployError, match="not an image built for production"):
        strategy.rollback("staging-3b1f2c9")  # a rollback to a tag deploys it through the sequence


def test_automatic_rollback_to_an_expired_image_fails_and_says_so(ecr: Any) -> None:
    strategy = Rolling(target(ecr, "staging"), "feature/x")  # type: ignore[arg-type]
    strategy.ledger = SimpleNamespace(last_known_good=lambda *a, **k: SimpleNamespace(image_after="staging-gone"))
    record = SimpleNamespace(image_before="staging-gone", outcome="failed", extra={})
    failed = DeployOutcome("staging", "staging-x", "staging-gone", "staging-bad", "http://x", _failing(), "failed", [])
    with pytest.raises(RollbackFailedError) as info:
        strategy._restore(record, failed, rollback=True)  # type: ignore[arg-type]
    assert "cannot be rolled back to staging-gone: image staging-gone is not in the ECR repository" in str(info.value)
    assert failed.outcome == "rollback_failed"


def _failing() -> Verdict:
    return Verdict((CheckResult("http.basic", "fail", "503"),))


def test_stand_in_images_go_to_the_emulator_only_and_pushing_twice_is_fine(ecr: Any) -> None:
    local = target(ecr, "local")
    local.local = True
    with pytest.raises(DeployError, match="is not in the ECR repository"):
        inputs.require_image(local, "v9")
    first = push_stand_in_image(local, "v9")
    assert push_stand_in_image(local, "v9") == first
    inputs.require_image(local, "v9")
    on_aws = target(ecr, "staging")
    on_aws.local = False
    with pytest.raises(DeployError, match="emulator only"):
        push_stand_in_image(on_aws, "staging-v9")
