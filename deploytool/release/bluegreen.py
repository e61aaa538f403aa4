"""Production blue-green: stage on the idle colour, verify it through the test route, flip, verify.

Two ECS services (blue, green) with their own target groups sit behind one production listener
rule that forwards 100/0 to the active colour; a test route (same host plus a header) reaches the
idle colour. All of it is Terraform driven by ``active_color``, ``<colour>_image_tag`` and
``<colour>_desired_count``. The sequence never leaves production pointing at an unverified colour::

    migrate from the idle colour's new task definition, once (deploytool.release.migration)
                                              -> fail: exit 1, nothing staged, production untouched
    stage   idle := new tag, scaled up        (production untouched)
    verify  idle through the test route       -> fail: scale idle down, exit 3
    flip    active := idle                    (listener weights, in place)
    verify  production URL                    -> fail: flip back, scale the new colour down, verify, exit 3 (or 4)
    bake    the old colour stays up for bake_minutes (the record's ``bake_until``) for a fast rollback

``finalize`` scales the old colour down (``--if-baked``: only once the bake is over, for a schedule).
A deploy never stages over a colour that still bakes: it is refused unless ``finalize_first``; once
the bake is over it finalizes first by itself.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from deploytool import inputs, naming
from deploytool.errors import DeployError, RollbackFailedError, RolledBackError
from deploytool.health import Verdict
from deploytool.ledger import Record
from deploytool.release import migration
from deploytool.release.outcome import DeployOutcome
from deploytool.release.verify import verify
from deploytool.stack import Target
from deploytool.stackops import Progress, apply_app, quiet
from deploytool.state import AppOutputs, app_outputs

COLORS = naming.COLORS


def other(color: str) -> str:
    return "green" if color == "blue" else "blue"


@dataclass
class Colors:
    """The blue-green inputs of the production app stack."""

    active_color: str = "blue"
    blue_image_tag: str | None = None
    green_image_tag: str | None = None
    blue_desired_count: int = 0
    green_desired_count: int = 0
    blue_environment: dict[str, str] = field(default_factory=dict)
    green_environment: dict[str, str] = field(default_factory=dict)

    @property
    def idle_color(self) -> str:
        return other(self.active_color)

    def tag(self, color: str) -> str | None:
        return self.blue_image_tag if color == "blue" else self.green_image_tag

    def with_color(
        self, color: str, *, tag: str | None = None, count: int | None = None, environment: dict[str, str] | None = None
    ) -> Colors:
        data = dict(self.__dict__)
        if tag is not None:
            data[f"{color}_image_tag"] = tag
        if count is not None:
            data[f"{color}_desired_count"] = count
        if environment is not None:
            data[f"{color}_environment"] = environment
        return Colors(**data)

    def to_vars(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        # A colour that never ran takes the other's tag (the variable must be a valid tag).
        out["blue_image_tag"] = self.blue_image_tag or self.green_image_tag
        out["green_image_tag"] = self.green_image_tag or self.blue_image_tag
        return out


def current_colors(target: Target, workspace: str) -> Colors | None:
    """The colours as deployed (from state outputs and the ledger), or None before the first deploy."""
    outputs = app_outputs(target, workspace)
    if outputs is None or not outputs.active_color:
        return None
    last = _last_colors_record(target, workspace)
    return Colors(
        active_color=outputs.active_color,
        blue_image_tag=outputs.text("blue_image_tag"),
        green_image_tag=outputs.text("green_image_tag"),
        blue_desired_count=int(last.get("blue_desired_count", 0)) if last else 0,
        green_desired_count=int(last.get("green_desired_count", 0)) if last else 0,
        blue_environment=dict(last.get("blue_environment", {})) if last else {},
        green_environment=dict(last.get("green_environment", {})) if last else {},
    )


def _last_colors_record(target: Target, workspace: str) -> dict[str, Any] | None:
    record = _last_colors_entry(target.ledger().records(target.env, workspace))
    return dict(record.extra["colors"]) if record else None


def _last_colors_entry(records: list[Record]) -> Record | None:
    """The last finished record that set the colours (a deploy, rollback or finalize)."""
    for record in reversed(records):
        if record.extra.get("colors") and record.outcome != "in_progress":
            return record
    return None


def _idle_count(colors: Colors) -> int:
    return colors.blue_desired_count if colors.idle_color == "blue" else colors.green_desired_count


class BlueGreen:
    """Runs the blue-green sequence for one environment's app stack (workspace ``default``)."""

    def __init__(
        self,
        target: Target,
        branch: str | None = None,
        *,
        health_url: str | None = None,
        progress: Progress = quiet,
    ) -> None:
        if target.settings.strategy != "blue-green":
            raise DeployError(f"environment {target.env!r} deploys with strategy {target.settings.strategy!r}")
        self.target = target
        self.names = target.names(branch)
        self.workspace = self.names.workspace
        self.health_url = health_url
        self.progress = progress
        self.ledger = target.ledger()
        # The test route's header value for this run: unguessable, so nobody outside the run reaches
        # the idle colour through the production host; a new one every run.
        self.route_token = secrets.token_hex(16)

    def running_image(self) -> str | None:
        """The tag of the colour production points at."""
        now = current_colors(self.target, self.workspace)
        return now.tag(now.active_color) if now else None

    # -- one apply ------------------------------------------------------------------------------
    def apply(self, colors: Colors, what: str) -> AppOutputs:
        self.progress(
            f"{what}: active={colors.active_color} blue={colors.blue_image_tag}×{colors.blue_desired_count}"
            f" green={colors.green_image_tag}×{colors.green_desired_count}"
        )
        tag = colors.tag(colors.active_color) or colors.tag(colors.idle_color) or "unset"
        extra = {"colors": colors.to_vars(), "test_route_token": self.route_token}
        _, outputs = apply_app(self.target, self.names, tag, extra=extra)
        return outputs

    def check(self, color: str, tag: str, outputs: AppOutputs, *, test_route: bool) -> Verdict:
        _, verdict = verify(
            self.target,
            self.names,
            outputs,
            outputs.service(color),
            image_tag=tag,
            test_route=test_route,
            health_url=self.health_url,
            progress=self.progress,
        )
        return verdict

    # -- the sequence -------------------------------------------------------------------------------
    def deploy(
        self,
        image_tag: str,
        *,
        environment: dict[str, str] | None = None,
        rollback: bool = True,
        finalize_first: bool = False,
    ) -> DeployOutcome:
        """The sequence in the module docstring. Production never points at an unverified colour, so
        ``rollback`` has no effect here: a failing release is never left serving.

        The idle colour is staged over only once it is scaled down: while it still bakes the deploy
        is refused (nothing applied, nothing recorded) unless ``finalize_first``; once the bake is
        over it is finalized first."""
        naming.validate_image_tag(image_tag)
        inputs.require_image(self.target, image_tag)
        desired = self.target.settings.desired_count
        before = current_colors(self.target, self.workspace)
        if before is not None and before.tag(before.active_color) == image_tag and not environment:
            return self._already_serving(before, image_tag)
        if before is not None and _idle_count(before) > 0:
            before = self._end_bake(before, image_tag, finalize_first=finalize_first)
        record = Record(
            env=self.target.env,
            workspace=self.workspace,
            stack="app",
            action="deploy",
            image_before=before.tag(before.active_color) if before else None,
            image_after=image_tag,
        )
        with self.ledger.recording(record, warn=self.progress):
            if before is None:
                return self._first_deploy(record, image_tag, desired, environment or {})
            return self._switch(record, before, image_tag, desired, environment or {})

    def _already_serving(self, before: Colors, tag: str) -> DeployOutcome:
        """Production serves ``tag`` already (a release tag pushed on the commit ``main`` just
        released): check it and change nothing. Staging the same image on the other colour and
        switching would be a release for nothing, and during the bake it would be refused. The
        record sets no colours, so a running bake keeps its end."""
        active = before.active_color
        record = Record(
            env=self.target.env,
            workspace=self.workspace,
            stack="app",
            action="deploy",
            image_before=tag,
            image_after=tag,
        )
        with self.ledger.recording(record, warn=self.progress):
            outputs = app_outputs(self.target, self.workspace)
            if outputs is None:
                raise DeployError(f"{self.target.env}: the colours name {tag} on {active}, but the app has no state")
            self.progress(f"{self.target.env} already serves {tag} on {active}: checking it; nothing to apply")
            verdict = self.check(active, tag, outputs, test_route=False)
            record.checks = [c.to_dict() for c in verdict.checks]
            url = str(outputs.url)
            if not verdict.ok:
                record.outcome = "failed"
                record.message = f"{tag} already serves on {active} and fails its checks: {verdict.summary()}"
                env = self.target.env
                raise RollbackFailedError(
                    f"{env} already serves {tag} on {active}, and it fails its checks now "
                    f"({verdict.summary()}); nothing was changed. Investigate with `deploytool diagnose`, or "
                    f"roll back with `deploytool rollback --env {env}`.",
                    result=self._outcome(record, url, verdict).to_dict(),
                )
            record.outcome = "success"
            record.message = f"{tag} already serves on {active}: checked, nothing applied"
            return self._outcome(record, url, verdict)

    def _end_bake(self, before: Colors, image_tag: str, *, finalize_first: bool) -> Colors:
        """Scale the idle colour down before it is staged over, or refuse while it bakes."""
        idle, env = before.idle_color, self.target.env
        until = self.bake_until()
        baking = until is not None and until > datetime.now(UTC)
        if baking and not finalize_first:
            raise DeployError(
                f"{env}: the previous release still bakes: {idle} ({before.tag(idle)}) stays up for a fast rollback "
                f"until {until:%Y-%m-%d %H:%M} UTC, and {image_tag} would be staged over it. End the bake first with "
                f"`deploytool finalize --env {env}`, or deploy with --finalize-first; nothing was changed",
                result={
                    "env": env,
                    "workspace": self.workspace,
                    "image_before": before.tag(before.active_color),
                    "image_after": image_tag,
                    "outcome": "refused",
                    "bake_until": until.isoformat() if until else None,
                },
            )
        why = "--finalize-first ends the bake" if baking else "the bake is over"
        self.progress(f"{why}: finalize (scale {idle} down) before staging {image_tag}")
        self.progress(self._scale_down(before))
        return before.with_color(idle, count=0)

    @staticmethod
    def _finish(record: Record, colors: Colors, verdict: Verdict, outcome: str, message: str = "") -> None:
        """Fill the record in (the ledger writes it when the run ends)."""
        record.checks = [c.to_dict() for c in verdict.checks]
        record.outcome = outcome
        record.message = message or verdict.summary()
        record.extra["colors"] = colors.__dict__

    def _outcome(self, record: Record, url: str, verdict: Verdict, **extra: Any) -> DeployOutcome:
        return DeployOutcome(
            self.target.env,
            self.workspace,
            record.image_before,
            str(record.image_after),
            url,
            verdict,
            record.outcome,
            [record.id],
            **extra,
        )

    @staticmethod
    def _first_colors(tag: str, desired: int, env: dict[str, str]) -> Colors:
        return Colors(
            active_color="blue",
            blue_image_tag=tag,
            green_image_tag=tag,
            blue_desired_count=desired,
            green_desired_count=0,
            blue_environment=env,
        )

    @staticmethod
    def _staged_colors(before: Colors, tag: str, desired: int, env: dict[str, str]) -> Colors:
        """``tag`` on the idle colour at ``desired`` tasks, the active one kept at least as large."""
        old, new = before.active_color, before.idle_color
        return before.with_color(new, tag=tag, count=desired, environment=env).with_color(
            old, count=max(before.blue_desired_count if old == "blue" else before.green_desired_count, desired)
        )

    def deployed_route_token(self) -> str | None:
        """The test route's header value the stack holds now (a plan keeps it), None before a deploy."""
        outputs = app_outputs(self.target, self.workspace)
        header = outputs.test_route_header if outputs is not None else {}
        return next(iter(header.values()), None)

    def planned_colors(self, image_tag: str | None, environment: dict[str, str] | None = None) -> Colors:
        """What a deploy of ``image_tag`` applies first (its staging step); without a tag, what runs."""
        before = current_colors(self.target, self.workspace)
        if image_tag is None:
            if before is None:
                raise DeployError(f"{self.target.env} has no release yet: pass --image-tag to plan the first one")
            return before
        naming.validate_image_tag(image_tag)
        desired = self.target.settings.desired_count
        if before is None:
            return self._first_colors(image_tag, desired, environment or {})
        return self._staged_colors(before, image_tag, desired, environment or {})

    def _first_deploy(self, record: Record, tag: str, desired: int, env: dict[str, str]) -> DeployOutcome:
        colors = self._first_colors(tag, desired, env)
        outputs = self.apply(colors, "first deploy on blue")
        if migration.command(self.target):  # nothing served before: migrate before the first check
            with migration.recorded(record):
                record.extra["migration"] = migration.run(
                    self.target, outputs.service("blue"), progress=self.progress
                ).to_dict()
        verdict = self.check("blue", tag, outputs, test_route=False)
        url = str(outputs.url)
        if not verdict.ok:
            self._finish(record, colors, verdict, "rollback_failed")
            raise RollbackFailedError(
                f"production: first release {tag} failed verification ({verdict.summary()}) and there is no earlier "
                f"release; blue serves {tag} unhealthy at {url}. Fix and deploy again.",
                result=self._outcome(record, url, verdict).to_dict(),
            )
        self._finish(record, colors, verdict, "success")
        return self._outcome(record, url, verdict)

    def _switch(self, record: Record, before: Colors, tag: str, desired: int, env: dict[str, str]) -> DeployOutcome:
        old, new = before.active_color, before.idle_color
        old_tag = before.tag(old)
        staged = self._staged_colors(before, tag, desired, env)
        current = app_outputs(self.target, self.workspace)
        if current is not None:  # once, before the idle colour is staged; nothing moves if it fails
            with migration.recorded(record):
                result = migration.before_release(
                    self.target,
                    self.names,
                    tag,
                    current.service(new),
                    extra={"colors": staged.to_vars()},
                    color=new,
                    progress=self.progress,
                )
            if result is not None:
                record.extra["migration"] = result.to_dict()
        outputs = self.apply(staged, f"stage {tag} on {new}")
        verdict = self.check(new, tag, outputs, test_route=True)
        if not verdict.ok:
            kept = staged.with_color(new, count=0)
            self.apply(kept, f"{new} failed; scale it down, {old} keeps serving")
            self._finish(record, kept, verdict, "rolled_back")
            raise RolledBackError(
                f"production: {tag} failed verification on {new} through the test route ({verdict.summary()}); "
                f"the listener was never switched, {old} still serves {old_tag}",
                result=self._outcome(record, str(outputs.url), verdict, restored_image=old_tag).to_dict(),
            )
        flipped = Colors(**{**staged.__dict__, "active_color": new})
        outputs = self.apply(flipped, f"switch production to {new}")
        prod = self.check(new, tag, outputs, test_route=False)
        url = str(outputs.url)
        if prod.ok:
            bake_until = datetime.now(UTC) + timedelta(minutes=self.target.settings.bake_minutes)
            record.extra["bake_until"] = bake_until.isoformat()
            self._finish(
                record,
                flipped,
                prod,
                "success",
                f"{new} serves {tag}; {old} ({old_tag}) stays up until {bake_until:%H:%M} UTC for rollback",
            )
            return self._outcome(record, url, prod)
        # Traffic goes back to the old colour and the colour that failed in production is scaled down
        # in the same apply: it never serves again, and a second failure cannot leave it running.
        back = Colors(**{**flipped.__dict__, "active_color": old}).with_color(new, count=0)
        outputs = self.apply(back, f"production check failed; switch back to {old} and scale {new} down")
        again = self.check(old, old_tag or tag, outputs, test_route=False)
        if again.ok:
            why = (
                f"{tag} failed the production check after the switch ({prod.summary()}); switched back to {old} "
                f"({old_tag}), which verified healthy, and scaled {new} down"
            )
            self._finish(record, back, prod, "rolled_back", why)
            raise RolledBackError(
                f"production: {why}",
                result=self._outcome(record, url, prod, rollback_verdict=again, restored_image=old_tag).to_dict(),
            )
        self._finish(
            record,
            back,
            again,
            "rollback_failed",
            f"{tag} failed after the switch ({prod.summary()}); switched back to {old} ({old_tag}), which failed "
            f"verification ({again.summary()}); {new} scaled down",
        )
        raise RollbackFailedError(
            f"production: {tag} failed after the switch and {old} ({old_tag}) failed verification after switching "
            f"back ({again.summary()}); production points at {old}. Investigate with `deploytool diagnose`.",
            result=self._outcome(record, url, prod, rollback_verdict=again, restored_image=old_tag).to_dict(),
        )

    def rollback(self, to: str | None = None) -> DeployOutcome:
        """Flip back to the previous colour if it still runs the last known good tag.

        ``to`` (a tag) re-deploys that tag through the whole sequence instead, ending a running bake
        first (the operator asked for that tag in production now).
        """
        if to is not None:
            return self.deploy(naming.validate_image_tag(to), finalize_first=True)
        now = current_colors(self.target, self.workspace)
        if now is None:
            raise DeployError("production has no deployed release to roll back")
        prev = now.idle_color
        prev_tag = now.tag(prev)
        good = self.ledger.last_known_good(self.target.env, self.workspace, exclude=now.tag(now.active_color))
        if prev_tag is None or good is None or good.image_after != prev_tag:
            raise DeployError(
                f"the idle colour {prev} does not run the last known good release; "
                f"deploy it again with `deploytool deploy --env {self.target.env} --image-tag TAG`"
            )
        inputs.require_image(self.target, prev_tag, deploy=False)  # scaling the colour up pulls it again
        record = Record(
            env=self.target.env,
            workspace=self.workspace,
            stack="app",
            action="rollback",
            image_before=now.tag(now.active_color),
            image_after=prev_tag,
        )
        with self.ledger.recording(record, warn=self.progress):
            count = max(self.target.settings.desired_count, 1)
            back = Colors(**{**now.__dict__, "active_color": prev}).with_color(prev, count=count)
            outputs = self.apply(back, f"roll back: switch production to {prev}")
            verdict = self.check(prev, prev_tag, outputs, test_route=False)
            self._finish(record, back, verdict, "success" if verdict.ok else "failed")
            outcome = self._outcome(record, str(outputs.url), verdict)
            if not verdict.ok:
                raise RollbackFailedError(
                    f"production: rollback to {prev} ({prev_tag}) failed ({verdict.summary()})",
                    result=outcome.to_dict(),
                )
        return outcome

    def bake_until(self) -> datetime | None:
        """When the last switch's bake ends (``bake_until`` of the last record that set the colours);
        None when that record is no switch (a rollback, a finalize, a first deploy)."""
        last = _last_colors_entry(self.ledger.records(self.target.env, self.workspace))
        value = last.extra.get("bake_until") if last else None
        if not value:
            return None
        until = datetime.fromisoformat(str(value))
        return until if until.tzinfo else until.replace(tzinfo=UTC)

    def finalize(self, *, if_baked: bool = False) -> str:
        """Scale the idle colour down, ending the bake (``if_baked``: only once the bake is over)."""
        now = current_colors(self.target, self.workspace)
        if now is None:
            raise DeployError("production has no deployed release")
        idle = now.idle_color
        if _idle_count(now) == 0:
            return f"{idle} is already scaled down"
        if if_baked:
            until = self.bake_until()
            if until is not None and until > datetime.now(UTC):
                return (
                    f"{self.target.env}: {idle} ({now.tag(idle)}) bakes until {until:%Y-%m-%d %H:%M} UTC; "
                    "nothing to do yet"
                )
        return self._scale_down(now)

    def _scale_down(self, now: Colors) -> str:
        idle = now.idle_color
        done = now.with_color(idle, count=0)
        self.apply(done, f"finalize: scale {idle} down")
        record = Record(
            env=self.target.env,
            workspace=self.workspace,
            stack="app",
            action="finalize",
            image_before=now.tag(idle),
            image_after=now.tag(now.active_color),
            outcome="success",
            extra={"colors": done.__dict__},
        )
        self.ledger.try_write(record, self.progress)
        return f"{idle} scaled down; {now.active_color} serves {now.tag(now.active_color)}"
