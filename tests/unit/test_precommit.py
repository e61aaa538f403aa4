"""The pre-commit hooks run what CI runs, with tools that exist where the hooks expect them.

Checked without running pre-commit: every hook is local (no download at install), its program is
one that ``make setup`` puts in the venv, the scripts and flags it passes exist, and its ``files``
pattern still matches files of the repository.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / ".pre-commit-config.yaml"
# What CI checks on every change (make lint, actionlint, the generated-docs tests).
REQUIRED_HOOKS = {"ruff", "mypy", "terraform-fmt", "module-docs", "actionlint"}


def hooks() -> list[dict[str, Any]]:
    config = yaml.safe_load(CONFIG.read_text())
    return [hook for repo in config["repos"] for hook in repo["hooks"]]


def repo_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=False)
    if listed.returncode == 0 and listed.stdout:
        return listed.stdout.splitlines()
    return [str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file() and ".venv" not in p.parts]


def venv_dir() -> str:
    """The venv ``make setup`` creates (``VENV ?= ...`` in the Makefile)."""
    match = re.search(r"^VENV\s*\?=\s*(\S+)", (REPO / "Makefile").read_text(), re.M)
    assert match, "the Makefile no longer sets VENV"
    return match.group(1)


def test_every_hook_is_local_and_installs_nothing() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    for hook in hooks():
        assert hook["language"] == "unsupported", f"{hook['id']}: a managed language would download at install"
        assert "additional_dependencies" not in hook, hook["id"]


def test_the_ci_checks_have_a_hook() -> None:
    ids = [hook["id"] for hook in hooks()]
    assert len(ids) == len(set(ids))
    assert set(ids) >= REQUIRED_HOOKS


@pytest.mark.parametrize("hook", hooks(), ids=lambda hook: hook["id"])
def test_entry_program_is_in_the_venv(hook: dict[str, Any]) -> None:
    program = shlex.split(hook["entry"])[0]
    venv_bin = f"{venv_dir()}/bin/"
    assert program.startswith(venv_bin), f"{hook['id']}: {program} is not a tool of the project venv"
    # The venv running this test has the same layout (bin/<tool>) as the one the hook names.
    assert (Path(sys.prefix) / "bin" / program.removeprefix(venv_bin)).exists(), f"{hook['id']}: {program}"


@pytest.mark.parametrize("hook", hooks(), ids=lambda hook: hook["id"])
def test_entry_scripts_and_flags_exist(hook: dict[str, Any]) -> None:
    args = shlex.split(hook["entry"])[1:]
    for script in [a for a in args if a.endswith(".py")]:
        path = REPO / script
        assert path.is_file(), f"{hook['id']}: {script} is missing"
        flags = [a for a in args if a.startswith("--")]
        for flag in flags:
            assert flag in path.read_text(), f"{hook['id']}: {script} has no {flag}"


@pytest.mark.parametrize("hook", hooks(), ids=lambda hook: hook["id"])
def test_files_pattern_matches_repository_files(hook: dict[str, Any]) -> None:
    pattern = re.compile(hook.get("files", ""))
    assert any(pattern.search(name) for name in repo_files()), f"{hook['id']}: {pattern.pattern} matches nothing"


def test_whole_tree_checks_do_not_take_filenames() -> None:
    by_id = {hook["id"]: hook for hook in hooks()}
    for hook_id in ("mypy", "module-docs", "cli-reference"):
        assert by_id[hook_id].get("pass_filenames") is False, hook_id


def test_ruff_hook_covers_what_make_lint_checks() -> None:
    match = re.search(r"/ruff check ([^\n]+)", (REPO / "Makefile").read_text())
    assert match, "make lint no longer runs ruff check"
    linted = re.sub(r"\$\(wildcard ([^)]+)\)", r"\1", match.group(1)).split()
    ruff = next(hook for hook in hooks() if hook["id"] == "ruff")
    for directory in linted:
        assert re.search(ruff["files"], f"{directory}/example.py"), directory


def test_pre_commit_is_a_dev_dependency_new_enough_for_the_config() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (requirement,) = [r for r in extras["dev"] if re.match(r"pre-commit\b", r)]
    minimum = re.search(r">=\s*([\d.]+)", requirement)
    assert minimum, requirement

    def version(text: str) -> tuple[int, ...]:
        parts = [int(part) for part in text.split(".")]
        return tuple(parts + [0] * (3 - len(parts)))

    assert version(minimum.group(1)) >= version(config["minimum_pre_commit_version"])
