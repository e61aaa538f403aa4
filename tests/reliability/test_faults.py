"""Faults during a deploy: the AWS API goes away, the run is killed, two runs race, the rollback
target is itself broken. Each test states the promise it checks; the tool must keep it.

The runs are real ``python -m deploytool.cli`` processes against the session's emulator (through
the fault proxy, see ``conftest.py``). Faults are triggered by what the run is doing (the AWS call
it makes), never by timing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from deploytool import release
from deploytool.errors import DeployError, RollbackFailedError
from deploytool.localrun import LOCAL_DB_ENV
from deploytool.stack import Stack
from deploytool.terraform import Result, Runner
from deploytool.toolchain import Engine
from tests.conftest import REPO, Emulator
from tests.reliability.conftest import ENV, FaultEnv, service_image, state_image
from tests.reliability.faultproxy import api_call, bucket_call

BROKEN = {"GEOAPI_REQUIRE_DATABASE": "true", "DATABASE_URL": ""}
REGISTER = api_call("RegisterTaskDefinition")


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, text[-3000:]


def active_task_definitions(emulator: Emulator, family: str) -> list[str]:
    ecs = emulator.client("ecs")
    arns = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
    return [str(arn) for arn in arns if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family]


def assert_converged(faults: FaultEnv, branch: str, tag: str) -> None:
    """The branch runs ``tag``, and every resource of the branch environment exists exactly once."""
    names = faults.target.names(branch)
    cluster = faults.platform["cluster_name"]
    assert state_image(faults.state(branch)) == tag
    assert service_image(faults.emulator, cluster, names.service) == tag
    assert len(active_task_definitions(faults.emulator, names.service)) == 1
    ecs, elbv2 = faults.emulator.client("ecs"), faults.emulator.client("elbv2")
    services = ecs.describe_services(cluster=cluster, services=[names.service])["services"]
    assert [s["status"] for s in services] == ["ACTIVE"]
    groups = [g for g in elbv2.describe_target_groups()["TargetGroups"] if g["TargetGroupName"] == names.target_group]
    assert len(groups) == 1
    rules = [
        rule
        for rule in elbv2.describe_rules(ListenerArn=faults.platform["listener_arn"])["Rules"]
        for condition in rule.get("Conditions", [])
        if names.host in condition.get("HostHeaderConfig", {}).get("Values", condition.get("Values", []))
    ]
    assert len(rules) == 1
    assert faults.lock(branch) is None


# --- SIGTERM forwarding, without the emulator -----------------------------------------------------

FAKE_TERRAFORM = """
import signal, sys, time

def stop(*_):
    print("Interrupt received.", flush=True)
    time.sleep(0.5)  # finishing the current call and releasing the lock
    print("Error: execution halted", file=sys.stderr, flush=True)
    sys.exit(1)

signal.signal(signal.SIGINT, stop)
print("module.service.aws_ecs_task_definition.this: Creating...", flush=True)
time.sleep(120)
"""

DRIVER = """
import sys
from pathlib import Path
from deploytool.errors import DeployError
from deploytool.terraform import Runner
from deploytool.toolchain import Engine

root = Path(sys.argv[1])
engine = Engine("fake", (sys.executable, "-c", sys.argv[2]))
try:
    Runner(root=root, data_dir=root / "data", engine=engine).apply(root / "plan")
except DeployError as exc:
    print(f"Error: {exc.message}", file=sys.stderr, flush=True)
    sys.exit(exc.exit_code)
"""


def test_sigterm_returns_as_soon_as_terraform_has_stopped(tmp_path: Path) -> None:
    """SIGTERM reaches Terraform as SIGINT; the run ends as soon as Terraform does, not after the
    60 s grace period (a CI runner kills a cancelled job within seconds)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(DRIVER), str(tmp_path), textwrap.dedent(FAKE_TERRAFORM)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "Creating..." in line:
            break
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=90)
    elapsed = time.monotonic() - started
    output = "".join(lines) + rest
    assert proc.returncode == 1, output
    assert "Interrupt received." in output  # Terraform was asked to stop gracefully
    assert output.strip().splitlines()[-1].startswith("Error: interrupted by SIGTERM")
    assert elapsed < 10, f"took {elapsed:.1f} s to return after Terraform stopped"


# A Terraform stand-in that counts the SIGINTs it gets (a second one is Terraform's "exit at once").
COUNTING_TERRAFORM = """
import signal, sys, time
from pathlib import Path

count = Path(sys.argv[1])
seen = 0

def interrupted(*_):
    global seen
    seen += 1
    count.write_text(str(seen))
    if seen == 1:
        print("Interrupt received.", flush=True)
        print("Please wait for Terraform to exit or data loss may occur.", flush=True)

signal.signal(signal.SIGINT, interrupted)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
print("module.service.aws_ecs_task_definition.this: Creating...", flush=True)
deadline = time.monotonic() + 120
while time.monotonic() < deadline and seen == 0:
    time.sleep(0.05)
time.sleep(2)  # finishing the current call and saving state: a second SIGINT would land here
print("Error: execution halted", file=sys.stderr, flush=True)
sys.exit(1)
"""

INTERRUPTED_DRIVER = """
import signal, sys
from pathlib import Path
from deploytool import terraform
from deploytool.errors import DeployError
from deploytool.terraform import Runner
from deploytool.toolchain import Engine

signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, whatever started us
terraform.UNACKNOWLEDGED_S = 2.0
root = Path(sys.argv[1])
engine = Engine("fake", (sys.executable, "-c", sys.argv[2], str(root / "sigints")))
try:
    Runner(root=root, data_dir=root / "data", engine=engine).apply(root / "plan")
except KeyboardInterrupt:
    print("Error: interrupted", file=sys.stderr, flush=True)
    sys.exit(130)
except DeployError as exc:
    print(f"Error: {exc.message}", file=sys.stderr, flush=True)
    sys.exit(exc.exit_code)
"""


def interrupt_run(tmp_path: Path, send: Any) -> tuple[int, str, float]:
    """Start the driver in its own process group (a terminal's foreground job), wait for the
    stand-in to be applying, ``send(driver)``; its exit code, the SIGINTs the stand-in saw, seconds."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(INTERRUPTED_DRIVER), str(tmp_path), textwrap.dedent(COUNTING_TERRAFORM)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "Creating..." in line:
            break
    started = time.monotonic()
    send(proc)
    _, rest = proc.communicate(timeout=90)
    no_traceback(rest)
    count = tmp_path / "sigints"
    return proc.returncode, count.read_text() if count.exists() else "0", time.monotonic() - started


def test_ctrl_c_reaches_terraform_once(tmp_path: Path) -> None:
    """Ctrl-C at a terminal signals the whole foreground process group, Terraform included: the tool
    must not send Terraform a second SIGINT (its "exit immediately, state or not")."""
    code, sigints, elapsed = interrupt_run(tmp_path, lambda proc: os.killpg(proc.pid, signal.SIGINT))
    assert code == 130
    assert sigints == "1"
    assert elapsed < 10, f"{elapsed:.1f} s: the tool waited for Terraform, not for a timeout"


def test_sigterm_to_the_tool_alone_reaches_terraform_as_one_sigint(tmp_path: Path) -> None:
    def twice(proc: subprocess.Popen[str]) -> None:
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)  # a supervisor that insists

    code, sigints, _ = interrupt_run(tmp_path, twice)
    assert code == 1
    assert sigints == "1"


def test_sigint_to_the_tool_alone_still_reaches_terraform(tmp_path: Path) -> None:
    """``kill -INT <tool>`` reaches the tool only: Terraform never acknowledges an interrupt, so the
    tool sends it the one SIGINT it did not get."""
    code, sigints, elapsed = interrupt_run(tmp_path, lambda proc: proc.send_signal(signal.SIGINT))
    assert code == 130
    assert sigints == "1"
    assert elapsed < 15


# What Terraform prints when the AWS API is still gone when it saves state (recorded from a run
# through the fault proxy with the outage lasting until the run ended; that run takes ~40 s of the
# S3 backend's retries, so the message is checked on its output here).
UNSAVED_STATE = """
module.service.aws_ecs_task_definition.this: Creating...

Error: Failed to save state

Error saving state: failed to upload state: operation error S3: PutObject,
exceeded maximum number of attempts, 5, https response error StatusCode: 0,
RequestID: , HostID: , request send failed, Put
"http://127.0.0.1:43965/theobroma-terraform-state/workspaces/local-exp-a/local/app/terraform.tfstate?x-id=PutObject":
read tcp 127.0.0.1:42062->127.0.0.1:43965: read: connection reset by peer

Error: Failed to persist state to backend

The error shown above has prevented Terraform from writing the updated state
to the configured backend. To allow for recovery, the state has been written
to the file "errored.tfstate" in the current working directory.

Running "terraform apply" again at this point will create a forked state,
making it harder to recover.

To retry writing this state, use the following command:
    terraform state push errored.tfstate

Releasing state lock. This may take a few moments...

Error: Error releasing the state lock
"""


def test_unsaved_state_message_says_where_the_state_is_and_how_to_push_it(tmp_path: Path) -> None:
    """When the API is gone for good, Terraform writes the state it could not save to errored.tfstate
    in its working directory (the root, which users of the tool never see) and keeps the lock. The
    one-line message names the file, the lock, and the exact push command for this data directory."""
    root = tmp_path / "environments" / "staging" / "app"
    root.mkdir(parents=True)
    runner = Runner(root=root, data_dir=tmp_path / "tfdata", engine=Engine("embedded", ("true",)))
    with pytest.raises(DeployError) as caught:
        runner._raise("apply", Result(1, "", UNSAVED_STATE))
    message = caught.value.message
    assert "\n" not in message and caught.value.exit_code == 1
    assert message.startswith("terraform apply failed: Failed to save state; ")
    assert f"in {root / 'errored.tfstate'}:" in message
    assert "deploytool force-unlock" in message
    assert (
        f"`TF_DATA_DIR={tmp_path / 'tfdata'} deploytool-terraform -chdir={root} state push errored.tfstate`" in message
    )


# --- the AWS API goes away in the middle of an apply ------------------------------------------------


@pytest.mark.apply
def test_emulator_outage_mid_apply_fails_cleanly_and_a_rerun_converges(faults: FaultEnv, fault_branch: str) -> None:
    """The AWS API goes away at the apply's first change and is back when Terraform next saves state.

    Stopping the session's emulator would lose its state (and the platform with it), and SIGSTOP
    only makes clients wait (they have no response timeout): neither is an outage a run can
    survive in a test. So the run reaches the emulator through the fault proxy, which resets the
    connection of the apply's RegisterTaskDefinition call and of every call after it, until the
    state backend calls again. The change never reaches the emulator; Terraform fails it, saves
    state and releases the lock once the API is back.
    """
    before = faults.state(fault_branch)
    outage = faults.proxy.outage(REGISTER, bucket_call(faults.target.state_bucket))
    args = ["deploy", "--env", ENV, "--branch", fault_branch, "--image-tag", "outage-1", "--yes"]

    failed = faults.run(*args)
    assert outage.began.is_set() and outage.ended.is_set(), "the outage did not happen mid-apply"
    assert [r.action for r in outage.refused] == ["RegisterTaskDefinition"]
    assert failed.code == 1, str(failed)
    no_traceback(failed.stderr)
    workspace = faults.target.names(fault_branch).workspace
    assert failed.last_line.startswith(f"Error: terraform apply failed (local/app, workspace {workspace}): ")
    assert faults.lock(fault_branch) is None
    assert state_image(faults.state(fault_branch)) == state_image(before)
    attempt = faults.records(fault_branch)[-1]
    assert (attempt.action, attempt.image_after, attempt.outcome) == ("deploy", "outage-1", "error")
    assert "terraform apply failed" in attempt.message

    again = faults.run(*args)
    assert again.code == 0, str(again)
    assert_converged(faults, fault_branch, "outage-1")
    assert faults.records(fault_branch)[-1].outcome == "success"


@pytest.mark.apply
def test_a_look_up_failing_while_terraform_starts_leaves_nothing_locked_or_changed(
    faults: FaultEnv, fault_branch: str
) -> None:
    """Terraform starts while the inputs are looked up, and waits for them at its var file (a named
    pipe). The registry look-up is held at the proxy until Terraform is waiting there; then the AWS
    API goes away. Waiting for its variables, Terraform holds no lock; it is stopped, the
    state is as it was, and the same apply afterwards goes through at once (no lock left behind)."""
    before = faults.state(fault_branch)
    hold = faults.proxy.hold(api_call("DescribeRepositories"))  # the local load balancer polls DescribeRules
    args = ["apply", "--env", ENV, "--branch", fault_branch, "--image-tag", "look-1", "--yes"]
    running = faults.start(*args)
    assert hold.arrived.wait(120), running.text()
    terraform = waiting_on_a_pipe(running.proc.pid)
    assert faults.lock(fault_branch) is None  # waiting for its variables, Terraform has locked nothing
    faults.proxy.outage(lambda request: True, lambda request: False)
    hold.release(forward=False)

    failed = running.wait()
    assert failed.code == 1, str(failed)
    no_traceback(failed.stderr)
    assert not Path(f"/proc/{terraform}").exists() or _zombie(terraform), "Terraform was left running"
    faults.proxy.clear()
    assert faults.lock(fault_branch) is None
    assert faults.state(fault_branch)["serial"] == before["serial"]
    assert state_image(faults.state(fault_branch)) == state_image(before)

    again = faults.run(*args)
    assert again.code == 0, str(again)
    assert_converged(faults, fault_branch, "look-1")


def waiting_on_a_pipe(ancestor: int, timeout_s: float = 120.0) -> int:
    """The pid of the process under ``ancestor`` with a thread blocked opening a named pipe (the
    kernel's ``wait_for_partner``): Terraform at its var file."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        parents: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
        for pid in parents:
            up = pid
            while up in parents and up != ancestor:
                up = parents[up]
            if up != ancestor or pid == ancestor:
                continue
            for wchan in Path(f"/proc/{pid}/task").glob("*/wchan"):
                try:
                    if wchan.read_text().strip() == "wait_for_partner":
                        return pid
                except OSError:
                    continue
        time.sleep(0.05)
    raise AssertionError(f"no process under {ancestor} waited on a named pipe within {timeout_s} s")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# --- the run is killed --------------------------------------------------------------------------


@pytest.mark.apply
def test_sigterm_during_apply_releases_the_lock_and_a_rerun_converges(faults: FaultEnv, fault_branch: str) -> None:
    """SIGTERM while Terraform is applying: Terraform stops gracefully, the lock is released, the
    message says how to recover, and re-running converges. The apply's RegisterTaskDefinition call
    is held at the proxy until Terraform has received the interrupt, so the signal always lands in
    the middle of the apply."""
    serial = faults.state(fault_branch)["serial"]
    hold = faults.proxy.hold(REGISTER)
    args = ["apply", "--env", ENV, "--branch", fault_branch, "--image-tag", "term-1", "--yes"]
    run = faults.start(*args)
    assert hold.arrived.wait(240), run.text()
    assert faults.lock(fault_branch) is not None

    signalled = time.monotonic()
    run.proc.send_signal(signal.SIGTERM)  # the tool's process only: it forwards the signal itself
    run.wait_for_line("Interrupt received")
    hold.release()
    done = run.wait()
    elapsed = time.monotonic() - signalled

    assert done.code == 1, str(done)
    no_traceback(done.stderr)
    assert done.last_line.startswith("Error: interrupted by SIGTERM")
    assert "Re-run the same command" in done.last_line and "force-unlock" in done.last_line
    assert elapsed < 30, f"{elapsed:.0f} s from SIGTERM to exit"
    assert faults.lock(fault_branch) is None
    assert faults.state(fault_branch)["serial"] >= serial
    attempt = faults.records(fault_branch)[-1]
    assert (attempt.action, attempt.image_after, attempt.outcome) == ("apply", "term-1", "error")
    assert "interrupted by SIGTERM" in attempt.message

    again = faults.run(*args)
    assert again.code == 0, str(again)
    assert_converged(faults, fault_branch, "term-1")


@pytest.mark.apply
def test_sigkill_during_apply_leaves_a_lock_that_force_unlock_recovers(faults: FaultEnv, fault_branch: str) -> None:
    """SIGKILL of the run (its whole process group, as a cancelled CI job or the OOM killer does):
    nothing can release the lock. The next run exits 5 naming the holder and the lock ID;
    ``force-unlock`` releases it without touching the state, and re-running converges."""
    before = faults.state(fault_branch)
    hold = faults.proxy.hold(REGISTER)
    args = ["apply", "--env", ENV, "--branch", fault_branch, "--image-tag", "kill-1", "--yes"]
    run = faults.start(*args)
    assert hold.arrived.wait(240), run.text()
    run.kill_group(signal.SIGKILL)
    assert run.wait().code == -signal.SIGKILL
    hold.release(forward=False)  # the killed call never reaches AWS

    lock = faults.lock(fault_branch)
    assert lock is not None, "a killed run cannot release its lock"
    locked = faults.run(*args)
    assert locked.code == 5, str(locked)
    no_traceback(locked.stderr)
    assert locked.last_line.startswith("Error: state is locked")
    assert lock["Who"] in locked.last_line
    assert f"force-unlock --lock-id {lock['ID']}" in locked.last_line

    unlocked = faults.run("force-unlock", "--env", ENV, "--branch", fault_branch, "--lock-id", lock["ID"])
    assert unlocked.code == 0, str(unlocked)
    assert faults.lock(fault_branch) is None
    after_unlock = faults.state(fault_branch)  # the state object is still there ...
    assert after_unlock["serial"] >= before["serial"]  # ... and never went back
    assert after_unlock["lineage"] == before["lineage"]
    killed = [r for r in faults.records(fault_branch) if r.image_after == "kill-1"]
    assert killed[0].outcome == "in_progress"  # what a killed run leaves in the history

    again = faults.run(*args)
    assert again.code == 0, str(again)
    assert_converged(faults, fault_branch, "kill-1")
    assert faults.state(fault_branch)["serial"] > before["serial"]


# --- two deploys of one workspace at once -------------------------------------------------------------


@pytest.mark.apply
def test_concurrent_deploys_one_proceeds_the_other_exits_5(
    faults: FaultEnv, fault_branch: str, local_target: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ``deploy`` runs of one workspace (two CI runners, each with its own data directory): the
    first holds the deploy lock, and the state lock while it applies (its RegisterTaskDefinition
    call held at the proxy); the second exits 5 naming the deploy lock's holder and ID before it
    runs Terraform, and only the first changes the state. (Two ``apply`` runs meet at the state
    lock: ``tests/e2e/test_branch_lifecycle.py``.)"""
    rival_dir = tmp_path / "rival"
    monkeypatch.setenv("DEPLOYTOOL_DATA_DIR", str(rival_dir))
    rival_target = dataclasses.replace(local_target, endpoint=faults.proxy.endpoint)
    Stack(rival_target, "app", rival_target.names(fault_branch).workspace).prepare()  # its `terraform init`
    monkeypatch.undo()

    before = faults.state(fault_branch)
    key = faults.state_key(fault_branch)
    hold = faults.proxy.hold(REGISTER)
    first = faults.start("deploy", "--env", ENV, "--branch", fault_branch, "--image-tag", "race-win", "--yes")
    assert hold.arrived.wait(240), first.text()
    seen_before_race = len(faults.proxy.seen)
    assert faults.lock(fault_branch) is not None
    s3 = faults.emulator.client("s3")
    deploy_key = (
        f"{faults.target.config.project.ledger_prefix}/{ENV}/locks/{faults.target.names(fault_branch).workspace}"
    )
    lock = json.loads(s3.get_object(Bucket=faults.target.state_bucket, Key=deploy_key)["Body"].read())

    second = faults.run(
        "deploy", "--env", ENV, "--branch", fault_branch, "--image-tag", "race-lose", "--yes", data_dir=rival_dir
    )
    hold.release()
    winner = first.wait()

    assert second.code == 5, str(second)
    no_traceback(second.stderr)
    assert second.last_line.startswith(f"Error: deploy of {ENV} "), second.last_line
    assert lock["Who"] in second.last_line and lock["ID"] in second.last_line
    assert winner.code == 0, str(winner)
    after = faults.state(fault_branch)
    writes = [
        r
        for r in faults.proxy.seen[seen_before_race:]
        if r.method == "PUT" and r.path.startswith(f"/{faults.target.state_bucket}/{key}?")
    ]
    # The winner's writes alone: the task definition registered for its migration, then the release.
    applies = 2 if faults.target.settings.release.migrate_command else 1
    assert len(writes) == applies, "only the run that applied writes the state"
    assert after["serial"] == before["serial"] + applies
    assert_converged(faults, fault_branch, "race-win")
    outcomes = {
        r.image_after: r.outcome for r in faults.records(fault_branch) if r.image_after in ("race-win", "race-lose")
    }
    assert outcomes == {"race-win": "success"}, "the loser was refused before it started"


# --- the rollback target is itself unhealthy ------------------------------------------------------------


@pytest.mark.apply
def test_rollback_to_a_release_that_is_now_unhealthy_exits_4_and_says_so(
    faults: FaultEnv, fault_branch: str, local_target: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Release A verified healthy; then its database goes away (the local runtime's database URL,
    read when a task starts, names a database that does not exist); release B is broken. The
    rollback re-applies A, whose restarted task reports the database unhealthy: exit 4, and the
    message says A is applied but unhealthy. (In-process, on the fault tests' branch and data
    directory; no fault is armed.)"""
    monkeypatch.setenv("DEPLOYTOOL_DATA_DIR", str(faults.data_dir))
    target = dataclasses.replace(local_target, endpoint=faults.proxy.endpoint)
    assert release.deploy_release(target, fault_branch, "good-a").outcome == "success"

    monkeypatch.setenv(LOCAL_DB_ENV, "postgresql://geoapi:geoapi@127.0.0.1:5432/reliability_no_such_database")
    health = target.settings.health.model_copy(update={"timeout_seconds": 8.0})
    # A release without a migration: with one, B's migration would meet the missing database first and
    # stop the deploy before anything moved (exit 1; tests/e2e/test_migration.py). Here B must reach
    # its verification, fail it, and roll back to A.
    no_migration = target.settings.release.model_copy(update={"migrate_command": []})
    quick = dataclasses.replace(
        target, settings=target.settings.model_copy(update={"health": health, "release": no_migration})
    )
    with pytest.raises(RollbackFailedError) as caught:
        release.deploy_release(quick, fault_branch, "bad-b", environment=BROKEN)

    assert caught.value.exit_code == 4
    message = caught.value.message
    assert "\n" not in message
    assert "bad-b failed verification" in message
    assert "the rollback to good-a failed too" in message
    assert "good-a is applied but unhealthy" in message
    assert "database" in message  # why A is unhealthy
    names = target.names(fault_branch)
    assert service_image(faults.emulator, faults.platform["cluster_name"], names.service) == "good-a"
    assert [(r.action, r.image_after, r.outcome) for r in faults.records(fault_branch)[-3:]] == [
        ("deploy", "good-a", "success"),
        ("deploy", "bad-b", "failed"),
        ("rollback", "good-a", "failed"),
    ]


# --- the deploy history cannot be written ----------------------------------------------------------------


@pytest.mark.apply
def test_a_failed_release_is_rolled_back_when_its_failure_cannot_be_recorded(
    faults: FaultEnv, fault_branch: str
) -> None:
    """Release A verifies; then S3 refuses every write of a finished record to the deploy history
    (PutObject under the history prefix, AccessDenied; the state backend and the start records go
    through) and release B fails verification. B is still rolled back to A, the run exits 3 as a
    rolled-back deploy does, and its message says the history is missing the run."""
    names = faults.target.names(fault_branch)
    args = ["deploy", "--env", ENV, "--branch", fault_branch, "--yes"]
    good = faults.run(*args, "--image-tag", "ledger-good")
    assert good.code == 0, str(good)

    history = f"/{faults.target.state_bucket}/{faults.target.config.project.ledger_prefix}/{ENV}/{names.workspace}/"
    refusal = faults.proxy.refuse(
        lambda r: r.method == "PUT" and r.path.startswith(history) and b'"outcome": "in_progress"' not in r.body
    )
    broken = [f"--set-env={key}={value}" for key, value in BROKEN.items()]
    bad = faults.run(*args, "--image-tag", "ledger-bad", *broken)

    assert bad.code == 3, str(bad)
    no_traceback(bad.stderr)
    assert refusal.refused, "no history write was refused"
    assert "rolled back to ledger-good, which verified healthy" in bad.last_line
    assert "the deploy history could not be written" in bad.last_line
    assert "warning: cannot write the deploy history" in bad.stderr
    assert service_image(faults.emulator, faults.platform["cluster_name"], names.service) == "ledger-good"
    assert state_image(faults.state(fault_branch)) == "ledger-good"
    assert faults.lock(fault_branch) is None


# --- a rival run arrives while a release is being verified ------------------------------------------------


@pytest.mark.apply
def test_a_rival_deploy_during_verification_exits_5_and_changes_nothing(faults: FaultEnv, fault_branch: str) -> None:
    """Terraform's state lock is free while a release is verified; the deploy lock is not. The first
    run's rollout (the stand-in registering its new task; verification has begun) is held at the proxy; a second
    ``deploy`` of the workspace then exits 5 naming the holder, the lock's age and ID, and never
    plans; the first run finishes and the lock is gone."""
    names = faults.target.names(fault_branch)
    args = ["deploy", "--env", ENV, "--branch", fault_branch, "--yes"]
    # The stand-in registering the new task in the target group: the rollout, after every apply (the
    # migration's and the release's), part of verification. Not DescribeTargetHealth, which the local
    # load balancer polls through the same endpoint.
    hold = faults.proxy.hold(api_call("RegisterTargets"))
    first = faults.start(*args, "--image-tag", "lock-first")
    assert hold.arrived.wait(240), first.text()
    serial = faults.state(fault_branch)["serial"]

    rival = faults.run(*args, "--image-tag", "lock-rival")
    hold.release()
    winner = first.wait()

    assert rival.code == 5, str(rival)
    no_traceback(rival.stderr)
    assert rival.last_line.startswith(f"Error: deploy of {ENV} {names.workspace} is locked by "), rival.last_line
    assert "(deploy lock-first) since " in rival.last_line and " ago), lock ID " in rival.last_line
    assert "--deploy-lock --lock-id " in rival.last_line
    assert "planning" not in rival.stderr.split("Error:")[0], "the rival never planned"
    assert winner.code == 0, str(winner)
    assert faults.state(fault_branch)["serial"] == serial, "nothing applied after the first run's apply"
    assert state_image(faults.state(fault_branch)) == "lock-first"
    s3 = faults.emulator.client("s3")
    locks = f"{faults.target.config.project.ledger_prefix}/{ENV}/locks/"
    assert not s3.list_objects_v2(Bucket=faults.target.state_bucket, Prefix=locks).get("KeyCount")
