"""`deploytool health`: the post-deploy HTTP verification, ad hoc."""

from __future__ import annotations

from pathlib import Path

import click

from deploytool.cli.base import emit, err, main, parse_assignments
from deploytool.config import load_config
from deploytool.errors import DeployError
from deploytool.health import check_http
from deploytool.release.verify import health_settings
from deploytool.stack import Target


@main.command("health")
@click.option("--url", required=True, help="Base URL of the service, e.g. https://staging-x.example.com")
@click.option(
    "--env",
    envvar="DEPLOYTOOL_ENV",
    default="staging",
    show_default=True,
    help="Take paths, budgets, smoke requests from this environment of deploy.toml.",
)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar="DEPLOYTOOL_CONFIG")
@click.option(
    "--timeout", type=click.FloatRange(min=0.1), help="Overall budget in seconds (default: the environment's)."
)
@click.option("--passes", type=click.IntRange(min=1), help="Consecutive passes required (default: the environment's).")
@click.option("--expect-version", help="Require /health/detailed to report this version (image tag).")
@click.option("--header", multiple=True, metavar="NAME=VALUE", help="Extra request header (e.g. the test route's).")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def health_cmd(
    url: str,
    env: str,
    config_path: Path | None,
    timeout: float | None,
    passes: int | None,
    expect_version: str | None,
    header: tuple[str, ...],
    output: str,
) -> None:
    """Check a running service the way `deploy` does: /health, /health/detailed, /metrics, smoke requests.

    Exit 0 when every check passes N times in a row within the budget, 1 otherwise (the first failing
    check and why are printed).
    """
    config = load_config(config_path)
    target = Target(config=config, settings=config.environment(env))
    settings = health_settings(target, url, expected_version=expect_version, headers=parse_assignments(header))
    if expect_version:
        settings.expected_version = expect_version
    if timeout is not None:
        settings.budget_s = timeout
    if passes is not None:
        settings.consecutive_passes = passes
    err(f"checking {url} ({settings.consecutive_passes} passes in a row within {settings.budget_s:.0f}s)")
    verdict = check_http(settings)
    if output == "json":
        emit(verdict.to_dict(), "json")
    else:
        for check in verdict.checks:
            click.echo(f"{check.status:<11} {check.name:<22} {check.detail}")
    if not verdict.ok:
        raise DeployError(verdict.summary())
