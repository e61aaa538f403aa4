"""Stand-in images carry an environment, as a Docker image carries ENV: ``push_stand_in_image`` puts it in
the manifest it pushes to the emulator's ECR (moto in-process here, which keeps a manifest byte for byte),
and the local stand-in applies it under the task definition's environment when it starts a task; an image
that is not in ECR is not pulled, so the task does not start (CannotPullContainerError)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from deploytool.config import load_config
from deploytool.errors import DeployError
from deploytool.localrun import LocalRuntime, parse_image_env, push_stand_in_image
from tests.conftest import REPO

CONFIG = load_config(REPO / "deploy.toml")
REPOSITORY = CONFIG.project.image_repository
REGION = "us-east-1"


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # moto in-process, not a running emulator
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        made: dict[str, Any] = {}

        def client(service: str) -> Any:
            if service not in made:
                made[service] = boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
            return made[service]

        # The repository as bootstrap makes it: immutable tags.
        client("ecr").create_repository(repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE")
        yield client


def target(clients: Any, tmp_path: Path) -> Any:
    return SimpleNamespace(
        env="staging",
        local=True,
        settings=CONFIG.environment("staging"),
        config=CONFIG,
        data_root=tmp_path,
        clients=lambda: clients,
        runtime_clients=lambda: clients,
    )


def manifest_of(clients: Any, tag: str) -> dict[str, Any]:
    (image,) = clients("ecr").batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])["images"]
    return dict(json.loads(image["imageManifest"]))


def image_uri(clients: Any, tag: str) -> str:
    (repo,) = clients("ecr").describe_repositories(repositoryNames=[REPOSITORY])["repositories"]
    return f"{repo['repositoryUri']}:{tag}"


def test_the_image_env_is_in_the_pushed_manifest_and_a_push_is_idempotent_per_tag_and_env(
    clients: Any, tmp_path: Path
) -> None:
    t = target(clients, tmp_path)
    plain = push_stand_in_image(t, "staging-plain")
    assert "annotations" not in manifest_of(clients, "staging-plain")
    faulty = push_stand_in_image(t, "staging-faulty", {"GEOAPI_FAULT": "unhealthy"})
    assert faulty != plain
    assert push_stand_in_image(t, "staging-faulty", {"GEOAPI_FAULT": "unhealthy"}) == faulty
    assert push_stand_in_image(t, "staging-plain", {}) == plain
    runtime = LocalRuntime(t)
    assert runtime.image_environment(image_uri(clients, "staging-faulty")) == {"GEOAPI_FAULT": "unhealthy"}
    assert runtime.image_environment(image_uri(clients, "staging-plain")) == {}


@pytest.mark.parametrize("mutability", ["IMMUTABLE", "MUTABLE"])
def test_the_same_tag_with_another_env_is_refused_as_an_immutable_tag_is(
    clients: Any, tmp_path: Path, mutability: str
) -> None:
    ecr = clients("ecr")
    ecr.put_image_tag_mutability(repositoryName=REPOSITORY, imageTagMutability=mutability)
    t = target(clients, tmp_path)
    first = push_stand_in_image(t, "staging-v1", {"A": "1"})
    for other in ({"A": "2"}, None):
        with pytest.raises(DeployError, match="staging-v1 already holds another image"):
            push_stand_in_image(t, "staging-v1", other)
    (detail,) = ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": "staging-v1"}])["imageDetails"]
    assert detail["imageDigest"] == first
    assert manifest_of(clients, "staging-v1")["annotations"]


def task_definition(clients: Any, image: str, env: dict[str, str]) -> str:
    ecs = clients("ecs")
    arn = ecs.register_task_definition(
        family="geo-api",
        containerDefinitions=[
            {
                "name": "app",
                "image": image,
                "memory": 512,
                "environment": [{"name": k, "value": v} for k, v in env.items()],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    return str(arn)


PRINT_ENV = ["python", "-c", "import os; print(os.environ.get('SHARED'), os.environ.get('GEOAPI_FAULT'))"]


def test_a_one_off_task_gets_the_image_env_under_the_task_definitions(clients: Any, tmp_path: Path) -> None:
    t = target(clients, tmp_path)
    push_stand_in_image(t, "staging-v2", {"SHARED": "image", "GEOAPI_FAULT": "exit-after:2"})
    arn = task_definition(clients, image_uri(clients, "staging-v2"), {"SHARED": "task-definition"})
    result = LocalRuntime(t).run_one_off(SimpleNamespace(task_definition_arn=arn), PRINT_ENV, 30)
    assert result.ok, result.describe()
    assert result.log_tail == ["task-definition exit-after:2"]


def test_a_task_of_an_image_not_in_ecr_does_not_start(clients: Any, tmp_path: Path) -> None:
    t = target(clients, tmp_path)
    missing = image_uri(clients, "staging-missing")
    arn = task_definition(clients, missing, {})
    runtime = LocalRuntime(t)
    marker = tmp_path / "ran"
    command = ["python", "-c", f"open({str(marker)!r}, 'w').close()"]
    result = runtime.run_one_off(SimpleNamespace(task_definition_arn=arn), command, 30)
    assert result.exit_code is None
    assert "CannotPullContainerError" in result.reason and missing in result.reason
    assert not marker.exists()

    ecs = clients("ecs")
    ecs.create_cluster(clusterName="c")
    ecs.create_service(cluster="c", serviceName="geo-api", taskDefinition=arn, desiredCount=1)
    runtime.deploy("geo-api", "c")
    state = runtime.state("geo-api")
    assert state is not None and state.tasks == []
    (deployment,) = state.deployments
    assert deployment.rolloutState == "FAILED"
    assert "CannotPullContainerError" in deployment.rolloutStateReason
    assert deployment.failedTasks == 1
    assert runtime.running() == []


def test_image_env_items_are_key_value_pairs() -> None:
    assert parse_image_env(["GEOAPI_FAULT=exit-after:2", "A=x=y", "EMPTY="]) == {
        "GEOAPI_FAULT": "exit-after:2",
        "A": "x=y",
        "EMPTY": "",
    }
    for bad in ("NOEQUALS", "=v", "1X=v", "A B=v"):
        with pytest.raises(DeployError, match="KEY=VALUE"):
            parse_image_env([bad])
    with pytest.raises(DeployError, match="twice"):
        parse_image_env(["A=1", "A=2"])


def test_push_image_takes_repeatable_image_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from deploytool.cli import main

    pushed: list[tuple[str, Any]] = []
    monkeypatch.setattr("deploytool.cli.toolchain.make_target", lambda *a, **k: SimpleNamespace(local=True))
    monkeypatch.setattr(
        "deploytool.localrun.push_stand_in_image", lambda t, tag, env=None: pushed.append((tag, env)) or "sha256:x"
    )
    args = ["emulator", "push-image", "--env", "staging", "--image-tag", "staging-v3"]
    result = CliRunner().invoke(main, [*args, "--image-env", "A=1", "--image-env", "GEOAPI_FAULT=unhealthy"])
    assert result.exit_code == 0, result.output
    assert pushed == [("staging-v3", {"A": "1", "GEOAPI_FAULT": "unhealthy"})]
    assert CliRunner().invoke(main, [*args, "--image-env", "bad"]).exit_code != 0
