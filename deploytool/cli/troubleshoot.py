"""Troubleshooting commands: logs, events, diagnose."""

from __future__ import annotations

import json
from pathlib import Path

import click

from deploytool.cli.base import branch_option, emit, err, main, make_target, output_option, target_options
from deploytool.errors import ExitCode
from deploytool.troubleshoot import diagnose, events, locate, logs

DIAGNOSE_EXIT_HELP = """
\b
Exit codes:
  0  no check failed (checks the emulator cannot answer are shown as
     UNAVAILABLE: they neither pass nor fail)
  1  at least one check failed (or the environment could not be read)
"""


@main.command("logs")
@target_options
@branch_option
@click.option("--since", default="30m", show_default=True, help="How far back: 30m, 2h, 1d, 1h30m or an ISO time.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until interrupted.")
@click.option("--filter", "pattern", metavar="TEXT", help='CloudWatch filter pattern: words, a "phrase", or JSON.')
@click.option("--poll-interval", default=2.0, show_default=True, type=click.FloatRange(min=0.2), hidden=True)
@output_option
def logs_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    branch: str | None,
    since: str,
    follow: bool,
    pattern: str | None,
    poll_interval: float,
    output: str,
) -> None:
    """The service's CloudWatch log events, newest last (--follow to keep reading)."""
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    start_ms = logs.parse_since(since)
    client, source, notice = logs.open_logs(locate.locate(target, branch))
    if notice:
        err(notice)
        if not follow:
            return

    def show(event: logs.LogEvent) -> None:
        if output == "json":
            click.echo(json.dumps(event.to_dict(), sort_keys=True))
        else:
            click.echo(event.line(source.stream_prefix))

    if not follow:
        for event in logs.read_logs(client, source, start_ms=start_ms, pattern=pattern):
            show(event)
        return
    err(f"following {source.group} {source.stream_prefix}* (Ctrl-C to stop)")
    try:
        logs.follow_logs(client, source, show, start_ms=start_ms, pattern=pattern, poll_s=poll_interval)
    except KeyboardInterrupt:
        return


@main.command("events")
@target_options
@branch_option
@click.option("--limit", default=10, show_default=True, type=click.IntRange(min=1), help="Events and tasks to show.")
@output_option
def events_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    branch: str | None,
    limit: int,
    output: str,
) -> None:
    """The ECS service's recent events and stopped tasks, explained with the likely fix."""
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    report = events.service_events(locate.locate(target, branch), limit=limit)
    emit(report.to_dict() if output == "json" else report.text(), output)


@main.command("diagnose", epilog=DIAGNOSE_EXIT_HELP)
@target_options
@branch_option
@click.option("--health-url", help="Base URL for the HTTP checks instead of the environment's host.")
@output_option
def diagnose_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    branch: str | None,
    health_url: str | None,
    output: str,
) -> None:
    """Run the troubleshooting checklist: a pass/fail table with the fix for each failure.

    Checks the ECS service and its running tasks, the image tag and its presence in ECR, the
    target group's health and health check, the security groups from the load balancer to the
    service and from the service to the database, the database status, the task execution role,
    and /health and /health/detailed.
    """
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    diagnosis = diagnose.diagnose(target, branch, base_url=health_url, progress=err)
    emit(diagnosis.to_dict() if output == "json" else diagnosis.table(), output)
    if not diagnosis.ok:
        failed = ", ".join(f.check.name for f in diagnosis.failures())
        err(f"failing: {failed}")
        raise click.exceptions.Exit(int(ExitCode.ERROR))
