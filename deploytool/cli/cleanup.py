"""Commands that look at an environment (status, workspaces) and the janitor for branch environments."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from deploytool import cleanup as cleanup_mod
from deploytool import status as status_mod
from deploytool.cli.base import (
    branch_option,
    confirm_or_abort,
    emit,
    err,
    main,
    make_target,
    output_option,
    target_options,
)
from deploytool.durations import format_age, parse_duration
from deploytool.errors import DeployError
from deploytool.ledger import Record


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces."""
    cells = [[str(c) for c in headers], *[["-" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def _record_line(record: Record | None) -> str:
    if record is None:
        return "-"
    image = f"{record.image_before or '-'} -> {record.image_after}" if record.image_after else ""
    return f"{record.time[:19]}Z {record.action} {record.outcome} by {record.actor}" + (f" ({image})" if image else "")


def _duration(value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None


# -- status ------------------------------------------------------------------------------------------------
def status_text(st: status_mod.AppStatus) -> str:
    lines = [
        f"environment: {st.env}",
        f"workspace:   {st.workspace}" + (f" (branch {st.branch})" if st.branch else ""),
        f"url:         {st.url or '-'}",
        f"image:       {st.image_tag or '-'}",
        f"cluster:     {st.cluster}",
    ]
    if st.active_color:
        lines.append(f"active:      {st.active_color}")
    for svc in st.services:
        role = f"{svc.label} ({'active' if svc.active else 'idle'}) " if svc.label and svc.active is not None else ""
        counts = f"desired {svc.desired}, running {svc.running}, pending {svc.pending}"
        rollout = f", rollout {svc.rollout}" if svc.rollout else ""
        lines.append(f"service:     {role}{svc.name}: {svc.status}, {counts}{rollout}")
        if svc.label:
            lines.append(f"  image:           {svc.image_tag or '-'}")
        lines.append(f"  task definition: {svc.ecs_task_definition or svc.task_definition or '-'}")
        if svc.ecs_task_definition and svc.task_definition and svc.ecs_task_definition != svc.task_definition:
            lines.append(f"  (state says {svc.task_definition}: the service is not on the applied revision)")
    lines.append(f"last deploy: {_record_line(st.last_record)}")
    return "\n".join(lines)


@main.command("status")
@target_options
@branch_option
@output_option
def status_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    branch: str | None,
    output: str,
) -> None:
    """What a branch environment (or the environment) runs: image, task definition, ECS counts, URL,
    last deploy. Reads state, ECS and the history; runs no Terraform."""
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    result = status_mod.app_status(target, branch)
    emit(result.to_dict() if output == "json" else status_text(result), output)


# -- workspaces ---------------------------------------------------------------------------------------------
@main.command("workspaces")
@target_options
@output_option
def workspaces_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    output: str,
) -> None:
    """The branch environments of an environment, with age, idle time and last deploy.

    One listing of the state bucket and of the history; runs no Terraform.
    """
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    now = datetime.now(UTC)
    ttl = target.settings.ttl
    found = status_mod.branch_environments(target)
    if output == "json":
        emit([e.to_dict(now, ttl) for e in found], "json")
        return
    if not found:
        err(f"no branch environments in {env}")
        return
    rows = [
        [
            e.workspace,
            format_age(e.age(now)),
            format_age(e.idle(now)),
            e.to_dict(now, ttl)["expires_in"] or "-",
            _record_line(e.last_record),
        ]
        for e in found
    ]
    click.echo(table(["WORKSPACE", "AGE", "IDLE", "EXPIRES IN", "LAST DEPLOY"], rows))


# -- cleanup --------------------------------------------------------------------------------------------------
@main.command("cleanup")
@target_options
@click.option(
    "--older-than", metavar="DURATION", help="Destroy environments idle longer than this (7d, 12h; default: ttl)."
)
@click.option("--keep", multiple=True, metavar="BRANCH", help="Never destroy this branch (or workspace). Repeatable.")
@click.option(
    "--open-branches-file",
    metavar="FILE",
    help="Open branches, one per line (`git ls-remote --heads origin` output works; - for stdin). "
    "Environments of other branches are destroyed.",
)
@click.option("--dry-run", is_flag=True, help="List what would be destroyed and why; change nothing.")
@click.option("--parallel", type=click.IntRange(min=1, max=16), default=2, show_default=True, help="Destroy workers.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (CI).")
@output_option
def cleanup_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    older_than: str | None,
    keep: tuple[str, ...],
    open_branches_file: str | None,
    dry_run: bool,
    parallel: int,
    yes: bool,
    output: str,
) -> None:
    """Destroy branch environments whose branch is gone or which stayed idle past their TTL.

    Idle means no deploy, apply or rollback in the history for longer than --older-than (default:
    the environment's ttl). The default workspace is never touched. Terraform's output of each
    destroy goes to cleanup.log in the workspace's data dir; exits 1 if any destroy failed.
    """
    ttl = _duration(older_than)
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    open_branches = None
    if open_branches_file == "-":
        open_branches = cleanup_mod.open_branches_from_text(sys.stdin.read(), "stdin")
    elif open_branches_file is not None:
        open_branches = cleanup_mod.read_open_branches(Path(open_branches_file))
    plan = cleanup_mod.plan_cleanup(target, older_than=ttl, open_branches=open_branches, keep=keep)
    for decision in plan.kept:
        err(f"keep {decision.workspace}: {decision.reason}")
    selected = plan.to_destroy
    if dry_run or not selected:
        err(
            f"nothing to clean up in {env}"
            if not selected
            else f"dry run: would destroy {len(selected)} branch environment(s) of {env}"
        )
        if output == "json":
            emit({**plan.to_dict(), "dry_run": dry_run, "results": []}, "json")
        elif selected:
            rows = [[d.workspace, d.reason, format_age(d.idle)] for d in selected]
            click.echo(table(["WORKSPACE", "REASON", "IDLE"], rows))
        return
    confirm_or_abort(
        yes, f"destroy {len(selected)} branch environment(s) of {env}: {', '.join(d.workspace for d in selected)}?"
    )
    outcomes = cleanup_mod.run_cleanup(target, selected, parallel=parallel, progress=err)
    if output == "json":
        emit({**plan.to_dict(), "dry_run": False, "results": [o.to_dict() for o in outcomes]}, "json")
    else:
        rows = [[o.workspace, o.reason, o.result, f"{o.duration_s:.1f}s"] for o in outcomes]
        click.echo(table(["WORKSPACE", "REASON", "RESULT", "DURATION"], rows))
    failed = [o for o in outcomes if o.failed]
    if failed:
        logs = "; ".join(f"{o.workspace}: {o.log}" for o in failed if o.log)
        raise DeployError(f"{len(failed)} of {len(outcomes)} destroys failed; Terraform output in {logs}")
