"""The janitor's selection, its parallel runner, and the status/workspaces/cleanup command surface.

Selection runs on synthetic data; the commands run against an in-process S3/ECS mock (moto), so
nothing here starts Terraform or reaches AWS.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from deploytool import cleanup, naming, stackops
from deploytool.cli import main
from deploytool.config import load_config
from deploytool.errors import DeployError
from deploytool.ledger import Ledger, Record
from deploytool.stack import Target
from deploytool.status import BranchEnvironment, services_from_outputs

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy.toml"
NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)
BUCKET = "theobroma-terraform-state"


def env_(ws: str, idle_days: float | None, *, created_days: float = 30) -> BranchEnvironment:
    """A branch environment whose last deploy was ``idle_days`` ago (None: no ledger record at all)."""
    if idle_days is None:
        return BranchEnvironment(ws, state_modified=NOW - timedelta(days=created_days))
    first = Record("staging", ws, "app", "deploy", time=_stamp(NOW - timedelta(days=created_days)))
    last = Record("staging", ws, "app", "deploy", time=_stamp(NOW - timedelta(days=idle_days)))
    return BranchEnvironment(ws, state_modified=NOW, first_record=first, last_record=last)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def by_ws(decisions: list[cleanup.Decision]) -> dict[str, cleanup.Decision]:
    return {d.workspace: d for d in decisions}


# -- selection -------------------------------------------------------------------------------------
def test_ttl_selects_only_environments_idle_longer_than_it() -> None:
    envs = [env_("staging-old", 8), env_("staging-fresh", 2), env_("staging-edge", 7)]
    out = by_ws(cleanup.decide("staging", envs, now=NOW, ttl=timedelta(days=7), open_workspaces=None))
    assert out["staging-old"].destroy
    assert out["staging-old"].reason == "idle 8d0h > ttl 7d0h"
    assert not out["staging-fresh"].destroy
    assert not out["staging-edge"].destroy  # exactly the TTL is not past it


def test_idle_falls_back_to_the_state_object_when_the_ledger_has_nothing() -> None:
    envs = [env_("staging-unrecorded", None, created_days=10)]
    out = by_ws(cleanup.decide("staging", envs, now=NOW, ttl=timedelta(days=7), open_workspaces=None))
    assert out["staging-unrecorded"].destroy
    assert out["staging-unrecorded"].idle == timedelta(days=10)


def test_branch_gone_selects_regardless_of_age() -> None:
    envs = [env_("staging-merged", 0.1), env_("staging-open", 20)]
    out = by_ws(cleanup.decide("staging", envs, now=NOW, ttl=None, open_workspaces={"staging-open"}))
    assert out["staging-merged"].destroy and out["staging-merged"].reason == "branch gone"
    assert not out["staging-open"].destroy  # no TTL given: an open branch stays however old


def test_with_both_criteria_an_environment_needs_both_to_go() -> None:
    """No open pull request AND idle past the TTL: a fresh environment without a pull request (develop,
    a branch pushed before its pull request) stays, and so does an idle one whose pull request is open."""
    envs = [
        env_("staging-develop", 0.5),
        env_("staging-open-idle", 30),
        env_("staging-open-fresh", 1),
        env_("staging-gone-idle", 30),
    ]
    out = by_ws(
        cleanup.decide(
            "staging",
            envs,
            now=NOW,
            ttl=timedelta(days=7),
            open_workspaces={"staging-open-idle", "staging-open-fresh"},
        )
    )
    assert not out["staging-develop"].destroy
    assert out["staging-develop"].reason == "branch gone, idle 12h00m <= ttl 7d0h"
    assert not out["staging-open-idle"].destroy
    assert out["staging-open-idle"].reason == "branch open, idle 30d0h > ttl 7d0h"
    assert not out["staging-open-fresh"].destroy
    assert out["staging-gone-idle"].destroy
    assert out["staging-gone-idle"].reason == "branch gone; idle 30d0h > ttl 7d0h"


def test_both_reasons_are_reported() -> None:
    out = cleanup.decide("staging", [env_("staging-x", 9)], now=NOW, ttl=timedelta(days=7), open_workspaces=set())
    assert out[0].destroy and out[0].reason == "branch gone; idle 9d0h > ttl 7d0h"


def test_an_environment_whose_deploy_lock_is_held_is_kept_and_says_why() -> None:
    """A release run between its plan and its verdict (or a destroy) holds the lock: not now."""
    envs = [dataclasses.replace(env_("staging-busy", 30), deploy_locked=True), env_("staging-idle", 30)]
    out = by_ws(cleanup.decide("staging", envs, now=NOW, ttl=timedelta(days=7), open_workspaces=set()))
    assert not out["staging-busy"].destroy
    assert out["staging-busy"].reason == "a release run holds its deploy lock"
    assert out["staging-idle"].destroy


def test_keep_wins_over_every_reason() -> None:
    envs = [env_("staging-x", 99), env_("staging-y", 99)]
    out = by_ws(
        cleanup.decide(
            "staging", envs, now=NOW, ttl=timedelta(days=1), open_workspaces=set(), keep={"staging-x", "unrelated"}
        )
    )
    assert not out["staging-x"].destroy and out["staging-x"].reason == "kept (--keep)"
    assert out["staging-y"].destroy


def test_default_and_foreign_workspaces_are_never_touched() -> None:
    envs = [env_("default", 999), env_("production-x", 999), env_("stagingx", 999), env_("staging-a", 999)]
    out = by_ws(cleanup.decide("staging", envs, now=NOW, ttl=timedelta(minutes=1), open_workspaces=set()))
    assert not out["default"].destroy and "never touched" in out["default"].reason
    assert not out["production-x"].destroy and not out["stagingx"].destroy
    assert [d.workspace for d in out.values() if d.destroy] == ["staging-a"]


def test_nothing_is_selected_without_a_criterion() -> None:
    out = cleanup.decide("staging", [env_("staging-a", 999)], now=NOW, ttl=None, open_workspaces=None)
    assert not out[0].destroy and out[0].reason == "no criterion applies"


def test_a_failed_destroy_does_not_reset_the_idle_clock() -> None:
    from deploytool.status import is_activity

    destroy = Record("staging", "staging-a", "app", "destroy", outcome="error")
    deploy_ = Record("staging", "staging-a", "app", "deploy", outcome="success")
    platform = Record("staging", "default", "platform", "apply", outcome="success")
    assert not is_activity(destroy) and is_activity(deploy_) and not is_activity(platform)


# -- inputs ------------------------------------------------------------------------------------------
def test_branch_lines_accept_plain_names_and_ls_remote_output() -> None:
    text = "# open branches\nmain\n\n  feature/x  \n0123abcd\trefs/heads/Fix/Thing_1\n"
    assert cleanup.parse_branch_lines(text) == ["main", "feature/x", "Fix/Thing_1"]


def test_an_empty_open_branch_list_is_refused() -> None:
    with pytest.raises(DeployError, match="lists no branches"):
        cleanup.open_branches_from_text("# nothing\n\n", "branches.txt")


@pytest.fixture()
def staging_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Target:
    monkeypatch.setenv("DEPLOYTOOL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTOOL_HOME", str(tmp_path / "home"))
    config = load_config(CONFIG)
    return Target(config=config, settings=config.environment("staging"))


def test_open_branches_and_keep_map_through_naming(staging_target: Target) -> None:
    assert cleanup.branch_workspaces(staging_target, ["feature/new-api-endpoint", "Fix/Login_Form"]) == {
        "staging-feature-new-api-endpoint",
        "staging-" + naming.slugify("Fix/Login_Form"),
    }
    kept = cleanup.keep_workspaces(staging_target, ["feature/x", "staging-other"])
    assert {"staging-feature-x", "staging-other"} <= kept


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=80).filter(lambda b: b.strip()))
def test_workspace_names_match_the_names_of_the_branch(branch: str) -> None:
    config = load_config(CONFIG)
    target = Target(config=config, settings=config.environment("staging"))
    names = target.names(branch)
    by_workspace = naming.names_for_workspace(target.env, names.workspace, target.settings.domain)
    assert by_workspace == naming.Names(**{**names.as_dict(), "branch": None})


@pytest.mark.parametrize("workspace", ["default", "staging", "staging-", "production-x", "staging-Bad_Name"])
def test_workspace_names_refuse_what_is_not_a_branch_workspace(staging_target: Target, workspace: str) -> None:
    with pytest.raises(DeployError, match="not a branch environment workspace"):
        naming.names_for_workspace(staging_target.env, workspace, staging_target.settings.domain)


# -- parallel runner -------------------------------------------------------------------------------------
def test_runner_keeps_going_after_a_failure_and_bounds_concurrency(staging_target: Target) -> None:
    decisions = [cleanup.Decision(f"staging-b{i}", True, "branch gone") for i in range(5)]
    decisions.append(cleanup.Decision("staging-kept", False, "branch open"))
    active, peak, lock = 0, 0, threading.Lock()

    def fake_destroy(target: Target, decision: cleanup.Decision) -> cleanup.Outcome:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        result = "failed" if decision.workspace == "staging-b1" else "destroyed"
        return cleanup.Outcome(decision.workspace, decision.reason, result, 0.05, "boom" if result == "failed" else "")

    lines: list[str] = []
    outcomes = cleanup.run_cleanup(staging_target, decisions, parallel=2, progress=lines.append, destroy=fake_destroy)
    assert [o.workspace for o in outcomes] == [f"staging-b{i}" for i in range(5)]
    assert [o.failed for o in outcomes] == [False, True, False, False, False]
    assert peak == 2
    assert len(lines) == 10  # one line per start and one per end
    assert any(line.startswith("staging-b1: failed") and "boom" in line for line in lines)


def test_runner_turns_a_crashing_worker_into_a_failed_outcome(staging_target: Target) -> None:
    def crash(target: Target, decision: cleanup.Decision) -> cleanup.Outcome:
        raise RuntimeError("worker bug")

    outcomes = cleanup.run_cleanup(staging_target, [cleanup.Decision("staging-a", True, "r")], destroy=crash)
    assert outcomes[0].failed and "worker bug" in outcomes[0].message


def test_destroy_one_logs_to_the_workspace_data_dir_and_never_raises(
    staging_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(target: Target, workspace: str, *, reason: str = "", progress: Any = None) -> str:
        target.progress.write("terraform says hello\n")
        raise DeployError("terraform destroy failed (staging/app): Error: something\nmore")

    monkeypatch.setattr(stackops, "destroy_workspace", failing)
    outcome = cleanup.destroy_one(staging_target, cleanup.Decision("staging-a", True, "branch gone"))
    assert outcome.failed
    assert outcome.message == "terraform destroy failed (staging/app): Error: something"
    log = Path(str(outcome.log))
    assert log.parent.name == "staging-a" and "terraform says hello" in log.read_text()


# -- blue-green outputs -----------------------------------------------------------------------------------
def test_services_from_blue_green_outputs() -> None:
    outputs = {
        "active_color": "green",
        "blue_service_name": "theobroma-production-blue",
        "green_service_name": "theobroma-production-green",
        "active_service_name": "theobroma-production-green",
        "idle_service_name": "theobroma-production-blue",
        "blue_image_tag": "v1",
        "green_image_tag": "v2",
        "green_task_definition_arn": "arn:td/green:3",
    }
    services = {s.label: s for s in services_from_outputs(outputs)}
    assert set(services) == {"blue", "green"}
    assert services["green"].active and not services["blue"].active
    assert services["green"].image_tag == "v2" and services["green"].task_definition == "arn:td/green:3"


def test_services_from_branch_outputs() -> None:
    services = services_from_outputs({"service_name": "staging-x", "image_tag": "v3", "task_definition_arn": "td:1"})
    assert [(s.name, s.label, s.image_tag) for s in services] == [("staging-x", None, "v3")]


# -- command surface (in-process S3/ECS mock) ----------------------------------------------------------------
@pytest.fixture()
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("DEPLOYTOOL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTOOL_HOME", str(tmp_path / "home"))
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield s3


def seed(s3: Any, ws: str, *, idle_days: float | None = None, outputs: dict[str, Any] | None = None) -> None:
    state = {"version": 4, "outputs": {k: {"value": v, "type": "string"} for k, v in (outputs or {}).items()}}
    state["outputs"]["secret_thing"] = {"value": "hunter2", "type": "string", "sensitive": True}
    key = f"workspaces/{ws}/staging/app/terraform.tfstate" if ws != "default" else "staging/app/terraform.tfstate"
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(state).encode())
    if idle_days is not None:
        ledger = Ledger(s3, BUCKET, "deploy-history")
        when = datetime.now(UTC) - timedelta(days=idle_days)
        ledger.write(Record("staging", ws, "app", "deploy", outcome="success", image_after="v1", time=_stamp(when)))


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, [*args, "--config", str(CONFIG)], input=input)


def test_dry_run_lists_what_and_why_and_changes_nothing(aws: Any, tmp_path: Path) -> None:
    seed(aws, "default", idle_days=100)
    seed(aws, "staging-merged", idle_days=9)
    seed(aws, "staging-unmerged", idle_days=1)
    seed(aws, "staging-stale", idle_days=9)
    seed(aws, "staging-open", idle_days=1)
    seed(aws, "staging-pinned", idle_days=30)
    branches = tmp_path / "open.txt"
    branches.write_text("open\nstale\npinned\n")
    result = run("cleanup", "--env", "staging", "--open-branches-file", str(branches), "--keep", "pinned", "--dry-run")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert set(rows) == {"staging-merged"}
    assert "branch gone; idle 9d0h > ttl 7d0h" in rows["staging-merged"]
    assert "would destroy 1" in result.stderr and "keep staging-pinned: kept (--keep)" in result.stderr
    assert "keep staging-stale: branch open, idle 9d0h > ttl 7d0h" in result.stderr
    assert "keep staging-unmerged: branch gone, idle 1d0h <= ttl 7d0h" in result.stderr
    keys = [o["Key"] for o in aws.list_objects_v2(Bucket=BUCKET, Prefix="workspaces/")["Contents"]]
    assert len(keys) == 5  # nothing destroyed


def test_a_held_deploy_lock_keeps_the_environment_and_says_why(aws: Any) -> None:
    seed(aws, "staging-busy", idle_days=9)
    seed(aws, "staging-merged", idle_days=9)
    config = load_config(CONFIG)
    target = Target(config=config, settings=config.environment("staging"))
    args = ("cleanup", "--env", "staging", "--open-branches-file", "-", "--yes", "--output", "json")
    with target.workspace_lock("staging-busy", "busy", operation="deploy", release="v2"):
        held = run(*args, "--dry-run", input="main\n")
    assert held.exit_code == 0, held.output
    data = json.loads(held.stdout)
    assert [d["workspace"] for d in data["destroy"]] == ["staging-merged"]
    assert {d["workspace"]: d["reason"] for d in data["keep"]} == {"staging-busy": cleanup.LOCKED}
    assert "keep staging-busy: a release run holds its deploy lock" in held.stderr
    free = run(*args, "--dry-run", input="main\n")  # released: selected again
    assert [d["workspace"] for d in json.loads(free.stdout)["destroy"]] == ["staging-busy", "staging-merged"]


def test_dry_run_json(aws: Any) -> None:
    seed(aws, "staging-stale", idle_days=3)
    result = run("cleanup", "--env", "staging", "--older-than", "2d", "--dry-run", "--output", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dry_run"] is True and data["ttl"] == "2d0h"
    assert [d["workspace"] for d in data["destroy"]] == ["staging-stale"]


def test_cleanup_summary_and_exit_code_when_a_destroy_fails(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(aws, "staging-a", idle_days=10)
    seed(aws, "staging-b", idle_days=10)
    calls: list[tuple[str, str]] = []

    def fake(target: Target, workspace: str, *, reason: str = "", progress: Any = None) -> str:
        calls.append((workspace, reason))
        if workspace == "staging-a":
            raise DeployError("terraform destroy failed: Error: nope")
        return f"{workspace} destroyed and its workspace deleted"

    monkeypatch.setattr(stackops, "destroy_workspace", fake)
    result = run("cleanup", "--env", "staging", "--yes", "--parallel", "2")
    assert result.exit_code == 1
    assert sorted(calls) == [("staging-a", "idle 10d0h > ttl 7d0h"), ("staging-b", "idle 10d0h > ttl 7d0h")]
    table = result.stdout.splitlines()
    assert table[0].split() == ["WORKSPACE", "REASON", "RESULT", "DURATION"]
    assert "failed" in table[1] and "destroyed" in table[2]
    assert "1 of 2 destroys failed" in result.stderr and "cleanup.log" in result.stderr


def test_cleanup_needs_yes_when_not_interactive(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(aws, "staging-a", idle_days=10)
    monkeypatch.setattr(stackops, "destroy_workspace", lambda *a, **k: pytest.fail("must not destroy"))
    result = run("cleanup", "--env", "staging")
    assert result.exit_code == 1 and "without --yes" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--env", "production", "--dry-run"], 1, "has no branch environments"),
        (["--env", "staging", "--older-than", "soon"], 2, "must be a duration"),
        (["--env", "staging", "--parallel", "0"], 2, "--parallel"),
    ],
)
def test_cleanup_rejects_bad_input(aws: Any, args: list[str], code: int, message: str) -> None:
    result = run("cleanup", *args)
    assert result.exit_code == code
    assert message in result.output


def test_cleanup_refuses_an_empty_open_branches_list(aws: Any) -> None:
    seed(aws, "staging-a", idle_days=1)
    result = run("cleanup", "--env", "staging", "--open-branches-file", "-", "--dry-run", input="\n# none\n")
    assert result.exit_code == 1 and "refusing to treat every branch environment as orphaned" in result.stderr


def test_cleanup_with_nothing_to_do(aws: Any) -> None:
    seed(aws, "staging-a", idle_days=1)
    result = run("cleanup", "--env", "staging", "--yes")
    assert result.exit_code == 0 and result.stdout == ""
    assert "nothing to clean up" in result.stderr and "keep staging-a: idle 1d0h <= ttl 7d0h" in result.stderr


def test_workspaces_lists_branch_environments_only(aws: Any) -> None:
    seed(aws, "default", idle_days=1)
    seed(aws, "staging-a", idle_days=2)
    seed(aws, "staging-b")
    aws.put_object(Bucket=BUCKET, Key="workspaces/production-x/production/app/terraform.tfstate", Body=b"{}")
    text = run("workspaces", "--env", "staging")
    assert text.exit_code == 0, text.output
    rows = [line.split()[0] for line in text.stdout.splitlines()]
    assert rows == ["WORKSPACE", "staging-a", "staging-b"]
    data = json.loads(run("workspaces", "--env", "staging", "--output", "json").stdout)
    by = {d["workspace"]: d for d in data}
    assert by["staging-a"]["idle"] == "2d0h" and by["staging-a"]["expires_in"] in ("4d23h", "5d0h")
    assert by["staging-a"]["last_deploy"]["outcome"] == "success"
    assert by["staging-b"]["last_deploy"] is None and by["staging-b"]["idle"] == "0m"


def test_status_of_a_branch_environment(aws: Any) -> None:
    ecs = boto3.client("ecs", region_name="us-east-1")
    ecs.create_cluster(clusterName="theobroma-staging")
    td = ecs.register_task_definition(
        family="staging-feature-x", containerDefinitions=[{"name": "api", "image": "geo-api:v7", "memory": 512}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="theobroma-staging", serviceName="staging-feature-x", taskDefinition=td, desiredCount=1)
    seed(
        aws,
        "staging-feature-x",
        idle_days=1,
        outputs={
            "service_name": "staging-feature-x",
            "cluster_name": "theobroma-staging",
            "image_tag": "v7",
            "task_definition_arn": td,
            "url": "http://staging-feature-x.staging.theobroma.example",
        },
    )
    result = run("status", "--env", "staging", "--branch", "feature/x")
    assert result.exit_code == 0, result.output
    assert "url:         http://staging-feature-x.staging.theobroma.example" in result.stdout
    assert "image:       v7" in result.stdout
    assert "staging-feature-x: ACTIVE, desired 1" in result.stdout
    assert "deploy success by" in result.stdout
    data = json.loads(run("status", "--env", "staging", "--branch", "feature/x", "--output", "json").stdout)
    assert data["services"][0]["desired"] == 1 and data["services"][0]["ecs_task_definition"] == td
    assert "secret_thing" not in data["outputs"]  # sensitive outputs stay out


def test_status_of_what_is_not_deployed(aws: Any) -> None:
    result = run("status", "--env", "staging", "--branch", "feature/never")
    assert result.exit_code == 1 and "is not deployed" in result.stderr
    assert run("status", "--env", "staging").exit_code == 1  # a branch environment needs --branch
