"""Commands that look at an environment: what a stack runs (status) and its branch environments."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from deploytool import status as status_mod
from deploytool.cli.base import (
    branch_option,
    emit,
    err,
    main,
    make_target,
    output_option,
    record_line,
    table,
    target_options,
)
from deploytool.durations import format_age


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
    lines.append(f"last deploy: {record_line(st.last_record)}")
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
            record_line(e.last_record),
        ]
        for e in found
    ]
    click.echo(table(["WORKSPACE", "AGE", "IDLE", "EXPIRES IN", "LAST DEPLOY"], rows))
