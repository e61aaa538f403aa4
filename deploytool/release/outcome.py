"""What a release run reports: its outcome, and the interface every release strategy offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from deploytool.health import Verdict


@dataclass
class DeployOutcome:
    """The result of a deploy or rollback (also carried by the error of a failed one)."""

    env: str
    workspace: str
    image_before: str | None
    image_after: str
    url: str
    verdict: Verdict
    outcome: str
    record_ids: list[str] = field(default_factory=list)
    rollback_verdict: Verdict | None = None
    restored_image: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "workspace": self.workspace,
            "image_before": self.image_before,
            "image_after": self.image_after,
            "url": self.url,
            "outcome": self.outcome,
            "verdict": self.verdict.to_dict(),
            "rollback_verdict": self.rollback_verdict.to_dict() if self.rollback_verdict else None,
            "restored_image": self.restored_image,
            "records": self.record_ids,
        }


class Strategy(Protocol):
    """A way to release: rolling (one service, re-apply on failure) or blue-green (two colours)."""

    def deploy(
        self,
        image_tag: str,
        *,
        environment: dict[str, str] | None = None,
        rollback: bool = True,
        finalize_first: bool = False,
    ) -> DeployOutcome:
        """Release ``image_tag``, verify it and restore the last good release when it fails
        (``rollback=False``: leave a failing release in place, where the strategy allows it;
        ``finalize_first``: blue-green ends a running bake instead of refusing the deploy)."""
        ...

    def running_image(self) -> str | None:
        """The image tag that serves now (None before the first deploy)."""
        ...

    def rollback(self, to: str | None = None) -> DeployOutcome:
        """Go back to ``to`` or the last known good release, and verify it."""
        ...

    def finalize(self, *, if_baked: bool = False) -> str:
        """Tidy up after a release has settled (blue-green: scale the old colour down; ``if_baked``:
        only once the bake period is over, a one-line no-op before)."""
        ...
