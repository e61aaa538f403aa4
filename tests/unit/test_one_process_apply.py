"""One Terraform process per apply: ``terraform apply -json`` read as it streams, the selected
workspace read from the data directory, and a CLI run that imports only its command.

Terraform is a fake here (a script printing the machine-readable UI messages Terraform 1.15 prints
for an image-tag apply of a branch environment, captured from a real run on the emulator).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploytool import plansummary, stackops
from deploytool.errors import StateLockedError
from deploytool.terraform import Runner
from deploytool.toolchain import Engine

TASK_DEFINITION = "module.app.module.service.aws_ecs_task_definition.this"
SERVICE = "module.app.module.service.aws_ecs_service.autoscaled[0]"


def _resource(addr: str, rtype: str) -> dict[str, Any]:
    return {"addr": addr, "resource_type": rtype, "implied_provider": "aws"}


PLANNED = [
    {"resource": _resource(TASK_DEFINITION, "aws_ecs_task_definition"), "action": "replace", "reason": "cannot_update"},
    {"resource": _resource(SERVICE, "aws_ecs_service"), "action": "update"},
    {"resource": _resource("module.app.data.aws_region.current", "aws_region"), "action": "read"},
]
APPLY_MESSAGES = [
    {"type": "version", "@message": "Terraform 1.15.5", "terraform": "1.15.5"},
    {"type": "refresh_start", "@message": f"{SERVICE}: Refreshing state... [id=arn:aws:ecs:x]"},
    *[
        {"type": "planned_change", "@message": f"{c['resource']['addr']}: Plan to {c['action']}", "change": c}
        for c in PLANNED
    ],
    {
        "type": "change_summary",
        "@message": "Plan: 1 to add, 1 to change, 1 to destroy.",
        "changes": {"add": 1, "change": 1, "remove": 1, "operation": "plan"},
    },
    {"type": "outputs", "@message": "Outputs: 1", "outputs": {"app": {"sensitive": False, "action": "update"}}},
    {"type": "apply_start", "@message": f"{TASK_DEFINITION}: Creating..."},
    {"type": "apply_complete", "@message": f"{TASK_DEFINITION}: Creation complete after 0s"},
    {
        "type": "change_summary",
        "@message": "Apply complete! Resources: 1 added, 1 changed, 1 destroyed.",
        "changes": {"add": 1, "change": 1, "remove": 1, "operation": "apply"},
    },
    {
        "type": "outputs",
        "@message": "Outputs: 2",
        "outputs": {
            "app": {"sensitive": False, "value": {"image_tag": "v2", "service_name": "staging-x"}},
            "token": {"sensitive": True},
        },
    },
]
LOCKED = {
    "type": "diagnostic",
    "@level": "error",
    "@message": "Error: Error acquiring the state lock",
    "diagnostic": {
        "severity": "error",
        "summary": "Error acquiring the state lock",
        "detail": "Error message: held\nLock Info:\n  ID:        0c5d-lock\n  Path:      b/k\n  Operation: "
        "OperationTypeApply\n  Who:       ci@runner\n  Created:   2026-11-30 10:00:00.1 +0000 UTC\n",
    },
}


def fake_terraform(tmp_path: Path, messages: list[dict[str, Any]], code: int = 0) -> Engine:
    """An engine that logs its argv and prints ``messages`` as JSON lines, then exits ``code``."""
    script = tmp_path / "fake_terraform.py"
    script.write_text(
        "import json, sys\n"
        f"open({str(tmp_path / 'argv.log')!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"for m in {messages!r}:\n"
        "    print(json.dumps(m), flush=True)\n"
        f"sys.exit({code})\n"
    )
    return Engine("fake", (sys.executable, str(script)))


def runs(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "argv.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []


def test_apply_now_is_one_process_that_reports_its_plan_before_it_changes_anything(tmp_path: Path) -> None:
    progress = io.StringIO()
    runner = Runner(root=tmp_path, data_dir=tmp_path / "data", engine=fake_terraform(tmp_path, APPLY_MESSAGES))
    runner.progress = progress
    seen_at_plan: list[str] = []

    def planned(changes: list[dict[str, Any]]) -> None:
        seen_at_plan.append(progress.getvalue())
        assert [c["resource"]["addr"] for c in changes] == [c["resource"]["addr"] for c in PLANNED]

    applied = runner.apply_now(var_files=[tmp_path / "x.tfvars"], planned=planned)

    [argv] = runs(tmp_path)
    assert argv[:2] == ["apply", "-json"] and "-auto-approve" in argv and f"-var-file={tmp_path / 'x.tfvars'}" in argv
    assert len(seen_at_plan) == 1 and "Creating..." not in seen_at_plan[0]  # called before anything changed
    assert applied.planned and applied.terraform_version == "1.15.5"
    assert applied.output_values() == {"image_tag": "v2", "service_name": "staging-x"}  # the last outputs, no secret
    streamed = progress.getvalue()
    assert "Plan: 1 to add, 1 to change, 1 to destroy." in streamed and "Apply complete!" in streamed
    assert '"type"' not in streamed  # people read Terraform's messages, not its JSON


def test_the_streamed_plan_summarises_as_the_saved_plan_does() -> None:
    streamed = plansummary.summarize_planned_changes(PLANNED)
    saved = plansummary.summarize(
        {
            "resource_changes": [
                {
                    "address": TASK_DEFINITION,
                    "type": "aws_ecs_task_definition",
                    "change": {"actions": ["create", "delete"]},
                },
                {"address": SERVICE, "type": "aws_ecs_service", "change": {"actions": ["update"]}},
                {"address": "module.app.data.aws_region.current", "mode": "data", "change": {"actions": ["read"]}},
            ]
        }
    )
    assert stackops.counts(streamed) == stackops.counts(saved) == {"add": 0, "change": 1, "replace": 1, "destroy": 0}
    assert [(r.address, r.action) for r in streamed.resources] == [(r.address, r.action) for r in saved.resources]
    assert streamed.headline() == saved.headline()


def test_a_failed_one_process_apply_names_the_lock_holder(tmp_path: Path) -> None:
    runner = Runner(
        root=tmp_path,
        data_dir=tmp_path / "data",
        engine=fake_terraform(tmp_path, [APPLY_MESSAGES[0], LOCKED], code=1),
        progress=io.StringIO(),
    )
    with pytest.raises(StateLockedError) as locked:
        runner.apply_now()
    assert locked.value.lock_id == "0c5d-lock" and "ci@runner" in str(locked.value)


def test_the_selected_workspace_is_read_from_the_data_directory(tmp_path: Path) -> None:
    runner = Runner(root=tmp_path, data_dir=tmp_path / "data", engine=fake_terraform(tmp_path, [], code=1))
    assert runner.current_workspace() == "default"  # no file: Terraform's default
    (tmp_path / "data" / "environment").write_text("staging-feature-x")
    assert runner.current_workspace() == "staging-feature-x"
    runner.select_workspace("staging-feature-x")  # already selected: nothing to run
    assert runs(tmp_path) == []


def test_a_cli_run_imports_only_its_command() -> None:
    """`deploytool apply` loads neither the demo's database driver, the GitHub client, nor the
    release strategies and their HTTP checks; every command is still there for --help."""
    heavy = ("psycopg", "deploytool.demo", "deploytool.github", "deploytool.release", "deploytool.health", "httpx")
    code = (
        "import sys\n"
        "from deploytool.cli import main\n"
        "import click\n"
        "main.get_command(click.Context(main), 'apply')\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""


def test_every_command_is_registered_where_the_lazy_group_looks() -> None:
    from deploytool.cli.base import COMMAND_MODULES, load_commands

    assert set(load_commands()) == set(COMMAND_MODULES)


def test_a_roots_hcl_is_parsed_once_until_it_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deploytool import emulator as emu

    monkeypatch.setenv("DEPLOYTOOL_HOME", str(tmp_path / "home"))
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(
        'terraform {\n  backend "s3" {}\n}\n\ndata "terraform_remote_state" "platform" {\n'
        '  backend = "s3"\n  config = { bucket = "b", key = "k" }\n}\n'
    )
    first = emu.override_text(root, "http://127.0.0.1:1", "us-east-1")
    assert 'backend "s3"' in first and 'data "terraform_remote_state" "platform"' in first

    def refuse(*_: Any) -> Any:
        raise AssertionError("parsed again")

    monkeypatch.setattr(emu, "hcl_load", refuse)
    assert emu.override_text(root, "http://127.0.0.1:1", "us-east-1") == first  # from the kept answer
    (root / "main.tf").write_text('terraform {\n  backend "s3" {}\n}\n')
    with pytest.raises(AssertionError, match="parsed again"):  # an edited root is parsed again
        emu.override_text(root, "http://127.0.0.1:1", "us-east-1")
