"""The janitor: destroy orphaned branch environments that outlived their TTL."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import click

from deploytool import cleanup as cleanup_mod
from deploytool.cli.base import (
    confirm_or_abort,
    emit,
    err,
    main,
    make_target,
    output_option,
    table,
    target_options,
)
from deploytool.durations import format_age, parse_duration
from deploytool.errors import DeployError
from deploytool.stack import Target


def _duration(value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None


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
    "Environments of other branches are destroyed once idle past the TTL.",
)
@click.option(
    "--only-workspaces",
    metavar="FILE",
    help="Consider only these workspaces, one per line (- for stdin): a slice of an earlier plan. "
    "Each is re-checked against the criteria now; nothing else is touched.",
)
@click.option("--dry-run", is_flag=True, help="List what would be destroyed and why; change nothing.")
@click.option(
    "--plan-file",
    metavar="FILE",
    help="With --dry-run: write the workspaces to destroy as a JSON job matrix, "
    '[{"slice": 1, "workspaces": [...]}, ...] ([] when there is nothing to do).',
)
@click.option(
    "--slices",
    type=click.IntRange(min=1, max=64),
    default=1,
    show_default=True,
    help="Most slices in --plan-file (each gets at least one workspace).",
)
@click.option(
    "--report",
    "report_file",
    metavar="PLAN_FILE",
    help="Destroy nothing: report per slice of a --plan-file what was destroyed, kept and failed "
    "(from the deploy history); exits 1 if a destroy failed.",
)
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
    only_workspaces: str | None,
    dry_run: bool,
    plan_file: str | None,
    slices: int,
    report_file: str | None,
    parallel: int,
    yes: bool,
    output: str,
) -> None:
    """Destroy branch environments whose branch is gone and which stayed idle past their TTL.

    Idle means no deploy, apply or rollback in the history for longer than --older-than (default:
    the environment's ttl). The default workspace is never touched, nor an environment whose deploy
    lock a run holds (a release between its plan and its verdict): it is kept, and so is one whose
    lock is taken before its destroy starts. Terraform's output of each destroy goes to cleanup.log
    in the workspace's data dir; exits 1 if any destroy failed.
    """
    if report_file is not None:
        _report(make_target(env, local, config_path, terraform_bin, lock_timeout), Path(report_file), output)
        return
    ttl = _duration(older_than)
    if plan_file is not None and not dry_run:
        raise click.UsageError("--plan-file needs --dry-run")
    if open_branches_file == "-" and only_workspaces == "-":
        raise click.UsageError("only one of --open-branches-file and --only-workspaces can read stdin")
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    open_branches = None
    if open_branches_file == "-":
        open_branches = cleanup_mod.open_branches_from_text(sys.stdin.read(), "stdin")
    elif open_branches_file is not None:
        open_branches = cleanup_mod.read_open_branches(Path(open_branches_file))
    only = None
    if only_workspaces == "-":
        only = cleanup_mod.read_workspace_list(None, sys.stdin.read())
    elif only_workspaces is not None:
        only = cleanup_mod.read_workspace_list(Path(only_workspaces))
    plan = cleanup_mod.plan_cleanup(target, older_than=ttl, open_branches=open_branches, keep=keep)
    if only is not None:
        plan = cleanup_mod.restrict(plan, only)
    if plan_file is not None:
        Path(plan_file).write_text(json.dumps(cleanup_mod.plan_slices(plan, slices), separators=(",", ":")) + "\n")
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


def _report(target: Target, plan_file: Path, output: str) -> None:
    report = cleanup_mod.slice_report(target, cleanup_mod.read_slices(plan_file))
    if output == "json":
        emit(report, "json")
    elif not report:
        click.echo(f"Nothing to clean up in {target.env}.")
    else:
        rows = [
            [
                r["slice"],
                r["destroyed"],
                r["kept"],
                r["failed"],
                " ".join(f"{w} ({x})" for w, x in r["workspaces"].items()),
            ]
            for r in report
        ]
        click.echo(table(["SLICE", "DESTROYED", "KEPT", "FAILED", "WORKSPACES"], rows))
    failed = sum(r["failed"] for r in report)
    if failed:
        raise DeployError(f"{failed} destroy(s) failed; Terraform output in each workspace's {cleanup_mod.LOG_NAME}")
