"""Release strategies behind one entry point.

``strategy_for`` picks the environment's strategy, rolling (``rolling.py``) or blue-green
(``bluegreen.py``); both apply through ``deploytool.stackops``, verify through ``verify.py`` and
record every run in the ledger. Following an image tag through ``deploytool deploy``: the CLI ->
``deploy_release`` -> the strategy -> render + plan + apply (``stackops``) -> ``verify`` -> on
failure the strategy restores the last known good release -> ledger.
"""

from __future__ import annotations

from pathlib import Path

from deploytool import naming
from deploytool.release.bluegreen import BlueGreen
from deploytool.release.outcome import DeployOutcome, Strategy
from deploytool.release.rolling import Rolling
from deploytool.stack import Target
from deploytool.stackops import PlanResult, Progress, check_branch, plan_stack, quiet


def strategy_for(
    target: Target, branch: str | None = None, *, health_url: str | None = None, progress: Progress = quiet
) -> Strategy:
    """The release strategy of ``target`` (``strategy`` in deploy.toml)."""
    if target.settings.strategy == "blue-green":
        return BlueGreen(target, branch, health_url=health_url, progress=progress)
    return Rolling(target, branch, health_url=health_url, progress=progress)


def deploy_release(
    target: Target,
    branch: str | None,
    image_tag: str,
    *,
    rollback: bool = True,
    environment: dict[str, str] | None = None,
    health_url: str | None = None,
    progress: Progress = quiet,
) -> DeployOutcome:
    """Deploy ``image_tag`` with the environment's strategy; verified, restored on failure.

    A branch whose workspace belongs to another branch is refused before anything is recorded."""
    naming.validate_image_tag(image_tag)
    check_branch(target, target.names(branch))
    strategy = strategy_for(target, branch, health_url=health_url, progress=progress)
    return strategy.deploy(image_tag, environment=environment, rollback=rollback)


def plan_release(
    target: Target,
    branch: str | None,
    image_tag: str | None = None,
    *,
    environment: dict[str, str] | None = None,
    out: Path | None = None,
) -> PlanResult:
    """The app stack's plan for a deploy of ``image_tag`` (without one: of what runs now).

    Blue-green plans its first step, the release staged on the idle colour with the active one
    untouched; rolling plans the service running the tag.
    """
    strategy = strategy_for(target, branch)
    if isinstance(strategy, BlueGreen):
        colors = strategy.planned_colors(image_tag, environment)
        tag = image_tag or colors.tag(colors.active_color)
        return plan_stack(
            target,
            "app",
            branch=branch,
            image_tag=tag,
            environment=environment,
            extra={"colors": colors.to_vars()},
            out=out,
        )
    return plan_stack(target, "app", branch=branch, image_tag=image_tag, environment=environment, out=out)


def rollback_release(
    target: Target,
    branch: str | None,
    to: str | None = None,
    *,
    health_url: str | None = None,
    progress: Progress = quiet,
) -> DeployOutcome:
    """Blue-green: switch back to the previous colour; rolling: re-apply the last known good tag."""
    if to is not None:
        naming.validate_image_tag(to)
    check_branch(target, target.names(branch))
    return strategy_for(target, branch, health_url=health_url, progress=progress).rollback(to)


def finalize(target: Target, *, progress: Progress = quiet) -> str:
    """Blue-green: scale the previous colour down after the bake period."""
    return strategy_for(target, progress=progress).finalize()


__all__ = [
    "BlueGreen",
    "DeployOutcome",
    "Rolling",
    "Strategy",
    "deploy_release",
    "finalize",
    "plan_release",
    "rollback_release",
]
