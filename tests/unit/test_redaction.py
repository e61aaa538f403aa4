"""Every value a plan marks sensitive is redacted from everything the tool prints, posts or records,
and a secret-looking ``--set-env`` value is refused before anything runs.

Terraform here is a stand-in engine (a Python script): its ``show -json`` answers a plan that marks
a password sensitive, and its other commands print that password the way a provider error or an
unmasked diff would. The tool learns the sensitive values from the plan JSON; from then on the
plan text, Terraform's streamed output, error messages, ledger records and the CLI's own lines
carry ``(sensitive)`` instead.
"""

from __future__ import annotations

import io
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from deploytool import plansummary
from deploytool.cli import main
from deploytool.config import load_config
from deploytool.errors import DeployError
from deploytool.ledger import Record
from deploytool.stack import Stack, Target
from deploytool.toolchain import Engine

REPO = Path(__file__).resolve().parents[2]
SECRET = "Pw-7f3a9c1e5b2d4"

PLAN = {
    "format_version": "1.2",
    "resource_changes": [
        {
            "address": "aws_db_instance.this",
            "mode": "managed",
            "type": "aws_db_instance",
            "change": {
                "actions": ["update"],
                "before": {"password": "old-password-value"},
                "after": {"password": SECRET},
                "before_sensitive": {"password": True},
                "after_sensitive": {"password": True},
            },
        }
    ],
}

FAKE_TERRAFORM = textwrap.dedent(
    f"""
    import sys
    args = sys.argv[1:]
    if args[:1] == ["show"] and "-json" in args:
        print({json.dumps(json.dumps(PLAN))})
    elif args[:1] == ["show"]:
        print('  ~ resource "aws_db_instance" "this" {{')
        print('      ~ password = "{SECRET}"')
        print("    }}")
    elif args[:1] == ["apply"]:
        print("aws_db_instance.this: Modifying... [password={SECRET}]", flush=True)
    elif args[:1] == ["fail"]:
        print("Error: InvalidParameterValue: MasterUserPassword {SECRET} is not valid", file=sys.stderr)
        sys.exit(1)
    """
)


class FakeS3:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.bodies.append(kwargs["Body"].decode())
        return {}


@pytest.fixture()
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Target:
    monkeypatch.setenv("DEPLOYTOOL_DATA_DIR", str(tmp_path / "data"))
    config = load_config(REPO / "deploy.toml")
    return Target(
        config=config,
        settings=config.environment("staging"),
        engine=Engine("fake", (sys.executable, "-c", FAKE_TERRAFORM)),
        progress=io.StringIO(),
    )


def learned(target: Target, tmp_path: Path) -> Stack:
    """A stack of ``target`` whose plan (with its sensitive password) has been read."""
    stack = Stack(target, "app", "staging-x")
    plan = stack.runner.show_json(tmp_path / "plan")
    assert SECRET in plansummary.sensitive_values(plan)
    return stack


def test_plan_text_terraform_output_and_errors_hide_the_plan_s_sensitive_values(target: Target, tmp_path: Path) -> None:
    stack = learned(target, tmp_path)

    text = stack.runner.show_text(tmp_path / "plan")
    assert SECRET not in text
    assert f'password = "{plansummary.REDACTED}"' in text

    stack.runner.apply(tmp_path / "plan")
    streamed = target.progress.getvalue()  # type: ignore[attr-defined]
    assert "Modifying..." in streamed
    assert SECRET not in streamed

    with pytest.raises(DeployError) as caught:
        stack.runner.run(["fail"])
    assert "MasterUserPassword" in caught.value.message
    assert SECRET not in caught.value.message


def test_a_stack_opened_later_in_the_run_redacts_too(target: Target, tmp_path: Path) -> None:
    learned(target, tmp_path)
    other = Stack(target, "platform", "default")
    with pytest.raises(DeployError) as caught:
        other.runner.run(["fail"])
    assert SECRET not in caught.value.message


def test_ledger_records_hide_the_plan_s_sensitive_values(target: Target, tmp_path: Path) -> None:
    learned(target, tmp_path)
    ledger = target.ledger()
    ledger.s3 = s3 = FakeS3()
    record = Record(env="staging", workspace="staging-x", stack="app", action="deploy", image_after="v2")
    record.message = f"terraform apply failed: MasterUserPassword {SECRET} is not valid"
    ledger.write(record)
    assert s3.bodies and all(SECRET not in body for body in s3.bodies)
    assert plansummary.REDACTED in json.loads(s3.bodies[-1])["message"]


def test_cli_progress_and_error_lines_hide_the_plan_s_sensitive_values(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    learned(target, tmp_path)
    monkeypatch.setattr("deploytool.cli.base.resolve_target", lambda *a, **k: target)

    def deploy(*_: Any, progress: Any, **__: Any) -> Any:
        progress(f"verifying with password {SECRET}")
        raise DeployError(f"verification failed: {SECRET} rejected")

    monkeypatch.setattr("deploytool.release.deploy_release", deploy)
    result = CliRunner().invoke(main, ["deploy", "--env", "staging", "--branch", "x", "--image-tag", "v2", "--yes"])
    assert result.exit_code == 1, result.output
    assert "verifying with password" in result.output and "rejected" in result.output
    assert SECRET not in result.output


@pytest.mark.parametrize(
    "assignment",
    ["API_TOKEN=tok-5d0c1f9e2a", "DB_PASSWORD=tok-5d0c1f9e2a", "DATABASE_URL=postgresql://app:tok-5d0c1f9e2a@db/geo"],
)
def test_a_secret_looking_set_env_is_refused_before_anything_runs(
    assignment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    monkeypatch.setattr("deploytool.cli.stacks.make_target", lambda *a: object())
    monkeypatch.setattr("deploytool.release.strategy_for", lambda *a, **k: calls.append(a))
    args = ["deploy", "--env", "staging", "--branch", "x", "--image-tag", "v2", "--set-env", assignment, "--yes"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    name = assignment.split("=", 1)[0]
    assert f"{name} looks like a secret" in result.output
    assert "[secrets]" in result.output
    assert "tok-5d0c1f9e2a" not in result.output
    assert calls == []
