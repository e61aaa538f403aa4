"""Blue-green bake: `finalize --if-baked` waits for the bake to end, and a deploy does not stage over a
colour that still bakes unless told to finalize first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from deploytool.cli import main
from deploytool.errors import DeployError
from deploytool.health import CheckResult, Verdict
from deploytool.ledger import Record
from deploytool.release import bluegreen
from deploytool.release.bluegreen import BlueGreen, Colors

OK = Verdict((CheckResult("http.stability", "pass", "3 passes in a row"),))

# After a switch to green: blue (v1) bakes, green (v2) serves.
SWITCHED = Colors(
    active_color="green",
    blue_image_tag="v1",
    green_image_tag="v2",
    blue_desired_count=2,
    green_desired_count=2,
)


class Outputs:
    url = "http://api.example"


class Ledger:
    """The ledger calls the sequence makes, in memory."""

    def __init__(self, records: list[Record]) -> None:
        self.stored = records
        self.written: list[Record] = []

    def records(self, env: str, workspace: str | None = None) -> list[Record]:
        return list(self.stored)

    def try_write(self, record: Record, warn: Any = None) -> str:
        self.written.append(record)
        self.stored.append(record)
        return record.id

    @contextmanager
    def recording(self, record: Record, *, warn: Any = None) -> Iterator[Record]:
        self.written.append(record)
        yield record
        if record.outcome == "in_progress":
            record.outcome = "success"


def switch_record(bake_until: datetime | None, colors: Colors = SWITCHED) -> Record:
    extra: dict[str, Any] = {"colors": dict(colors.__dict__)}
    if bake_until is not None:
        extra["bake_until"] = bake_until.isoformat()
    return Record(
        env="production",
        workspace="default",
        stack="app",
        action="deploy",
        image_before="v1",
        image_after="v2",
        outcome="success",
        extra=extra,
    )


class Scripted(BlueGreen):
    """The sequence over an in-memory state: every apply becomes the deployed colours, every check passes."""

    def __init__(self, colors: Colors, records: list[Record]) -> None:  # no target: only the sequence runs
        self.applied: list[tuple[str, Colors]] = []
        self.lines: list[str] = []
        self.progress = self.lines.append
        self.target = SimpleNamespace(env="production", settings=SimpleNamespace(bake_minutes=30, desired_count=2))  # type: ignore[assignment]
        self.workspace = "default"
        self.ledger = Ledger(records)  # type: ignore[assignment]
        self.deployed = colors

    def apply(self, colors: Colors, what: str) -> Any:
        self.applied.append((what, colors))
        self.deployed = colors
        return Outputs()

    def check(self, color: str, tag: str, outputs: Any, *, test_route: bool) -> Verdict:
        return OK


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Any:
    def make(colors: Colors, records: list[Record]) -> Scripted:
        strategy = Scripted(colors, records)
        monkeypatch.setattr(bluegreen, "current_colors", lambda *a, **k: strategy.deployed)
        monkeypatch.setattr(bluegreen, "app_outputs", lambda *a, **k: None)  # no migration step
        monkeypatch.setattr(bluegreen.inputs, "require_image", lambda *a, **k: None)
        return strategy

    return make


def in_minutes(minutes: int) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


# -- finalize --if-baked ------------------------------------------------------------------------
def test_finalize_if_baked_does_nothing_while_the_bake_runs(scripted: Any) -> None:
    until = in_minutes(20)
    strategy = scripted(SWITCHED, [switch_record(until)])

    message = strategy.finalize(if_baked=True)

    assert strategy.applied == [] and strategy.ledger.written == []
    assert "\n" not in message
    assert f"{until:%Y-%m-%d %H:%M} UTC" in message and "blue" in message and "nothing to do" in message


def test_finalize_if_baked_scales_down_once_the_bake_is_over(scripted: Any) -> None:
    strategy = scripted(SWITCHED, [switch_record(in_minutes(-1))])

    message = strategy.finalize(if_baked=True)

    ((what, done),) = strategy.applied
    assert what.startswith("finalize: scale blue down")
    assert done.blue_desired_count == 0 and done.green_desired_count == 2 and done.active_color == "green"
    assert [r.action for r in strategy.ledger.written] == ["finalize"]
    assert "blue scaled down" in message


def test_finalize_without_if_baked_ends_the_bake_early(scripted: Any) -> None:
    strategy = scripted(SWITCHED, [switch_record(in_minutes(20))])

    assert "blue scaled down" in strategy.finalize()
    assert strategy.deployed.blue_desired_count == 0


def test_finalize_if_baked_reports_an_idle_colour_already_down(scripted: Any) -> None:
    down = SWITCHED.with_color("blue", count=0)
    strategy = scripted(down, [switch_record(in_minutes(20), down)])

    assert strategy.finalize(if_baked=True) == "blue is already scaled down"
    assert strategy.applied == []


# -- deploy during and after the bake ------------------------------------------------------------
def test_a_deploy_during_the_bake_is_refused_and_changes_nothing(scripted: Any) -> None:
    until = in_minutes(20)
    strategy = scripted(SWITCHED, [switch_record(until)])

    with pytest.raises(DeployError) as caught:
        strategy.deploy("v3")

    assert caught.value.exit_code == 1
    message = caught.value.message
    assert f"{until:%Y-%m-%d %H:%M} UTC" in message
    assert "`deploytool finalize --env production`" in message and "--finalize-first" in message
    assert strategy.applied == [] and strategy.ledger.written == []
    # --output json prints it: the workflow's summary tells a refusal from a failure.
    assert caught.value.result is not None
    assert (caught.value.result["outcome"], caught.value.result["bake_until"]) == ("refused", until.isoformat())


def test_a_deploy_with_finalize_first_scales_the_baking_colour_down_before_staging(scripted: Any) -> None:
    strategy = scripted(SWITCHED, [switch_record(in_minutes(20))])

    outcome = strategy.deploy("v3", finalize_first=True)

    assert outcome.outcome == "success"
    steps = [what for what, _ in strategy.applied]
    assert steps[0].startswith("finalize: scale blue down"), steps
    finalized = strategy.applied[0][1]
    assert finalized.blue_desired_count == 0 and finalized.active_color == "green"
    staged = strategy.applied[1][1]
    assert staged.blue_image_tag == "v3" and staged.blue_desired_count == 2 and staged.active_color == "green"
    assert strategy.applied[-1][1].active_color == "blue"
    assert [r.action for r in strategy.ledger.written] == ["finalize", "deploy"]
    assert any("finalize" in line and "before" in line for line in strategy.lines), strategy.lines


def test_a_deploy_after_the_bake_finalizes_by_itself(scripted: Any) -> None:
    strategy = scripted(SWITCHED, [switch_record(in_minutes(-5))])

    strategy.deploy("v3")

    assert strategy.applied[0][0].startswith("finalize: scale blue down")
    assert strategy.applied[0][1].blue_desired_count == 0
    assert [r.action for r in strategy.ledger.written] == ["finalize", "deploy"]
    assert any("bake" in line and "over" in line for line in strategy.lines), strategy.lines


def test_a_deploy_over_a_scaled_down_idle_colour_does_not_finalize(scripted: Any) -> None:
    down = SWITCHED.with_color("blue", count=0)
    strategy = scripted(down, [switch_record(in_minutes(20), down)])

    strategy.deploy("v3")

    assert not any(what.startswith("finalize") for what, _ in strategy.applied)
    assert [r.action for r in strategy.ledger.written] == ["deploy"]


def test_the_bake_end_is_the_last_switch_s(scripted: Any) -> None:
    # A later record with colours and no bake (a rollback flips back): nothing bakes.
    rollback = switch_record(None)
    rollback.action = "rollback"
    strategy = scripted(SWITCHED, [switch_record(in_minutes(20)), rollback])

    assert strategy.bake_until() is None
    strategy.deploy("v3")
    assert strategy.applied[0][0].startswith("finalize")


def test_a_rollback_to_a_tag_during_the_bake_ends_the_bake_first(scripted: Any) -> None:
    strategy = scripted(SWITCHED, [switch_record(in_minutes(20))])

    strategy.rollback("v0")

    assert strategy.applied[0][0].startswith("finalize: scale blue down")
    assert strategy.applied[1][1].blue_image_tag == "v0"


# -- the CLI ------------------------------------------------------------------------------------
def test_the_cli_passes_finalize_first_and_if_baked(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def deploy(*_: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise DeployError("stop here")

    def finalize(*_: Any, **kwargs: Any) -> str:
        seen.update(kwargs)
        return "done"

    monkeypatch.setattr("deploytool.cli.stacks.make_target", lambda *a: object())
    monkeypatch.setattr("deploytool.release.deploy_release", deploy)
    monkeypatch.setattr("deploytool.release.finalize", finalize)
    args = ["deploy", "--env", "production", "--image-tag", "abc1234", "--yes"]
    assert CliRunner().invoke(main, [*args, "--finalize-first"]).exit_code == 1
    assert seen["finalize_first"] is True
    assert CliRunner().invoke(main, args).exit_code == 1
    assert seen["finalize_first"] is False
    assert CliRunner().invoke(main, ["finalize", "--env", "production", "--yes", "--if-baked"]).exit_code == 0
    assert seen["if_baked"] is True
    assert CliRunner().invoke(main, ["finalize", "--env", "production", "--yes"]).exit_code == 0
    assert seen["if_baked"] is False


# -- the tag production serves already ------------------------------------------------------------
def test_a_deploy_of_the_tag_production_serves_checks_it_and_changes_nothing_even_during_the_bake(
    scripted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release tag pushed on the commit main just released builds no new image: its deploy asks
    for the tag the active colour serves. Nothing is staged or switched, the bake keeps its end."""
    until = in_minutes(20)
    strategy = scripted(SWITCHED, [switch_record(until)])
    monkeypatch.setattr(bluegreen, "app_outputs", lambda *a, **k: Outputs())
    checked: list[tuple[str, str, bool]] = []

    def check(color: str, tag: str, outputs: Any, *, test_route: bool) -> Verdict:
        checked.append((color, tag, test_route))
        return OK

    strategy.check = check  # type: ignore[method-assign]

    outcome = strategy.deploy("v2")

    assert outcome.outcome == "success" and (outcome.image_before, outcome.image_after) == ("v2", "v2")
    assert strategy.applied == []
    assert checked == [("green", "v2", False)]  # the production route, the active colour
    (record,) = strategy.ledger.written
    assert record.action == "deploy" and "nothing applied" in record.message and "colors" not in record.extra
    assert strategy.bake_until() == until  # the bake still ends when it did
    with pytest.raises(DeployError, match="still bakes"):
        strategy.deploy("v3")  # another tag is still refused during the bake


def test_a_deploy_of_the_tag_production_serves_unhealthy_exits_4_and_changes_nothing(
    scripted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    strategy = scripted(SWITCHED, [switch_record(in_minutes(-5))])
    monkeypatch.setattr(bluegreen, "app_outputs", lambda *a, **k: Outputs())
    failing = Verdict((CheckResult("http.stability", "fail", "503 from /health"),))
    strategy.check = lambda *a, **k: failing  # type: ignore[method-assign]

    with pytest.raises(DeployError) as caught:
        strategy.deploy("v2")

    assert caught.value.exit_code == 4
    assert "nothing was changed" in caught.value.message and "503 from /health" in caught.value.message
    assert strategy.applied == []  # not even the finalize the bake's end would allow
    assert strategy.ledger.written[-1].outcome == "failed"
