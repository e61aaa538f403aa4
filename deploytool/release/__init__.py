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
from deploytool.config import check_plain_environment
from deploytool.deploylock import lock_key, release_lock
from deploytool.errors import DeployError
from deploytool.ordering import refuse_older
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
    allow_older: bool = False,
    finalize_first: bool = False,
) -> DeployOutcome:
    """Deploy ``image_tag`` with the environment's strategy; verified, restored on failure.

    ``environment`` (``--set-env``) adds plain variables; one that looks like a secret is refused
    before anything runs, as it is in deploy.toml's ``environment`` table. A commit older than the
    one that runs (``image_tag`` an ancestor of the running tag in the checkout) is refused unless
    ``allow_older`` (see ``deploytool.ordering``). The run holds the workspace's deploy lock from
    its plan to its final verdict, rollback included (see ``deploytool.deploylock``). A branch whose
    workspace belongs to another branch is refused before anything is recorded. Blue-green refuses
    to stage over a colour that still bakes unless ``finalize_first`` (see ``bluegreen``)."""
    naming.validate_image_tag(image_tag)  # before anything reads the state
    try:
        check_plain_environment(environment or {})
    except ValueError as exc:
        raise DeployError(f"--set-env {exc}") from exc
    check_branch(target, target.names(branch))
    strategy = strategy_for(target, branch, health_url=health_url, progress=progress)
    with target.deploy_lock(branch, operation="deploy", release=image_tag):
        if not allow_older:
            command = f"deploytool deploy --env {target.env}" + (f" --branch {branch}" if branch else "")
            refuse_older(
                target.config.root,
                image_tag,
                strategy.running_image(),
                where=target.env if branch is None else f"{target.env} {branch}",
                command=f"{command} --image-tag {image_tag}",
                progress=progress,
            )
        return strategy.deploy(image_tag, environment=environment, rollback=rollback, finalize_first=finalize_first)


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
        token = strategy.deployed_route_token()
        return plan_stack(
            target,
            "app",
            branch=branch,
            image_tag=tag,
            environment=environment,
            extra={"colors": colors.to_vars(), **({"test_route_token": token} if token else {})},
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
    strategy = strategy_for(target, branch, health_url=health_url, progress=progress)
    with target.deploy_lock(branch, operation="rollback", release=to or ""):
        return strategy.rollback(to)


def finalize(target: Target, *, if_baked: bool = False, progress: Progress = quiet) -> str:
    """Blue-green: scale the previous colour down, ending the bake early unless ``if_baked`` (then
    nothing happens before the last switch's bake period is over)."""
    strategy = strategy_for(target, progress=progress)
    with target.deploy_lock(None, operation="finalize"):
        return strategy.finalize(if_baked=if_baked)


def force_unlock_deploy(target: Target, branch: str | None, lock_id: str) -> None:
    """Remove the deploy lock ``lock_id`` of a run that died (refused when the lock is another one)."""
    key = lock_key(target.config.project.ledger_prefix, target.env, target.names(branch).workspace)
    if not release_lock(target.clients()("s3"), target.state_bucket, key, lock_id):
        raise DeployError(f"no deploy lock with ID {lock_id} at s3://{target.state_bucket}/{key}; nothing released")


__all__ = [
    "BlueGreen",
    "DeployOutcome",
    "Rolling",
    "Strategy",
    "deploy_release",
    "finalize",
    "force_unlock_deploy",
    "plan_release",
    "rollback_release",
]
