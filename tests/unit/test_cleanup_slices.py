"""The janitor as a job matrix: the plan's slices and destroying exactly one slice, re-checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploytool import cleanup, stackops
from deploytool.errors import DeployError
from deploytool.ledger import Ledger, Record
from deploytool.stack import Target
from tests.unit.test_cleanup import BUCKET, _stamp, aws, run, seed  # noqa: F401  (fixture)


@given(st.lists(st.text(min_size=1, max_size=5), unique=True, max_size=40), st.integers(1, 10))
def test_slices_cover_every_workspace_once_and_none_is_empty(names: list[str], most: int) -> None:
    slices = cleanup.slice_workspaces(names, most)
    assert len(slices) == min(most, len(names))
    assert all(slices) and sorted(n for s in slices for n in s) == sorted(names)
    assert not slices or max(map(len, slices)) - min(map(len, slices)) <= 1


def test_slices_are_dealt_round_robin() -> None:
    assert cleanup.slice_workspaces(["a", "b", "c", "d", "e"], 2) == [["a", "c", "e"], ["b", "d"]]
    assert cleanup.slice_workspaces([], 8) == []
    with pytest.raises(DeployError):
        cleanup.slice_workspaces(["a"], 0)


def test_restrict_keeps_only_the_listed_workspaces_with_their_current_decisions() -> None:
    plan = cleanup.CleanupPlan(
        "staging",
        None,
        [cleanup.Decision("staging-a", True, "branch gone"), cleanup.Decision("staging-b", False, "branch open")],
    )
    narrowed = cleanup.restrict(plan, ["staging-b", "staging-gone"])
    assert [(d.workspace, d.destroy, d.reason) for d in narrowed.decisions] == [
        ("staging-b", False, "branch open"),
        ("staging-gone", False, "no longer exists"),
    ]


def test_a_workspace_list_skips_comments_and_refuses_to_be_empty(tmp_path: Path) -> None:
    listing = tmp_path / "slice.txt"
    listing.write_text("# slice 1\nstaging-a\n\n  staging-b \n")
    assert cleanup.read_workspace_list(listing) == ["staging-a", "staging-b"]
    with pytest.raises(DeployError, match="lists no workspaces"):
        cleanup.read_workspace_list(None, "\n# nothing\n")
    with pytest.raises(DeployError, match="cannot read"):
        cleanup.read_workspace_list(tmp_path / "missing.txt")


def test_the_plan_file_is_a_matrix_of_at_most_n_slices(aws: Any, tmp_path: Path) -> None:  # noqa: F811
    for name in ("a", "b", "c"):
        seed(aws, f"staging-{name}", idle_days=10)
    seed(aws, "staging-fresh", idle_days=1)
    plan_file = tmp_path / "plan.json"
    result = run("cleanup", "--env", "staging", "--dry-run", "--slices", "2", "--plan-file", str(plan_file))
    assert result.exit_code == 0, result.output
    text = plan_file.read_text()
    assert "\n" not in text.rstrip("\n"), "one line, to go into $GITHUB_OUTPUT as is"
    slices = json.loads(text)
    assert [(s["slice"], s["workspaces"]) for s in slices] == [(1, ["staging-a", "staging-c"]), (2, ["staging-b"])]
    assert slices[0]["planned"] == slices[1]["planned"] and slices[0]["planned"].endswith("Z")


def test_an_empty_plan_file_is_an_empty_matrix(aws: Any, tmp_path: Path) -> None:  # noqa: F811
    seed(aws, "staging-fresh", idle_days=1)
    plan_file = tmp_path / "plan.json"
    result = run("cleanup", "--env", "staging", "--dry-run", "--slices", "8", "--plan-file", str(plan_file))
    assert result.exit_code == 0, result.output
    assert json.loads(plan_file.read_text()) == []


def test_the_plan_file_needs_dry_run(aws: Any, tmp_path: Path) -> None:  # noqa: F811
    result = run("cleanup", "--env", "staging", "--yes", "--plan-file", str(tmp_path / "plan.json"))
    assert result.exit_code == 2 and "--plan-file needs --dry-run" in result.output


def test_only_the_listed_workspaces_are_destroyed_each_re_checked(
    aws: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(aws, "staging-a", idle_days=10)
    seed(aws, "staging-b", idle_days=10)  # another slice's
    seed(aws, "staging-c", idle_days=10)  # its pull request was opened after the planning
    destroyed: list[str] = []

    def fake(target: Target, workspace: str, *, reason: str = "", progress: Any = None) -> str:
        destroyed.append(workspace)
        return f"{workspace} destroyed and its workspace deleted"

    monkeypatch.setattr(stackops, "destroy_workspace", fake)
    branches, listing = tmp_path / "branches.txt", tmp_path / "slice.txt"
    branches.write_text("c\n")
    listing.write_text("staging-a\nstaging-c\nstaging-vanished\n")
    result = run(
        "cleanup",
        "--env",
        "staging",
        "--open-branches-file",
        str(branches),
        "--only-workspaces",
        str(listing),
        "--yes",
        "--output",
        "json",
    )
    assert result.exit_code == 0, result.output
    assert destroyed == ["staging-a"]
    data = json.loads(result.stdout)
    assert [r["workspace"] for r in data["results"]] == ["staging-a"]
    assert {d["workspace"]: d["reason"] for d in data["keep"]} == {
        "staging-c": "branch open, idle 10d0h > ttl 7d0h",
        "staging-vanished": "no longer exists",
    }
    assert "staging-b" not in result.output


def test_a_release_that_takes_the_deploy_lock_after_the_planning_keeps_its_environment(
    aws: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Re-checked at destroy time: a release run that starts between the slice's selection and its
    destroy holds the deploy lock; the destroy is refused before it changes anything, and the
    environment is reported kept (not failed), in the run's results and in the slice report."""
    seed(aws, "staging-a", idle_days=10)
    seed(aws, "staging-b", idle_days=10)
    state_keys = [o["Key"] for o in aws.list_objects_v2(Bucket=BUCKET, Prefix="workspaces/")["Contents"]]
    planned = cleanup.plan_cleanup
    held: list[Any] = []
    destroyed: list[str] = []

    def plan_then_a_release_starts(target: Target, **kwargs: Any) -> cleanup.CleanupPlan:
        plan = planned(target, **kwargs)
        held.append(target.workspace_lock("staging-a", "a", operation="deploy", release="v2"))
        held[-1].__enter__()
        return plan

    def terraform(target: Target, stack_name: str, names: Any, **_: Any) -> str:
        destroyed.append(names.workspace)  # the workspace's lock was free: Terraform would run here
        return f"{names.workspace} destroyed and its workspace deleted"

    monkeypatch.setattr(cleanup, "plan_cleanup", plan_then_a_release_starts)
    monkeypatch.setattr(stackops, "_destroy_stack", terraform)
    listing, plan_file = tmp_path / "slice.txt", tmp_path / "plan.json"
    listing.write_text("staging-a\nstaging-b\n")
    since = _stamp(datetime.now(UTC) - timedelta(seconds=1))
    plan_file.write_text(json.dumps([{"slice": 1, "workspaces": ["staging-a", "staging-b"], "planned": since}]))
    args = ("cleanup", "--env", "staging", "--older-than", "7d", "--only-workspaces", str(listing), "--yes")
    result = run(*args, "--output", "json")
    assert result.exit_code == 0, result.output
    assert destroyed == ["staging-b"]
    outcomes = {r["workspace"]: r for r in json.loads(result.stdout)["results"]}
    assert outcomes["staging-a"]["result"] == "kept" and outcomes["staging-a"]["reason"] == cleanup.LOCKED
    assert "is locked by " in outcomes["staging-a"]["message"] and "(deploy v2)" in outcomes["staging-a"]["message"]
    assert outcomes["staging-b"]["result"] == "destroyed"
    assert "staging-a: kept in " in result.stderr
    assert [o["Key"] for o in aws.list_objects_v2(Bucket=BUCKET, Prefix="workspaces/")["Contents"]] == state_keys
    assert [r.action for r in Ledger(aws, BUCKET, "deploy-history").records("staging", "staging-a")] == ["deploy"]
    held[-1].__exit__(None, None, None)
    report = run("cleanup", "--env", "staging", "--report", str(plan_file), "--output", "json")
    assert json.loads(report.stdout)[0]["workspaces"]["staging-a"] == "kept"


def test_the_report_counts_per_slice_from_the_history_and_fails_on_a_failed_destroy(
    aws: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    ledger = Ledger(aws, BUCKET, "deploy-history")
    for ws, outcome in (("staging-a", "success"), ("staging-b", "failure"), ("staging-d", "success")):
        seed(aws, ws, idle_days=10)
        ledger.write(Record("staging", ws, "app", "destroy", outcome=outcome))
    seed(aws, "staging-c", idle_days=10)  # re-checked and kept: no destroy after its deploy
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(
        json.dumps(
            [
                {"slice": 1, "workspaces": ["staging-a", "staging-c"]},
                {"slice": 2, "workspaces": ["staging-b", "staging-d"]},
            ]
        )
    )
    result = run("cleanup", "--env", "staging", "--report", str(plan_file), "--output", "json")
    assert result.exit_code == 1
    assert "1 destroy(s) failed" in result.stderr
    assert json.loads(result.stdout) == [
        {
            "slice": 1,
            "destroyed": 1,
            "kept": 1,
            "failed": 0,
            "workspaces": {"staging-a": "destroyed", "staging-c": "kept"},
        },
        {
            "slice": 2,
            "destroyed": 1,
            "kept": 0,
            "failed": 1,
            "workspaces": {"staging-b": "failed", "staging-d": "destroyed"},
        },
    ]
    text = run("cleanup", "--env", "staging", "--report", str(plan_file))
    assert text.stdout.splitlines()[0].split() == ["SLICE", "DESTROYED", "KEPT", "FAILED", "WORKSPACES"]


def test_the_report_of_an_empty_plan_says_there_is_nothing_to_do(aws: Any, tmp_path: Path) -> None:  # noqa: F811
    plan_file = tmp_path / "plan.json"
    plan_file.write_text("[]\n")
    result = run("cleanup", "--env", "staging", "--report", str(plan_file))
    assert result.exit_code == 0 and result.stdout.strip() == "Nothing to clean up in staging."
    plan_file.write_text('{"not": "a plan"}')
    result = run("cleanup", "--env", "staging", "--report", str(plan_file))
    assert result.exit_code == 1 and "not a cleanup plan file" in result.stderr


def test_a_failed_destroy_from_before_the_planning_does_not_count(aws: Any, tmp_path: Path) -> None:  # noqa: F811
    """Last night's destroy failed; tonight the workspace was re-checked and kept (its branch got a pull
    request): the report says kept, and does not fail."""
    seed(aws, "staging-a", idle_days=10)
    last_night, planned = (_stamp(datetime.now(UTC) - timedelta(days=days)) for days in (1, 0.1))
    Ledger(aws, BUCKET, "deploy-history").write(
        Record("staging", "staging-a", "app", "destroy", outcome="failure", time=last_night)
    )
    plan_file = tmp_path / "plan.json"
    plan = [{"slice": 1, "workspaces": ["staging-a"], "planned": planned}]
    plan_file.write_text(json.dumps(plan))
    result = run("cleanup", "--env", "staging", "--report", str(plan_file), "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["workspaces"] == {"staging-a": "kept"}
