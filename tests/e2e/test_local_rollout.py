"""Rolling releases through the local load balancer, as ECS and the ALB roll them.

The emulator stores the listener rules and target groups; the local load balancer routes by them
to the stand-in tasks registered in the target groups and health-checks them with the groups'
settings. A new release starts beside the old one, which keeps serving until the new one is
healthy; a release that fails is stopped and never takes traffic from the old one.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from deploytool import release, stackops
from deploytool.errors import RolledBackError
from deploytool.localrun import LocalRuntime, push_stand_in_image
from deploytool.stack import Target

pytestmark = pytest.mark.apply


class Traffic:
    """A client hitting the load balancer's /health/detailed in a loop; counts statuses and versions."""

    def __init__(self, url: str, host: str) -> None:
        self.url, self.host = url, host
        self.statuses: Counter[int] = Counter()
        self.versions: list[str] = []
        self.answered: list[tuple[float, str]] = []  # (time, version) of every 200
        self.outcomes: list[str] = []  # every request in order: the version that answered, else the status
        self.errors: list[str] = []
        self._stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(headers={"Host": self.host}, timeout=5.0) as client:
            while not self._stop.is_set():
                try:
                    response = client.get(self.url + "/health/detailed")
                except httpx.HTTPError as exc:
                    self.errors.append(type(exc).__name__)
                    self.outcomes.append(type(exc).__name__)
                    continue
                self.statuses[response.status_code] += 1
                if response.status_code == 200:
                    version = str(response.json().get("version"))
                    self.versions.append(version)
                    self.answered.append((time.monotonic(), version))
                    self.outcomes.append(version)
                else:
                    self.outcomes.append(str(response.status_code))
                time.sleep(0.02)

    def longest_run_without(self, version: str) -> int:
        """The most requests in a row that ``version`` did not answer (counted in requests, not
        seconds, so a loaded machine does not change it)."""
        longest = run = 0
        for outcome in self.outcomes:
            run = 0 if outcome == version else run + 1
            longest = max(longest, run)
        return longest

    @property
    def non_2xx(self) -> int:
        return sum(n for code, n in self.statuses.items() if not 200 <= code < 300) + len(self.errors)


@contextmanager
def traffic(target: Target, branch: str) -> Iterator[Traffic]:
    runtime = target.runtime
    assert isinstance(runtime, LocalRuntime)
    counter = Traffic(runtime.load_balancer().url, target.names(branch).host)
    thread = threading.Thread(target=counter.run, daemon=True)
    thread.start()
    try:
        yield counter
    finally:
        counter._stop.set()
        thread.join(10)


def serving(target: Target, branch: str) -> str:
    runtime = target.runtime
    assert isinstance(runtime, LocalRuntime)
    response = httpx.get(
        runtime.load_balancer().url + "/health/detailed", headers={"Host": target.names(branch).host}, timeout=5
    )
    assert response.status_code == 200, response.text
    return str(response.json()["version"])


def deploy_good(target: Target, branch: str, tag: str) -> None:
    push_stand_in_image(target, tag)
    outcome = release.deploy_release(target, branch, tag)
    assert outcome.outcome == "success", outcome.verdict.summary()
    names = [c.name for c in outcome.verdict.checks]
    assert names[:2] == ["ecs.rollout", "alb.targets"], names
    assert all(c.status == "pass" for c in outcome.verdict.checks), outcome.verdict.summary()


def failed_deploy(target: Target, branch: str, tag: str, environment: dict[str, str]) -> tuple[RolledBackError, float]:
    push_stand_in_image(target, tag)
    started = time.monotonic()
    with pytest.raises(RolledBackError) as caught:
        release.deploy_release(target, branch, tag, environment=environment)
    assert caught.value.exit_code == 3
    return caught.value, time.monotonic() - started


def failed_record(target: Target, branch: str, tag: str) -> Any:
    records = target.ledger().records(target.env, target.names(branch).workspace)
    return next(r for r in reversed(records) if r.image_after == tag and r.action == "deploy")


def test_release_that_answers_then_exits_never_takes_traffic_from_the_old_one(
    local_target: Target, local_platform: dict[str, Any]
) -> None:
    branch = "feature/lb-trap"
    deploy_good(local_target, branch, "trap-a")
    assert serving(local_target, branch) == "trap-a"

    with traffic(local_target, branch) as seen:
        error, _ = failed_deploy(local_target, branch, "trap-b", {"GEOAPI_FAULT": "exit-after:3"})
    assert "trap-b failed verification" in error.message and "rolled back to trap-a" in error.message
    # trap-a served throughout. Once healthy, trap-b's target took its share of requests, as an ALB
    # routes to every healthy target; when it exited, the requests in flight to it failed (502)
    # until it was deregistered: as on AWS, and never more than a few.
    # Round robin over two targets: at most a request or two in a row go to trap-b (or fail as it
    # exits). Had trap-a been drained or stopped, every request would have.
    assert "trap-a" in seen.outcomes and seen.longest_run_without("trap-a") <= 3, seen.outcomes
    assert set(seen.versions) <= {"trap-a", "trap-b"}
    assert set(seen.statuses) <= {200, 502} and seen.statuses[502] <= 10 and not seen.errors, seen.statuses
    print(f"trap: {dict(seen.statuses)} through the load balancer while trap-b rolled out and failed")
    assert serving(local_target, branch) == "trap-a"
    record = failed_record(local_target, branch, "trap-b")
    assert record.outcome == "rolled_back"
    assert "ecs.rollout failed" in record.message and "exited" in record.message, record.message
    stackops.destroy(local_target, branch)


def test_release_never_healthy_fails_within_the_budget(local_target: Target, local_platform: dict[str, Any]) -> None:
    branch = "feature/lb-unhealthy"
    deploy_good(local_target, branch, "sick-a")
    _, took = failed_deploy(local_target, branch, "sick-b", {"GEOAPI_FAULT": "unhealthy"})
    assert took < local_target.settings.health.timeout_seconds
    record = failed_record(local_target, branch, "sick-b")
    assert "unhealthy" in record.message and "Target.ResponseCodeMismatch" in record.message, record.message
    assert serving(local_target, branch) == "sick-a"
    stackops.destroy(local_target, branch)


def test_release_reporting_the_old_version_fails(local_target: Target, local_platform: dict[str, Any]) -> None:
    branch = "feature/lb-stale"
    deploy_good(local_target, branch, "stale-a")
    failed_deploy(local_target, branch, "stale-b", {"GEOAPI_FAULT": "version:stale-a"})
    record = failed_record(local_target, branch, "stale-b")
    assert "http.version failed" in record.message and "'stale-a'" in record.message, record.message
    checks = {c["name"]: c["status"] for c in record.checks}
    assert checks["ecs.rollout"] == "pass" and checks["alb.targets"] == "pass"
    assert serving(local_target, branch) == "stale-a"
    stackops.destroy(local_target, branch)


def test_rolling_deploy_of_two_tasks_serves_without_an_error(
    local_target: Target, local_platform: dict[str, Any]
) -> None:
    branch = "feature/lb-rolling"
    settings = local_target.settings.model_copy(update={"desired_count": 2})
    target = dataclasses.replace(local_target, settings=settings)
    deploy_good(target, branch, "roll-a")
    runtime = target.runtime
    assert isinstance(runtime, LocalRuntime)
    assert len(runtime.tasks(target.names(branch).service)) == 2

    with traffic(target, branch) as seen:
        deploy_good(target, branch, "roll-b")
        after = len(seen.versions)
        time.sleep(1.0)
    assert seen.non_2xx == 0, (seen.statuses, seen.errors)
    assert sum(seen.statuses.values()) > 50
    assert set(seen.versions) <= {"roll-a", "roll-b"}
    assert set(seen.versions[after:]) == {"roll-b"}
    tasks = runtime.tasks(target.names(branch).service)
    assert len(tasks) == 2 and all(t.image.endswith(":roll-b") for t in tasks)
    targets = target.clients()("elbv2").describe_target_health(TargetGroupArn=stackops_tg(target, branch))
    assert sorted(d["Target"]["Port"] for d in targets["TargetHealthDescriptions"]) == sorted(t.port for t in tasks)
    print(f"rolling deploy of 2 tasks: {sum(seen.statuses.values())} requests, {seen.non_2xx} non-2xx")
    stackops.destroy(target, branch)


def stackops_tg(target: Target, branch: str) -> str:
    from deploytool.state import app_outputs

    app = app_outputs(target, target.names(branch).workspace)
    assert app is not None
    return app.service().target_group_arn
