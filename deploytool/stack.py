"""One Terraform stack of one environment in one workspace, ready to plan and apply.

A target is an environment from ``deploy.toml`` on AWS or on the local emulator. A stack is its
``platform`` or ``app`` root; for the app stack of an environment with branch environments the
workspace is the branch's. Each (environment, stack, workspace) has a private data directory
under ``.deploytool/tfdata/`` so concurrent runs for different branches never share ``.terraform``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

from deploytool import deploylock, naming, toolchain
from deploytool import emulator as emu
from deploytool.aws import Clients
from deploytool.config import Config, EnvironmentSettings
from deploytool.errors import DeployError
from deploytool.ledger import Ledger
from deploytool.plansummary import Secrets
from deploytool.render import backend_config_text
from deploytool.state import StateLayout, read_outputs
from deploytool.terraform import Runner

if TYPE_CHECKING:
    from deploytool.runtime import Runtime

StackName = Literal["platform", "app"]
STACKS: tuple[StackName, ...] = ("platform", "app")
DATA_DIR = ".deploytool"
DATA_DIR_ENV = "DEPLOYTOOL_DATA_DIR"
_SYNC_IGNORE = shutil.ignore_patterns("*_override.tf", ".terraform*", "*.tfstate*", "__pycache__")


def data_root(config: Config) -> Path:
    """Where data dirs, rendered files and plans live: ``$DEPLOYTOOL_DATA_DIR`` or ``<repo>/.deploytool``."""
    explicit = os.environ.get(DATA_DIR_ENV)
    return Path(explicit) if explicit else config.root / DATA_DIR


def sync_sources(config: Config, dest: Path) -> Path:
    """Copy ``environments/`` and ``modules/`` to ``dest`` (changed files only, under a file lock).

    Runs against the emulator work on this private copy, so the emulator override file is never
    written into the checkout and cannot leak into a run against AWS.
    """
    dest.mkdir(parents=True, exist_ok=True)
    with (dest / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for part in ("environments", "modules"):
            src = config.root / part
            for path in src.rglob("*"):
                rel = path.relative_to(config.root)
                if path.is_dir() or _SYNC_IGNORE(str(path.parent), [path.name]):
                    continue
                if any(p.startswith(".terraform") or p == "__pycache__" for p in rel.parts):
                    continue
                target = dest / rel
                data = path.read_bytes()
                if not target.is_file() or target.read_bytes() != data:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    tmp = target.with_name(target.name + ".partial")
                    tmp.write_bytes(data)
                    tmp.replace(target)
    return dest


@dataclass
class Target:
    """Where a run goes: one configured environment, on AWS or on the emulator."""

    config: Config
    settings: EnvironmentSettings
    endpoint: str | None = None  # set when the target is the emulator
    engine: toolchain.Engine = field(default_factory=toolchain.resolve_engine)
    progress: IO[str] = field(default_factory=lambda: sys.stderr)
    lock_timeout: str = "0s"
    # On the emulator only: who signs the tool's calls and Terraform's (None: the fake key), and what
    # the local stand-in of ECS signs with when it reads task definitions and secrets as AWS would.
    credentials: emu.Credentials | None = None
    runtime_credentials: emu.Credentials | None = None
    # Where data dirs, rendered files and local tasks live (None: :func:`data_root`).
    data_dir: Path | None = None
    secrets: Secrets = field(default_factory=Secrets, repr=False, compare=False)
    _runtime: Runtime | None = field(default=None, init=False, repr=False, compare=False)
    _clients: dict[int, Clients] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def env(self) -> str:
        return self.settings.name

    @property
    def local(self) -> bool:
        return self.endpoint is not None

    @property
    def data_root(self) -> Path:
        return self.data_dir or data_root(self.config)

    @property
    def roots_dir(self) -> Path:
        """``environments/<env>``; an environment without its own roots (``local``) uses staging's
        or production's, by strategy. Emulator runs use a private copy of the sources."""
        source = self.data_root / "src" if self.local else self.config.root
        if self.local:
            sync_sources(self.config, source)
        base = source / "environments"
        own = base / self.env
        if own.is_dir():
            return own
        return base / ("production" if self.settings.strategy == "blue-green" else "staging")

    @property
    def state_bucket(self) -> str:
        return self.config.project.state_bucket

    @property
    def layout(self) -> StateLayout:
        """Where this environment's Terraform state lives."""
        return StateLayout(self.state_bucket, self.settings.region, self.env)

    @property
    def runtime(self) -> Runtime:
        """Where this target's releases run (ECS, or the local stand-in on the emulator)."""
        if self._runtime is None:
            from deploytool.runtime import runtime_for  # the local stand-in and its HTTP client: on use

            self._runtime = runtime_for(self)
        return self._runtime

    def clients(self) -> Clients:
        """This target's boto3 clients, made once per thread: a client loads its service's model and
        the endpoint rules (~0.1 s of CPU each), and boto3 sessions are not to be shared by threads."""
        thread = threading.get_ident()
        clients = self._clients.get(thread)
        if clients is None:
            clients = self._clients[thread] = Clients(self.settings.region, self.endpoint, self.credentials)
        return clients

    def runtime_clients(self) -> Clients:
        """Clients for the local stand-in of ECS (it plays AWS, not the caller)."""
        return Clients(self.settings.region, self.endpoint, self.runtime_credentials)

    def redact(self, text: str) -> str:
        """``text`` without any value a plan of this run marked sensitive."""
        return self.secrets.redact(text)

    def deploy_lock(
        self, branch: str | None, *, operation: str, release: str = ""
    ) -> AbstractContextManager[dict[str, str]]:
        """Hold the deploy lock of the app workspace of ``branch`` (see ``deploytool.deploylock``)."""
        return self.workspace_lock(self.names(branch).workspace, branch, operation=operation, release=release)

    def workspace_lock(
        self, workspace: str, branch: str | None, *, operation: str, release: str = ""
    ) -> AbstractContextManager[dict[str, str]]:
        """Hold the deploy lock of app workspace ``workspace`` (``branch``: its branch, for the
        ``force-unlock`` command a refusal names; None when unknown or the environment has none)."""
        unlock = f"deploytool force-unlock --env {self.env}"
        if self.settings.branch_environments:
            unlock += f" --branch {branch or 'BRANCH'}"
        return deploylock.deploy_lock(
            self.clients()("s3"),
            self.state_bucket,
            self.config.project.ledger_prefix,
            self.env,
            workspace,
            operation=operation,
            release=release,
            unlock=f"{unlock} --deploy-lock",
        )

    def ledger(self) -> Ledger:
        return Ledger(
            self.clients()("s3"), self.state_bucket, self.config.project.ledger_prefix, redact=self.secrets.redact
        )

    def names(self, branch: str | None) -> naming.Names:
        if self.settings.branch_environments:
            if not branch:
                raise DeployError(f"environment {self.env!r} has one environment per branch: pass --branch")
        else:
            branch = None
        return naming.names_for(self.env, branch, self.settings.domain, project=self.config.project.name)

    def terraform_env(self) -> dict[str, str]:
        env = toolchain.default_toolchain().terraform_env()
        if self.endpoint:
            env.update(emu.aws_env(self.endpoint, self.settings.region))
            if self.credentials is not None:
                env.update(self.credentials.env())
        return env


def resolve_target(
    config: Config,
    env: str,
    *,
    local: bool = False,
    terraform_bin: str | None = None,
    progress: IO[str] | None = None,
    lock_timeout: str = "0s",
) -> Target:
    """The target for ``env``; ``local`` (or ``emulator = true`` in the settings) means the emulator,
    and so does ``DEPLOYTOOL_EMULATOR_URL`` (that emulator, for any environment; announced on ``progress``)."""
    settings = config.environment(env)
    forced = emu.endpoint_from_environment()
    if forced is not None:
        endpoint: str | None = emu.require(forced)
        (progress or sys.stderr).write(
            f"deploytool: {emu.EMULATOR_URL_ENV} is set: --env {env} runs against the AWS emulator at "
            f"{endpoint}, not AWS\n"
        )
    else:
        endpoint = emu.require() if (local or settings.emulator) else None
    caller = runtime = None
    if endpoint is not None and emu.enforcing(endpoint):
        # An emulator enforcing IAM checks the caller CI would be: the role session in the
        # environment (AWS_ACCESS_KEY_ID...), as aws-actions/configure-aws-credentials leaves it.
        caller, runtime = emu.caller_credentials(), emu.runtime_credentials(endpoint)
    return Target(
        config=config,
        settings=settings,
        endpoint=endpoint,
        engine=toolchain.resolve_engine(terraform_bin),
        progress=progress or sys.stderr,
        lock_timeout=lock_timeout,
        credentials=caller,
        runtime_credentials=runtime,
    )


@dataclass
class Stack:
    """A root + workspace of a target, with its runner (which shares the target's ``secrets``)."""

    target: Target
    name: StackName
    workspace: str = "default"

    def __post_init__(self) -> None:
        self.root = self.target.roots_dir / self.name
        if not self.root.is_dir():
            raise DeployError(f"{self.root} does not exist")
        self.data_dir = self.target.data_root / "tfdata" / self.target.env / self.name / self.workspace
        self.runner = Runner(
            root=self.root,
            data_dir=self.data_dir,
            engine=self.target.engine,
            env=self.target.terraform_env(),
            lock_timeout=self.target.lock_timeout,
            progress=self.target.progress,
            secrets=self.target.secrets,
            context=f"{self.target.env}/{self.name}, workspace {self.workspace}",
        )

    def backend_settings(self) -> dict[str, str | bool]:
        return self.target.layout.backend_settings(self.name)

    def prepare(self, *, create_workspace: bool = True, select: bool = True) -> None:
        """Override file for the target, init (skipped when nothing changed), select the workspace
        (``select=False``: the caller names the workspace per process, ``TF_WORKSPACE``)."""
        if self.target.endpoint:
            emu.write_override(
                self.root,
                self.target.endpoint,
                self.target.settings.region,
                from_environment=self.target.credentials is not None,
            )
        else:
            emu.remove_override(self.root)
        backend_file = self.data_dir / "backend.hcl"
        text = backend_config_text(self.backend_settings())
        fingerprint = hashlib.sha256(
            (
                text
                + self.target.engine.name
                + str(self.target.endpoint)
                + str(self.target.credentials is not None)
                + str(self.root)
                + self._config_digest()
            ).encode()
        ).hexdigest()
        marker = self.data_dir / "init.sha256"
        if not (marker.is_file() and marker.read_text() == fingerprint):
            backend_file.write_text(text)
            self.runner.init(backend_file)
            marker.write_text(fingerprint)
        if select:
            self.runner.select_workspace(self.workspace, create=create_workspace)

    def _config_digest(self) -> str:
        """Changes to required providers or modules need a new init: hash versions.tf and module calls."""
        digest = hashlib.sha256()
        for tf in sorted(self.root.glob("*.tf")):
            digest.update(tf.name.encode())
            digest.update(tf.read_bytes())
        return digest.hexdigest()

    def tfvars_path(self) -> Path:
        """Where the stack's rendered tfvars are kept (what the last run applied or planned)."""
        return self.data_dir / "deploytool.tfvars"

    def write_tfvars(self, text: str) -> Path:
        path = self.tfvars_path()
        path.write_text(text)
        return path

    def exists(self) -> bool:
        """True when this workspace exists in the backend."""
        return self.workspace in self.runner.workspaces()

    def outputs(self) -> dict[str, object] | None:
        """This stack's outputs in its workspace, read from the state object (None: no state)."""
        return read_outputs(self.target.clients()("s3"), self.target.layout, self.name, self.workspace)
