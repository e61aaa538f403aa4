"""One entry point per user action, whatever the environment's strategy (rolling or blue-green)."""

from __future__ import annotations

from deploytool import deploy
from deploytool.bluegreen import BlueGreen
from deploytool.deploy import DeployOutcome, Progress, UrlResolver, _quiet
from deploytool.stack import Target


def deploy_release(
    target: Target,
    branch: str | None,
    image_tag: str,
    *,
    rollback: bool = True,
    environment: dict[str, str] | None = None,
    url_for: UrlResolver | None = None,
    progress: Progress = _quiet,
) -> DeployOutcome:
    """Rolling deploy with verification and rollback, or the blue-green sequence."""
    if target.settings.strategy == "blue-green":
        bg_url = (lambda t, color, outputs, test: url_for(t, t.names(None), outputs)) if url_for else None
        return BlueGreen(target, progress=progress, url_for=bg_url).deploy(image_tag, environment=environment)
    return deploy.deploy(
        target,
        branch,
        image_tag,
        rollback=rollback,
        environment=environment,
        url_for=url_for or deploy.default_url,
        progress=progress,
    )


def rollback_release(
    target: Target,
    branch: str | None,
    to: str | None = None,
    *,
    url_for: UrlResolver | None = None,
    progress: Progress = _quiet,
) -> DeployOutcome:
    """Blue-green: switch back to the previous colour; rolling: re-apply the last known good tag."""
    if target.settings.strategy == "blue-green" and to is None:
        return BlueGreen(target, progress=progress).rollback()
    return deploy.rollback(target, branch, to, url_for=url_for or deploy.default_url, progress=progress)


def finalize(target: Target, *, progress: Progress = _quiet) -> str:
    """Blue-green: scale the previous colour down after the bake period."""
    return BlueGreen(target, progress=progress).finalize()
