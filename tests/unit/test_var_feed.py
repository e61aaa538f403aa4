"""Terraform starts while the inputs are looked up: its var file is a named pipe the tool writes once
it has the text (``terraform.VarFeed``).

Terraform is a fake here that logs when it started, then reads its ``-var-file`` arguments as
Terraform does (once, whole) and logs what it read before "locking" and "applying". A fake that
exits before it reads stands for a Terraform that fails early (a broken configuration).
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from deploytool.errors import DeployError
from deploytool.terraform import LateVars, Runner, TerraformError, VarFeed
from deploytool.toolchain import Engine

pytestmark = pytest.mark.timeout(30)  # a feed that waits for a reader that never comes would hang

DONE = {"type": "change_summary", "@message": "Apply complete!", "changes": {"operation": "apply"}}


def fake_terraform(tmp_path: Path, *, exit_before_reading: bool = False) -> Engine:
    log = tmp_path / "terraform.log"
    script = tmp_path / "fake_terraform.py"
    script.write_text(
        "import json, signal, sys\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)  # as Terraform: an interrupt waits for its variables\n"
        f"log = open({str(log)!r}, 'a', buffering=1)\n"
        "log.write(json.dumps({'started': True}) + '\\n')\n"
        + (
            "print(json.dumps({'type': 'diagnostic', '@level': 'error', '@message': 'Error: Unsupported argument',"
            " 'diagnostic': {'summary': 'Unsupported argument'}}), flush=True)\nsys.exit(1)\n"
            if exit_before_reading
            else ""
        )
        + "files = [a.split('=', 1)[1] for a in sys.argv[1:] if a.startswith('-var-file=')]\n"
        "texts = [open(f).read() for f in files]\n"
        "log.write(json.dumps({'read': texts}) + '\\n')\n"
        "log.write(json.dumps({'locked': True}) + '\\n')\n"
        f"print(json.dumps({DONE!r}), flush=True)\n"
    )
    return Engine("fake", (sys.executable, str(script)))


def events(tmp_path: Path) -> list[dict[str, object]]:
    log = tmp_path / "terraform.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []


def runner(tmp_path: Path, engine: Engine) -> Runner:
    return Runner(root=tmp_path, data_dir=tmp_path / "data", engine=engine, progress=io.StringIO())


def wait_started(tmp_path: Path) -> None:
    """Wait until the fake Terraform process has started: a feed that produced its text before
    starting Terraform would wait here forever (the test's timeout fails it)."""
    while not events(tmp_path):
        time.sleep(0.01)


def pipe_dirs(tmp_path: Path) -> set[Path]:
    return set((tmp_path / "data").glob("vars-*"))


def test_the_inputs_are_worked_out_while_terraform_starts_and_it_reads_them_whole(tmp_path: Path) -> None:
    keep = tmp_path / "deploytool.tfvars"
    text = 'image_tag = "v2"\n' + "".join(f'# line {i} {"x" * 80}\n' for i in range(2000))  # > a pipe's buffer
    before = pipe_dirs(tmp_path)

    def produce() -> str:
        wait_started(tmp_path)  # Terraform is already running
        assert not any("read" in e for e in events(tmp_path)), "Terraform went on before it had its variables"
        return text

    applied = runner(tmp_path, fake_terraform(tmp_path)).apply_now(late_vars=LateVars(produce, keep=keep))

    assert [list(e) for e in events(tmp_path)] == [["started"], ["read"], ["locked"]]
    assert events(tmp_path)[1]["read"] == [text]  # every byte, once
    assert keep.read_text() == text  # the rendered tfvars stay readable after the run
    assert not applied.changes
    assert pipe_dirs(tmp_path) == before  # the pipe and its directory are gone


@pytest.mark.parametrize("error", [DeployError("image v9 is not in the ECR repository"), KeyboardInterrupt()])
def test_a_failed_look_up_stops_terraform_before_it_reads_locks_or_changes_anything(
    tmp_path: Path, error: BaseException
) -> None:
    keep = tmp_path / "deploytool.tfvars"
    before = pipe_dirs(tmp_path)
    children: list[int] = []

    def produce() -> str:
        wait_started(tmp_path)
        children.extend(_children())
        raise error

    with pytest.raises(type(error)) as raised:
        runner(tmp_path, fake_terraform(tmp_path)).apply_now(late_vars=LateVars(produce, keep=keep))

    assert raised.value is error  # the look-up's own error, not Terraform's
    assert [list(e) for e in events(tmp_path)] == [["started"]]  # it never read, locked or applied
    assert children and not any(_alive(pid) for pid in children)  # killed and reaped
    assert not keep.exists() and pipe_dirs(tmp_path) == before


def test_sigterm_while_terraform_waits_for_its_variables_kills_it_at_once(tmp_path: Path) -> None:
    """The tool's SIGTERM handler asks Terraform to stop with one SIGINT and waits up to a minute for
    it; a Terraform still waiting for its var file has nothing to stop cleanly (and would not see the
    interrupt before it has its variables): it is killed at once. The test's timeout is below that
    minute."""
    children: list[int] = []

    def produce() -> str:
        wait_started(tmp_path)
        children.extend(_children())
        os.kill(os.getpid(), signal.SIGTERM)  # the handler raises here
        raise AssertionError("the SIGTERM handler did not run")

    with pytest.raises(DeployError, match="interrupted by SIGTERM"):
        runner(tmp_path, fake_terraform(tmp_path)).apply_now(
            late_vars=LateVars(produce, keep=tmp_path / "deploytool.tfvars")
        )
    assert [list(e) for e in events(tmp_path)] == [["started"]]
    assert children and not any(_alive(pid) for pid in children)


def test_a_terraform_that_fails_before_reading_its_variables_reports_its_own_error(tmp_path: Path) -> None:
    produced: list[str] = []

    def produce() -> str:
        produced.append("yes")
        return 'image_tag = "v2"\n'

    engine = fake_terraform(tmp_path, exit_before_reading=True)
    with pytest.raises(TerraformError, match="Unsupported argument"):
        runner(tmp_path, engine).apply_now(late_vars=LateVars(produce, keep=tmp_path / "deploytool.tfvars"))
    assert produced == ["yes"]  # worked out, never written: nobody was reading


def test_a_terraform_that_exits_while_reading_its_variables_reports_its_own_error(tmp_path: Path) -> None:
    script = tmp_path / "reads_a_little.py"
    script.write_text(
        "import json, sys\n"
        "path = next(a.split('=', 1)[1] for a in sys.argv[1:] if a.startswith('-var-file='))\n"
        "open(path).read(10)\n"  # then it gives up, as on a syntax error
        "print(json.dumps({'type': 'diagnostic', '@level': 'error', '@message': 'Error: Invalid expression'}))\n"
        "sys.exit(1)\n"
    )
    text = "".join(f'# line {i} {"x" * 80}\n' for i in range(4000))  # far more than a pipe holds
    engine = Engine("fake", (sys.executable, str(script)))
    with pytest.raises(TerraformError, match="Invalid expression"):
        runner(tmp_path, engine).apply_now(late_vars=LateVars(lambda: text, keep=tmp_path / "deploytool.tfvars"))


def test_without_named_pipes_the_inputs_are_worked_out_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(VarFeed, "supported", staticmethod(lambda: False))
    keep = tmp_path / "deploytool.tfvars"

    def produce() -> str:
        assert not events(tmp_path), "Terraform started before its var file was written"
        return 'image_tag = "v3"\n'

    runner(tmp_path, fake_terraform(tmp_path)).apply_now(late_vars=LateVars(produce, keep=keep))
    assert events(tmp_path)[1]["read"] == ['image_tag = "v3"\n']
    assert keep.read_text() == 'image_tag = "v3"\n'


def _children() -> list[int]:
    """This process's fake Terraform processes (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"fake_terraform.py" in command:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"

