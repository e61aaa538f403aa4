"""Blue-green: a release that fails after the switch is switched away from and scaled down."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from deploytool.errors import RolledBackError
from deploytool.health import CheckResult, Verdict
from deploytool.ledger import Record
from deploytool.release.bluegreen import BlueGreen, Colors

OK = Verdict((CheckResult("http.stability", "pass", "3 passes in a row"),))
FAILED = Verdict((CheckResult("http.stability", "fail", "no attempt passed"),))


class Outputs:
    url = "http://api.example"


class Scripted(BlueGreen):
    """The sequence with Terraform and the checks replaced: green passes the test route, fails in production."""

    def __init__(self) -> None:  # no target: only the sequence runs
        self.applied: list[Colors] = []
        self.progress = lambda _: None
        self.target = SimpleNamespace(env="production", settings=SimpleNamespace(bake_minutes=30))  # type: ignore[assignment]
        self.workspace = "default"

    def apply(self, colors: Colors, what: str) -> Any:
        self.applied.append(colors)
        return Outputs()

    def check(self, color: str, tag: str, outputs: Any, *, test_route: bool) -> Verdict:
        return OK if test_route or color == "blue" else FAILED


def test_failure_after_the_switch_switches_back_and_scales_the_failed_colour_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from deploytool.release import bluegreen

    # The sequence alone: no outputs read back, so no migration step (tests/e2e/test_migration.py has it).
    monkeypatch.setattr(bluegreen, "app_outputs", lambda *a, **k: None)
    strategy = Scripted()
    before = Colors(active_color="blue", blue_image_tag="v1", green_image_tag="v1", blue_desired_count=2)
    record = Record(env="production", workspace="default", stack="app", action="deploy", image_after="v2")

    with pytest.raises(RolledBackError) as caught:
        strategy._switch(record, before, "v2", 2, {})

    assert "switched back to blue" in caught.value.message
    staged, switched, back = strategy.applied
    assert (staged.active_color, staged.green_desired_count) == ("blue", 2)
    assert switched.active_color == "green"
    assert back.active_color == "blue" and back.blue_desired_count == 2
    assert back.green_desired_count == 0, "the colour that failed in production keeps running"
    assert record.extra["colors"]["green_desired_count"] == 0
    assert record.outcome == "rolled_back"
    assert "after the switch" in record.message and "switched back to blue" in record.message, record.message


def test_the_test_route_token_is_unguessable_and_new_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from deploytool.release import bluegreen

    applied: list[dict[str, Any]] = []
    monkeypatch.setattr(bluegreen, "apply_app", lambda *a, **k: (None, applied.append(k["extra"]) or Outputs()))
    target = SimpleNamespace(
        settings=SimpleNamespace(strategy="blue-green"),
        names=lambda branch: SimpleNamespace(workspace="default"),
        ledger=lambda: None,
    )
    colors = Colors(active_color="blue", blue_image_tag="v1", green_image_tag="v1", blue_desired_count=1)
    first, second = BlueGreen(target), BlueGreen(target)  # type: ignore[arg-type]
    first.apply(colors, "stage")
    first.apply(colors, "switch")
    second.apply(colors, "stage")
    tokens = [extra["test_route_token"] for extra in applied]
    assert tokens[0] == tokens[1] != tokens[2], "one token per run, a new one the next run"
    assert all(len(t) == 32 and int(t, 16) >= 0 for t in tokens)
    assert "idle" not in tokens


def test_the_token_reaches_the_production_tfvars() -> None:
    from deploytool import naming
    from deploytool.inputs import app_template_context
    from deploytool.render import render_tfvars
    from tests.unit.test_settings_reach_terraform import CONFIG, ENVIRONMENTS, IMAGE_REPOSITORY, PLATFORM

    settings = CONFIG.environment("production")
    names = naming.names_for("production", None, settings.domain, project=CONFIG.project.name)
    colors = Colors(active_color="blue", blue_image_tag="v1", green_image_tag="v1", blue_desired_count=1)
    context = app_template_context(
        "production",
        settings,
        CONFIG.project,
        names,
        "v1",
        image_repository=IMAGE_REPOSITORY,
        platform=PLATFORM,
        listener_priority=None,
        extra={"colors": colors.to_vars(), "test_route_token": "0123abcd" * 4},
    )
    assert 'test_route_token         = "0123abcd0123abcd0123abcd0123abcd"' in render_tfvars(
        ENVIRONMENTS / "production" / "app", context
    )
