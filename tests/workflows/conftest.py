"""Session fixtures of the act scenarios: the staging and production platforms applied once on the
session's emulator with their GitHub roles, and the GitHub REST stub."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deploytool import bootstrap, stackops
from deploytool.config import Config, load_config
from deploytool.stack import Target
from tests.conftest import REPO, Emulator
from tests.githubstub import GitHubStub
from tests.workflows.actrun import GITHUB_REPOSITORY, ActRunner, Workspace

# The scenarios run under a project name and state bucket of their own, so the session's other tests
# (which apply `local` and `production` of the repository's deploy.toml on the same emulator) and
# these never share a resource, a state or a deploy history.
PROJECT = "actci"
STATE_BUCKET = "actci-terraform-state"
DEPLOY_TOML_CHANGES = {
    "[project]\n": f'[project]\ngithub_repository = "{GITHUB_REPOSITORY}"\n',
    'name = "theobroma"\n': f'name = "{PROJECT}"\n',
    'state_bucket = "theobroma-terraform-state"\n': f'state_bucket = "{STATE_BUCKET}"\n',
}


class ActPlatforms:
    """The repository's staging and production on the emulator, as the workflows' jobs see them."""

    def __init__(self, emulator: Emulator, config: Config) -> None:
        self.emulator = emulator
        self.config = config
        self.targets: dict[str, Target] = {}
        self.outputs: dict[str, dict[str, Any]] = {}

    def target(self, env: str) -> Target:
        if env not in self.targets:
            settings = self.config.environment(env)
            self.targets[env] = Target(config=self.config, settings=settings, endpoint=self.emulator.endpoint)
        return self.targets[env]

    def platform(self, env: str) -> dict[str, Any]:
        if env not in self.outputs:
            if env == "production":
                # One account, one GitHub OIDC provider: production trusts the one staging created.
                provider = self.platform("staging")["github_oidc_provider_arn"]
                self.config.environment("production").platform.github_oidc_provider_arn = provider
            target = self.target(env)
            bootstrap.bootstrap(target)
            self.outputs[env] = stackops.apply_stack(target, "platform")
        return self.outputs[env]


@pytest.fixture(scope="session")
def act_platforms(emulator: Emulator, tf_env: dict[str, str], local_data_dir: Path) -> Iterator[ActPlatforms]:
    config = load_config(REPO / "deploy.toml")
    config.project.github_repository = GITHUB_REPOSITORY
    config.project.name = PROJECT
    config.project.state_bucket = STATE_BUCKET
    for env, settings in config.environments.items():
        # The default cluster name (<project>-<env>) was derived when the file was read.
        if settings.cluster == f"theobroma-{env}":
            settings.cluster = f"{PROJECT}-{env}"
    made = ActPlatforms(emulator, config)
    try:
        yield made
    finally:
        for target in made.targets.values():
            target.runtime.stop_all()


@pytest.fixture(scope="session")
def github_stub() -> Iterator[GitHubStub]:
    with GitHubStub() as stub:
        yield stub


@pytest.fixture(scope="module")
def act_runner(
    act_platforms: ActPlatforms,
    github_stub: GitHubStub,
    deploytool_home: Path,
    local_data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[dict[str, str]], ActRunner]:
    """Factory: an act runner on a fresh workspace with the given repository variables."""

    def make(variables: dict[str, str]) -> ActRunner:
        work = tmp_path_factory.mktemp("act")
        workspace = Workspace.create(work / "repo", replacements=DEPLOY_TOML_CHANGES)
        return ActRunner(
            workspace=workspace,
            work=work,
            variables={"AWS_REGION": "us-east-1", **variables},
            github_api_url=github_stub.url,
            github_token=github_stub.token,
            deploytool_home=deploytool_home,
            data_dir=local_data_dir,
        )

    return make
