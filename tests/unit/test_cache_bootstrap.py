"""The cache's auth token: ``bootstrap`` generates it into Secrets Manager only for environments with
a cache, and the platform's inputs carry its ARN (never its value) exactly then."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from deploytool import bootstrap
from deploytool.config import load_config
from deploytool.errors import DeployError
from deploytool.inputs import platform_context
from deploytool.render import render_tfvars
from deploytool.stack import Target
from tests.conftest import REPO


def _target(*, cache: bool) -> Target:
    """The local environment under a project, repository and bucket of its own (fresh secrets, and
    nothing other tests look for), cache on or off."""
    config = load_config(REPO / "deploy.toml")
    name = f"cachetest{uuid.uuid4().hex[:6]}"
    project = config.project.model_copy(
        update={"name": name, "image_repository": f"{name}-geo-api", "state_bucket": f"{name}-state"}
    )
    config = config.model_copy(update={"project": project})
    settings = config.environment("local")
    settings = settings.model_copy(update={"platform": settings.platform.model_copy(update={"cache": cache})})
    return Target(config=config, settings=settings)


@pytest.fixture()
def aws() -> Iterator[None]:
    """AWS in-process (moto), as the other unit tests use it."""
    with mock_aws():
        yield


def _secret(name: str) -> dict[str, Any] | None:
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    try:
        return dict(sm.get_secret_value(SecretId=name))
    except sm.exceptions.ResourceNotFoundException:
        return None


@pytest.mark.usefixtures("aws")
def test_bootstrap_makes_the_token_only_with_a_cache() -> None:
    without = _target(cache=False)
    bootstrap.bootstrap(without)
    assert _secret(bootstrap.cache_secret_name(without)) is None
    assert platform_context(without)["cache_secret_arn"] is None

    with_cache = _target(cache=True)
    result = bootstrap.bootstrap(with_cache)
    secret = _secret(bootstrap.cache_secret_name(with_cache))
    assert secret is not None and secret["ARN"] in result.created
    token = secret["SecretString"]
    # ElastiCache: 16-128 printable characters, none of space, /, " or @.
    assert 16 <= len(token) <= 128 and not set(token) & set(' /"@')
    # Bootstrap again keeps it.
    bootstrap.bootstrap(with_cache)
    assert _secret(bootstrap.cache_secret_name(with_cache))["SecretString"] == token  # type: ignore[index]

    context = platform_context(with_cache)
    assert context["cache_secret_arn"] == secret["ARN"]
    tfvars = render_tfvars(REPO / "environments" / "staging" / "platform", context)
    assert secret["ARN"] in tfvars and token not in tfvars


@pytest.mark.usefixtures("aws")
def test_a_cache_without_its_token_says_to_bootstrap() -> None:
    target = _target(cache=False)
    bootstrap.bootstrap(target)
    on = Target(
        config=target.config,
        settings=target.settings.model_copy(
            update={"platform": target.settings.platform.model_copy(update={"cache": True})}
        ),
    )
    with pytest.raises(DeployError, match="cache-auth-token does not exist; run `deploytool bootstrap"):
        platform_context(on)
