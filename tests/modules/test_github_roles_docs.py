"""The GitHub roles as documented, as planned by the platform composition and as the workflows use
them: one table in docs/ci-cd.md, checked against the plan of both platform roots (role names,
trusted subjects) and against the workflows (each job's token is admitted by the role it assumes,
and by no other documented role it does not need)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, Emulator
from tests.environments.test_env_plans import PRODUCTION_PLATFORM, STAGING_PLATFORM, MakeRoot, Planned, _platform_vars
from tests.modules.iam_eval import like

DOCS = REPO / "docs" / "ci-cd.md"
README = REPO / "README.md"
WORKFLOWS = REPO / ".github" / "workflows"
REPOSITORY = "theobroma/geo-api"
ROLE_VARIABLE = re.compile(r"\$\{\{\s*vars\.([A-Z_]+)\s*\}\}")


class DocumentedRole:
    def __init__(self, variable: str, name: str, environment: str, subjects: list[str]) -> None:
        self.variable, self.name, self.environment = variable, name, environment
        self.subjects = frozenset(f"repo:{REPOSITORY}:{s}" for s in subjects)

    def admits(self, sub: str) -> bool:
        return any(like(pattern, sub) for pattern in self.subjects)


def documented_roles() -> dict[str, DocumentedRole]:
    """The rows of the table under "### The GitHub roles", by variable."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("### The GitHub roles", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `AWS_")]
    roles = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        variable, name, environment, subjects = cells[0].strip("`"), cells[1].strip("`"), cells[2], cells[3]
        roles[variable] = DocumentedRole(variable, name, environment, re.findall(r"`([^`]+)`", subjects))
    assert len(roles) == 4, f"expected four roles in {DOCS}, found {sorted(roles)}"
    return roles


@pytest.fixture(scope="module")
def db_secret_arn(emulator: Emulator) -> str:
    sm = emulator.client("secretsmanager")
    return str(sm.create_secret(Name="theobroma-roles-docs-db", SecretString="unused-here")["ARN"])


@pytest.fixture(scope="module")
def planned_roles(tf_root: MakeRoot, db_secret_arn: str) -> dict[str, dict[str, Any]]:
    """``github_roles`` of each platform root's plan, with the GitHub repository set."""
    found = {}
    for env, root in (("staging", STAGING_PLATFORM), ("production", PRODUCTION_PLATFORM)):
        plan = Planned(tf_root(root), _platform_vars(env, db_secret_arn, github_repository=REPOSITORY))
        found[env] = plan.outputs()["github_roles"]
    return found


def test_the_table_matches_the_platform_plans(planned_roles: dict[str, dict[str, Any]]) -> None:
    planned = {
        (env, role["name"], frozenset(role["trusted_subjects"]))
        for env, roles in planned_roles.items()
        for role in roles.values()
    }
    documented = {(r.environment, r.name, r.subjects) for r in documented_roles().values()}
    assert documented == planned


def test_the_readme_names_every_role() -> None:
    readme = README.read_text(encoding="utf-8").split("## CI/CD", 1)[1].split("\n## ", 1)[0]
    for role in documented_roles().values():
        assert f"`{role.name}`" in readme and f"`{role.variable}`" in readme, role.name


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    assert isinstance(data, dict)
    return data


def example_refs(patterns: list[str]) -> list[str]:
    """Concrete names a GitHub filter pattern (`*`, `**`) matches, deepest first."""
    return [p.replace("**", "a/b").replace("*", "x") for p in patterns]


def subjects_of(workflow: dict[str, Any], job: dict[str, Any]) -> set[str]:
    """The `sub` claims a job's tokens can carry (without a custom subject template)."""
    prefix = f"repo:{REPOSITORY}:"
    if "environment" in job:
        environment = job["environment"]
        return {prefix + f"environment:{environment if isinstance(environment, str) else environment['name']}"}
    on = workflow["on"]
    condition = str(job.get("if", ""))
    events = [e for e in on if f"github.event_name == '{e}'" in condition] or list(on)
    found = set()
    for event in events:
        if event == "pull_request":
            found.add(prefix + "pull_request")
        elif event == "push":
            found |= {prefix + f"ref:refs/heads/{b}" for b in example_refs(on["push"].get("branches", []))}
            found |= {prefix + f"ref:refs/tags/{t}" for t in example_refs(on["push"].get("tags", []))}
        elif event in ("schedule", "workflow_dispatch"):
            found.add(prefix + "ref:refs/heads/main")
        else:
            raise AssertionError(f"no subject known for event {event}")
    return found


def test_every_job_is_admitted_by_the_roles_it_assumes_and_no_more() -> None:
    roles = documented_roles()
    used: set[str] = set()
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = load(path.name)
        for job_name, job in workflow["jobs"].items():
            variables = [
                m.group(1)
                for step in job.get("steps", [])
                if "role-to-assume" in step.get("with", {})
                for m in [ROLE_VARIABLE.fullmatch(str(step["with"]["role-to-assume"]))]
                if m
            ]
            if not variables:
                continue
            subjects = subjects_of(workflow, job)
            for variable in variables:
                assert variable in roles, f"{path.name}:{job_name} assumes an undocumented role {variable}"
                used.add(variable)
                for sub in subjects:
                    assert roles[variable].admits(sub), f"{path.name}:{job_name}: {variable} does not admit {sub}"
            # The production deploy role admits no token a job outside its environment could carry.
            for sub in subjects:
                if "environment:production" not in sub:
                    assert not roles["AWS_PRODUCTION_ROLE_ARN"].admits(sub), f"{path.name}:{job_name}: {sub}"
    assert used == set(roles)


def test_main_without_an_environment_gets_only_the_production_build_role() -> None:
    main = f"repo:{REPOSITORY}:ref:refs/heads/main"
    assert {v for v, r in documented_roles().items() if r.admits(main)} == {"AWS_PRODUCTION_BUILD_ROLE_ARN"}


def test_docs_table_parser_sees_the_subjects() -> None:
    staging = documented_roles()["AWS_STAGING_ROLE_ARN"]
    assert staging.admits(f"repo:{REPOSITORY}:ref:refs/heads/feature/x")
    assert not staging.admits(f"repo:{REPOSITORY}:ref:refs/heads/main")
    assert Path(DOCS).is_file()
