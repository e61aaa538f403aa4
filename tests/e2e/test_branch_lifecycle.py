"""Branch environments on the emulator, end to end, through the same code paths users take.

One local platform per session (fixture ``local_platform``). The service a branch runs is the local
stand-in for Fargate (the reference Geo API started from the applied task definition).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from deploytool import bootstrap, naming, release, stackops
from deploytool.errors import DeployError, RollbackFailedError, RolledBackError
from deploytool.localrun import LocalRuntime, push_stand_in_image
from deploytool.stack import Stack
from tests.reliability.faultproxy import FaultProxy, api_call

pytestmark = pytest.mark.apply

LONG_BRANCH = "Feature/JIRA-1234/" + "Very_Long_Description_Of_The_Change-" * 2 + "And/More/Slashes"
BROKEN = {"GEOAPI_REQUIRE_DATABASE": "true", "DATABASE_URL": ""}


# Emulator quirk (not ours): ECS drops health_check_grace_period_seconds on create, so the first
# plan after a create shows that one in-place update. Anything else is a real change.
EMULATOR_QUIRKS = {"aws_ecs_service": {"health_check_grace_period_seconds"}}


def real_changes(plan_json: dict[str, Any]) -> list[str]:
    changes = []
    for rc in plan_json.get("resource_changes", []):
        actions = rc["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        before, after = rc["change"].get("before") or {}, rc["change"].get("after") or {}
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        if actions == ["update"] and changed <= EMULATOR_QUIRKS.get(rc["type"], set()):
            continue
        changes.append(f"{rc['address']}: {actions} {sorted(changed)}")
    return changes


def service_image(ecs: Any, cluster: str, service: str) -> str:
    svc = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"])


def test_two_branches_never_collide_and_destroy_is_isolated(
    local_target: Any, local_platform: dict[str, Any], emulator: Any
) -> None:
    assert len(LONG_BRANCH) >= 90
    branches = ["feature/new-api-endpoint", LONG_BRANCH]
    outputs = {b: stackops.apply_stack(local_target, "app", branch=b, image_tag="v1") for b in branches}
    ecs, elbv2 = emulator.client("ecs"), emulator.client("elbv2")
    cluster = local_platform["cluster_name"]

    services = {outputs[b]["service_name"] for b in branches}
    assert services == {local_target.names(b).service for b in branches}
    assert len(services) == 2
    described = ecs.describe_services(cluster=cluster, services=sorted(services))["services"]
    assert {s["status"] for s in described} == {"ACTIVE"}
    tgs = {outputs[b]["target_group_arn"] for b in branches}
    assert len(tgs) == 2

    # The platform apply published its outputs (encrypted, no secret in them); the branch deploys
    # above rendered the platform into their tfvars from that document, with no state location.
    s3, layout = emulator.client("s3"), local_target.layout
    published = s3.get_object(Bucket=layout.bucket, Key=layout.outputs_key("platform"))
    assert published["ServerSideEncryption"] == "AES256"
    document = published["Body"].read().decode()
    secret = emulator.client("secretsmanager").get_secret_value(SecretId=bootstrap.db_secret_name(local_target))
    assert secret["SecretString"] and secret["SecretString"] not in document
    assert json.loads(document)["outputs"]["listener_arn"] == local_platform["listener_arn"]
    for b in branches:
        data_dir = Stack(local_target, "app", local_target.names(b).workspace).data_dir
        tfvars = (data_dir / "deploytool.tfvars").read_text()
        assert "platform_state" not in tfvars and "terraform.tfstate" not in tfvars
        assert local_platform["listener_arn"] in tfvars and local_platform["db_secret_arn"] in tfvars
    rules = elbv2.describe_rules(ListenerArn=local_platform["listener_arn"])["Rules"]
    hosts = sorted(
        v
        for r in rules
        for c in r.get("Conditions", [])
        if c["Field"] == "host-header"
        for v in c.get("HostHeaderConfig", {}).get("Values", c.get("Values", []))
    )
    # Other tests' branches may share the platform: ours are there, distinct, with distinct priorities.
    ours = sorted(local_target.names(b).host for b in branches)
    assert ours[0] != ours[1]
    assert [h for h in hosts if h in ours] == ours
    assert len({r["Priority"] for r in rules}) == len(rules)

    # Each workspace is recorded as its branch's; a branch with the same slug is refused before
    # Terraform runs (feature/new-api-endpoint and feature-new-api-endpoint share a workspace).
    ledger, env = local_target.ledger(), local_target.env
    assert {b: ledger.branch_of(env, local_target.names(b).workspace) for b in branches} == {b: b for b in branches}
    with pytest.raises(DeployError, match=r"maps to local-feature-new-api-endpoint, which belongs to branch"):
        stackops.plan_stack(local_target, "app", branch="feature-new-api-endpoint", image_tag="v1")

    # Destroy the long one (and its workspace): the other is intact and has nothing to do.
    message = stackops.destroy(local_target, LONG_BRANCH)
    assert "destroyed" in message
    assert ledger.branch_of(env, local_target.names(LONG_BRANCH).workspace) is None
    assert "does not exist" in stackops.destroy(local_target, LONG_BRANCH)  # idempotent
    long_service = local_target.names(LONG_BRANCH).service
    left = ecs.describe_services(cluster=cluster, services=[long_service])["services"]
    assert all(s["status"] != "ACTIVE" for s in left)
    stack = Stack(local_target, "app", local_target.names(branches[0]).workspace)
    plan = stackops.plan_stack(local_target, "app", branch=branches[0])
    plan.planfile.unlink()  # a saved plan holds what state holds: the caller of plan_stack owns it
    assert real_changes(plan.plan_json) == [], plan.summary.headline()
    workspaces = stack.runner.workspaces()
    assert local_target.names(LONG_BRANCH).workspace not in workspaces
    assert local_target.names(branches[0]).workspace in workspaces
    stackops.destroy(local_target, branches[0])


def test_failed_release_rolls_back_to_the_last_good_one(
    local_target: Any, local_platform: dict[str, Any], emulator: Any
) -> None:
    branch = "feature/rollback"
    names = local_target.names(branch)
    ecs = emulator.client("ecs")
    cluster = local_platform["cluster_name"]

    for tag in ("release-a", "release-b"):
        push_stand_in_image(local_target, tag)
    good = release.deploy_release(local_target, branch, "release-a")
    assert good.outcome == "success"
    assert service_image(ecs, cluster, names.service).endswith(":release-a")
    runtime = LocalRuntime(local_target)
    task = runtime.task(names.workspace)
    assert task is not None and task.image.endswith(":release-a")

    with pytest.raises(RolledBackError) as caught:
        release.deploy_release(local_target, branch, "release-b", environment=BROKEN)
    assert caught.value.exit_code == 3
    assert "release-b failed verification" in caught.value.message
    assert "rolled back to release-a" in caught.value.message
    # ECS runs release-a again, and so does the local stand-in.
    assert service_image(ecs, cluster, names.service).endswith(":release-a")
    task = runtime.task(names.workspace)
    assert task is not None and task.image.endswith(":release-a")

    records = local_target.ledger().records(local_target.env, names.workspace)
    summary = [(r.action, r.image_after, r.outcome) for r in records]
    assert summary == [
        ("deploy", "release-a", "success"),
        ("deploy", "release-b", "rolled_back"),
        ("rollback", "release-a", "success"),
    ]
    failed = records[1]
    assert any(c["status"] == "fail" for c in failed.checks)
    assert records[2].verified and records[0].verified
    assert local_target.ledger().last_known_good(local_target.env, names.workspace).image_after == "release-a"

    stackops.destroy(local_target, branch)
    assert runtime.task(names.workspace) is None


def test_first_deploy_that_fails_has_nothing_to_roll_back_to(local_target: Any, local_platform: dict[str, Any]) -> None:
    branch = "feature/first-broken"
    push_stand_in_image(local_target, "v1")
    with pytest.raises(RollbackFailedError) as caught:
        release.deploy_release(local_target, branch, "v1", environment=BROKEN)
    assert caught.value.exit_code == 4
    message = caught.value.message
    assert "no earlier release to roll back to" in message
    assert "still deployed" in message  # what state the environment is in
    assert "deploytool destroy" in message  # and what to do
    stackops.destroy(local_target, branch)


def _cli(args: list[str], data_dir: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "DEPLOYTOOL_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "deploytool.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_concurrent_applies_one_wins_the_other_exits_5(
    local_target: Any, local_platform: dict[str, Any], emulator: Any, deploytool_home: Path, tmp_path: Path
) -> None:
    branch = "feature/race"
    names = local_target.names(branch)
    stackops.apply_stack(local_target, "app", branch=branch, image_tag="v1")
    s3 = emulator.client("s3")
    key = f"workspaces/{names.workspace}/{local_target.env}/app/terraform.tfstate"
    serial_before = json.loads(s3.get_object(Bucket=local_target.state_bucket, Key=key)["Body"].read())["serial"]

    # The first run talks to the emulator through a proxy that keeps its task definition registration
    # (the middle of its apply, the lock held) waiting until the second run has ended: the two runs
    # overlap however fast either reaches Terraform.
    proxy = FaultProxy(emulator.endpoint)
    home = tmp_path / "proxied-home"
    home.mkdir()
    for name in ("terraform.rc", "provider-mirror", "plugin-cache"):
        if (deploytool_home / name).exists():
            (home / name).symlink_to(deploytool_home / name)
    (home / "emulator.json").write_text(json.dumps({"pid": emulator.info.pid, "port": proxy.port}))
    hold = proxy.hold(api_call("RegisterTaskDefinition"))
    args = ["apply", "--env", "local", "--branch", branch, "--image-tag", "v2", "--yes"]
    try:
        first = _cli(
            args, tmp_path / "runner-a", env={"DEPLOYTOOL_HOME": str(home), "AWS_ENDPOINT_URL": proxy.endpoint}
        )
        assert hold.arrived.wait(240), first.poll()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until the first run holds the lock
            listed = s3.list_objects_v2(Bucket=local_target.state_bucket, Prefix=key + ".tflock")
            if listed.get("KeyCount"):
                break
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
        second = _cli([*args[:-2], "v3", "--yes"], tmp_path / "runner-b")
        out_second = second.communicate(timeout=300)
        hold.release()
        out_first = first.communicate(timeout=300)
    finally:
        proxy.close()
    # What is promised is one success, one exit 5 naming the holder, and a consistent state.
    codes = sorted([first.returncode, second.returncode])
    assert codes == [0, 5], (out_first[1][-1500:], out_second[1][-1500:])
    winner, loser = ("v2", out_second) if first.returncode == 0 else ("v3", out_first)
    assert "state is locked" in loser[1]
    assert "lock ID" in loser[1] and "force-unlock" in loser[1]

    state = json.loads(s3.get_object(Bucket=local_target.state_bucket, Key=key)["Body"].read())
    assert state["serial"] > serial_before
    images = [r for r in state["resources"] if r["type"] == "aws_ecs_task_definition"]
    container = json.loads(images[0]["instances"][0]["attributes"]["container_definitions"])[0]
    assert container["image"].endswith(f":{winner}")  # the loser changed nothing
    assert not s3.list_objects_v2(Bucket=local_target.state_bucket, Prefix=key + ".tflock").get("KeyCount")
    stackops.destroy(local_target, branch)


def test_names_of_the_long_branch_fit() -> None:
    names = naming.names_for("local", LONG_BRANCH, "local.theobroma.example")
    assert len(names.target_group) <= 32
    assert len(names.host.split(".")[0]) <= 63
