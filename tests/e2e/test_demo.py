"""`deploytool demo` end to end: the same sequence a newcomer runs, and nothing left behind."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.service.emf_schema import emf_lines, emf_problems

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.apply, pytest.mark.e2e]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def port_free(port: int) -> bool:
    """Nothing listens there any more (connections in TIME_WAIT do not count)."""
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_demo_runs_the_lifecycle_and_leaves_nothing_running(tmp_path: Path, tf_env: dict[str, str]) -> None:
    home, data = tmp_path / "home", tmp_path / "data"
    # Its own home: the demo starts (and must stop) an emulator of its own, not the session's.
    home.mkdir()
    mirror_config = Path(tf_env["TF_CLI_CONFIG_FILE"])
    env = {**os.environ, "DEPLOYTOOL_HOME": str(home), "DEPLOYTOOL_DATA_DIR": str(data)}
    env.pop("AWS_ENDPOINT_URL", None)
    # Reuse the session's verified provider mirror instead of copying 177 MB again.
    (home / "terraform.rc").write_text(mirror_config.read_text())
    (home / "provider-mirror").symlink_to(mirror_config.parent / "provider-mirror")

    spawned: dict[str, int] = {}
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploytool.cli", "demo"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]

    # Each step's exit code, as the summary table reports it.
    summary = err.split("== summary", 1)[1]
    codes = {line[:22].strip(): int(line[22:28]) for line in summary.splitlines()[3:12]}
    assert codes == {
        "emulator + bootstrap": 0,
        "platform": 0,
        "plan comment": 0,
        "deploy v1": 0,
        "migration (in v1)": 0,
        "metrics + cache": 0,
        "deploy v2 (broken)": 3,
        "history": 0,
        "destroy on merge": 0,
    }
    assert "<!-- deploytool:local -->" in err  # the PR comment it would post
    assert "rolled back to v1, which verified healthy" in err
    # v1's migration ran before its service, and the service runs as the role it made.
    assert "migration done: postgis" in err
    assert re.search(
        r"schema local_feature_demo migrated in [0-9.]+s before the service started; it runs as theobroma_local_app",
        err,
    )
    assert "the task exited at start" in err and "DATABASE_URL" in err  # the real reason v2 failed
    # The history step listed the three records: v1 verified, v2 rolled back, the rollback to v1 verified.
    history = [
        line for line in err.splitlines() if line.strip()[:4].isdigit() and ("deploy" in line or "rollback" in line)
    ]
    assert [line.split()[1:3] for line in history] == [
        ["deploy", "success"],
        ["deploy", "rolled_back"],
        ["rollback", "success"],
    ]

    # Nothing left running: the emulator it started is stopped, no local task survives, ports are free.
    assert not (home / "emulator.json").exists()
    endpoint = err.split("emulator at http://127.0.0.1:", 1)[1].split(";", 1)[0]
    assert port_free(int(endpoint))
    local_dir = data / "local" / "local"
    assert not list(local_dir.glob("*.json")), "a local task record was left behind"
    metric_lines = []
    for log in local_dir.glob("*.log"):
        spawned[log.stem] = 1
        metric_lines += emf_lines(log.read_text(errors="replace"))
    assert spawned, "the demo never started a local task"
    # The stand-in's output holds the service's CloudWatch metric lines, as awslogs would ship them.
    assert any("RequestLatency" in line for line in metric_lines), "no EMF request line in the task output"
    assert [p for line in metric_lines for p in emf_problems(line)] == []
    # The summary shows the cache state and one of those lines, the geo query's.
    assert "   cache: off" in err
    shown = err.split("one CloudWatch metric line (EMF) from the release's log:\n", 1)[1].splitlines()[0].strip()
    [document] = emf_lines(shown)
    assert "NearbyQueryLatency" in document and emf_problems(document) == []
    task_ports = {int(port) for port in re.findall(r"http://127\.0\.0\.1:(\d+)", err)} - {int(endpoint)}
    assert task_ports, "no local task URL in the output"
    assert all(port_free(port) for port in task_ports), task_ports
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    leftovers = [line for line in out.splitlines() if f"-p {endpoint}" in line]
    assert leftovers == [], leftovers
