"""The janitor end to end on the emulator: three branch environments, two of them merged.

``cleanup --open-branches-file`` (two workers) destroys the two merged ones (workspace, ECS service
and target group gone, destroys recorded) and leaves the open one running; ``status`` and
``workspaces`` read what remains; a second cleanup finds nothing. Before that, while a run holds
an environment's deploy lock (a release between its plan and its verdict), ``destroy`` exits 5 and
changes nothing and ``cleanup`` keeps the environment and says why; once the lock is released both
go ahead. The tests run in file order on one set of environments.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from deploytool import cleanup, stackops, status
from deploytool.cli import main
from deploytool.naming import Names
from deploytool.stack import Stack
from deploytool.state import read_state

pytestmark = pytest.mark.apply

REPO = Path(__file__).resolve().parents[2]
OPEN = "janitor/open-branch"
MERGED = ("janitor/merged-one", "Janitor/Merged_Two")  # the second slugs with a hash suffix


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, [*args, "--env", "local", "--local", "--config", str(REPO / "deploy.toml")])


@pytest.fixture(scope="module")
def branch_envs(local_platform: dict[str, Any], local_target: Any) -> Any:
    made: dict[str, tuple[Names, dict[str, Any]]] = {}
    # Other test files share this worker's platform and may have left branch environments behind;
    # the janitor's assertions are about this file's branches only, so start from none.
    for leftover in status.list_app_states(local_target):
        stackops.destroy_workspace(local_target, leftover.workspace)
    started = time.monotonic()
    for branch in (OPEN, *MERGED):
        outputs = stackops.apply_stack(local_target, "app", branch=branch, image_tag="v1")
        made[branch] = (local_target.names(branch), outputs)
    print(f"\n3 branch environments applied in {time.monotonic() - started:.1f}s")
    yield made
    stackops.destroy(local_target, OPEN)  # leave the emulator as found (also exercises destroy by branch)


def service_status(emulator: Any, cluster: str, name: str) -> str:
    resp = emulator.client("ecs").describe_services(cluster=cluster, services=[name])
    found = [s["status"] for s in resp["services"] if s["serviceName"] == name]
    return found[0] if found else "MISSING"


def test_state_listing_matches_terraform_and_needs_no_init(branch_envs: Any, local_target: Any) -> None:
    wanted = {names.workspace for names, _ in branch_envs.values()}
    started = time.monotonic()
    listed = {s.workspace for s in status.list_app_states(local_target)}
    s3_s = time.monotonic() - started
    stack = Stack(local_target, "app")
    started = time.monotonic()
    stack.prepare(create_workspace=False)
    init_s = time.monotonic() - started
    started = time.monotonic()
    terraform = set(stack.runner.workspaces()) - {"default"}
    list_s = time.monotonic() - started
    print(f"\nS3 listing {s3_s * 1000:.0f} ms; terraform init {init_s:.1f}s + workspace list {list_s:.1f}s")
    assert wanted <= listed
    assert listed == terraform


def test_status_of_a_branch_environment(branch_envs: Any) -> None:
    names, outputs = branch_envs[OPEN]
    result = cli("status", "--branch", OPEN, "--output", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["workspace"] == names.workspace and data["image_tag"] == "v1"
    assert data["url"] == outputs["url"]
    (service,) = data["services"]
    assert service["name"] == names.service and service["status"] == "ACTIVE" and service["desired"] == 1
    assert service["ecs_task_definition"] == outputs["task_definition_arn"]
    assert data["last_deploy"]["action"] == "apply" and data["last_deploy"]["outcome"] == "success"


def locks(target: Any) -> list[str]:
    prefix = f"{target.config.project.ledger_prefix}/{target.env}/locks/"
    listed = target.clients()("s3").list_objects_v2(Bucket=target.state_bucket, Prefix=prefix)
    return [o["Key"].removeprefix(prefix) for o in listed.get("Contents", [])]


def snapshot(target: Any, workspace: str) -> tuple[Any, ...]:
    """What a destroy would change: the state (serial, resources), the workspace, the history."""
    s3 = target.clients()("s3")
    state = read_state(s3, target.layout, "app", workspace)
    assert state is not None, f"{workspace} has no state"
    etag = s3.head_object(Bucket=target.state_bucket, Key=target.layout.object_key("app", workspace))["ETag"]
    listed = {s.workspace for s in status.list_app_states(target)}
    records = [(r.time, r.action, r.outcome) for r in target.ledger().records(target.env, workspace)]
    return etag, state.resources, workspace in listed, records


def test_while_a_release_holds_the_deploy_lock_destroy_exits_5_and_changes_nothing(
    branch_envs: Any, local_target: Any, emulator: Any
) -> None:
    names, outputs = branch_envs[OPEN]
    before = snapshot(local_target, names.workspace)
    with local_target.deploy_lock(OPEN, operation="deploy", release="v2"):
        result = cli("destroy", "--branch", OPEN, "--yes")
    assert result.exit_code == 5, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: deploy of local {names.workspace} is locked by "), last
    assert "(deploy v2) since " in last and "--deploy-lock --lock-id " in last
    assert "destroying local/app" not in result.stderr  # Terraform never ran
    assert snapshot(local_target, names.workspace) == before
    assert service_status(emulator, outputs["cluster_name"], names.service) == "ACTIVE"
    assert locks(local_target) == []  # the holder's lock went when it ended; the refused destroy left none


def test_while_a_release_holds_the_deploy_lock_cleanup_keeps_the_environment_and_says_why(
    branch_envs: Any, local_target: Any, tmp_path: Path
) -> None:
    names, _ = branch_envs[MERGED[0]]
    open_file, only = tmp_path / "open-branches.txt", tmp_path / "slice.txt"
    open_file.write_text(f"main\n{OPEN}\n")
    only.write_text(names.workspace + "\n")
    args = ["--open-branches-file", str(open_file), "--older-than", "1s", "--only-workspaces", str(only)]
    time.sleep(1.1)  # past the 1 s TTL
    before = snapshot(local_target, names.workspace)
    with local_target.deploy_lock(MERGED[0], operation="deploy", release="v2"):
        assert locks(local_target) == [names.workspace]
        held = cli("cleanup", *args, "--yes", "--output", "json")
    assert held.exit_code == 0, held.output
    data = json.loads(held.stdout)
    assert data["destroy"] == [] and data["results"] == []
    assert {d["workspace"]: d["reason"] for d in data["keep"]} == {names.workspace: cleanup.LOCKED}
    assert f"keep {names.workspace}: a release run holds its deploy lock" in held.stderr
    assert snapshot(local_target, names.workspace) == before
    # Released: the janitor selects it again (the next test destroys it).
    free = cli("cleanup", *args, "--dry-run", "--output", "json")
    assert free.exit_code == 0, free.output
    assert [d["workspace"] for d in json.loads(free.stdout)["destroy"]] == [names.workspace]


def test_cleanup_destroys_the_merged_branches_only(
    branch_envs: Any, local_target: Any, emulator: Any, tmp_path: Path
) -> None:
    open_file = tmp_path / "open-branches.txt"
    open_file.write_text(f"main\n{OPEN}\n")
    # The environments were deployed moments ago: a 1 s TTL makes the merged ones old enough.
    time.sleep(1.1)
    dry = cli("cleanup", "--open-branches-file", str(open_file), "--older-than", "1s", "--dry-run")
    assert dry.exit_code == 0, dry.output
    merged_ws = {branch_envs[b][0].workspace for b in MERGED}
    assert {line.split()[0] for line in dry.stdout.splitlines()[1:]} == merged_ws

    started = time.monotonic()
    result = cli("cleanup", "--open-branches-file", str(open_file), "--older-than", "1s", "--parallel", "2", "--yes")
    print(f"\ncleanup of 2 environments with 2 workers: {time.monotonic() - started:.1f}s\n{result.stdout}")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert set(rows) == merged_ws
    assert all(row[-2] == "destroyed" for row in rows.values())
    assert sum("destroying" in line for line in result.stderr.splitlines()) == 2  # one line per start...
    assert sum(" destroyed in " in line for line in result.stderr.splitlines()) == 2  # ...and per end
    assert "Destroy complete" not in result.stderr  # Terraform's own output went to the log files

    listed = {s.workspace for s in status.list_app_states(local_target)}
    open_names, open_outputs = branch_envs[OPEN]
    assert open_names.workspace in listed and not (merged_ws & listed)
    cluster = open_outputs["cluster_name"]
    assert service_status(emulator, cluster, open_names.service) == "ACTIVE"
    elbv2 = emulator.client("elbv2")
    for branch in MERGED:
        names, _ = branch_envs[branch]
        assert service_status(emulator, cluster, names.service) != "ACTIVE"
        with pytest.raises(elbv2.exceptions.TargetGroupNotFoundException):
            elbv2.describe_target_groups(Names=[names.target_group])
        log = Stack(local_target, "app", names.workspace).data_dir / "cleanup.log"
        assert "Destroy complete" in log.read_text()
        last = local_target.ledger().last("local", names.workspace)
        assert (last.action, last.outcome) == ("destroy", "success")
        assert str(last.extra.get("reason")).startswith("branch gone; idle ")


def test_status_and_workspaces_on_what_remains(branch_envs: Any) -> None:
    open_names, _ = branch_envs[OPEN]
    listing = cli("workspaces", "--output", "json")
    assert listing.exit_code == 0, listing.output
    assert [w["workspace"] for w in json.loads(listing.stdout)] == [open_names.workspace]
    text = cli("workspaces")
    assert text.stdout.splitlines()[1].split()[0] == open_names.workspace
    gone = cli("status", "--branch", MERGED[0])
    assert gone.exit_code == 1 and "is not deployed" in gone.stderr and "destroy success" in gone.stderr
    assert cli("status", "--branch", OPEN).exit_code == 0


def test_a_second_cleanup_finds_nothing(branch_envs: Any, tmp_path: Path) -> None:
    open_file = tmp_path / "open-branches.txt"
    open_file.write_text(f"{OPEN}\n")
    args = ["--open-branches-file", str(open_file), "--older-than", "1s", "--parallel", "2", "--yes"]
    result = cli("cleanup", *args, "--output", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["destroy"] == [] and data["results"] == []
    assert "nothing to clean up" in result.stderr


def test_destroy_on_merge_once_no_run_holds_the_deploy_lock(branch_envs: Any, local_target: Any) -> None:
    names, _ = branch_envs[OPEN]
    result = cli("destroy", "--branch", OPEN, "--yes")
    assert result.exit_code == 0, result.output
    assert f"{names.workspace} destroyed and its workspace deleted" in result.stderr
    assert names.workspace not in {s.workspace for s in status.list_app_states(local_target)}
    last = local_target.ledger().last("local", names.workspace)
    assert (last.action, last.outcome) == ("destroy", "success")
    assert locks(local_target) == []  # the destroy's own lock went with the workspace
