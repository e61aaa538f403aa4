"""The local load balancer's routing and health states, on the shapes the ELBv2 API returns."""

from __future__ import annotations

import random
from typing import Any

from deploytool.locallb import (
    Group,
    HealthCheck,
    Rule,
    TargetState,
    choose_rule,
    forward_groups,
    matcher_accepts,
    pick_group,
)

BLUE, GREEN, BRANCH = "arn:tg/blue", "arn:tg/green", "arn:tg/branch"


def host(*values: str) -> dict[str, Any]:
    return {"Field": "host-header", "HostHeaderConfig": {"Values": list(values)}}


def header(name: str, *values: str) -> dict[str, Any]:
    return {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": name, "Values": list(values)}}


def forward(*groups: tuple[str, int]) -> dict[str, Any]:
    weighted = [{"TargetGroupArn": a, "Weight": w} for a, w in groups]
    return {"Type": "forward", "ForwardConfig": {"TargetGroups": weighted}}


NOT_FOUND = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"}}
RULES = [
    Rule(None, (), (NOT_FOUND,)),
    Rule(200, (host("api.example"),), (forward((BLUE, 100), (GREEN, 0)),)),
    Rule(100, (host("api.example"), header("X-Deploy-Target", "t0ken")), (forward((GREEN, 1)),)),
    Rule(300, (host("staging-*.example"),), ({"Type": "forward", "TargetGroupArn": BRANCH},)),
]


def test_rules_by_priority_all_conditions_and_the_default() -> None:
    def route(h: str, headers: dict[str, str] | None = None) -> int | None:
        rule = choose_rule(RULES, h, headers or {}, "/health")
        assert rule is not None
        return rule.priority

    assert route("api.example") == 200
    assert route("API.example:8080") == 200  # case-insensitive, port ignored
    assert route("api.example", {"x-deploy-target": "t0ken"}) == 100
    assert route("api.example", {"x-deploy-target": "idle"}) == 200  # a wrong token is the production route
    assert route("staging-feature-x.example") == 300
    assert route("other.example") is None  # the default action


def test_forward_forms_and_weights() -> None:
    assert forward_groups({"Type": "forward", "TargetGroupArn": BRANCH}) == [(BRANCH, 1)]
    assert forward_groups(forward((BLUE, 100), (GREEN, 0))) == [(BLUE, 100), (GREEN, 0)]
    rng = random.Random(1)
    assert {pick_group([(BLUE, 100), (GREEN, 0)], rng) for _ in range(200)} == {BLUE}
    assert pick_group([(BLUE, 0), (GREEN, 0)], rng) is None
    picks = [pick_group([(BLUE, 50), (GREEN, 50)], rng) for _ in range(400)]
    assert 100 < picks.count(BLUE) < 300


def test_matcher_codes() -> None:
    assert matcher_accepts("200", 200) and not matcher_accepts("200", 204)
    assert matcher_accepts("200-299", 204) and matcher_accepts("200,302", 302) and not matcher_accepts("200,302", 500)


def test_health_states_follow_the_thresholds_and_settings_are_scaled() -> None:
    check = HealthCheck.of(
        {
            "HealthCheckPath": "/health",
            "HealthCheckIntervalSeconds": 10,
            "HealthCheckTimeoutSeconds": 5,
            "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": 3,
            "Matcher": {"HttpCode": "200"},
        },
        {"deregistration_delay.timeout_seconds": "30"},
        0.1,
    )
    assert (check.interval_s, check.timeout_s, check.deregistration_delay_s) == (1.0, 1.0, 3.0)
    target = TargetState("127.0.0.1", 8000)
    assert target.state == "initial"
    target.observe(True, "", check)
    assert target.state == "initial" and target.reason == "Elb.InitialHealthChecking"
    target.observe(True, "", check)
    assert target.state == "healthy"
    for _ in range(2):
        target.observe(False, "Health checks failed with these codes: [503]", check)
    assert target.state == "healthy"
    target.observe(False, "Health checks failed with these codes: [503]", check)
    assert target.state == "unhealthy" and target.reason == "Target.ResponseCodeMismatch"


def test_only_healthy_targets_get_traffic_and_none_healthy_fails_open() -> None:
    group = Group(BRANCH, HealthCheck())
    old, new = TargetState("127.0.0.1", 1, state="healthy"), TargetState("127.0.0.1", 2)
    group.targets = {(t.id, t.port): t for t in (old, new)}
    assert group.routable() == [old]  # a target still in its initial checks gets nothing
    old.state = "draining"
    assert group.routable() == [new]  # none healthy: every registered, non-draining target
    new.state = "healthy"
    assert group.routable() == [new]


def test_a_health_check_port_other_than_the_traffic_port_is_one_nothing_listens_on() -> None:
    group = {"Port": 8000, "HealthCheckIntervalSeconds": 10, "HealthyThresholdCount": 2}
    assert HealthCheck.of({**group, "HealthCheckPort": "traffic-port"}, {}, 0.1).other_port is None
    assert HealthCheck.of({**group, "HealthCheckPort": "8000"}, {}, 0.1).other_port is None
    assert HealthCheck.of({**group, "HealthCheckPort": "8080"}, {}, 0.1).other_port == "8080"
