"""Production blue-green on the emulator: the listener only ever points at a verified colour.

Through the local load balancer: the production host and the test route swap at the switch; a
release that passes on the test route and fails in production is switched back from; a colour
scaled down (finalize, a switch-back) stops serving at once. The release that fails in production
carries the test-only fault ``production-unhealthy:<test route header>``: it answers 503 to
requests that came through the load balancer without the test route's header, so it is healthy to
the load balancer's health checks and on the test route, and fails once the production host points
at it, with no timing involved.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest

from deploytool import release
from deploytool.errors import RolledBackError
from deploytool.localrun import LocalRuntime, _alive, push_stand_in_image
from deploytool.stack import Target
from deploytool.state import AppOutputs, app_outputs

pytestmark = pytest.mark.apply

BROKEN = {"GEOAPI_REQUIRE_DATABASE": "true", "DATABASE_URL": ""}


def weights(elbv2: Any, rule_arn: str) -> dict[str, int]:
    rule = elbv2.describe_rules(RuleArns=[rule_arn])["Rules"][0]
    forward = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    names = {
        tg["TargetGroupArn"]: tg["TargetGroupName"]
        for tg in elbv2.describe_target_groups(TargetGroupArns=[f["TargetGroupArn"] for f in forward])["TargetGroups"]
    }
    return {names[f["TargetGroupArn"]].rsplit("-", 1)[-1]: int(f["Weight"]) for f in forward}


def idle_route_target(elbv2: Any, rule_arn: str) -> str:
    rule = elbv2.describe_rules(RuleArns=[rule_arn])["Rules"][0]
    arn = rule["Actions"][0]["TargetGroupArn"]
    return str(elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]["TargetGroupName"])


def image(ecs: Any, cluster: str, service: str) -> str:
    svc = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"]).rsplit(":", 1)[-1]


#: The test route's header (``modules/app-blue-green``: ``test_route_header_name``).
TEST_ROUTE_HEADER = "X-Deploy-Target"


def outputs_of(target: Target) -> AppOutputs:
    outputs = app_outputs(target, "default")
    assert outputs is not None and outputs.url
    return outputs


def runtime_of(target: Target) -> LocalRuntime:
    runtime = target.runtime
    assert isinstance(runtime, LocalRuntime)
    return runtime


def answer(target: Target, *, test_route: bool) -> tuple[int, str]:
    """(status, version or error detail) of /health/detailed through the local load balancer, on the
    production host or (with this run's header) on the test route."""
    outputs = outputs_of(target)
    headers = {"Host": outputs.url.split("://", 1)[1], **(outputs.test_route_header if test_route else {})}
    response = httpx.get(runtime_of(target).load_balancer().url + "/health/detailed", headers=headers, timeout=5)
    try:
        body = response.json()
    except ValueError:
        return response.status_code, response.text.strip()
    return response.status_code, str(body.get("version") or body.get("detail"))


def serving(target: Target) -> tuple[tuple[int, str], tuple[int, str]]:
    """What answers on the production host and on the test route."""
    return answer(target, test_route=False), answer(target, test_route=True)


def targets_seen(target: Target, color: str) -> list[dict[str, Any]]:
    """The colour's target group as the tool reads it in local mode (the local load balancer's view)."""
    _, elbv2, _ = runtime_of(target).observers()
    arn = outputs_of(target).service(color).target_group_arn
    return list(elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"])


def pids(target: Target, color: str) -> list[int]:
    return [t.pid for t in runtime_of(target).tasks(outputs_of(target).service(color).service_name)]


def test_blue_green_switches_only_to_verified_releases(
    production_target: Any, production_platform: dict[str, Any], emulator: Any
) -> None:
    target = production_target
    elbv2, ecs = emulator.client("elbv2"), emulator.client("ecs")
    cluster = production_platform["cluster_name"]

    def stack_outputs() -> dict[str, Any]:
        outputs = app_outputs(target, "default")
        assert outputs is not None
        return outputs.to_dict()

    # What the production build job pushes (production deploys only prod-* images that are in ECR).
    for tag in ("prod-rel-a", "prod-rel-b", "prod-rel-c"):
        push_stand_in_image(target, tag)

    # First release goes to blue, which serves 100 %.
    first = release.deploy_release(target, None, "prod-rel-a")
    assert first.outcome == "success"
    out = stack_outputs()
    assert weights(elbv2, out["production_rule_arn"]) == {"blue": 100, "green": 0}
    assert image(ecs, cluster, out["blue_service_name"]) == "prod-rel-a"

    # A good release is staged on green, checked through the test route, then switched to.
    second = release.deploy_release(target, None, "prod-rel-b")
    assert second.outcome == "success"
    out = stack_outputs()
    assert out["active_color"] == "green"
    assert weights(elbv2, out["production_rule_arn"]) == {"blue": 0, "green": 100}
    assert image(ecs, cluster, out["green_service_name"]) == "prod-rel-b"
    assert image(ecs, cluster, out["blue_service_name"]) == "prod-rel-a"  # kept up for the bake period
    assert idle_route_target(elbv2, out["test_rule_arn"]).endswith("-blue")  # test route -> idle colour

    # Rollback switches back to blue, which still runs the last known good release.
    back = release.rollback_release(target, None)
    assert back.image_after == "prod-rel-a"
    out = stack_outputs()
    assert out["active_color"] == "blue"
    assert weights(elbv2, out["production_rule_arn"]) == {"blue": 100, "green": 0}

    # Nothing bakes after a rollback: the next deploy scales green (the release rolled back from)
    # down first. A broken release is then staged on green, fails through the test route, and is
    # never switched to.
    with pytest.raises(RolledBackError) as caught:
        release.deploy_release(target, None, "prod-rel-c", environment=BROKEN)
    assert caught.value.exit_code == 3
    assert "listener was never switched" in caught.value.message
    out = stack_outputs()
    assert out["active_color"] == "blue"
    assert weights(elbv2, out["production_rule_arn"]) == {"blue": 100, "green": 0}
    assert image(ecs, cluster, out["blue_service_name"]) == "prod-rel-a"

    history = [
        (r.action, r.image_after, r.outcome) for r in target.ledger().records(target.env, "default") if r.stack == "app"
    ]
    assert history == [
        ("deploy", "prod-rel-a", "success"),
        ("deploy", "prod-rel-b", "success"),
        ("rollback", "prod-rel-a", "success"),
        ("finalize", "prod-rel-a", "success"),
        ("deploy", "prod-rel-c", "rolled_back"),
    ]

    # finalize scales the idle colour down.
    assert "scaled down" in release.finalize(target)


def test_through_the_load_balancer_production_and_the_test_route_swap_at_the_switch(
    production_target: Any, production_platform: dict[str, Any]
) -> None:
    """Before the switch the production host answers the old colour and the test route (with this
    run's token) the new one; after it, the reverse. A guessed token reaches production."""
    import httpx

    from deploytool.localrun import LocalRuntime

    target = production_target
    for tag in ("prod-lb-1", "prod-lb-2"):
        push_stand_in_image(target, tag)
    # Another test's release may still bake in this session: end it (finalize_first) to deploy.
    assert release.deploy_release(target, None, "prod-lb-1", finalize_first=True).outcome == "success"
    lb = LocalRuntime(target).load_balancer()

    def version(headers: dict[str, str]) -> str:
        outputs = app_outputs(target, "default")
        assert outputs is not None and outputs.url
        host = outputs.url.split("://", 1)[1]
        response = httpx.get(lb.url + "/health/detailed", headers={"Host": host, **headers}, timeout=5)
        assert response.status_code == 200, response.text
        return str(response.json()["version"])

    def test_route() -> dict[str, str]:
        outputs = app_outputs(target, "default")
        assert outputs is not None
        return outputs.test_route_header

    seen: dict[str, tuple[str, str, str]] = {}

    def at_switch(message: str) -> None:
        if message.startswith("switch production to"):  # the staged colour verified, not switched yet
            header = test_route()
            guessed = {name: "idle" for name in header}
            seen["before"] = (version({}), version(header), version(guessed))

    # prod-lb-1's switch left the old colour baking (production bake_minutes = 30): end the bake.
    outcome = release.deploy_release(target, None, "prod-lb-2", progress=at_switch, finalize_first=True)
    assert outcome.outcome == "success"
    assert seen["before"] == ("prod-lb-1", "prod-lb-2", "prod-lb-1")
    header = test_route()
    assert len(next(iter(header.values()))) == 32
    assert (version({}), version(header)) == ("prod-lb-2", "prod-lb-1")  # the old colour bakes behind the test route

    # finalize ends the bake: the old colour's stand-in tasks are deregistered, drained and stopped,
    # as ECS stops a service scaled to 0; the test route then has nothing behind it.
    idle = "green" if outputs_of(target).active_color == "blue" else "blue"
    baking = pids(target, idle)
    assert baking and len(targets_seen(target, idle)) == len(baking)
    assert "scaled down" in release.finalize(target)
    assert not any(_alive(pid) for pid in baking)
    assert pids(target, idle) == []
    assert targets_seen(target, idle) == []
    assert serving(target) == ((200, "prod-lb-2"), (503, "503 Service Temporarily Unavailable"))


def test_failure_after_the_switch_switches_back_and_scales_the_failed_colour_down(
    production_target: Target, production_platform: dict[str, Any]
) -> None:
    # Production's budget is 300 s; the failing release is 503 until it ends. 30 s holds the checks
    # of a healthy release here (5 passes 2 s apart, through the load balancer).
    health = production_target.settings.health.model_copy(update={"timeout_seconds": 30})
    target = dataclasses.replace(
        production_target, settings=production_target.settings.model_copy(update={"health": health})
    )
    for tag in ("prod-after-a", "prod-after-b"):
        push_stand_in_image(target, tag)
    # The release before: what an earlier test of the session left serving, else prod-after-a.
    if app_outputs(target, "default") is None:
        assert release.deploy_release(target, None, "prod-after-a").outcome == "success"
    old = outputs_of(target).active_color
    assert old is not None
    old_tag = outputs_of(target).text(f"{old}_image_tag")
    assert answer(target, test_route=False) == (200, old_tag)

    seen: dict[str, Any] = {}

    def steps(message: str) -> None:
        if message.startswith("switch production to"):  # verified on the test route, not switched yet
            seen["staged"] = serving(target)
        elif message.startswith("production check failed"):  # switched, failed, not switched back yet
            seen["switched"] = serving(target)
            seen["failed_color"] = outputs_of(target).active_color
            seen["failed_pids"] = pids(target, str(seen["failed_color"]))

    fault = {"GEOAPI_FAULT": f"production-unhealthy:{TEST_ROUTE_HEADER}"}
    with pytest.raises(RolledBackError) as caught:
        release.deploy_release(target, None, "prod-after-b", environment=fault, progress=steps, finalize_first=True)
    assert caught.value.exit_code == 3
    assert "failed the production check after the switch" in caught.value.message, caught.value.message
    assert f"switched back to {old} ({old_tag}), which verified healthy" in caught.value.message

    # Before the switch: production answers the old release, the test route the new one.
    assert seen["staged"] == ((200, old_tag), (200, "prod-after-b"))
    # After it: production reaches the new colour, which fails there (the fault's 503); the old
    # colour is the idle one, behind the test route.
    new = seen["failed_color"]
    assert new != old
    assert seen["switched"] == ((503, "test-only fault: production-unhealthy"), (200, old_tag))
    assert len(seen["failed_pids"]) == target.settings.desired_count

    # Switched back: production answers the old release; the failed colour is scaled down, so the
    # test route (which reaches the idle colour) has nothing behind it: its processes are stopped
    # and its target group has no targets.
    outputs = outputs_of(target)
    assert outputs.active_color == old
    assert serving(target) == ((200, old_tag), (503, "503 Service Temporarily Unavailable"))
    assert not any(_alive(pid) for pid in seen["failed_pids"])
    assert pids(target, new) == []
    assert targets_seen(target, new) == []
    runtime = runtime_of(target)
    failed = outputs.service(new)
    assert runtime.desired_count(failed.cluster_name, failed.service_name) == 0

    record = next(r for r in reversed(target.ledger().records(target.env, "default")) if r.stack == "app")
    assert (record.action, record.image_after, record.outcome) == ("deploy", "prod-after-b", "rolled_back")
    assert "failed the production check after the switch" in record.message
    assert f"switched back to {old} ({old_tag}), which verified healthy, and scaled {new} down" in record.message
    assert record.extra["colors"]["active_color"] == old
    assert record.extra["colors"][f"{new}_desired_count"] == 0
    http = {c["name"]: c["status"] for c in record.checks}
    assert http["ecs.rollout"] == "pass" and http["alb.targets"] == "pass" and http["http.stability"] == "fail"
