"""The click layer's shared parts: the top-level group, common options, output helpers.

Progress and diagnostics go to stderr, data (plans, JSON, rendered files) to stdout.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from deploytool import __version__
from deploytool.config import load_config
from deploytool.errors import DeployError, ExitCode, aws_error_message
from deploytool.ledger import Record
from deploytool.stack import STACKS, Target, resolve_target

EXIT_CODES_HELP = """
\b
Exit codes:
  0  success
  1  error: bad input, configuration, Terraform failure
  2  usage error
  3  deploy failed verification and was rolled back (previous release verified)
  4  deploy failed and the rollback failed or was impossible
  5  state locked, or deploy lock held, by another run (the message names the holder)
"""


_TARGET_KEY = "deploytool.target"


def redact(text: str) -> str:
    """``text`` without the values the plans of this command's target marked sensitive."""
    ctx = click.get_current_context(silent=True)
    target = ctx.meta.get(_TARGET_KEY) if ctx is not None else None
    return target.redact(text) if isinstance(target, Target) else text


def err(message: str) -> None:
    """Progress/diagnostic line on stderr."""
    click.echo(redact(message), err=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces."""
    cells = [[str(c) for c in headers], *[["-" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def record_line(record: Record | None) -> str:
    """One history record in a line (for tables)."""
    if record is None:
        return "-"
    image = f"{record.image_before or '-'} -> {record.image_after}" if record.image_after else ""
    return f"{record.time[:19]}Z {record.action} {record.outcome} by {record.actor}" + (f" ({image})" if image else "")


def emit(data: Any, output: str = "text") -> None:
    """Data on stdout: JSON when asked, else the text form."""
    if output == "json":
        click.echo(redact(json.dumps(data, indent=2, sort_keys=True, default=str)))
    elif isinstance(data, str):
        click.echo(redact(data))
    else:
        for key, value in data.items():
            click.echo(redact(f"{key}: {value}"))


class CommandError(click.ClickException):
    """A core ``DeployError`` as click prints it: ``Error: <message>``, exit with its code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class


@contextmanager
def reporting_failures(output: str) -> Iterator[None]:
    """With ``--output json``, a failed run still prints its result (a deploy's outcome) on stdout."""
    try:
        yield
    except DeployError as exc:
        if output == "json" and exc.result is not None:
            emit(exc.result, "json")
        raise


COMMAND_MODULES: dict[str, str] = {
    "bootstrap": "stacks",
    "names": "stacks",
    "render": "stacks",
    "plan": "stacks",
    "apply": "stacks",
    "deploy": "stacks",
    "rollback": "stacks",
    "destroy": "stacks",
    "history": "stacks",
    "force-unlock": "stacks",
    "finalize": "stacks",
    "migrate": "migrate",
    "cleanup": "cleanup",
    "demo": "demo",
    "github": "github",
    "health": "health",
    "status": "status",
    "workspaces": "status",
    "toolchain": "toolchain",
    "emulator": "toolchain",
    "logs": "troubleshoot",
    "events": "troubleshoot",
    "diagnose": "troubleshoot",
}
"""The module of ``deploytool.cli`` that defines each command: a run imports only its command's
module (``deploytool apply`` never loads the demo's database driver or the GitHub client)."""


def load_commands() -> dict[str, click.Command]:
    """Every command, all modules imported (``--help``, the README's reference)."""
    for module in sorted(set(COMMAND_MODULES.values())):
        importlib.import_module(f"deploytool.cli.{module}")
    return dict(main.commands)


class Main(click.Group):
    """Top-level group: user errors as one line; anything unexpected as one line unless --debug.

    AWS errors a user can fix (credentials, region, permissions) are user errors: the line says what
    to do (``deploytool.errors.aws_error_message``). Commands are loaded when named
    (``COMMAND_MODULES``)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(f"deploytool.cli.{module}")
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_commands()
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except DeployError as exc:
            hint = aws_error_message(exc.__cause__) if exc.__cause__ is not None else None
            message = exc.message if hint is None or hint in exc.message else f"{exc.message}: {hint}"
            raise CommandError(redact(message), exc.exit_code) from exc
        except KeyboardInterrupt:
            err("interrupted")
            raise SystemExit(130) from None
        except Exception as exc:
            if ctx.params.get("debug") or (ctx.obj or {}).get("debug"):
                traceback.print_exc()
            hint = aws_error_message(exc)
            if hint is not None:
                raise CommandError(redact(hint), ExitCode.ERROR) from exc
            raise CommandError(
                redact(f"unexpected {type(exc).__name__}: {exc} (re-run with --debug for the traceback)"),
                ExitCode.ERROR,
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
    """The command's target; what the command prints from then on is redacted with its secrets."""
    target = resolve_target(
        load_config(config_path), env, local=local, terraform_bin=terraform_bin, lock_timeout=lock_timeout
    )
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[_TARGET_KEY] = target
    return target


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
