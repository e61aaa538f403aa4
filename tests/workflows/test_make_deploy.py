"""`make deploy` deploys the image CI pushed for the checked-out commit, by the tag CI gives it.

The workflows push images tagged from an expression (the environment's prefix and
``${{ github.sha }}``, the full commit SHA); the Makefile's default ``IMAGE_TAG`` must name the
same image, or a local deploy asks ECR for a tag that does not exist. Both are read from their
files here (the workflow as YAML, the Makefile through ``make -n``), so the two cannot drift apart.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
PUSHING_WORKFLOWS = ("deploy-staging.yml", "deploy-production.yml")

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"not a git checkout: {result.stderr.strip()}")
    return result.stdout.strip()


def pushed_tag_templates(name: str) -> list[str]:
    """The tag part (after the last ``:``) of every image a workflow pushes with build-push-action,
    with ``${{ env.X }}`` resolved from the job's or the workflow's ``env``."""
    workflow: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    templates = []
    for job in workflow["jobs"].values():
        env = {**(workflow.get("env") or {}), **(job.get("env") or {})}
        for step in job.get("steps", []):
            with_ = step.get("with") or {}
            if str(step.get("uses", "")).startswith("docker/build-push-action@") and with_.get("push"):
                for ref in filter(None, (r.strip() for r in re.split(r"[\n,]", str(with_["tags"])))):
                    tag = ref.rsplit(":", 1)[1]
                    templates.append(re.sub(r"\$\{\{\s*env\.(\w+)\s*\}\}", lambda m, e=env: str(e[m.group(1)]), tag))
    return templates


def tag_for_head(template: str) -> str:
    """What ``template`` is for the checked-out commit; fails on an expression this test cannot map."""
    head = git("rev-parse", "HEAD")
    tag = re.sub(r"\$\{\{\s*github\.(sha|event\.pull_request\.head\.sha)\s*\}\}", head, template)
    assert "${{" not in tag, f"the workflows tag images with {template!r}: teach the Makefile and this test"
    return tag


def make_dry_run(*args: str) -> list[str]:
    """The deploytool command line ``make -n <args>`` would run."""
    env = {k: v for k, v in os.environ.items() if k not in ("ENV", "BRANCH", "IMAGE_TAG", "YES", "MAKEFLAGS")}
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", *args], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    lines = [line for line in result.stdout.splitlines() if "deploytool" in line and " deploy " in f"{line} "]
    assert len(lines) == 1, result.stdout
    return shlex.split(lines[0])


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_each_workflow_pushes_one_tag_format() -> None:
    for name in PUSHING_WORKFLOWS:
        assert len(set(pushed_tag_templates(name))) == 1, name


@pytest.mark.parametrize(
    ("workflow", "env"), [("deploy-staging.yml", "staging"), ("deploy-production.yml", "production")]
)
def test_make_deploy_defaults_to_the_tag_ci_pushes_for_head(workflow: str, env: str) -> None:
    [template] = set(pushed_tag_templates(workflow))
    argv = make_dry_run("deploy", f"ENV={env}")
    assert argv[1:4] == ["deploy", "--env", env]
    assert option(argv, "--image-tag") == tag_for_head(template)
    assert "--yes" not in argv


def test_image_tag_and_yes_can_be_given() -> None:
    argv = make_dry_run("deploy", "ENV=staging", "IMAGE_TAG=v1.2.3", "YES=1")
    assert option(argv, "--image-tag") == "v1.2.3"
    assert "--yes" in argv
    assert "--yes" not in make_dry_run("deploy", "ENV=staging", "YES=0")
