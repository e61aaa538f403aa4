"""Commands that plan, apply, deploy, roll back and destroy stacks, and read the history."""

from __future__ import annotations

import json
from pathlib import Path

import click

from deploytool import bootstrap as bootstrap_mod
from deploytool import naming, plansummary, stackops
from deploytool.cli.base import (
    EXIT_CODES_HELP,
    branch_option,
    confirm_or_abort,
    emit,
    err,
    main,
    make_target,
    output_option,
    parse_assignments,
    reporting_failures,
    stack_option,
    target_options,
)
from deploytool.config import load_config
from deploytool.stack import StackName


# -- environment commands -------------------------------------------------------------------------
@main.command("bootstrap")
@target_options
@output_option
def bootstrap_cmd(
    env: str, local: bool, config_path: Path | None, terraform_bin: str | None, lock_timeout: str, output: str
) -> None:
    """Create the state bucket, the ECR repository and the DB password secret (idempotent)."""
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    result = bootstrap_mod.bootstrap(target)
    for item in result.created:
        err(f"created {item}")
    emit(result.to_dict(), output)


@main.command("names")
@click.option("--env", required=True, envvar="DEPLOYTOOL_ENV", help="Environment from deploy.toml.")
@branch_option
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar="DEPLOYTOOL_CONFIG")
@output_option
def names_cmd(env: str, branch: str | None, config_path: Path | None, output: str) -> None:
    """Print the slug, workspace, service, target group, host and log prefix a branch gets."""
    config = load_config(config_path)
    settings = config.environment(env)
    names = naming.names_for(
        env, branch if settings.branch_environments else None, settings.domain, project=config.project.name
    )
    emit(names.as_dict(), output)


@main.command("render")
@target_options
@branch_option
@click.option("--image-tag", help="Image tag (default: the deployed one).")
@stack_option
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE, not stdout.")
def render_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    branch: str | None,
    image_tag: str | None,
    stack: StackName,
    out_file: Path | None,
) -> None:
    """Print the rendered tfvars of a stack; the workspace goes to stderr."""
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    text, workspace = stackops.render_only(target, stack, branch=branch, image_tag=image_tag)
    err(f"workspace: {workspace}")
    if out_file:
        out_file.write_text(text)
        err(f"wrote {out_file}")
    else:
        click.echo(text, nl=False)


@main.command("plan")
@target_options
@branch_option
@click.option("--image-tag", help="Image tag (default: the deployed one, so a plan never reverts the image).")
@stack_option
@click.option("--output", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), help="Saved plan file to write.")
def plan_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    branch: str | None,
    image_tag: str | None,
    stack: StackName,
    output: str,
    out_file: Path | None,
) -> None:
    """Plan a stack: text, a JSON change summary, or the PR-comment markdown."""
    from deploytool import release  # the strategies and their checks: only the commands that release

    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    out = out_file.resolve() if out_file else None
    if stack == "app":
        result = release.plan_release(target, branch, image_tag, out=out)
    else:
        result = stackops.plan_stack(target, stack, branch=branch, image_tag=image_tag, out=out)
    err(result.summary.headline())
    if output == "json":
        emit({"workspace": result.stack.workspace, **result.summary.to_dict()}, "json")
    elif output == "markdown":
        from deploytool.runtime import public_url  # the local stand-in's HTTP client: only for the URL

        names = target.names(branch) if stack == "app" else None
        click.echo(
            plansummary.render_markdown(
                result.summary,
                env=target.env,
                workspace=result.stack.workspace,
                plan_text=result.text(),
                url=public_url(target, names) if names else None,
                ttl=target.settings.ttl,
                marker=target.env,
                secrets=target.secrets.values,
            )
        )
    else:
        click.echo(result.text())
    if out_file is None:
        result.planfile.unlink(missing_ok=True)  # a saved plan holds secrets; keep only what was asked for


@main.command("apply")
@target_options
@branch_option
@click.option("--image-tag", help="Image tag (default: the deployed one).")
@stack_option
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Apply this saved plan instead of planning now.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (CI).")
@output_option
def apply_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    branch: str | None,
    image_tag: str | None,
    stack: StackName,
    plan_file: Path | None,
    yes: bool,
    output: str,
) -> None:
    """Apply a stack (a saved plan, or plan and apply). No health checks: see `deploy`."""
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    confirm_or_abort(yes, f"apply {stack} of {env}?")
    outputs = stackops.apply_stack(
        target,
        stack,
        branch=branch,
        image_tag=image_tag,
        planfile=plan_file.resolve() if plan_file else None,
        progress=err,
    )
    emit(outputs, output)


@main.command("deploy", epilog=EXIT_CODES_HELP)
@target_options
@branch_option
@click.option("--image-tag", required=True, help="Image tag or sha256 digest to deploy.")
@click.option("--no-rollback", is_flag=True, help="Leave a release that fails verification in place.")
@click.option("--health-url", help="Base URL to verify instead of the environment's host.")
@click.option(
    "--set-env",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra plain container environment variable (one that looks like a secret is refused: use [secrets]).",
)
@click.option(
    "--allow-older",
    is_flag=True,
    help="Deploy even if the image's commit is an ancestor of the running one (a manual rollback).",
)
@click.option(
    "--finalize-first",
    is_flag=True,
    help="Blue-green: scale the colour that still bakes down first (a deploy during the bake is refused without it).",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (CI).")
@output_option
def deploy_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    branch: str | None,
    image_tag: str,
    no_rollback: bool,
    health_url: str | None,
    set_env: tuple[str, ...],
    allow_older: bool,
    finalize_first: bool,
    yes: bool,
    output: str,
) -> None:
    """Deploy an image: plan, apply, verify, and roll back to the last known good release on failure.

    An image whose tag is a commit older than the running one (its ancestor in this checkout) is
    refused: a build that finished late never replaces a newer release (--allow-older to force).
    Blue-green refuses to stage over the previous colour while it bakes (--finalize-first to end
    the bake; once it is over the deploy finalizes first by itself).
    """
    from deploytool import release  # the strategies and their checks: only the commands that release

    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    confirm_or_abort(yes, f"deploy {image_tag} to {env}{' ' + branch if branch else ''}?")
    with reporting_failures(output):
        result = release.deploy_release(
            target,
            branch,
            image_tag,
            rollback=not no_rollback,
            environment=parse_assignments(set_env),
            health_url=health_url,
            progress=err,
            allow_older=allow_older,
            finalize_first=finalize_first,
        )
    emit(
        result.to_dict()
        if output == "json"
        else f"{result.workspace}: {image_tag} deployed and verified at {result.url}",
        output,
    )


@main.command("rollback", epilog=EXIT_CODES_HELP)
@target_options
@branch_option
@click.option("--to", "to_tag", help="Tag to restore (default: the last known good release).")
@click.option("--health-url", help="Base URL to verify instead of the environment's host.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (CI).")
@output_option
def rollback_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    branch: str | None,
    to_tag: str | None,
    health_url: str | None,
    yes: bool,
    output: str,
) -> None:
    """Re-apply the last known good (or a given) image tag and verify it."""
    from deploytool import release  # the strategies and their checks: only the commands that release

    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    confirm_or_abort(yes, f"roll back {env}{' ' + branch if branch else ''}?")
    with reporting_failures(output):
        result = release.rollback_release(target, branch, to_tag, health_url=health_url, progress=err)
    emit(result.to_dict() if output == "json" else f"{result.workspace}: rolled back to {result.image_after}", output)


@main.command("destroy", epilog=EXIT_CODES_HELP)
@target_options
@branch_option
@stack_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (CI).")
def destroy_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    branch: str | None,
    stack: StackName,
    yes: bool,
) -> None:
    """Destroy a branch environment and delete its workspace (idempotent).

    The app stack's destroy holds the workspace's deploy lock throughout: while a release run holds
    it (between its plan and its verdict), the destroy exits 5 and changes nothing.
    """
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    confirm_or_abort(yes, f"destroy {stack} of {env}{' ' + branch if branch else ''}?")
    err(stackops.destroy(target, branch, stack, progress=err))


@main.command("history")
@target_options
@branch_option
@output_option
def history_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    branch: str | None,
    output: str,
) -> None:
    """The deploy history (JSON lines with --output json)."""
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    workspace = target.names(branch).workspace if branch or not target.settings.branch_environments else None
    for record in target.ledger().records(target.env, workspace):
        if output == "json":
            click.echo(json.dumps(record.to_dict(), sort_keys=True))
        else:
            click.echo(
                f"{record.time}  {record.workspace:<40} {record.action:<9} {record.outcome:<15} "
                f"{record.image_before or '-'} -> {record.image_after or '-'}  {record.actor}  {record.message[:80]}"
            )


@main.command("force-unlock")
@target_options
@branch_option
@stack_option
@click.option("--lock-id", required=True, help="The lock ID from the 'state is locked' message.")
@click.option(
    "--deploy-lock", is_flag=True, help="Release the deploy lock (from 'deploy ... is locked'), not a state lock."
)
def force_unlock_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    branch: str | None,
    stack: StackName,
    lock_id: str,
    deploy_lock: bool,
) -> None:
    """Release a state lock (or a deploy lock) left by a run that died (check that it really died first)."""
    from deploytool import release  # the strategies and their checks: only the commands that release

    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    if deploy_lock:
        release.force_unlock_deploy(target, branch, lock_id)
    else:
        stackops.force_unlock(target, stack, branch, lock_id)
    err(f"lock {lock_id} released")


@main.command("finalize")
@target_options
@click.option(
    "--if-baked", is_flag=True, help="Only once the last switch's bake period is over (a no-op before; for schedules)."
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (CI).")
def finalize_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    if_baked: bool,
    yes: bool,
) -> None:
    """Blue-green: scale the previous colour down, ending the bake period (--if-baked: once it is over)."""
    from deploytool import release  # the strategies and their checks: only the commands that release

    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    confirm_or_abort(yes, f"scale down the idle colour of {env}?")
    err(release.finalize(target, if_baked=if_baked, progress=err))
