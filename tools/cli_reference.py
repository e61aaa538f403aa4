"""Regenerate the README's command reference from the CLI's own --help.

Usage: python tools/cli_reference.py [--check]
The text between ``<!-- BEGIN_CLI -->`` and ``<!-- END_CLI -->`` in README.md is replaced; with
``--check`` nothing is written and the exit code says whether the README is up to date.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

from deploytool.cli import load_commands, main

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- BEGIN_CLI -->", "<!-- END_CLI -->"


def _commands(group: click.Group, prefix: list[str]) -> list[list[str]]:
    out = []
    for name in sorted(group.commands):
        command = group.commands[name]
        out.append([*prefix, name])
        if isinstance(command, click.Group):
            out.extend(_commands(command, [*prefix, name]))
    return out


def reference() -> str:
    load_commands()
    runner = CliRunner()
    parts = ["```text", runner.invoke(main, ["--help"], terminal_width=100).output.rstrip(), "```"]
    for path in _commands(main, []):
        text = runner.invoke(main, [*path, "--help"], terminal_width=100).output.rstrip()
        parts += ["", f"#### `deploytool {' '.join(path)}`", "", "```text", text, "```"]
    return "\n".join(parts)


def render(readme: str) -> str:
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{reference()}\n{END}{tail}"


def main_() -> int:
    current = README.read_text()
    updated = render(current)
    if "--check" in sys.argv[1:]:
        if updated != current:
            print("README.md command reference is out of date: run python tools/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(updated)
    return 0


if __name__ == "__main__":
    raise SystemExit(main_())
