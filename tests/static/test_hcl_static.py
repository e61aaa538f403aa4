"""Static checks of the Terraform code: ``terraform fmt``, ``terraform validate`` of every root, checkov.

Roots are discovered at run time: every directory under modules/ and environments/ holding a ``.tf`` file.
All checks run on a copy of both trees (relative module sources keep working) without what belongs to a
user's machine (data dirs, lock files, emulator override files), so ``init`` never writes into the work tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIRS = ("modules", "environments")
CHECKOV_CONFIG = REPO / ".checkov.yaml"


def _ignored(path: Path) -> bool:
    return any(part.startswith(".") for part in path.parts) or path.name.endswith("_override.tf")


def terraform_roots() -> list[Path]:
    """Directories (relative to the repository) that hold at least one ``.tf`` file."""
    roots = {
        p.parent.relative_to(REPO)
        for top in TERRAFORM_DIRS
        for p in (REPO / top).rglob("*.tf")
        if not _ignored(p.relative_to(REPO))
    }
    return sorted(roots)


ROOTS = terraform_roots()


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def tf_run_env(tf_env: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **tf_env, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_INPUT": "0"}
    env.pop("TF_DATA_DIR", None)
    return env


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """modules/ and environments/ copied side by side, without data dirs, lock files or overrides."""
    dest = tmp_path_factory.mktemp("tfcode")
    for top in TERRAFORM_DIRS:
        shutil.copytree(
            REPO / top,
            dest / top,
            ignore=shutil.ignore_patterns(".*", "*_override.tf", "*_override.tf.json", "*.tfstate*"),
        )
    return dest


def test_roots_discovered() -> None:
    assert any(r.parts[0] == "modules" for r in ROOTS), ROOTS
    assert all(not _ignored(r) for r in ROOTS)


@pytest.mark.parametrize("top", TERRAFORM_DIRS)
def test_terraform_fmt(top: str, terraform_cmd: list[str], tf_run_env: dict[str, str], tree_copy: Path) -> None:
    if not any((tree_copy / top).rglob("*.tf")):
        pytest.skip(f"no .tf files under {top}/ yet")
    proc = _run([*terraform_cmd, "fmt", "-check", "-recursive", "-diff", "-no-color", top], tree_copy, tf_run_env)
    assert proc.returncode == 0, f"`terraform fmt` would change these files:\n{proc.stdout}{proc.stderr}"


def validate(workdir: Path, terraform_cmd: list[str], env: dict[str, str]) -> list[str]:
    """Problems ``init -backend=false`` + ``validate`` report for one root (warnings included)."""
    init = _run([*terraform_cmd, "init", "-backend=false", "-input=false", "-no-color"], workdir, env)
    if init.returncode != 0:
        return [f"init failed:\n{init.stdout}{init.stderr}"]
    proc = _run([*terraform_cmd, "validate", "-json", "-no-color"], workdir, env)
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return [f"validate printed no JSON:\n{proc.stdout}{proc.stderr}"]
    problems = []
    for diag in result.get("diagnostics", []):
        where = diag.get("range") or {}
        line = (where.get("start") or {}).get("line", "?")
        problems.append(
            f"{diag.get('severity')}: {diag.get('summary')} ({where.get('filename', '?')}:{line}) "
            f"{diag.get('detail', '')}".rstrip()
        )
    if not problems and (proc.returncode != 0 or result.get("valid") is not True):
        problems.append(f"validate failed:\n{proc.stdout}{proc.stderr}")
    return problems


@pytest.mark.timeout(600)
@pytest.mark.parametrize("root", ROOTS, ids=[str(r) for r in ROOTS])
def test_terraform_validate(
    root: Path, terraform_cmd: list[str], tf_run_env: dict[str, str], tree_copy: Path, tmp_path: Path
) -> None:
    env = {**tf_run_env, "TF_DATA_DIR": str(tmp_path / "tfdata")}
    problems = validate(tree_copy / root, terraform_cmd, env)
    assert not problems, f"{root} does not validate cleanly:\n" + "\n".join(problems)


def test_validate_and_fmt_catch_mistakes(terraform_cmd: list[str], tf_run_env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / "main.tf").write_text(
        'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
        'resource "aws_eip" "nat" {\n  domain_name_typo = "vpc"\n}\n'
        'variable "x" {\ntype = string\n}\n'
    )
    problems = validate(root, terraform_cmd, {**tf_run_env, "TF_DATA_DIR": str(tmp_path / "tfdata")})
    assert any("domain_name_typo" in p for p in problems), problems
    fmt = _run([*terraform_cmd, "fmt", "-check", "-recursive", "-no-color", "."], root, tf_run_env)
    assert fmt.returncode != 0 and "main.tf" in fmt.stdout


# --- checkov -------------------------------------------------------------------------------------------------------


def checkov_argv() -> list[str] | None:
    """checkov from $CHECKOV, next to this Python, or on PATH."""
    candidates = [os.environ.get("CHECKOV", ""), str(Path(sys.executable).parent / "checkov"), "checkov"]
    for candidate in candidates:
        if candidate and (found := shutil.which(candidate)):
            return [found]
    return None


def _json_documents(text: str) -> list[dict[str, Any]]:
    """checkov prints one JSON document per scanned directory (a list when there are several)."""
    decoder = json.JSONDecoder()
    docs: list[dict[str, Any]] = []
    index = 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        doc, index = decoder.raw_decode(text, index)
        docs.extend(doc if isinstance(doc, list) else [doc])
    return docs


@pytest.mark.timeout(600)
def test_checkov(tree_copy: Path) -> None:
    argv = checkov_argv()
    if argv is None:
        if os.environ.get("CI"):
            pytest.fail("checkov is not installed (set $CHECKOV or put it on PATH)")
        pytest.skip("checkov is not installed (set $CHECKOV or put it on PATH)")
    dirs = [arg for top in TERRAFORM_DIRS if any((tree_copy / top).rglob("*.tf")) for arg in ("-d", top)]
    proc = _run([*argv, "--config-file", str(CHECKOV_CONFIG), *dirs, "-o", "json"], tree_copy, dict(os.environ), 600)
    assert proc.stdout.strip(), f"checkov printed nothing:\n{proc.stderr[-3000:]}"
    docs = [d for d in _json_documents(proc.stdout) if d.get("check_type") == "terraform"]
    assert docs, f"checkov scanned no Terraform:\n{proc.stdout[-3000:]}"
    failures: set[str] = set()
    for doc in docs:
        summary = doc["summary"]
        assert summary["parsing_errors"] == 0, f"checkov could not parse: {doc['results'].get('parsing_errors')}"
        assert summary["resource_count"] > 0, "checkov found no resources"
        for check in doc["results"]["failed_checks"]:
            path = os.path.relpath(check.get("file_abs_path") or check["file_path"], tree_copy)
            failures.add(f"{path}: {check['check_id']} {check['resource']}: {check['check_name']}")
    assert not failures, (
        "checkov findings (fix them, or skip the check in .checkov.yaml with a one-line reason):\n"
        + "\n".join(sorted(failures))
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_checkov_skips_have_reasons() -> None:
    skipped = [line for line in CHECKOV_CONFIG.read_text().splitlines() if line.strip().startswith("- CKV")]
    assert skipped, "no skipped checks listed"
    without = [line.strip() for line in skipped if "#" not in line or not line.split("#", 1)[1].strip()]
    assert not without, f"skipped checks need a one-line reason: {without}"
