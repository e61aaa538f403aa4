"""`deploytool demo`: the whole lifecycle on the local emulator."""

from __future__ import annotations

from pathlib import Path

import click

from deploytool import demo
from deploytool.cli.base import err, main
from deploytool.errors import DeployError


@main.command("demo")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar="DEPLOYTOOL_CONFIG")
def demo_cmd(config_path: Path | None) -> None:
    """Run the whole lifecycle on the local AWS emulator, narrated (no AWS account needed).

    Emulator, bootstrap, platform, the PR plan comment, a verified v1, a broken v2 rolled back
    automatically, the history, and the branch destroyed as on merge. Nothing is left running.
    """
    result = demo.run_demo(err)
    err("\n== summary\n" + result.table())
    if not result.ok:
        raise DeployError("the demo did not go as expected; see the steps above")
    err(f"\nall steps behaved as expected (the broken v2 exited {3}, rolled back).")
