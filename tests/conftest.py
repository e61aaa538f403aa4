"""Shared fixtures: the offline toolchain, one AWS emulator per test session, Terraform roots.

Fake credentials and the emulator endpoint are set before any AWS client exists, so no test can
reach real AWS.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import tftest

from deploytool import emulator as emu
from deploytool import toolchain
from deploytool.terraform import Runner

REPO = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
TEST_STATE_BUCKET = "deploytool-test-state"

# No test may reach real AWS: drop any real credentials/profile before anything imports a client.
for _var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
    os.environ.pop(_var, None)
os.environ.update(emu.FAKE_CREDENTIALS)
os.environ["AWS_DEFAULT_REGION"] = REGION
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


@pytest.fixture(scope="session")
def deploytool_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private DEPLOYTOOL_HOME per session, with the provider mirror installed."""
    home = tmp_path_factory.mktemp("deploytool-home")
    os.environ["DEPLOYTOOL_HOME"] = str(home)
    shared = toolchain.Toolchain(Path(os.environ.get("DEPLOYTOOL_TEST_PLUGIN_CACHE", home / "plugin-cache")))
    tc = toolchain.install(toolchain.Toolchain(home))
    # Reuse one plugin cache across sessions when asked (keeps the 177 MB provider from being unpacked again).
    if shared.root != home / "plugin-cache":
        text = tc.cli_config.read_text().replace(str(tc.plugin_cache), str(shared.root))
        tc.cli_config.write_text(text)
        shared.root.mkdir(parents=True, exist_ok=True)
    return home


@pytest.fixture(scope="session")
def tf_env(deploytool_home: Path) -> dict[str, str]:
    """Environment for Terraform runs (mirror CLI config, plugin cache); also applied to os.environ."""
    env = toolchain.Toolchain(deploytool_home).terraform_env()
    os.environ.update(env)
    return env


@pytest.fixture(scope="session")
def terraform_cmd() -> list[str]:
    """The argv prefix of the embedded Terraform (a drop-in ``terraform``)."""
    return list(toolchain.resolve_engine().argv)


class Emulator:
    """A running moto server on loopback and boto3 clients pointed at it."""

    def __init__(self, info: emu.EmulatorInfo) -> None:
        self.info = info
        self.endpoint = info.endpoint
        self.port = info.port

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)  # type: ignore[call-overload]

    def reset(self) -> None:
        import httpx

        httpx.post(f"{self.endpoint}/moto-api/reset", timeout=10)


@pytest.fixture(scope="session")
def emulator(deploytool_home: Path) -> Iterator[Emulator]:
    info = emu.start()
    os.environ["AWS_ENDPOINT_URL"] = info.endpoint
    try:
        yield Emulator(info)
    finally:
        emu.stop()


class TfRoot:
    """A Terraform root applied against the emulator with a private data dir and local state.

    ``plan`` goes through tftest (plan JSON wrapper); ``apply``/``destroy``/``output`` through the
    tool's own runner, the same code path users take.
    """

    def __init__(
        self, path: Path, workdir: Path, emulator: Emulator, env: dict[str, str], engine: str | None = None
    ) -> None:
        self.path = path
        self.workdir = workdir
        self.emulator = emulator
        self.state = workdir / "terraform.tfstate"
        self.env = {
            **env,
            **emu.aws_env(emulator.endpoint, REGION),
            "TF_DATA_DIR": str(workdir / "data"),
        }
        self.backend_config: dict[str, str] | None = None
        if emu._root_has_s3_backend(path):
            # Roots with an S3 backend keep their state in a bucket on the emulator (own key per instance).
            s3 = emulator.client("s3")
            if TEST_STATE_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
                s3.create_bucket(Bucket=TEST_STATE_BUCKET)
            self.backend_config = {
                "bucket": TEST_STATE_BUCKET,
                "key": f"{path.name}/{workdir.name}/terraform.tfstate",
                "region": REGION,
                "use_lockfile": "true",
            }
        else:
            # Local state outside the repository, one file per root instance.
            self.env.update(
                {f"TF_CLI_ARGS_{cmd}": f"-state={self.state}" for cmd in ("plan", "apply", "destroy", "output")}
            )
        emu.write_override(path, emulator.endpoint, REGION)
        self.runner = Runner(
            root=path, data_dir=workdir / "data", engine=toolchain.resolve_engine(engine), env=self.env
        )
        self._initialised = False

    def _init(self) -> None:
        if not self._initialised:
            if self.backend_config is not None:
                self.runner.init(self.backend_config)
            else:
                self.runner.init(backend=False)
            self._initialised = True

    def _var_file(self, tf_vars: dict[str, Any] | None) -> list[Path]:
        if not tf_vars:
            return []
        import json

        path = self.workdir / "test.tfvars.json"
        path.write_text(json.dumps(tf_vars))
        return [path]

    def plan(self, tf_vars: dict[str, Any] | None = None) -> tftest.TerraformPlanOutput:
        self._init()
        planfile = self.workdir / "test.tfplan"
        self.runner.plan(planfile, var_files=self._var_file(tf_vars), variables=None)
        return tftest.TerraformPlanOutput(self.runner.show_json(planfile))

    def plan_raw(self, tf_vars: dict[str, Any] | None = None) -> Any:
        """Run plan without raising; returns the runner Result (for validation-failure tests)."""
        self._init()
        args = ["plan", "-input=false", "-no-color"]
        args += [f"-var-file={f}" for f in self._var_file(tf_vars)]
        return self.runner.run(args, check=False, stream=False)

    def apply(self, tf_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._init()
        planfile = self.workdir / "apply.tfplan"
        self.runner.plan(planfile, var_files=self._var_file(tf_vars))
        self.runner.apply(planfile)
        return self.runner.output()

    def output(self) -> dict[str, Any]:
        return self.runner.output()

    def destroy(self, tf_vars: dict[str, Any] | None = None) -> None:
        self._init()
        self.runner.destroy(var_files=self._var_file(tf_vars))


def copy_sources(dest: Path) -> Path:
    """Every .tf/.j2 file of modules/, environments/ and tests/ under ``dest`` (same layout)."""
    for part in ("modules", "environments", "tests"):
        for path in (REPO / part).rglob("*"):
            if path.suffix not in (".tf", ".j2") or path.name.endswith("_override.tf"):
                continue
            if any(p.startswith(".") for p in path.relative_to(REPO).parts):
                continue
            target = dest / path.relative_to(REPO)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return dest


@pytest.fixture(scope="session")
def tf_root(
    tf_env: dict[str, str], emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[Path | str], TfRoot]]:
    """Factory: ``tf_root(path)`` -> a :class:`TfRoot` targeting the session's emulator."""
    made: list[TfRoot] = []

    def make(path: Path | str, engine: str | None = None) -> TfRoot:
        root = Path(path)
        if not root.is_absolute():
            root = REPO / root
        workdir = tmp_path_factory.mktemp("tfroot-" + root.name)
        # Work on a private copy of the sources (same layout, so relative module paths hold): the
        # override, lock file and anything Terraform writes stay out of the checkout, and parallel
        # test workers never share a root.
        copy = copy_sources(workdir / "src")
        made.append(TfRoot(copy / root.relative_to(REPO), workdir, emulator, tf_env, engine))
        return made[-1]

    yield make
    for root in made:
        emu.remove_override(root.path)
        shutil.rmtree(root.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def local_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private DEPLOYTOOL_DATA_DIR (data dirs, source copy, local tasks) for the session."""
    path = tmp_path_factory.mktemp("deploytool-data")
    os.environ["DEPLOYTOOL_DATA_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def deploy_target(emulator: Emulator, tf_env: dict[str, str], local_data_dir: Path) -> Iterator[Callable[[str], Any]]:
    """Factory: ``deploy_target(env)`` -> the repository's environment ``env`` on the emulator
    (``--env <env> --local``) as a deploy target, one per environment and session."""
    from deploytool.config import load_config
    from deploytool.stack import Target

    config = load_config(REPO / "deploy.toml")
    targets: dict[str, Target] = {}

    def target(environment: str) -> Target:
        if environment not in targets:
            targets[environment] = Target(
                config=config, settings=config.environment(environment), endpoint=emulator.endpoint
            )
        return targets[environment]

    try:
        yield target
    finally:
        for made in targets.values():
            made.runtime.stop_all()


@pytest.fixture(scope="session")
def deploy_platform(deploy_target: Callable[[str], Any]) -> Callable[[str], dict[str, Any]]:
    """Factory: ``deploy_platform(env)`` -> the outputs of env's platform stack, bootstrapped and
    applied once per session (per worker) on first use (ALB and RDS: ~1.5 min)."""
    from deploytool import bootstrap, stackops

    applied: dict[str, dict[str, Any]] = {}

    def platform(environment: str) -> dict[str, Any]:
        if environment not in applied:
            target = deploy_target(environment)
            bootstrap.bootstrap(target)
            applied[environment] = stackops.apply_stack(target, "platform")
        return applied[environment]

    return platform


@pytest.fixture(scope="session")
def local_target(deploy_target: Callable[[str], Any]) -> Any:
    """The repository's ``local`` environment (staging on the emulator) as a deploy target."""
    return deploy_target("local")


@pytest.fixture(scope="session")
def local_platform(deploy_platform: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """Bootstrap + the local platform stack, applied once per session."""
    return deploy_platform("local")


@pytest.fixture(scope="session")
def production_target(deploy_target: Callable[[str], Any]) -> Any:
    """The repository's ``production`` environment on the emulator (``--env production --local``)."""
    return deploy_target("production")


@pytest.fixture(scope="session")
def production_platform(deploy_platform: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """Bootstrap + the production platform (Multi-AZ DB, NAT per AZ) on the emulator, once per session."""
    return deploy_platform("production")
