"""The local AWS emulator (``moto`` in server mode on 127.0.0.1) and the override files that target it.

Nothing about the emulator lives in committed HCL: when a run targets the emulator, the tool writes
a git-ignored Terraform override file next to the root that points the AWS provider, the S3 backend
and any S3 ``terraform_remote_state`` at the emulator; when a run targets AWS the file is removed.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from deploytool.emulator_server import DECISIONS_ENV
from deploytool.errors import DeployError
from deploytool.toolchain import home

# python-hcl2 is not thread-safe (parallel janitor workers parse roots at once): one parse at a time.
_HCL_LOCK = threading.Lock()
HOST = "127.0.0.1"
OVERRIDE_NAME = "deploytool_emulator_override.tf"
CONFIG_PATH = "/moto-api/config"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
EMULATOR_URL_ENV = "DEPLOYTOOL_EMULATOR_URL"
"""Set to an emulator's endpoint, it points every environment (staging, production...) at that
emulator with the environment's own settings, as ``--local`` does for ``local``: how the workflows
run end to end under a local Actions runner. The tool says so on every run."""
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
    enforce_iam: bool = False

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


def hcl_load(fh: TextIO) -> Any:
    """python-hcl2's ``load``, imported on first use: runs against AWS never parse HCL here."""
    from hcl2.api import load

    return load(fh)


def answering(endpoint: str, timeout: float = 2.0, path: str = "/") -> bool:
    """True when an emulator answers HTTP at ``endpoint`` (its root lists S3 buckets; cheap).

    Plain ``http.client`` (the emulator is plain HTTP on loopback): every run against the emulator
    asks, and an HTTP client library would add its import to every command's start."""
    url = urlsplit(endpoint)
    connection = http.client.HTTPConnection(url.hostname or HOST, url.port or 80, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status < 500
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _serving(endpoint: str, timeout: float = 2.0) -> bool:
    """True when our emulator serves at ``endpoint``: asks moto's own API, which needs no signature
    (unsigned AWS calls are refused once IAM is enforced)."""
    return answering(endpoint, timeout, path=CONFIG_PATH)


def status() -> EmulatorInfo | None:
    """The recorded emulator if it is still running and answering, else None."""
    path = state_file()
    if not path.is_file():
        return None
    try:
        info = EmulatorInfo(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None
    if _pid_alive(info.pid) and _serving(info.endpoint):
        return info
    return None


def decisions_file() -> Path:
    """The decision log of the recorded emulator (JSON lines; see :mod:`deploytool.emulator_server`)."""
    return home() / "emulator-decisions.jsonl"


def admin_file() -> Path:
    return home() / "emulator-admin.json"


def launch(
    port: int,
    *,
    log: Path,
    decisions: Path,
    ecs_service_running: int = 2,
    wait_s: float = 30.0,
) -> EmulatorInfo:
    """Start an emulator process on ``port`` and wait until it answers; records nothing.

    The server is moto patched by :mod:`deploytool.emulator_server`; it records authorization
    decisions to ``decisions`` once IAM enforcement is switched on (:func:`enforce_iam`).
    """
    env = {
        **os.environ,
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        "MOTO_ECS_SERVICE_RUNNING": str(ecs_service_running),
        # ACM's check of the validation records (emulator_server) is what issues a certificate
        # here, not the passing of time: a short wait keeps the PENDING_VALIDATION state visible.
        "MOTO_ACM_VALIDATION_WAIT": os.environ.get("MOTO_ACM_VALIDATION_WAIT", "3"),
        DECISIONS_ENV: str(decisions),
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    decisions.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deploytool.emulator_server", "-H", HOST, "-p", str(port)],
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
        if _serving(info.endpoint, timeout=0.5):
            return info
        time.sleep(0.2)
    proc.kill()
    raise DeployError(f"the emulator did not answer on {info.endpoint} within {wait_s:.0f}s; see {log}")


def start(
    port: int | None = None, *, ecs_service_running: int = 2, wait_s: float = 30.0, enforce_iam: bool = False
) -> EmulatorInfo:
    """Start the emulator on loopback (a free port unless ``port`` is given). Idempotent.

    With ``enforce_iam`` an admin user is created for the harness (:func:`admin_credentials`) and
    every later signed call is checked against its caller's IAM policies.
    """
    running = status()
    if running is not None and (port is None or running.port == port):
        if enforce_iam and not running.enforce_iam:
            running = _enforce_recorded(running)
        return running
    if port is None:
        port = free_port()
    elif not _port_free(port):
        raise DeployError(f"port {port} on {HOST} is in use; choose another with --port or stop what listens there")
    decisions_file().unlink(missing_ok=True)
    admin_file().unlink(missing_ok=True)
    info = launch(
        port,
        log=home() / "emulator.log",
        decisions=decisions_file(),
        ecs_service_running=ecs_service_running,
        wait_s=wait_s,
    )
    state_file().write_text(json.dumps(asdict(info)))
    return _enforce_recorded(info) if enforce_iam else info


def _enforce_recorded(info: EmulatorInfo) -> EmulatorInfo:
    credentials = create_admin(info.endpoint)
    path = admin_file()
    path.touch(mode=0o600)
    path.write_text(json.dumps(asdict(credentials)))
    enforce_iam(info.endpoint)
    enforced = EmulatorInfo(pid=info.pid, port=info.port, enforce_iam=True)
    state_file().write_text(json.dumps(asdict(enforced)))
    return enforced


def terminate(pid: int) -> bool:
    """Stop an emulator process (SIGTERM, then SIGKILL after 5 s). False when it was not running."""
    if not _pid_alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if not _pid_alive(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    return True


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
    stopped = terminate(info.pid)
    path.unlink(missing_ok=True)
    admin_file().unlink(missing_ok=True)
    return stopped


def endpoint_from_environment(environ: Mapping[str, str] | None = None) -> str | None:
    """The emulator endpoint ``DEPLOYTOOL_EMULATOR_URL`` names, or None when it is unset or empty."""
    value = (os.environ if environ is None else environ).get(EMULATOR_URL_ENV, "").strip()
    return value.rstrip("/") or None


def require(endpoint: str | None = None) -> str:
    """The endpoint of a running emulator, or a one-line error saying how to start one."""
    if endpoint:
        if not (answering(endpoint) or _serving(endpoint)):
            raise DeployError(
                f"the AWS emulator at {endpoint} does not answer; start it with `deploytool emulator start`"
            )
        return endpoint
    info = status()
    if info is None:
        raise DeployError("the AWS emulator is not running; start it with `deploytool emulator start`")
    return info.endpoint


# -- IAM enforcement --------------------------------------------------------------------------------
ADMIN_USER = "deploytool-emulator-admin"
ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
_IAM_REGION = "us-east-1"


@dataclass(frozen=True)
class Credentials:
    """AWS credentials issued by the emulator (an IAM user's key or an assumed role's session)."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def env(self) -> dict[str, str]:
        """The credential variables of an SDK or Terraform environment (replacing the fake ones)."""
        env = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env


def caller_credentials(environ: Mapping[str, str] | None = None) -> Credentials | None:
    """The credentials a run against the emulator signs with: the standard variables
    (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``) when they hold
    anything but the fake key, as CI sets them after assuming a role; else None (the fake key).

    Only the explicit variables count: a profile or instance role never signs emulator calls.
    """
    env = os.environ if environ is None else environ
    key, secret = env.get("AWS_ACCESS_KEY_ID", ""), env.get("AWS_SECRET_ACCESS_KEY", "")
    if not key or not secret or key == FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]:
        return None
    return Credentials(key, secret, env.get("AWS_SESSION_TOKEN") or None)


def enforcing(endpoint: str) -> bool:
    """True when ``endpoint`` is the recorded emulator and it enforces IAM."""
    info = status()
    return info is not None and info.endpoint == endpoint and info.enforce_iam


def runtime_credentials(endpoint: str) -> Credentials | None:
    """What the local stand-in of ECS signs with when it reads a task definition and its secrets
    (AWS itself, not the caller): the admin key of the recorded emulator when it enforces IAM."""
    return admin_credentials() if enforcing(endpoint) else None


def _client(service: str, endpoint: str, credentials: Credentials | None, region: str = _IAM_REGION) -> Any:
    import boto3

    creds = credentials or Credentials(FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"], FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
    )


def client(service: str, endpoint: str, credentials: Credentials | None = None, region: str = _IAM_REGION) -> Any:
    """A boto3 client of the emulator at ``endpoint`` signing with ``credentials`` (None: the fake key)."""
    return _client(service, endpoint, credentials, region)


def _set_auth(endpoint: str, count: str) -> None:
    import httpx

    try:
        response = httpx.post(f"{endpoint}/moto-api/reset-auth", content=count.encode(), timeout=10)
    except httpx.HTTPError as exc:
        raise DeployError(f"the AWS emulator at {endpoint} does not answer: {exc}") from exc
    if response.status_code != 200:
        raise DeployError(f"the AWS emulator at {endpoint} refused to switch IAM enforcement: {response.text}")


def enforce_iam(endpoint: str) -> None:
    """From now on check every signed call against its caller's IAM policies.

    Create what the harness needs first (:func:`create_admin`): unknown keys, the fake ones
    included, are refused once enforcement is on.
    """
    _set_auth(endpoint, "0")


def relax_iam(endpoint: str) -> None:
    """Accept every call again (the emulator's default)."""
    _set_auth(endpoint, "inf")


def create_admin(endpoint: str) -> Credentials:
    """An access key of an admin user (AdministratorAccess) for the harness's own calls.

    Call it before :func:`enforce_iam` (or with enforcement relaxed). An existing admin user keeps
    its policy; its older keys are replaced.
    """
    iam = _client("iam", endpoint, None)
    try:
        iam.create_user(UserName=ADMIN_USER)
    except iam.exceptions.EntityAlreadyExistsException:
        for key in iam.list_access_keys(UserName=ADMIN_USER)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=ADMIN_USER, AccessKeyId=key["AccessKeyId"])
    iam.attach_user_policy(UserName=ADMIN_USER, PolicyArn=ADMIN_POLICY_ARN)
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def admin_credentials() -> Credentials:
    """The admin credentials of the recorded emulator started with IAM enforcement."""
    path = admin_file()
    if status() is None or not path.is_file():
        raise DeployError(
            "no AWS emulator with IAM enforcement is running; start one with `deploytool emulator start --enforce-iam`"
        )
    return Credentials(**json.loads(path.read_text()))


def assume_role(
    endpoint: str, role_arn: str, credentials: Credentials, session_name: str = "deploytool"
) -> Credentials:
    """Session credentials of ``role_arn``, assumed by ``credentials`` (checked against its trust policy)."""
    sts = _client("sts", endpoint, credentials)
    issued = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    return Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])


def read_decisions(path: Path | None = None, *, since: int = 0) -> list[dict[str, Any]]:
    """The authorization decisions recorded by an enforcing emulator, oldest first.

    Each is ``{"time", "principal", "action", "resource", "decision": "allowed"|"denied"}`` (denials
    also carry ``reason``). ``since`` skips that many earlier entries (a count taken before a flow).
    """
    path = path or decisions_file()
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh.read().splitlines()[since:] if line.strip()]


def denied_actions(decisions: list[dict[str, Any]]) -> list[str]:
    """The actions denied in ``decisions``, once each, in order."""
    return list(dict.fromkeys(str(d["action"]) for d in decisions if d["decision"] == "denied"))


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


def _credential_args(credentials: Credentials | None, from_environment: bool = False) -> dict[str, str]:
    if from_environment:
        return {}
    if credentials is None:
        return {
            "access_key": _hcl_string(FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]),
            "secret_key": _hcl_string(FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]),
        }
    args = {
        "access_key": _hcl_string(credentials.access_key_id),
        "secret_key": _hcl_string(credentials.secret_access_key),
    }
    if credentials.session_token:
        args["token"] = _hcl_string(credentials.session_token)
    return args


def _backend_emulator_args(
    endpoint: str, credentials: Credentials | None = None, from_environment: bool = False
) -> dict[str, str]:
    return {
        "endpoints": "{ s3 = %s, sts = %s, iam = %s, dynamodb = %s }" % ((_hcl_string(endpoint),) * 4),
        "use_path_style": "true",
        "skip_credentials_validation": "true",
        "skip_requesting_account_id": "true",
        "skip_metadata_api_check": "true",
        "skip_region_validation": "true",
        **_credential_args(credentials, from_environment),
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


def override_text(
    root: Path, endpoint: str, region: str, credentials: Credentials | None = None, *, from_environment: bool = False
) -> str:
    """The override for ``root``; ``credentials`` (else the fake ones) sign every call, which
    matters only when the emulator enforces IAM. With ``from_environment`` the override names no
    key: Terraform takes the caller's (``AWS_ACCESS_KEY_ID``...) from its environment, so no session
    token is written to disk and a change of caller needs no new ``init``."""
    endpoints = "\n".join(f"    {key} = {_hcl_string(endpoint)}" for key in ENDPOINT_KEYS)
    lines = [
        "# Written by deploytool for a run against the local AWS emulator. Git-ignored; never commit.",
        'provider "aws" {',
        f"  region                      = {_hcl_string(region)}",
        *(f"  {key:<27} = {value}" for key, value in _credential_args(credentials, from_environment).items()),
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
    has_s3_backend, remote_states = _root_facts(root)
    if has_s3_backend:
        lines += ["", "terraform {", '  backend "s3" {']
        lines += [f"    {k} = {v}" for k, v in _backend_emulator_args(endpoint, credentials, from_environment).items()]
        lines += ["  }", "}"]
    extra = _backend_emulator_args(endpoint, credentials, from_environment)
    for name, config in remote_states.items():
        merged = "{ " + ", ".join(f"{k} = {v}" for k, v in extra.items()) + " }"
        lines += ["", f'data "terraform_remote_state" "{name}" {{', f"  config = merge({_expr(config)}, {merged})", "}"]
    return "\n".join(lines) + "\n"


def _root_facts(root: Path) -> tuple[bool, dict[str, Any]]:
    """Whether ``root`` has an S3 backend, and its S3 remote states (see ``_remote_states``).

    Parsing HCL costs a run ~0.2 s of CPU (the parser is built first), and a root's files rarely
    change: the answer is kept under ``DEPLOYTOOL_HOME`` by a digest of the root's files (names and
    contents), so an edited root is parsed again."""
    digest = hashlib.sha256()
    for tf in sorted(root.glob("*.tf")):
        if not tf.name.endswith("_override.tf"):
            digest.update(tf.name.encode() + b"\0" + tf.read_bytes() + b"\0")
    cache = home() / "hcl-facts" / f"{digest.hexdigest()}.json"
    try:
        facts = json.loads(cache.read_text())
        return bool(facts["s3_backend"]), dict(facts["remote_states"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    has_s3_backend, remote_states = _root_has_s3_backend(root), _remote_states(root)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"s3_backend": has_s3_backend, "remote_states": remote_states}))
        tmp.replace(cache)
    except OSError:
        pass  # a cache that cannot be written only costs the next run the parse
    return has_s3_backend, remote_states


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


def write_override(
    root: Path, endpoint: str, region: str, credentials: Credentials | None = None, *, from_environment: bool = False
) -> Path:
    """Write the override (atomically, and only when it changes: parallel runs share the root)."""
    path = root / OVERRIDE_NAME
    text = override_text(root, endpoint, region, credentials, from_environment=from_environment)
    if path.is_file() and path.read_text() == text:
        return path
    tmp = path.with_name(f".{OVERRIDE_NAME}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def remove_override(root: Path) -> None:
    (root / OVERRIDE_NAME).unlink(missing_ok=True)
