"""No secret leaves where it belongs: a whole branch lifecycle and a production (blue-green)
lifecycle through the CLI, everything they wrote or printed collected and searched for the
database password and the other secrets. A secret passed with ``--set-env`` is refused, never
deployed, so it is searched for too.

The database password lives in the emulator's Secrets Manager (``theobroma/local/db-master-password``,
made by ``bootstrap``). Terraform state legitimately holds it (the platform's database resource);
state is encrypted at rest in the bucket and is not searched, except as a check that the search
would find the password where it is. Saved plan files hold what state holds; the tool never prints
their raw JSON, so the platform's is not searched either (the app stack's, which never sees the
password, is).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from deploytool import plansummary
from deploytool.localrun import push_stand_in_image
from deploytool.stack import Stack
from tests.conftest import REPO, Emulator
from tests.githubstub import GitHubStub

pytestmark = pytest.mark.apply

BRANCH = "reliability/secrets"
GITHUB_REPO = "acme/geo-api"
PR = 7
SET_ENV_TOKEN = "tok-3b9e1d7c5a2f8e60"  # what a user might pass as --set-env API_TOKEN=...


@dataclass
class Evidence:
    """Everything the lifecycle printed or wrote, by where it came from."""

    texts: dict[str, str] = field(default_factory=dict)

    def add(self, where: str, text: str | bytes) -> None:
        self.texts[where] = text.decode("utf-8", "replace") if isinstance(text, bytes) else text

    def leaks(self, secret: str) -> list[str]:
        return sorted(where for where, text in self.texts.items() if secret in text)


def cli(
    evidence: Evidence, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``deploytool`` as a process (the session's home, data dir and emulator) and keep its output."""
    proc = subprocess.run(
        [sys.executable, "-m", "deploytool.cli", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    label = f"#{len(evidence.texts) // 2} deploytool {' '.join(args[:2])}"
    evidence.add(f"{label} stdout", proc.stdout)
    evidence.add(f"{label} stderr", proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


def test_no_secret_in_anything_a_lifecycle_prints_or_writes(
    local_target: Any, local_platform: dict[str, Any], emulator: Emulator, local_data_dir: Path
) -> None:
    names = local_target.names(BRANCH)
    password = emulator.client("secretsmanager").get_secret_value(SecretId="theobroma/local/db-master-password")[
        "SecretString"
    ]
    app_password = emulator.client("secretsmanager").get_secret_value(SecretId="theobroma/local/db-app-password")[
        "SecretString"
    ]
    assert len(password) >= 16
    evidence = Evidence()
    target = ["--env", "local", "--branch", BRANCH]

    for tag in ("s1", "s2"):
        push_stand_in_image(local_target, tag)  # what CI's build job does: deploy refuses a tag not in ECR
    with GitHubStub() as github:
        github.add_pull_request(GITHUB_REPO, PR)
        assert cli(evidence, "deploy", *target, "--image-tag", "s1", "--yes").returncode == 0
        assert cli(evidence, "render", *target, "--image-tag", "s2").returncode == 0
        assert cli(evidence, "plan", *target, "--image-tag", "s2", "--output", "json").returncode == 0
        app_plan = local_data_dir / "evidence-app.tfplan"
        markdown = cli(evidence, "plan", *target, "--image-tag", "s2", "--output", "markdown", "--out", str(app_plan))
        assert markdown.returncode == 0
        comment = markdown.stdout
        assert "<!-- deploytool:local -->" in comment
        posted = cli(
            evidence,
            "github",
            "comment",
            "--repo",
            GITHUB_REPO,
            "--pr",
            str(PR),
            "--marker",
            "local",
            "--body-file",
            "-",
            "--api-url",
            github.url,
            stdin=comment,
            env={"GITHUB_TOKEN": github.token},
        )
        assert posted.returncode == 0
        for number, body in enumerate(github.bodies(GITHUB_REPO, PR)):
            evidence.add(f"PR comment {number}", body)
        platform_plan = local_data_dir / "evidence-platform.tfplan"
        platform_args = ["--stack", "platform", "--output", "markdown", "--out", str(platform_plan)]
        assert cli(evidence, "plan", "--env", "local", *platform_args).returncode == 0
        # A release that fails verification: rolled back automatically (exit 3) ...
        broken = ["--set-env", "GEOAPI_REQUIRE_DATABASE=true", "--set-env", "DATABASE_URL="]
        assert cli(evidence, "deploy", *target, "--image-tag", "s2", *broken, "--yes").returncode == 3
        # ... a secret passed as a plain variable is refused before anything runs ...
        refused = cli(
            evidence, "deploy", *target, "--image-tag", "s3", "--set-env", f"API_TOKEN={SET_ENV_TOKEN}", "--yes"
        )
        assert refused.returncode == 1 and "API_TOKEN looks like a secret" in refused.stderr, refused.stderr
        # ... an on-demand rollback with nothing left to go back to is an error message ...
        assert cli(evidence, "rollback", *target, "--yes").returncode == 1
        assert cli(evidence, "history", *target, "--output", "json").returncode == 0

        # What the data directory holds: rendered tfvars, and the saved plans as `terraform show` renders them
        app = Stack(local_target, "app", names.workspace)
        platform = Stack(local_target, "platform", "default")
        for path in sorted(local_data_dir.rglob("*")):
            if path.is_file() and path.suffix in (".tfvars", ".hcl", ".log", ".json", ".sha256"):
                evidence.add(f"file {path.relative_to(local_data_dir)}", path.read_bytes())
        # Plans the tool saved for itself are gone once applied (they hold what state holds); the
        # ones asked for with --out stay and are rendered here.
        assert not [p for p in local_data_dir.rglob("deploytool.tfplan")], "a saved plan was left behind"
        evidence.add("app plan (show)", app.runner.run(["show", "-no-color", str(app_plan)], stream=False).stdout)
        evidence.add("app plan (show -json)", json.dumps(app.runner.show_json(app_plan)))
        evidence.add(
            "platform plan (show)", platform.runner.run(["show", "-no-color", str(platform_plan)], stream=False).stdout
        )
        platform_json = platform.runner.show_json(platform_plan)
        evidence.add("platform plan summary", json.dumps(plansummary.summarize(platform_json).to_dict()))

        # ... and the branch is destroyed as on merge
        assert cli(evidence, "destroy", *target, "--yes").returncode == 0

    s3 = emulator.client("s3")
    bucket = local_target.state_bucket
    ledger_prefix = f"{local_target.config.project.ledger_prefix}/local/"
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=ledger_prefix).get("Contents", []):
        evidence.add(f"ledger {item['Key']}", s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    assert any(where.startswith(f"ledger {ledger_prefix}{names.workspace}/") for where in evidence.texts)

    # The search works: the password is where it belongs (platform state and plan), found by the same test.
    state = s3.get_object(Bucket=bucket, Key="local/platform/terraform.tfstate")["Body"].read().decode()
    assert password in state
    sensitive = plansummary.sensitive_values(platform_json)
    assert password in sensitive

    secrets = {
        "the database password": password,
        "the service role's password": app_password,
        "the GitHub token": github.token,
        "--set-env": SET_ENV_TOKEN,
    }
    secrets.update(
        {f"sensitive plan value #{i}": value for i, value in enumerate(sorted(sensitive)) if len(value) >= 8}
    )
    leaks = {name: evidence.leaks(value) for name, value in secrets.items()}
    assert not any(leaks.values()), f"secrets found in: {leaks}"
    assert len(evidence.texts) > 20, sorted(evidence.texts)


def test_no_secret_in_anything_a_production_lifecycle_prints_or_writes(
    production_target: Any, production_platform: dict[str, Any], emulator: Emulator, local_data_dir: Path
) -> None:
    """The same search over a blue-green lifecycle of ``production`` on the emulator: deploys (one
    failing on the idle colour), a refused ``--set-env`` secret, the platform plan (JSON summary,
    markdown) and its PR comment, rollback, finalize and history."""
    password = emulator.client("secretsmanager").get_secret_value(SecretId="theobroma/production/db-master-password")[
        "SecretString"
    ]
    app_password = emulator.client("secretsmanager").get_secret_value(SecretId="theobroma/production/db-app-password")[
        "SecretString"
    ]
    evidence = Evidence()
    target = ["--env", "production", "--local"]

    for tag in ("prod-p1", "prod-p2", "prod-p3"):
        push_stand_in_image(production_target, tag)  # what CI's build job does: deploy refuses a tag not in ECR
    with GitHubStub() as github:
        github.add_pull_request(GITHUB_REPO, PR)
        # --finalize-first: a release of another test in this session may still bake.
        assert cli(evidence, "deploy", *target, "--image-tag", "prod-p1", "--finalize-first", "--yes").returncode == 0
        # The app plan stages the next release on the idle colour; the platform's plan is the one a
        # production PR comment shows.
        assert cli(evidence, "plan", *target, "--image-tag", "prod-p2", "--output", "json").returncode == 0
        platform_plan = local_data_dir / "evidence-production-platform.tfplan"
        platform_args = ["--stack", "platform", "--output", "markdown", "--out", str(platform_plan)]
        markdown = cli(evidence, "plan", *target, *platform_args)
        assert markdown.returncode == 0
        assert "<!-- deploytool:production -->" in markdown.stdout
        assert cli(evidence, "plan", *target, "--stack", "platform", "--output", "json").returncode == 0
        comment = ["github", "comment", "--repo", GITHUB_REPO, "--pr", str(PR), "--marker", "production"]
        posted = cli(
            evidence,
            *comment,
            "--body-file",
            "-",
            "--api-url",
            github.url,
            stdin=markdown.stdout,
            env={"GITHUB_TOKEN": github.token},
        )
        assert posted.returncode == 0
        for number, body in enumerate(github.bodies(GITHUB_REPO, PR)):
            evidence.add(f"PR comment {number}", body)
        broken = ["--set-env", "GEOAPI_REQUIRE_DATABASE=true", "--set-env", "DATABASE_URL="]
        # prod-p1 bakes when it was a switch (not the first release): end the bake to stage prod-p2.
        deploy_p2 = ["deploy", *target, "--image-tag", "prod-p2", *broken, "--finalize-first", "--yes"]
        assert cli(evidence, *deploy_p2).returncode == 3
        secret_env = ["--set-env", f"API_TOKEN={SET_ENV_TOKEN}"]
        refused = cli(evidence, "deploy", *target, "--image-tag", "prod-p3", *secret_env, "--yes")
        assert refused.returncode == 1 and "API_TOKEN looks like a secret" in refused.stderr, refused.stderr
        assert cli(evidence, "deploy", *target, "--image-tag", "prod-p3", "--yes").returncode == 0
        assert cli(evidence, "rollback", *target, "--yes").returncode == 0
        assert cli(evidence, "finalize", *target, "--yes").returncode == 0
        assert cli(evidence, "history", *target, "--output", "json").returncode == 0

    platform = Stack(production_target, "platform", "default")
    for path in sorted(local_data_dir.rglob("*")):
        if path.is_file() and path.suffix in (".tfvars", ".hcl", ".log", ".json", ".sha256"):
            evidence.add(f"file {path.relative_to(local_data_dir)}", path.read_bytes())
    evidence.add(
        "platform plan (show)", platform.runner.run(["show", "-no-color", str(platform_plan)], stream=False).stdout
    )
    platform_json = platform.runner.show_json(platform_plan)
    evidence.add("platform plan summary", json.dumps(plansummary.summarize(platform_json).to_dict()))

    s3 = emulator.client("s3")
    bucket = production_target.state_bucket
    ledger_prefix = f"{production_target.config.project.ledger_prefix}/production/"
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=ledger_prefix).get("Contents", []):
        evidence.add(f"ledger {item['Key']}", s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    assert any(where.startswith(f"ledger {ledger_prefix}default/") for where in evidence.texts)

    state = s3.get_object(Bucket=bucket, Key="production/platform/terraform.tfstate")["Body"].read().decode()
    assert password in state
    sensitive = plansummary.sensitive_values(platform_json)
    assert password in sensitive

    secrets = {
        "the database password": password,
        "the service role's password": app_password,
        "the GitHub token": github.token,
        "--set-env": SET_ENV_TOKEN,
    }
    secrets.update(
        {f"sensitive plan value #{i}": value for i, value in enumerate(sorted(sensitive)) if len(value) >= 8}
    )
    leaks = {name: evidence.leaks(value) for name, value in secrets.items()}
    assert not any(leaks.values()), f"secrets found in: {leaks}"
    assert len(evidence.texts) > 20, sorted(evidence.texts)
