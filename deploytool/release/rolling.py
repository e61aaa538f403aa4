"""Rolling releases (staging, branch environments): one service, updated in place.

    deploy   [migrate from the new task definition] -> apply the new tag -> verify -> success
                                        -> fail: re-apply the last known good tag -> verify
                                                 -> exit 3 (restored) or 4 (restore failed / nothing to restore)
             a failed migration: exit 1, the service never moved (``deploytool.release.migration``)

The last known good release comes from the ledger (the newest verified success), else the tag
that ran before. ECS's deployment circuit breaker guards the rollout itself on AWS.
"""

from __future__ import annotations

from deploytool import inputs, naming
from deploytool.errors import DeployError, RollbackFailedError, RolledBackError
from deploytool.ledger import Record
from deploytool.release import migration
from deploytool.release.outcome import DeployOutcome
from deploytool.release.verify import verify
from deploytool.stack import Target
from deploytool.stackops import Progress, apply_app, counts, deployed_image, quiet
from deploytool.state import app_outputs


class Rolling:
    """Deploys and rolls back the app stack of one branch (or of the environment)."""

    def __init__(
        self, target: Target, branch: str | None, *, health_url: str | None = None, progress: Progress = quiet
    ) -> None:
        self.target = target
        self.branch = branch
        self.names = target.names(branch)
        self.health_url = health_url
        self.progress = progress
        self.ledger = target.ledger()

    def running_image(self) -> str | None:
        return deployed_image(self.target, self.names.workspace)

    def _release(
        self, record: Record, image_tag: str, environment: dict[str, str] | None, *, migrate_after_apply: bool = False
    ) -> DeployOutcome:
        """Apply ``image_tag``, verify it, fill ``record`` in; the outcome (success or failed).

        ``migrate_after_apply``: a first deploy's migration, between its apply and its verification."""
        result, app = apply_app(self.target, self.names, image_tag, environment=environment, progress=self.progress)
        record.plan = counts(result.summary)
        if migrate_after_apply:
            with migration.recorded(record):
                record.extra["migration"] = migration.run(self.target, app.service(), progress=self.progress).to_dict()
        url, verdict = verify(
            self.target,
            self.names,
            app,
            app.service(),
            image_tag=image_tag,
            health_url=self.health_url,
            progress=self.progress,
        )
        record.checks = [c.to_dict() for c in verdict.checks]
        record.outcome = "success" if verdict.ok else "failed"
        if not verdict.ok and not record.message:
            record.message = verdict.summary()
        return DeployOutcome(
            self.target.env,
            self.names.workspace,
            record.image_before,
            image_tag,
            url,
            verdict,
            record.outcome,
            [record.id],
        )

    def deploy(
        self,
        image_tag: str,
        *,
        environment: dict[str, str] | None = None,
        rollback: bool = True,
        finalize_first: bool = False,
    ) -> DeployOutcome:
        """Deploy ``image_tag``, verify it, and roll back to the last known good release on failure
        (a rolling release has no bake: ``finalize_first`` changes nothing)."""
        naming.validate_image_tag(image_tag)
        inputs.require_image(self.target, image_tag)
        workspace = self.names.workspace
        record = Record(
            env=self.target.env,
            workspace=workspace,
            stack="app",
            action="deploy",
            image_before=deployed_image(self.target, workspace),
            image_after=image_tag,
            extra={"environment": environment or {}},
        )
        # Roll back first, record after: the outcome is written when the run ends, and a history
        # that cannot be written never holds the rollback up (see ``Ledger.recording``).
        with self.ledger.recording(record, warn=self.progress):
            first = self._migrate(record, image_tag, environment)
            outcome = self._release(record, image_tag, environment, migrate_after_apply=first)
            if outcome.verdict.ok:
                self.progress(f"verified: {outcome.verdict.summary()}")
                return outcome
            self.progress(f"verification failed: {outcome.verdict.summary()}")
            self._restore(record, outcome, rollback=rollback)
        return outcome  # not reached: _restore always raises

    def _migrate(self, record: Record, image_tag: str, environment: dict[str, str] | None) -> bool:
        """The release's migration, before the service moves; True when it is still to run (first deploy:
        no service yet, so it runs after the apply)."""
        if not migration.command(self.target):
            return False
        current = app_outputs(self.target, self.names.workspace)
        if current is None or not current.text("service_name"):
            return True
        with migration.recorded(record):
            result = migration.before_release(
                self.target,
                self.names,
                image_tag,
                current.service(),
                environment=environment,
                progress=self.progress,
            )
        if result is not None:
            record.extra["migration"] = result.to_dict()
        return False

    def _restore(self, record: Record, outcome: DeployOutcome, *, rollback: bool) -> None:
        """After a failed deploy: re-apply the last known good release; always raises."""
        tag, workspace, failed = outcome.image_after, outcome.workspace, outcome.verdict.summary()
        if not rollback:
            raise DeployError(
                f"{workspace}: {tag} failed verification ({failed}); "
                "rollback disabled (--no-rollback), the failing release is still deployed",
                result=outcome.to_dict(),
            )
        before = record.image_before
        try:
            good = self.ledger.last_known_good(self.target.env, workspace, exclude=tag)
        except Exception as exc:  # an unreadable history: fall back to what ran before
            self.progress(f"warning: cannot read the deploy history ({exc}); rolling back to the previous image")
            good = None
        restore_tag = good.image_after if good else (before if before and before != tag else None)
        if restore_tag is None:
            outcome.outcome = "rollback_failed"
            destroy = f"deploytool destroy --env {self.target.env}"
            destroy += f" --branch {self.branch}" if self.branch else ""
            raise RollbackFailedError(
                f"{workspace}: {tag} failed verification ({failed}) and there is no earlier release to roll back "
                f"to (first deploy). The failing release is still deployed at {outcome.url}; fix it and deploy "
                f"again, or remove it with `{destroy}`",
                result=outcome.to_dict(),
            )
        try:
            inputs.require_image(self.target, restore_tag, deploy=False)
        except DeployError as exc:
            outcome.outcome = "rollback_failed"
            raise RollbackFailedError(
                f"{workspace}: {tag} failed verification ({failed}) and cannot be rolled back to {restore_tag}: "
                f"{exc.message}. The failing release is still deployed at {outcome.url}",
                result=outcome.to_dict(),
            ) from exc
        restored = self.restore(
            restore_tag,
            environment=(good.extra.get("environment") if good else None) or {},
            reason=f"{tag} failed: {failed}",
        )
        outcome.rollback_verdict = restored.verdict
        outcome.restored_image = restore_tag
        outcome.record_ids.append(restored.record_ids[0])
        if restored.outcome == "success":
            outcome.outcome = record.outcome = "rolled_back"
            record.extra["restored_image"] = restore_tag
            raise RolledBackError(
                f"{workspace}: {tag} failed verification ({failed}); rolled back to {restore_tag}, "
                "which verified healthy",
                result=outcome.to_dict(),
            )
        outcome.outcome = "rollback_failed"
        raise RollbackFailedError(
            f"{workspace}: {tag} failed verification ({failed}) and the rollback to {restore_tag} failed too "
            f"({restored.verdict.summary()}); {restore_tag} is applied but unhealthy — "
            "check `deploytool diagnose`/`logs` for this environment",
            result=outcome.to_dict(),
        )

    def restore(
        self, image_tag: str, *, environment: dict[str, str] | None = None, reason: str = "requested"
    ) -> DeployOutcome:
        """Re-apply ``image_tag`` (all other inputs as configured), verify, record."""
        record = Record(
            env=self.target.env,
            workspace=self.names.workspace,
            stack="app",
            action="rollback",
            image_before=deployed_image(self.target, self.names.workspace),
            image_after=image_tag,
            message=reason,
            extra={"environment": environment or {}},
        )
        self.progress(f"rolling back {self.names.workspace} to {image_tag}")
        with self.ledger.recording(record, warn=self.progress):
            return self._release(record, image_tag, environment)

    def rollback(self, to: str | None = None) -> DeployOutcome:
        """On-demand rollback to ``to`` or the last known good release other than the running one."""
        current = deployed_image(self.target, self.names.workspace)
        environment: dict[str, str] = {}
        if to is None:
            good = self.ledger.last_known_good(self.target.env, self.names.workspace, exclude=current)
            if good is None or not good.image_after:
                raise DeployError(f"{self.names.workspace}: no earlier verified release to roll back to; pass --to TAG")
            to = good.image_after
            environment = good.extra.get("environment") or {}
        inputs.require_image(self.target, naming.validate_image_tag(to), deploy=False)
        out = self.restore(to, environment=environment, reason=f"rollback requested from {current}")
        if out.outcome != "success":
            raise RollbackFailedError(
                f"{self.names.workspace}: rollback to {to} failed verification ({out.verdict.summary()})",
                result=out.to_dict(),
            )
        return out

    def finalize(self, *, if_baked: bool = False) -> str:
        raise DeployError(f"environment {self.target.env!r} deploys rolling releases: there is nothing to finalize")
