"""The local AWS emulator (``moto`` in server mode on 127.0.0.1) and the override files that target it.

Nothing about the emulator lives in committed HCL: when a run targets the emulator, the tool writes
a git-ignored Terraform override file next to the root that points the AWS provider, the S3 backend
and any S3 ``terraform_remote_state`` at the emulator; when a run targets AWS the file is removed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from hcl2.api import load as hcl_load

from deploytool.errors import DeployError
from deploytool.toolchain import home

# python-hcl2 is not thread-safe (parallel janitor workers parse roots at once): one parse at a time.
_HCL_LOCK = threading.Lock()
HOST = "127.0.0.1"
OVERRIDE_NAME = "deploytool_emulator_override.tf"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Every endpoint key the modules use; all are accepted by provider 3.39 and later.
ENDPOINT_KEYS = [
    "acm",
    "applicationautoscaling",
    "cloudwatch",
    "cloudwatchlogs",
    "codedeploy",
    "dynamodb",
    "ec2",
    "ecr",
    "ecs",
    "elb",
    "iam",
    "kms",
    "rds",
    "route53",
    "s3",
    "secretsmanager",
    "servicediscovery",
    "sns",
    "ssm",
    "sts",
]


@dataclass(frozen=True)
class EmulatorInfo:
    """A running emulator: its PID and loopback port."""

    pid: int
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"


def state_file() -> Path:
    return home() / "emulator.json"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def answering(endpoint: str, timeout: float = 2.0) -> bool:
    """True when an emulator answers HTTP at ``endpoint`` (its root lists S3 buckets; cheap)."""
    try:
        return httpx.get(f"{endpoint}/", timeout=timeout).status_code < 500
    except httpx.HTTPError:
        return False


def status() -> EmulatorInfo | None:
    """The recorded emulator if it is still running and answering, else None."""
    path = state_file()
    if not path.is_file():
        return None
    try:
        info = EmulatorInfo(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None
    if _pid_alive(info.pid) and answering(info.endpoint):
        return info
    return None


def start(port: int | None = None, *, ecs_service_running: int = 2, wait_s: float = 30.0) -> EmulatorInfo:
    """Start the emulator on loopback (a free port unless ``port`` is given). Idempotent."""
    running = status()
    if running is not None and (port is None or running.port == port):
        return running
    if port is None:
        port = free_port()
    elif not _port_free(port):
        raise DeployError(f"port {port} on {HOST} is in use; choose another with --port or stop what listens there")
    env = {
        **os.environ,
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        "MOTO_ECS_SERVICE_RUNNING": str(ecs_service_running),
    }
    log = home() / "emulator.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    info = EmulatorInfo(pid=proc.pid, port=port)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DeployError(f"the emulator exited at start (code {proc.returncode}); see {log}")
        if answering(info.endpoint, timeout=0.5):
            state_file().write_text(json.dumps(asdict(info)))
            return info
        time.sleep(0.2)
    proc.kill()
    raise DeployError(f"the emulator did not answer on {info.endpoint} within {wait_s:.0f}s; see {log}")


def stop() -> bool:
    """Stop the recorded emulator. Returns False when none was running."""
    path = state_file()
    if not path.is_file():
        return False
    try:
        info = EmulatorInfo(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        path.unlink(missing_ok=True)
        return False
    stopped = False
    if _pid_alive(info.pid):
        os.kill(info.pid, signal.SIGTERM)
        for _ in range(50):
            if not _pid_alive(info.pid):
                break
            time.sleep(0.1)
        else:
            os.kill(info.pid, signal.SIGKILL)
        stopped = True
    path.unlink(missing_ok=True)
    return stopped


def require(endpoint: str | None = None) -> str:
    """The endpoint of a running emulator, or a one-line error saying how to start one."""
    if endpoint:
        if not answering(endpoint):
            raise DeployError(
                f"the AWS emulator at {endpoint} does not answer; start it with `deploytool emulator start`"
            )
        return endpoint
    info = status()
    if info is None:
        raise DeployError("the AWS emulator is not running; start it with `deploytool emulator start`")
    return info.endpoint


def aws_env(endpoint: str, region: str) -> dict[str, str]:
    """Environment for AWS SDKs and Terraform talking to the emulator (fake credentials only)."""
    return {
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PROFILE": "",
    }


def _label(text: str) -> str:
    """A block label or string as python-hcl2 returns it (v8 keeps the quotes), unquoted."""
    return text.strip().strip('"')


def _hcl_string(value: str) -> str:
    return json.dumps(value)


def _backend_emulator_args(endpoint: str) -> dict[str, str]:
    return {
        "endpoints": "{ s3 = %s, sts = %s, iam = %s, dynamodb = %s }" % ((_hcl_string(endpoint),) * 4),
        "use_path_style": "true",
        "skip_credentials_validation": "true",
        "skip_requesting_account_id": "true",
        "skip_metadata_api_check": "true",
        "skip_region_validation": "true",
        "access_key": _hcl_string(FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]),
        "secret_key": _hcl_string(FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]),
    }


def _remote_states(root: Path) -> dict[str, Any]:
    """``data "terraform_remote_state"`` blocks with the S3 backend in ``root``: name -> config expr."""
    found: dict[str, Any] = {}
    for tf in sorted(root.glob("*.tf")):
        if tf.name.endswith("_override.tf"):
            continue
        with tf.open() as fh, _HCL_LOCK:
            doc = hcl_load(fh)
        for block in doc.get("data", []):
            for kind, bodies in block.items():
                if _label(kind) != "terraform_remote_state":
                    continue
                for name, body in bodies.items():
                    if _label(str(body.get("backend", ""))) == "s3":
                        found[_label(name)] = body.get("config")
    return found


def _expr(value: Any) -> str:
    """An HCL expression for a python-hcl2 value (``${...}`` strings are expressions)."""
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}"):
            return value[2:-1]
        return value if value.startswith('"') else _hcl_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k.strip(chr(34))} = {_expr(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_expr(v) for v in value) + "]"
    raise DeployError(f"cannot rewrite remote-state config value {value!r} for the emulator")


def override_text(root: Path, endpoint: str, region: str) -> str:
    endpoints = "\n".join(f"    {key} = {_hcl_string(endpoint)}" for key in ENDPOINT_KEYS)
    lines = [
        "# Written by deploytool for a run against the local AWS emulator. Git-ignored; never commit.",
        'provider "aws" {',
        f"  region                      = {_hcl_string(region)}",
        f"  access_key                  = {_hcl_string(FAKE_CREDENTIALS['AWS_ACCESS_KEY_ID'])}",
        f"  secret_key                  = {_hcl_string(FAKE_CREDENTIALS['AWS_SECRET_ACCESS_KEY'])}",
        "  s3_force_path_style         = true",
        "  skip_credentials_validation = true",
        "  skip_requesting_account_id  = true",
        "  skip_metadata_api_check     = true",
        "  skip_region_validation      = true",
        "  skip_get_ec2_platforms      = true",
        "  max_retries                 = 2",
        "  endpoints {",
        endpoints,
        "  }",
        "}",
    ]
    if _root_has_s3_backend(root):
        lines += ["", "terraform {", '  backend "s3" {']
        lines += [f"    {k} = {v}" for k, v in _backend_emulator_args(endpoint).items()]
        lines += ["  }", "}"]
    extra = _backend_emulator_args(endpoint)
    for name, config in _remote_states(root).items():
        merged = "{ " + ", ".join(f"{k} = {v}" for k, v in extra.items()) + " }"
        lines += ["", f'data "terraform_remote_state" "{name}" {{', f"  config = merge({_expr(config)}, {merged})", "}"]
    return "\n".join(lines) + "\n"


def _root_has_s3_backend(root: Path) -> bool:
    for tf in root.glob("*.tf"):
        if tf.name.endswith("_override.tf"):
            continue
        with tf.open() as fh, _HCL_LOCK:
            doc = hcl_load(fh)
        for block in doc.get("terraform", []):
            for backend in block.get("backend", []):
                if any(_label(name) == "s3" for name in backend):
                    return True
    return False


def write_override(root: Path, endpoint: str, region: str) -> Path:
    """Write the override (atomically, and only when it changes: parallel runs share the root)."""
    path = root / OVERRIDE_NAME
    text = override_text(root, endpoint, region)
    if path.is_file() and path.read_text() == text:
        return path
    tmp = path.with_name(f".{OVERRIDE_NAME}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def remove_override(root: Path) -> None:
    (root / OVERRIDE_NAME).unlink(missing_ok=True)
