"""``deploytool migrate``: the release's database migration, on demand."""

from __future__ import annotations

from pathlib import Path

from deploytool.cli.base import (
    branch_option,
    emit,
    err,
    main,
    make_target,
    output_option,
    reporting_failures,
    target_options,
)
from deploytool.release import migration


@main.command("migrate")
@target_options
@branch_option
@output_option
def migrate_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    branch: str | None,
    output: str,
) -> None:
    """Run the migration (deploy.toml's release.migrate_command) from the serving release's task definition.

    Deploys run it by themselves before the service moves; this runs it again, e.g. after a fix to
    the database by hand. Exit 1 when it fails, with its last log lines.
    """
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    with reporting_failures(output):
        result = migration.migrate_now(target, branch, progress=err)
    last = result.log_tail[-1] if result.log_tail else "no output"
    emit(result.to_dict() if output == "json" else f"migration done: {last}", output)
