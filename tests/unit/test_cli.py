"""The command surface: help, exit codes, one-line errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from deploytool.cli import main
from deploytool.errors import RollbackFailedError, RolledBackError, StateLockedError
from deploytool.terraform import Result, Runner, parse_lock_info
from deploytool.toolchain import Engine

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DEPLOYTOOL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DEPLOYTOOL_CONFIG", str(REPO / "deploy.toml"))
    monkeypatch.delenv("DEPLOYTOOL_TERRAFORM_BIN", raising=False)
    return CliRunner()


def test_help_lists_commands_and_exit_codes(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in (
        "deploy",
        "rollback",
        "migrate",
        "plan",
        "apply",
        "destroy",
        "history",
        "names",
        "render",
        "bootstrap",
    ):
        assert command in result.output
    assert "5  state locked" in result.output
    assert "3  deploy failed verification and was rolled back" in result.output


def test_names_json_for_the_documented_branch(runner: CliRunner) -> None:
    result = runner.invoke(
        main, ["names", "--env", "staging", "--branch", "feature/new-api-endpoint", "--output", "json"]
    )
    assert result.exit_code == 0, result.output
    names = json.loads(result.stdout)
    assert names["workspace"] == "staging-feature-new-api-endpoint"
    assert names["service"] == "staging-feature-new-api-endpoint"
    assert names["host"] == "staging-feature-new-api-endpoint.staging.theobroma.example"
    assert len(names["target_group"]) <= 32


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["names", "--env", "nope", "--branch", "x"], "unknown environment 'nope'"),
        (["names", "--env", "staging", "--branch", "   "], "branch"),
        (["toolchain", "--terraform-bin", "/no/such/terraform"], "not found or not executable"),
        (["emulator", "status"], "emulator is not running"),
        (["plan", "--env", "local", "--branch", "feature/x"], "emulator is not running"),
        (["deploy", "--env", "staging", "--branch", "feature/x", "--image-tag", "v1"], "without --yes"),
    ],
)
def test_user_errors_are_one_line_exit_1(runner: CliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(main, args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error:")]) == 1


@pytest.mark.parametrize("env", ["staging", "production"])
def test_bad_image_tag_is_rejected_before_anything_runs(runner: CliRunner, env: str) -> None:
    # No AWS credentials or emulator here: the tag is refused before any call is made.
    result = runner.invoke(main, ["deploy", "--env", env, "--branch", "x", "--image-tag", "bad tag;rm -rf /", "--yes"])
    assert result.exit_code == 1, result.output
    assert "image tag" in result.output.lower()
    assert "Traceback" not in result.output


def test_bad_set_env_is_a_usage_error(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deploytool.cli.stacks.make_target", lambda *a: object())
    result = runner.invoke(
        main, ["deploy", "--env", "staging", "--branch", "x", "--image-tag", "v1", "--set-env", "NOEQUALS", "--yes"]
    )
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (RolledBackError("v2 failed verification; rolled back to v1"), 3),
        (RollbackFailedError("v2 failed and there is no earlier release"), 4),
        (StateLockedError("state is locked by ci@runner", lock_id="abc", holder="ci@runner"), 5),
    ],
)
def test_deploy_outcomes_map_to_exit_codes(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, error: Exception, code: int
) -> None:
    monkeypatch.setattr("deploytool.cli.stacks.make_target", lambda *a: object())

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr("deploytool.release.deploy_release", fail)
    result = runner.invoke(main, ["deploy", "--env", "staging", "--branch", "x", "--image-tag", "v2", "--yes"])
    assert result.exit_code == code
    assert str(error) in result.output
    assert "Traceback" not in result.output


def test_a_failed_deploy_still_reports_its_outcome_as_json(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deploytool.cli.stacks.make_target", lambda *a: object())
    outcome = {"outcome": "rolled_back", "image_after": "v2", "restored_image": "v1"}

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RolledBackError("v2 failed verification; rolled back to v1", result=outcome)

    monkeypatch.setattr("deploytool.release.deploy_release", fail)
    args = ["deploy", "--env", "staging", "--branch", "x", "--image-tag", "v2", "--yes", "--output", "json"]
    result = runner.invoke(main, args)
    assert result.exit_code == 3
    assert json.loads(result.stdout) == outcome
    assert "Error: v2 failed verification; rolled back to v1" in result.stderr
    text = runner.invoke(main, args[:-2])
    assert text.exit_code == 3 and "rolled_back" not in text.stdout


def test_unexpected_errors_are_one_line_unless_debug(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deploytool.cli.stacks.make_target", lambda *a: object())

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("kaput")

    monkeypatch.setattr("deploytool.release.deploy_release", boom)
    args = ["deploy", "--env", "staging", "--branch", "x", "--image-tag", "v2", "--yes"]
    quiet = runner.invoke(main, args)
    assert quiet.exit_code == 1
    assert "unexpected ZeroDivisionError: kaput" in quiet.output
    assert "Traceback" not in quiet.output
    loud = runner.invoke(main, ["--debug", *args])
    assert loud.exit_code == 1
    assert "Traceback" in loud.output


LOCK_OUTPUT = """
Error: Error acquiring the state lock

Error message: operation error S3: PutObject, https response error StatusCode: 412, PreconditionFailed
Lock Info:
  ID:        4f1a2b3c-0000-1111-2222-333344445555
  Path:      theobroma-terraform-state/workspaces/staging-feature-x/staging/app/terraform.tfstate
  Operation: OperationTypeApply
  Who:       ci@runner-7
  Version:   1.15.5
  Created:   2026-11-27 10:00:00.123456 +0000 UTC
  Info:
"""


def test_lock_errors_name_the_holder_and_the_recovery(tmp_path: Path) -> None:
    info = parse_lock_info(LOCK_OUTPUT)
    assert info["who"] == "ci@runner-7"
    assert info["id"] == "4f1a2b3c-0000-1111-2222-333344445555"
    runner = Runner(root=tmp_path, data_dir=tmp_path / "data", engine=Engine("embedded", ("true",)))
    with pytest.raises(StateLockedError) as caught:
        runner._raise("apply", Result(1, "", LOCK_OUTPUT))
    message = caught.value.message
    assert caught.value.exit_code == 5
    assert "ci@runner-7" in message
    assert "OperationTypeApply" in message
    assert "force-unlock --lock-id 4f1a2b3c-0000-1111-2222-333344445555" in message
    assert " ago" in message


def test_github_comment_upserts_one_comment(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.githubstub import GitHubStub

    body = tmp_path / "plan.md"
    with GitHubStub(token="t0ken") as stub:
        stub.add_pull_request("acme/geo", 7)
        stub.add_comment("acme/geo", 7, "an unrelated review comment")
        monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
        args = [
            "github",
            "comment",
            "--repo",
            "acme/geo",
            "--pr",
            "7",
            "--marker",
            "staging",
            "--body-file",
            str(body),
            "--api-url",
            stub.url,
        ]
        body.write_text("plan one")
        first = runner.invoke(main, args)
        body.write_text("plan two")
        second = runner.invoke(main, args)
        assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
        assert "created comment" in first.output and "updated comment" in second.output
        bodies = stub.bodies("acme/geo", 7)
        assert len(bodies) == 2
        assert bodies[0] == "an unrelated review comment"
        assert "plan two" in bodies[1] and "plan one" not in bodies[1]
        assert "t0ken" not in first.output + second.output


def test_github_comment_needs_a_token(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    body = tmp_path / "plan.md"
    body.write_text("x")
    result = runner.invoke(
        main, ["github", "comment", "--repo", "a/b", "--pr", "1", "--marker", "m", "--body-file", str(body)]
    )
    assert result.exit_code == 1
    assert "GITHUB_TOKEN is not set" in result.output


def test_health_command_against_real_servers(runner: CliRunner) -> None:
    from pytest_httpserver import HTTPServer

    with HTTPServer(host="127.0.0.1") as good:
        good.expect_request("/health").respond_with_json({"status": "ok"})
        good.expect_request("/metrics").respond_with_data(
            "# TYPE up gauge\nup 1\n", content_type="text/plain; version=0.0.4"
        )
        good.expect_request("/farms/nearby").respond_with_json({"farms": []})
        good.expect_request("/health/detailed").respond_with_json(
            {"status": "healthy", "version": "v7", "components": {"database": {"status": "healthy"}}}
        )
        args = [
            "health",
            "--url",
            good.url_for("/").rstrip("/"),
            "--env",
            "production",
            "--passes",
            "2",
            "--timeout",
            "10",
            "--expect-version",
            "v7",
            "--output",
            "json",
        ]
        ok = runner.invoke(main, args)
        assert ok.exit_code == 0, ok.output
        assert json.loads(ok.stdout)["ok"] is True
    with HTTPServer(host="127.0.0.1") as sick:
        sick.expect_request("/health").respond_with_json({"status": "ok"})
        sick.expect_request("/health/detailed").respond_with_json(
            {"status": "healthy", "components": {"database": {"status": "unhealthy"}}}, status=200
        )
        bad = runner.invoke(
            main,
            [
                "health",
                "--url",
                sick.url_for("/").rstrip("/"),
                "--env",
                "production",
                "--passes",
                "1",
                "--timeout",
                "3",
            ],
        )
        assert bad.exit_code == 1
        assert "database" in bad.output
        assert "Traceback" not in bad.output
