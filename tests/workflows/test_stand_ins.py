"""The stand-ins of tests/workflows/actions/ are valid composite actions covering every action the
workflows use (act maps them by the exact pinned reference)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.workflows.actrun import ACTIONS, REPO, STAND_INS, push_starts_run


def test_every_used_action_has_a_stand_in() -> None:
    used = set()
    for workflow in (REPO / ".github" / "workflows").glob("*.yml"):
        used |= set(re.findall(r"uses:\s*([\w.-]+/[\w.-]+@[0-9a-f]{40})", workflow.read_text()))
    used = {ref for ref in used if not ref.startswith("actions/checkout@")}  # act skips checkout
    assert used == set(STAND_INS)


def test_stand_ins_are_composite_actions() -> None:
    for directory in STAND_INS.values():
        action = yaml.safe_load((ACTIONS / directory / "action.yml").read_text())
        assert action["runs"]["using"] == "composite", directory
        assert all(step.get("shell") == "bash" for step in action["runs"]["steps"] if "run" in step), directory


def _run(script: Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run(
        [sys.executable, str(script)], cwd=cwd, env=full, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_credentials_stand_in_assumes_only_a_role_that_exists(emulator: Any, tmp_path: Path) -> None:
    script = ACTIONS / "configure-aws-credentials" / "assume.py"
    github_env, github_output = tmp_path / "env", tmp_path / "output"
    github_env.touch()
    github_output.touch()
    log = Path(os.environ["DEPLOYTOOL_HOME"]) / "assumed-roles.jsonl"
    before = log.read_text() if log.is_file() else ""
    base = {"GITHUB_ENV": str(github_env), "GITHUB_OUTPUT": str(github_output), "INPUT_AWS_REGION": "us-east-1"}
    role = "arn:aws:iam::123456789012:role/stand-in-check"

    missing = _run(script, tmp_path, {**base, "INPUT_ROLE_TO_ASSUME": role, "INPUT_ROLE_SESSION_NAME": "s-1"})
    assert missing.returncode == 1 and "Could not assume role" in missing.stdout
    unset = _run(script, tmp_path, {**base, "INPUT_ROLE_TO_ASSUME": ""})
    assert unset.returncode == 1 and "Credentials could not be loaded" in unset.stdout
    bad_session = _run(script, tmp_path, {**base, "INPUT_ROLE_TO_ASSUME": role, "INPUT_ROLE_SESSION_NAME": "a b"})
    assert bad_session.returncode == 1 and "role-session-name" in bad_session.stdout
    assert github_env.read_text() == "" and (log.read_text() if log.is_file() else "") == before

    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    emulator.client("iam").create_role(RoleName="stand-in-check", AssumeRolePolicyDocument=json.dumps(trust))
    ok = _run(script, tmp_path, {**base, "INPUT_ROLE_TO_ASSUME": role, "INPUT_ROLE_SESSION_NAME": "s-1"})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    exported = dict(line.split("=", 1) for line in github_env.read_text().splitlines())
    assert exported["DEPLOYTOOL_EMULATOR_URL"] == emulator.endpoint == exported["AWS_ENDPOINT_URL"]
    assert exported["AWS_SESSION_TOKEN"] and exported["AWS_REGION"] == "us-east-1"
    assert json.loads(log.read_text().splitlines()[-1])["role"] == role
    assert github_output.read_text() == "aws-account-id=123456789012\n"


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("ghcr.io/acme/theobroma-geo-api:staging-abc", "is not the ECR registry"),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/theobroma-geo-api:staging-abc", "is not the ECR registry"),
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/other-repo:staging-abc",
            "is not deploy.toml's image_repository",
        ),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/theobroma-geo-api:latest", "carries no environment's"),
    ],
)
def test_the_build_push_stand_in_refuses_what_a_push_would_not_do(tag: str, message: str, tmp_path: Path) -> None:
    shutil.copy2(REPO / "deploy.toml", tmp_path / "deploy.toml")
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM scratch\n")
    env = {
        "INPUT_CONTEXT": "ctx",
        "INPUT_PUSH": "true",
        "INPUT_TAGS": tag,
        "AWS_REGION": "us-east-1",
        "PATH": "/nonexistent",
    }
    result = _run(ACTIONS / "build-push-action" / "push.py", tmp_path, env)
    assert result.returncode == 1 and message in result.stdout


def test_the_build_push_stand_in_needs_a_dockerfile(tmp_path: Path) -> None:
    shutil.copy2(REPO / "deploy.toml", tmp_path / "deploy.toml")
    env = {"INPUT_CONTEXT": "nowhere", "INPUT_PUSH": "true", "INPUT_TAGS": "x", "AWS_REGION": "us-east-1"}
    result = _run(ACTIONS / "build-push-action" / "push.py", tmp_path, env)
    assert result.returncode == 1 and "no Dockerfile" in result.stdout


def _fake_deploytool(tmp_path: Path) -> tuple[Path, Path]:
    """A ``deploytool`` on PATH that records its arguments, one JSON list per call."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.jsonl"
    bin_dir.mkdir()
    fake = bin_dir / "deploytool"
    fake.write_text(
        f"#!{sys.executable}\nimport json, sys\nopen({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    fake.chmod(0o755)
    return bin_dir, calls


def test_the_build_push_stand_in_pushes_the_env_of_the_contexts_stand_in_image_env_file(tmp_path: Path) -> None:
    shutil.copy2(REPO / "deploy.toml", tmp_path / "deploy.toml")
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM scratch\n")
    bin_dir, calls = _fake_deploytool(tmp_path)
    tag = "123456789012.dkr.ecr.us-east-1.amazonaws.com/theobroma-geo-api:staging-abc"
    env = {"INPUT_CONTEXT": "ctx", "INPUT_PUSH": "true", "INPUT_TAGS": tag, "AWS_REGION": "us-east-1"}
    env["PATH"] = f"{bin_dir}:{os.environ['PATH']}"
    script = ACTIONS / "build-push-action" / "push.py"
    base = ["emulator", "push-image", "--env", "staging", "--image-tag", "staging-abc"]

    plain = _run(script, tmp_path, env)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    (tmp_path / "ctx" / ".stand-in-image-env").write_text("# a broken build\n\nGEOAPI_FAULT=exit-after:2\nNOTE=a=b\n")
    broken = _run(script, tmp_path, env)
    assert broken.returncode == 0, broken.stdout + broken.stderr
    assert [json.loads(line) for line in calls.read_text().splitlines()] == [
        base,
        [*base, "--image-env", "GEOAPI_FAULT=exit-after:2", "--image-env", "NOTE=a=b"],
    ]
    assert "image env GEOAPI_FAULT=exit-after:2, NOTE=a=b" in broken.stdout

    (tmp_path / "ctx" / ".stand-in-image-env").write_text("not a pair\n")
    bad = _run(script, tmp_path, env)
    assert bad.returncode == 1 and ".stand-in-image-env" in bad.stdout


@pytest.mark.parametrize(
    ("workflow", "starts", "starts_not"),
    [
        (
            "deploy-staging.yml",
            [
                "refs/heads/feature/new-api-endpoint",
                "refs/heads/feature/a/b",
                "refs/heads/hotfix/x",
                "refs/heads/develop",
            ],
            ["refs/heads/main", "refs/heads/feature", "refs/heads/developer", "refs/heads/fix/x", "refs/tags/v1.2.3"],
        ),
        (
            "deploy-production.yml",
            ["refs/heads/main", "refs/tags/v1.2.3", "refs/tags/v2"],
            ["refs/heads/develop", "refs/heads/feature/x", "refs/heads/main-old", "refs/tags/1.2.3"],
        ),
        ("cleanup.yml", [], ["refs/heads/main", "refs/tags/v1.2.3"]),
    ],
)
def test_pushes_start_runs_as_the_deployment_guide_says(
    workflow: str, starts: list[str], starts_not: list[str]
) -> None:
    """act runs a workflow for any push; the act harness filters pushes as GitHub does, so the
    scenarios' pushes reach only the workflows the guide names: staging for ``feature/*``,
    ``hotfix/*`` and ``develop``, production for ``main`` and ``v*`` tags."""
    path = REPO / ".github" / "workflows" / workflow
    assert [ref for ref in starts if not push_starts_run(path, ref)] == []
    assert [ref for ref in starts_not if push_starts_run(path, ref)] == []


def test_push_filters_follow_githubs_rules(tmp_path: Path) -> None:
    workflow = tmp_path / "w.yml"
    workflow.write_text("on:\n  push:\n    branches: ['releases/**', '!releases/**-alpha']\n")
    assert push_starts_run(workflow, "refs/heads/releases/10")
    assert not push_starts_run(workflow, "refs/heads/releases/10-alpha")
    assert not push_starts_run(workflow, "refs/tags/releases/10"), "branch filters only: no tag push"
    workflow.write_text("on:\n  push:\n    branches-ignore: ['docs/*']\n")
    assert push_starts_run(workflow, "refs/heads/main") and not push_starts_run(workflow, "refs/heads/docs/a")
    workflow.write_text("on: [push]\n")
    assert push_starts_run(workflow, "refs/tags/anything")
    workflow.write_text("on:\n  push:\n    branches: ['v?']\n")
    with pytest.raises(ValueError, match="not handled"):
        push_starts_run(workflow, "refs/heads/v1")
