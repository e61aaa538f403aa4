"""Verification order and identity, on recorded AWS response shapes (botocore Stubber) and a real
HTTP server that answers as the old or the new release.

During an ECS rolling update the old tasks keep serving, registered and healthy, until the new
ones are: HTTP checks alone pass against the old release while the new one crash-loops.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from deploytool.config import load_config
from deploytool.health import HealthSettings
from deploytool.release.verify import verify_release
from deploytool.state import ServiceOutputs
from tests.unit.test_awschecks import (
    BREAKER_EVENT,
    CLUSTER,
    EXPECTED_PARAMS,
    REGION,
    SERVICE,
    TD_NEW,
    TD_OLD,
    TG_ARN,
    deployment,
    describe_services,
)

ROOT = Path(__file__).resolve().parents[2]
TG_PARAMS = {"TargetGroupArn": TG_ARN}
OLD, NEW = "release-a", "release-b"


class Release:
    """A service whose answers come from the old release for ``old_answers`` requests, then the new."""

    def __init__(self) -> None:
        self.old_answers = 0
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def version(self) -> str:
        with self.lock:
            served = sum(1 for p in self.requests if p == "/health/detailed")
        return OLD if served <= self.old_answers else NEW


@pytest.fixture
def release() -> Iterator[tuple[Release, str]]:
    state = Release()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with state.lock:
                state.requests.append(self.path)
            if self.path == "/health/detailed":
                body = json.dumps(
                    {"status": "healthy", "version": state.version(), "components": {"database": {"status": "healthy"}}}
                ).encode()
            else:
                body = b'{"status": "ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stubs() -> Iterator[tuple[Any, Stubber, Any, Stubber]]:
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
    ecs, elbv2 = boto3.client("ecs", **creds), boto3.client("elbv2", **creds)
    with Stubber(ecs) as ecs_stub, Stubber(elbv2) as elb_stub:
        yield ecs, ecs_stub, elbv2, elb_stub
        ecs_stub.assert_no_pending_responses()
        elb_stub.assert_no_pending_responses()


SERVICE_OUT = ServiceOutputs(CLUSTER, SERVICE, TD_NEW, TG_ARN, NEW)


def http(url: str, *, budget_s: float = 5.0) -> HealthSettings:
    return HealthSettings(
        base_url=url,
        request_timeout_s=1.0,
        budget_s=budget_s,
        interval_s=0.02,
        max_interval_s=0.05,
        consecutive_passes=3,
        expected_version=NEW,
    )


def target(ip: str, state: str, reason: str | None = None) -> dict[str, Any]:
    health: dict[str, Any] = {"State": state}
    if reason:
        health["Reason"] = reason
    return {"Target": {"Id": ip, "Port": 8000}, "HealthCheckPort": "8000", "TargetHealth": health}


def in_progress() -> dict[str, Any]:
    """The new deployment rolling out: one new task started, the old deployment's two still serving."""
    return describe_services(
        [
            deployment(2, "PRIMARY", TD_NEW, rollout="IN_PROGRESS", running=1, desired=2, pending=1),
            deployment(1, "ACTIVE", TD_OLD, rollout="COMPLETED", running=2, desired=2),
        ]
    )


def test_http_runs_only_after_the_rollout_completed_and_every_target_is_healthy(
    stubs: tuple[Any, Stubber, Any, Stubber], release: tuple[Release, str]
) -> None:
    ecs, ecs_stub, elbv2, elb_stub = stubs
    _state, url = release
    ecs_stub.add_response("describe_services", in_progress(), EXPECTED_PARAMS)
    ecs_stub.add_response("describe_services", in_progress(), EXPECTED_PARAMS)
    ecs_stub.add_response(
        "describe_services", describe_services([deployment(2, "PRIMARY", TD_NEW, rollout="COMPLETED")]), EXPECTED_PARAMS
    )
    # Old tasks healthy, the new ones still in their first health checks: not yet.
    elb_stub.add_response(
        "describe_target_health",
        {
            "TargetHealthDescriptions": [
                target("10.0.1.10", "draining", "Target.DeregistrationInProgress"),
                target("10.0.1.20", "initial", "Elb.InitialHealthChecking"),
                target("10.0.2.21", "healthy"),
            ]
        },
        TG_PARAMS,
    )
    elb_stub.add_response(
        "describe_target_health",
        {"TargetHealthDescriptions": [target("10.0.1.20", "healthy"), target("10.0.2.21", "healthy")]},
        TG_PARAMS,
    )

    verdict = verify_release(ecs, elbv2, SERVICE_OUT, http(url), poll_s=0.01)

    assert verdict.ok, verdict.summary()
    names = [c.name for c in verdict.checks]
    assert names[:2] == ["ecs.rollout", "alb.targets"]
    assert "http.version" in names and names[-1] == "http.stability"
    assert verdict.checks[1].detail == "2 targets healthy"


def test_circuit_breaker_failure_fails_although_the_old_release_answers_every_http_check(
    stubs: tuple[Any, Stubber, Any, Stubber], release: tuple[Release, str]
) -> None:
    ecs, ecs_stub, elbv2, _ = stubs
    state, url = release
    state.old_answers = 10**6  # the old tasks serve, healthy, throughout
    ecs_stub.add_response("describe_services", in_progress(), EXPECTED_PARAMS)
    ecs_stub.add_response(
        "describe_services",
        describe_services(
            [
                deployment(1, "PRIMARY", TD_OLD, rollout="IN_PROGRESS", running=2, desired=2),
                deployment(2, "ACTIVE", TD_NEW, rollout="FAILED", running=0, desired=0, failed=3),
            ],
            events=[BREAKER_EVENT],
        ),
        EXPECTED_PARAMS,
    )

    verdict = verify_release(ecs, elbv2, SERVICE_OUT, http(url), poll_s=0.01)

    assert not verdict.ok
    failure = verdict.first_failure
    assert failure is not None and failure.name == "ecs.rollout"
    assert "circuit breaker" in failure.detail
    assert state.requests == []  # nothing after a failed rollout looks at the old tasks


def test_old_version_answering_is_not_yet_then_the_new_one_passes(
    stubs: tuple[Any, Stubber, Any, Stubber], release: tuple[Release, str]
) -> None:
    ecs, ecs_stub, elbv2, elb_stub = stubs
    state, url = release
    state.old_answers = 4
    ecs_stub.add_response(
        "describe_services", describe_services([deployment(2, "PRIMARY", TD_NEW, rollout="COMPLETED")]), EXPECTED_PARAMS
    )
    elb_stub.add_response("describe_target_health", {"TargetHealthDescriptions": [target("10.0.1.20", "healthy")]})

    verdict = verify_release(ecs, elbv2, SERVICE_OUT, http(url), poll_s=0.01)

    assert verdict.ok, verdict.summary()
    assert len([p for p in state.requests if p == "/health/detailed"]) == 4 + 3


def test_old_version_still_answering_when_the_budget_ends_fails(
    stubs: tuple[Any, Stubber, Any, Stubber], release: tuple[Release, str]
) -> None:
    ecs, ecs_stub, elbv2, elb_stub = stubs
    state, url = release
    state.old_answers = 10**6
    ecs_stub.add_response(
        "describe_services", describe_services([deployment(2, "PRIMARY", TD_NEW, rollout="COMPLETED")]), EXPECTED_PARAMS
    )
    elb_stub.add_response("describe_target_health", {"TargetHealthDescriptions": [target("10.0.1.20", "healthy")]})

    verdict = verify_release(ecs, elbv2, SERVICE_OUT, http(url, budget_s=0.5), poll_s=0.01)

    assert not verdict.ok
    failure = verdict.first_failure
    assert failure is not None and failure.name == "http.version"
    assert f"{OLD!r}" in failure.detail and f"expected {NEW!r}" in failure.detail


def test_empty_target_group_is_waited_for_within_the_budget_then_fails(
    stubs: tuple[Any, Stubber, Any, Stubber], release: tuple[Release, str]
) -> None:
    ecs, ecs_stub, elbv2, elb_stub = stubs
    _state, url = release
    ecs_stub.add_response(
        "describe_services", describe_services([deployment(2, "PRIMARY", TD_NEW, rollout="COMPLETED")]), EXPECTED_PARAMS
    )
    for _ in range(3):
        elb_stub.add_response("describe_target_health", {"TargetHealthDescriptions": []}, TG_PARAMS)
    elb_stub.add_response("describe_target_health", {"TargetHealthDescriptions": [target("10.0.1.20", "healthy")]})

    verdict = verify_release(ecs, elbv2, SERVICE_OUT, http(url), poll_s=0.01)

    assert verdict.ok, verdict.summary()


def test_the_reference_service_environments_require_the_version_by_default() -> None:
    config = load_config(ROOT / "deploy.toml")
    for env in ("staging", "production", "local"):
        assert config.environment(env).health.require_version, env
