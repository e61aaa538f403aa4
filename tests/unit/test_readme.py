"""The README's command reference is generated from --help and must stay current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_command_reference_is_current() -> None:
    result = subprocess.run(
        [sys.executable, "tools/cli_reference.py", "--check"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_readme_keeps_the_two_setup_commands() -> None:
    text = (REPO / "README.md").read_text()
    assert "make demo" in text.split("## How it fits together")[0]
    assert "make test" in text.split("## How it fits together")[0]


def test_module_readmes_are_current() -> None:
    result = subprocess.run(
        [sys.executable, "tools/module_docs.py", "--check"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
