"""Production blue-green on the emulator: the listener only ever points at a verified colour."""

from __future__ import annotations

from typing import Any

import pytest

from deploytool import release
from deploytool.errors import RolledBackError
from deploytool.localrun import push_stand_in_image
from deploytool.state import app_outputs

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
