"""A branch environment's destroy starts as few Terraform processes as it can: its state is read
from S3 (existence, resources, image) and the workspace is named per process, so a destroy is
init (when the data dir is new), one ``terraform destroy`` and one ``workspace delete``.

Runs against an in-process S3 mock (moto), Terraform replaced by a script that logs its arguments.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from deploytool import stackops
from deploytool.stack import Target
from deploytool.toolchain import Engine
from tests.unit.test_branch_owner import BUCKET, WORKSPACE, s3, target

__all__ = ["s3", "target"]  # the fixtures, shared with the branch-owner tests

STATE_KEY = f"workspaces/{WORKSPACE}/staging/app/terraform.tfstate"


def fake_engine(tmp_path: Path, *, fail_without_refresh: bool = False) -> Engine:
    script = tmp_path / "fake_terraform.py"
    script.write_text(
        "import json, os, sys\n"
        "argv = [os.environ.get('TF_WORKSPACE'), *sys.argv[1:]]\n"
        f"open({str(tmp_path / 'argv.log')!r}, 'a').write(json.dumps(argv) + '\\n')\n"
        f"if {fail_without_refresh!r} and sys.argv[1] == 'destroy' and '-refresh=false' in sys.argv:\n"
        "    print('Error: deleting ECS service: ServiceNotFoundException', file=sys.stderr)\n"
        "    sys.exit(1)\n"
    )
    return Engine("fake", (sys.executable, str(script)))


def runs(tmp_path: Path) -> list[list[str | None]]:
    return [json.loads(line) for line in (tmp_path / "argv.log").read_text().splitlines()]


def put_state(s3: Any, resources: list[dict[str, Any]]) -> None:
    state = {
        "version": 4,
        "outputs": {"app": {"value": {"image_tag": "v7", "service_name": WORKSPACE}, "type": "object"}},
        "resources": resources,
    }
    s3.put_object(Bucket=BUCKET, Key=STATE_KEY, Body=json.dumps(state).encode())


SERVICE = {
    "module": "module.app.module.service",
    "mode": "managed",
    "type": "aws_ecs_service",
    "name": "autoscaled",
    "instances": [{"index_key": 0}],
}


@pytest.fixture()
def destroying(target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Target:
    # The schema's drop is a one-off task of the runtime, not a Terraform process (tests/e2e/test_migration.py).
    monkeypatch.setattr("deploytool.release.migration.drop_branch_schema", lambda *a, **k: None)

    class Runtime:
        def stop(self, service: str) -> None:
            return None

    target._runtime = Runtime()  # type: ignore[assignment]
    return target


def test_a_destroy_is_one_destroy_and_one_workspace_delete(destroying: Target, s3: Any, tmp_path: Path) -> None:
    destroying.engine = fake_engine(tmp_path)
    put_state(s3, [SERVICE])
    assert stackops.destroy(destroying, "feature/x").endswith("destroyed and its workspace deleted")
    commands = [argv for argv in runs(tmp_path) if argv[1] != "init"]  # init: once per new data dir
    assert [argv[1:3] for argv in commands] == [["destroy", "-input=false"], ["workspace", "delete"]]
    destroy, delete = commands
    assert destroy[0] == WORKSPACE and "-refresh=false" in destroy  # the workspace named for this process
    assert delete[0] is None and delete[-1] == WORKSPACE
    [record] = [r for r in destroying.ledger().records("staging", WORKSPACE) if r.action == "destroy"]
    assert record.image_before == "v7" and record.outcome == "success"


def test_a_destroy_the_stale_state_fails_runs_again_with_the_refresh(
    destroying: Target, s3: Any, tmp_path: Path
) -> None:
    destroying.engine = fake_engine(tmp_path, fail_without_refresh=True)
    put_state(s3, [SERVICE])
    stackops.destroy(destroying, "feature/x")
    destroys = [argv for argv in runs(tmp_path) if argv[1] == "destroy"]
    assert ["-refresh=false" in argv for argv in destroys] == [True, False]


def test_an_empty_workspace_is_deleted_without_a_destroy(destroying: Target, s3: Any, tmp_path: Path) -> None:
    destroying.engine = fake_engine(tmp_path)
    put_state(s3, [])  # what `workspace new` leaves
    stackops.destroy(destroying, "feature/x")
    assert [argv[1] for argv in runs(tmp_path) if argv[1] != "init"] == ["workspace"]


def test_a_workspace_without_state_does_not_exist(destroying: Target, tmp_path: Path) -> None:
    destroying.engine = fake_engine(tmp_path)
    assert "does not exist" in stackops.destroy(destroying, "feature/x")
    assert not (tmp_path / "argv.log").exists()  # no Terraform at all
