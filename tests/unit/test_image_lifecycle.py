"""The image repository's lifecycle policy, as bootstrap puts it on the repository, evaluated over a
registry's history with ECR's semantics (tests/ecr_lifecycle.py): staging and production share the
repository, and no amount of staging pushes may expire a production image."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from deploytool.bootstrap import ensure_repository, lifecycle_policy
from deploytool.config import load_config, parse_config
from deploytool.errors import DeployError
from tests.conftest import REPO
from tests.ecr_lifecycle import Image, expired

CONFIG = load_config(REPO / "deploy.toml")
NOW = datetime(2026, 6, 1, tzinfo=UTC)
STAGING_PUSHES = 600
# The policy this repository had: one rule for every image, whatever pushed it.
SHARED_RULE = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "keep the last 30 images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30},
            "action": {"type": "expire"},
        }
    ]
}


@pytest.fixture(autouse=True)
def _in_process_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """mock_aws below, not the emulator a session may have started (AWS_ENDPOINT_URL)."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def registry_history() -> list[Image]:
    """Hundreds of staging pushes an hour apart; a production release every 75 of them (the first one
    is what production runs, the others were rolled back or superseded); two images from before the
    prefixes; an untagged one."""
    images = [Image("sha256:legacy-a", ("3b1f2c9",), NOW - timedelta(days=400))]
    images.append(Image("sha256:untagged", (), NOW - timedelta(days=300)))
    images.append(Image("sha256:legacy-b", ("v1.0.0",), NOW - timedelta(days=200)))
    for i in range(STAGING_PUSHES):
        pushed = NOW - timedelta(hours=STAGING_PUSHES - i)
        images.append(Image(f"sha256:staging-{i}", (f"staging-{i:040x}",), pushed))
        if i % 75 == 0:
            images.append(Image(f"sha256:prod-{i}", (f"prod-{i:040x}",), pushed + timedelta(minutes=5)))
    return images


def applied_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy document the repository holds after bootstrap's ``ensure_repository``."""
    with mock_aws():
        ecr = boto3.client("ecr", region_name="us-east-1")
        ensure_repository(ecr, "theobroma-geo-api", policy)
        document: dict[str, Any] = json.loads(
            ecr.get_lifecycle_policy(repositoryName="theobroma-geo-api")["lifecyclePolicyText"]
        )
        return document


def test_the_shared_rule_expired_what_production_runs() -> None:
    """The scenario is the one that went wrong: with one rule for every image, production's image goes."""
    gone = expired(SHARED_RULE, registry_history(), NOW)
    assert "sha256:prod-0" in gone and "sha256:legacy-a" in gone


def test_production_images_never_expire_and_staging_keeps_its_newest() -> None:
    images = registry_history()
    policy = applied_policy(lifecycle_policy(CONFIG))
    gone = expired(policy, images, NOW)
    production = {i.digest for i in images if i.tags and i.tags[0].startswith("prod-")}
    staging = sorted((i for i in images if i.tags and i.tags[0].startswith("staging-")), key=lambda i: i.pushed_at)
    keep = CONFIG.environment("staging").image_retention
    assert isinstance(keep, int) and keep < STAGING_PUSHES
    assert len(production) == STAGING_PUSHES // 75
    assert not production & gone, "a production image expired"
    assert gone == {i.digest for i in staging[:-keep]}
    # Staging's newest images (its last known good among them while it deploys) stay, so do images
    # tagged before the prefixes and untagged ones (no rule selects them).
    assert not {i.digest for i in staging[-keep:]} & gone
    assert {"sha256:legacy-a", "sha256:legacy-b", "sha256:untagged"}.isdisjoint(gone)


def test_each_environment_has_its_prefix() -> None:
    assert CONFIG.environment("production").image_tag_prefix == "prod-"
    assert CONFIG.environment("production").image_retention == "forever"
    assert CONFIG.environment("staging").image_tag_prefix == "staging-"


def _config(staging: str, production: str) -> str:
    return (
        f'[environments.staging]\nregion = "us-east-1"\ndomain = "s.example"\n{staging}\n'
        f'[environments.production]\nregion = "us-east-1"\ndomain = "p.example"\n{production}\n'
    )


@pytest.mark.parametrize(
    ("staging", "production", "message"),
    [
        ('image_tag_prefix = "p"', 'image_tag_prefix = "prod-"', None),
        ('image_tag_prefix = "pr-"\nimage_retention = 10', 'image_tag_prefix = "pr-"', "kept both forever and for 10"),
        ('image_tag_prefix = "p-"\nimage_retention = 10', 'image_tag_prefix = "p-"\nimage_retention = 20', "10 and 20"),
        (
            'image_tag_prefix = "p-"\nimage_retention = 10',
            'image_tag_prefix = "p-x-"',
            r"the rule for p-\* selects them",
        ),
    ],
)
def test_conflicting_retention_is_refused(staging: str, production: str, message: str | None) -> None:
    if message is None:
        with pytest.raises(DeployError, match="must be empty or a tag prefix"):
            parse_config(_config(staging, production))
        return
    with pytest.raises(DeployError, match=message):
        lifecycle_policy(parse_config(_config(staging, production)))


def test_no_counted_prefix_means_no_policy() -> None:
    config = parse_config(_config('image_tag_prefix = "s-"', 'image_tag_prefix = "p-"'))
    assert lifecycle_policy(config) == {"rules": []}
    with mock_aws():
        ecr = boto3.client("ecr", region_name="us-east-1")
        ensure_repository(ecr, "repo", SHARED_RULE)
        ensure_repository(ecr, "repo", lifecycle_policy(config))
        with pytest.raises(ecr.exceptions.LifecyclePolicyNotFoundException):
            ecr.get_lifecycle_policy(repositoryName="repo")
        ensure_repository(ecr, "repo", lifecycle_policy(config))  # idempotent
