"""The contract of the GitHub Actions workflows: triggers, jobs, credentials and guards.

The workflows are plain YAML; these tests load them and check what a reviewer would otherwise
have to remember: who deploys what on which event, that forks never get AWS credentials, that
branch names never reach a shell through an expression, and that every action is pinned.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploytool.config import load_config

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository"
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials@"
# Context values an outsider controls (branch names, titles, bodies): never inside `run:`.
UNTRUSTED = re.compile(
    r"\$\{\{[^}]*(github\.head_ref|github\.ref_name|github\.event\.pull_request\.head\.ref"
    r"|github\.event\.pull_request\.(title|body)|github\.event\.head_commit\.message"
    r"|github\.event\.ref|inputs\.)"
)
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+$")

Workflow = dict[str, Any]
Job = dict[str, Any]


def load(name: str) -> Workflow:
    """Load a workflow; PyYAML (YAML 1.1) reads the key `on` as True, so put it back."""
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{name} is not a mapping"
    if True in data:
        data["on"] = data.pop(True)
    return data


def all_workflows() -> dict[str, Workflow]:
    return {path.name: load(path.name) for path in sorted(WORKFLOWS.glob("*.y*ml"))}


def jobs(workflow: Workflow) -> dict[str, Job]:
    result = workflow["jobs"]
    assert isinstance(result, dict)
    return result


def steps(job: Job) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def run_scripts(job: Job) -> list[str]:
    return [str(step["run"]) for step in steps(job) if "run" in step]


def uses(job: Job) -> list[str]:
    return [str(step["uses"]) for step in steps(job) if "uses" in step]


def gets_aws_credentials(job: Job) -> bool:
    return any(ref.startswith(AWS_CREDENTIALS_ACTION) for ref in uses(job))


def calls(job: Job, command: str) -> bool:
    return any(re.search(rf"(^|\s){re.escape(command)}(\s|$)", script) for script in run_scripts(job))


def job_if(job: Job) -> str:
    return " ".join(str(job.get("if", "")).split())


def event_types(workflow: Workflow, event: str) -> list[str]:
    spec = workflow["on"][event] or {}
    return list(spec.get("types", []))


# --------------------------------------------------------------------------- the set of files


def test_the_four_workflows_exist() -> None:
    assert set(all_workflows()) >= {"ci.yml", "deploy-staging.yml", "deploy-production.yml", "cleanup.yml"}


def test_on_key_is_read_back_as_on() -> None:
    for name, workflow in all_workflows().items():
        assert "on" in workflow, f"{name}: no triggers"
        keys: list[object] = list(workflow)
        boolean_keys = [key for key in keys if isinstance(key, bool)]
        assert boolean_keys == [], f"{name}: YAML read a key as a boolean: {boolean_keys}"


# --------------------------------------------------------------------------- triggers


def test_ci_triggers() -> None:
    on = load("ci.yml")["on"]
    assert set(on) == {"push", "pull_request"}
    assert set(on["push"]["branches"]) == {"main", "develop"}


def test_staging_triggers() -> None:
    workflow = load("deploy-staging.yml")
    assert set(workflow["on"]) == {"pull_request", "push"}
    assert set(event_types(workflow, "pull_request")) == {"opened", "synchronize", "reopened", "closed"}
    assert set(workflow["on"]["push"]["branches"]) == {"feature/**", "hotfix/**", "develop"}


def test_production_triggers() -> None:
    on = load("deploy-production.yml")["on"]
    assert set(on) == {"push", "schedule", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]
    assert on["push"]["tags"] == ["v*"]
    (entry,) = on["schedule"]
    assert entry["cron"].split() == ["*/30", "*", "*", "*", "*"], "finalize looks every 30 minutes"
    finalize_first = on["workflow_dispatch"]["inputs"]["finalize_first"]
    assert (finalize_first["type"], finalize_first["default"]) == ("boolean", False)


def test_cleanup_triggers() -> None:
    on = load("cleanup.yml")["on"]
    assert set(on) == {"schedule", "workflow_dispatch"}
    (entry,) = on["schedule"]
    assert len(entry["cron"].split()) == 5
    assert entry["cron"].split()[2:] == ["*", "*", "*"], "cleanup runs daily"


def test_no_pull_request_target_anywhere() -> None:
    for name, workflow in all_workflows().items():
        assert "pull_request_target" not in workflow["on"], name
        assert "pull_request_target" not in (WORKFLOWS / name).read_text(encoding="utf-8"), name


# --------------------------------------------------------------------------- CI


def test_ci_runs_the_make_targets_the_readme_documents() -> None:
    ci = jobs(load("ci.yml"))
    assert calls(ci["lint"], "make lint")
    assert calls(ci["test"], "make test")
    for job in ("lint", "validate", "test"):
        assert calls(ci[job], "make setup"), job


def test_jobs_with_cloud_credentials_install_only_the_hash_locked_runtime() -> None:
    """A job that assumes an AWS role installs deploytool from requirements/deploy.txt (hashes
    checked, no test/dev/emulator packages), never the full `make setup`; the Makefile target does
    that with --require-hashes."""
    checked = 0
    for name, workflow in all_workflows().items():
        for job_name, job in jobs(workflow).items():
            assumes = any("configure-aws-credentials" in str(step.get("uses", "")) for step in steps(job))
            if not assumes:
                continue
            checked += 1
            assert not calls(job, "make setup"), f"{name}:{job_name}"
            installs = calls(job, "make setup-deploy")
            assert installs or not calls(job, "deploytool"), f"{name}:{job_name} runs deploytool without installing it"
            for step in steps(job):
                if "setup-python" in str(step.get("uses", "")) and installs:
                    assert step["with"]["cache-dependency-path"] == "requirements/deploy.txt", f"{name}:{job_name}"
    assert checked >= 5
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("$(DEPLOY_STAMP): requirements/deploy.txt", 1)[1].split("\n\n", 1)[0]
    assert "--require-hashes" in recipe and "-r requirements/deploy.txt" in recipe
    assert "[emulator" not in recipe and "[test" not in recipe


def test_ci_validate_job_runs_actionlint_and_checkov() -> None:
    scripts = " ".join(run_scripts(jobs(load("ci.yml"))["validate"]))
    assert "actionlint" in scripts
    assert "checkov" in scripts and "--framework terraform" in scripts


def test_ci_caches_pip_on_python_311() -> None:
    for name, job in jobs(load("ci.yml")).items():
        for step in steps(job):
            if str(step.get("uses", "")).startswith("actions/setup-python@"):
                assert step["with"]["cache"] == "pip", name
                assert step["with"]["python-version"] in ("3.11", "${{ env.PYTHON_VERSION }}"), name
    assert load("ci.yml")["env"]["PYTHON_VERSION"] == "3.11"


def test_ci_geo_api_group_is_path_filtered() -> None:
    ci = jobs(load("ci.yml"))
    geo_jobs = {name: job for name, job in ci.items() if name.startswith("geo-api")}
    assert set(geo_jobs) == {"geo-api-lint", "geo-api-test", "geo-api-image", "geo-api-perf"}
    filters = next(step for step in steps(ci["changes"]) if "paths-filter" in str(step.get("uses")))
    assert "examples/geo-api/**" in filters["with"]["filters"]
    for name, job in geo_jobs.items():
        assert "changes" in ([job["needs"]] if isinstance(job["needs"], str) else job["needs"]), name
        assert "needs.changes.outputs.geo_api == 'true'" in job_if(job), name
    assert calls(ci["geo-api-lint"], "make -C examples/geo-api lint")
    assert calls(ci["geo-api-test"], "make -C examples/geo-api test")
    assert calls(ci["geo-api-perf"], "make -C examples/geo-api perf")


def test_ci_geo_api_tests_run_against_postgis() -> None:
    service = jobs(load("ci.yml"))["geo-api-test"]["services"]["postgres"]
    assert service["image"].startswith("postgis/postgis:")
    assert "pg_isready" in service["options"]


def test_ci_geo_api_image_is_built_and_scanned() -> None:
    image_job = jobs(load("ci.yml"))["geo-api-image"]
    build = next(step for step in steps(image_job) if "docker/build-push-action@" in str(step.get("uses")))
    assert build["with"]["context"] == "examples/geo-api"
    assert build["with"]["push"] is False
    assert "type=gha" in build["with"]["cache-from"] and "type=gha" in build["with"]["cache-to"]
    trivy = next(step for step in steps(image_job) if "aquasecurity/trivy-action@" in str(step.get("uses")))
    assert trivy["with"]["image-ref"] == build["with"]["tags"]
    assert set(trivy["with"]["severity"].split(",")) == {"HIGH", "CRITICAL"}
    assert trivy["with"]["ignore-unfixed"] is True
    assert str(trivy["with"]["exit-code"]) == "1"


# --------------------------------------------------------------------------- staging


def test_staging_plan_job_plans_and_upserts_one_comment() -> None:
    plan = jobs(load("deploy-staging.yml"))["plan"]
    assert "github.event.action != 'closed'" in job_if(plan)
    scripts = " ".join(run_scripts(plan))
    assert "deploytool plan --env staging" in scripts
    assert "--output markdown" in scripts
    assert "deploytool github comment" in scripts and "--marker staging" in scripts


def test_staging_deploy_job_builds_pushes_and_deploys_on_push() -> None:
    deploy = jobs(load("deploy-staging.yml"))["deploy"]
    assert "github.event_name == 'push'" in job_if(deploy)
    refs = uses(deploy)
    assert any(ref.startswith("aws-actions/amazon-ecr-login@") for ref in refs)
    build = next(step for step in steps(deploy) if "docker/build-push-action@" in str(step.get("uses")))
    assert build["with"]["push"] is True
    assert build["with"]["context"] == "examples/geo-api"
    assert build["with"]["tags"].endswith(":${{ env.IMAGE_TAG }}")
    scripts = " ".join(run_scripts(deploy))
    assert "deploytool deploy --env staging" in scripts and "--yes" in scripts
    assert 'deploytool github pr-for-branch --branch "$BRANCH"' in scripts
    assert "gh " not in scripts  # the GitHub CLI is not on every runner; deploytool makes the calls
    assert "deploytool github comment" in scripts and "--marker staging" in scripts


def test_staging_destroy_runs_when_a_pull_request_closes() -> None:
    workflow = load("deploy-staging.yml")
    assert "closed" in event_types(workflow, "pull_request")
    destroy = jobs(workflow)["destroy"]
    assert "github.event_name == 'pull_request'" in job_if(destroy)
    assert "github.event.action == 'closed'" in job_if(destroy)
    scripts = " ".join(run_scripts(destroy))
    assert "deploytool destroy --env staging" in scripts and "--yes" in scripts
    assert "deploytool github comment" in scripts


def test_staging_plan_and_apply_never_share_a_queue() -> None:
    staging = jobs(load("deploy-staging.yml"))
    plan_group = staging["plan"]["concurrency"]["group"]
    assert plan_group != staging["deploy"]["concurrency"]["group"].replace("ref_name", "head_ref")


def test_staging_deploy_and_destroy_of_a_branch_share_one_group() -> None:
    staging = jobs(load("deploy-staging.yml"))
    deploy_group = staging["deploy"]["concurrency"]["group"]
    destroy_group = staging["destroy"]["concurrency"]["group"]
    # push events name the branch in ref_name, pull_request events in head_ref: the same string.
    assert deploy_group.replace("github.ref_name", "BRANCH") == destroy_group.replace("github.head_ref", "BRANCH")


# --------------------------------------------------------------------------- production


def test_production_deploy_uses_the_protected_environment() -> None:
    deploy = jobs(load("deploy-production.yml"))["deploy"]
    assert deploy["environment"] == "production"
    assert "build" in ([deploy["needs"]] if isinstance(deploy["needs"], str) else deploy["needs"])
    assert calls(deploy, "deploytool deploy --env production")


def test_production_never_cancels_a_deploy() -> None:
    deploy = jobs(load("deploy-production.yml"))["deploy"]
    assert deploy["concurrency"]["cancel-in-progress"] is False
    assert "${{" not in deploy["concurrency"]["group"], "one production queue, whatever the ref"


def test_production_reports_the_outcome_and_alerts() -> None:
    deploy = jobs(load("deploy-production.yml"))["deploy"]
    scripts = " ".join(run_scripts(deploy))
    assert "GITHUB_STEP_SUMMARY" in scripts
    assert re.search(r"^\s*3\)", scripts, re.MULTILINE), "exit code 3 (rolled back) gets its own message"
    assert re.search(r"^\s*4\)", scripts, re.MULTILINE), "exit code 4 (rollback failed) gets its own message"
    alert = next(step for step in steps(deploy) if "aws sns publish" in str(step.get("run", "")))
    assert "failure()" in str(alert["if"])
    assert deploy["env"]["ALERT_SNS_TOPIC_ARN"] == "${{ vars.ALERT_SNS_TOPIC_ARN }}"


def test_production_builds_and_deploys_on_push_or_by_hand_never_on_schedule() -> None:
    production = jobs(load("deploy-production.yml"))
    for name in ("build", "deploy"):
        condition = job_if(production[name])
        assert "github.event_name == 'push'" in condition, name
        assert "github.event_name == 'workflow_dispatch'" in condition, name
        assert "schedule" not in condition, name
    deploy = production["deploy"]
    assert deploy["env"]["FINALIZE_FIRST"] == "${{ github.event_name == 'workflow_dispatch' && inputs.finalize_first }}"
    script = " ".join(run_scripts(deploy))
    assert '"$FINALIZE_FIRST" = "true"' in script and "--finalize-first" in script


def test_production_finalizes_a_bake_that_is_over_on_schedule() -> None:
    production = jobs(load("deploy-production.yml"))
    finalize = production["finalize"]
    condition = job_if(finalize)
    assert "github.event_name == 'schedule'" in condition and "github.event_name == 'workflow_dispatch'" in condition
    assert "push" not in condition
    assert finalize["environment"] == "production"
    assert calls(finalize, "make setup-deploy")
    assert calls(finalize, "deploytool finalize --env production --if-baked --yes --lock-timeout 10m")
    assert uses(finalize)[:2] == uses(production["deploy"])[:2], "the same pinned checkout and setup-python"
    assert finalize["concurrency"]["cancel-in-progress"] is False
    # A pending scheduled finalize must never replace a pending deploy in the deploy's queue.
    assert finalize["concurrency"]["group"] != production["deploy"]["concurrency"]["group"]


def test_production_builds_the_image_into_ecr() -> None:
    build = jobs(load("deploy-production.yml"))["build"]
    assert any(ref.startswith("aws-actions/amazon-ecr-login@") for ref in uses(build))
    push = next(step for step in steps(build) if "docker/build-push-action@" in str(step.get("uses")))
    assert push["with"]["push"] is True
    assert push["with"]["context"] == "examples/geo-api"


# --------------------------------------------------------------------------- cleanup


def test_cleanup_keeps_open_pull_request_branches() -> None:
    for job_name in ("plan", "destroy"):
        job = jobs(load("cleanup.yml"))[job_name]
        scripts = " ".join(run_scripts(job))
        assert "deploytool github open-pr-branches > branches.txt" in scripts, job_name
        assert "gh " not in scripts
        assert job["permissions"]["pull-requests"] == "read"
        assert "deploytool cleanup --env staging" in scripts
        assert "--open-branches-file branches.txt" in scripts
        # No open pull request at all: the age alone decides instead of a refused empty list.
        assert "if [ -s branches.txt ]" in scripts, job_name


def test_cleanup_fans_out_as_plan_slices_report() -> None:
    workflow = load("cleanup.yml")
    plan, destroy, report = (jobs(workflow)[name] for name in ("plan", "destroy", "report"))
    plan_script = " ".join(run_scripts(plan))
    assert "--dry-run" in plan_script and '--slices "$MAX_SLICES"' in plan_script
    assert "--plan-file plan.json" in plan_script and "--yes" not in plan_script
    assert 1 <= int(workflow["env"]["MAX_SLICES"]) <= 8
    step = next(s for s in steps(plan) if s.get("id") == "plan")
    assert 'slices=$(cat plan.json)" >> "$GITHUB_OUTPUT"' in step["run"]
    assert plan["outputs"]["slices"] == "${{ steps.plan.outputs.slices }}"

    assert destroy["needs"] == "plan"
    assert "needs.plan.outputs.slices != '[]'" in job_if(destroy), "an empty plan runs no slice"
    assert destroy["strategy"]["matrix"]["slice"] == "${{ fromJSON(needs.plan.outputs.slices) }}"
    assert destroy["strategy"]["fail-fast"] is False, "one failed slice does not cancel the others"
    assert destroy["env"]["WORKSPACES"] == "${{ join(matrix.slice.workspaces, ' ') }}"
    destroy_script = " ".join(run_scripts(destroy))
    assert "--only-workspaces slice.txt" in destroy_script and "--yes" in destroy_script
    assert "--parallel 4" in destroy_script

    assert set(report["needs"]) == {"plan", "destroy"}
    condition = job_if(report).replace(" ", "")
    assert "always()" in condition and "needs.plan.result=='success'" in condition
    assert report["env"]["DESTROY_RESULT"] == "${{ needs.destroy.result }}"
    report_script = "\n".join(run_scripts(report))
    assert "deploytool cleanup --env staging --report plan.json" in report_script
    assert "$GITHUB_STEP_SUMMARY" in report_script and "Nothing to clean up" in report_script
    assert '[ "$DESTROY_RESULT" != success ]' in report_script and 'exit "$rc"' in report_script
    for name, job in (("plan", plan), ("destroy", destroy), ("report", report)):
        assert job["environment"] == "staging", name
    assert workflow["concurrency"] == {"group": "staging-cleanup", "cancel-in-progress": False}


def test_the_cleanup_report_fails_when_a_slice_failed(tmp_path: Path) -> None:
    """The report step's script, run with bash against a stand-in deploytool, fails when the matrix
    failed even if the history shows no failed destroy (a slice that died before destroying)."""
    report = jobs(load("cleanup.yml"))["report"]
    script = next(s["run"] for s in steps(report) if s.get("name") == "deploytool cleanup --report")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "deploytool"
    fake.write_text('#!/bin/sh\necho "SLICE  DESTROYED  KEPT  FAILED"\nexit "${FAKE_RC:-0}"\n')
    fake.chmod(0o755)
    summary = tmp_path / "summary.md"

    def run_report(destroy_result: str, fake_rc: int) -> int:
        env = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "SLICES": '[{"slice":1,"workspaces":["staging-a"]}]',
            "DESTROY_RESULT": destroy_result,
            "FAKE_RC": str(fake_rc),
            "GITHUB_STEP_SUMMARY": str(summary),
        }
        done = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=tmp_path, env=env, check=False)
        return done.returncode

    assert run_report("success", 0) == 0
    assert run_report("failure", 0) != 0
    assert run_report("success", 1) != 0
    assert "destroyed / kept / failed per slice" in summary.read_text()


# --------------------------------------------------------------------------- cross-cutting rules


def deploying_jobs() -> list[tuple[str, str, Job]]:
    """Every job that plans, deploys, destroys or cleans up with deploytool."""
    found: list[tuple[str, str, Job]] = []
    for name, workflow in all_workflows().items():
        for job_name, job in jobs(workflow).items():
            if any(calls(job, f"deploytool {verb}") for verb in ("plan", "deploy", "destroy", "cleanup")):
                found.append((name, job_name, job))
    return found


def test_the_expected_jobs_drive_deploytool() -> None:
    names = {(workflow, job) for workflow, job, _ in deploying_jobs()}
    assert names == {
        ("deploy-staging.yml", "plan"),
        ("deploy-staging.yml", "deploy"),
        ("deploy-staging.yml", "destroy"),
        ("deploy-production.yml", "deploy"),
        ("cleanup.yml", "plan"),
        ("cleanup.yml", "destroy"),
        ("cleanup.yml", "report"),
    }


@pytest.mark.parametrize("name", ["ci.yml", "deploy-staging.yml", "deploy-production.yml", "cleanup.yml"])
def test_least_privilege_by_default(name: str) -> None:
    top = load(name).get("permissions")
    assert top in ({}, {"contents": "read"}), f"{name}: top-level permissions must be empty or read-only"


# The role each job assumes, in step order (modules/github-oidc; docs/ci-cd.md "The GitHub roles"):
# builds push with the build role only, and the deploy roles never push.
ROLES_BY_JOB = {
    ("deploy-staging.yml", "plan"): ["AWS_STAGING_ROLE_ARN"],
    ("deploy-staging.yml", "deploy"): ["AWS_STAGING_BUILD_ROLE_ARN", "AWS_STAGING_ROLE_ARN"],
    ("deploy-staging.yml", "destroy"): ["AWS_STAGING_ROLE_ARN"],
    ("deploy-production.yml", "build"): ["AWS_PRODUCTION_BUILD_ROLE_ARN"],
    ("deploy-production.yml", "deploy"): ["AWS_PRODUCTION_ROLE_ARN"],
    ("deploy-production.yml", "finalize"): ["AWS_PRODUCTION_ROLE_ARN"],
    ("cleanup.yml", "plan"): ["AWS_STAGING_ROLE_ARN"],
    ("cleanup.yml", "destroy"): ["AWS_STAGING_ROLE_ARN"],
    ("cleanup.yml", "report"): ["AWS_STAGING_ROLE_ARN"],
}


def test_jobs_that_assume_the_role_use_oidc() -> None:
    seen = set()
    for name, workflow in all_workflows().items():
        for job_name, job in jobs(workflow).items():
            if not gets_aws_credentials(job):
                continue
            seen.add((name, job_name))
            assert job.get("permissions", {}).get("id-token") == "write", f"{name}:{job_name}"
            assert job["permissions"].get("contents") == "read", f"{name}:{job_name}"
            logins = [step for step in steps(job) if str(step.get("uses", "")).startswith(AWS_CREDENTIALS_ACTION)]
            roles = [step["with"]["role-to-assume"] for step in logins]
            assert roles == [f"${{{{ vars.{v} }}}}" for v in ROLES_BY_JOB.get((name, job_name), ["?"])], (
                f"{name}:{job_name}: {roles}"
            )
            for aws in logins:
                assert "aws-access-key-id" not in aws["with"], f"{name}:{job_name}: keys are a documented fallback"
    assert seen == set(ROLES_BY_JOB)


def test_images_are_pushed_with_the_build_role_and_deployed_with_the_deploy_role() -> None:
    for name, job_name in ROLES_BY_JOB:
        job = jobs(load(name))[job_name]
        current = None
        for step in steps(job):
            if str(step.get("uses", "")).startswith(AWS_CREDENTIALS_ACTION):
                current = step["with"]["role-to-assume"]
            pushes = "docker/build-push-action@" in str(step.get("uses", "")) or "amazon-ecr-login@" in str(
                step.get("uses", "")
            )
            if pushes:
                assert current is not None and "BUILD_ROLE" in current, f"{name}:{job_name}: push with {current}"
            if "deploytool " in str(step.get("run", "")):
                assert current is not None and "BUILD_ROLE" not in current, f"{name}:{job_name}: deploy with {current}"
    assert "BUILD_ROLE" not in str(ROLES_BY_JOB[("deploy-production.yml", "deploy")])


def test_deploytool_jobs_get_credentials() -> None:
    for name, job_name, job in deploying_jobs():
        assert gets_aws_credentials(job), f"{name}:{job_name}"


def test_no_job_without_a_need_gets_write_tokens() -> None:
    for name, workflow in all_workflows().items():
        for job_name, job in jobs(workflow).items():
            permissions = job.get("permissions", {})
            writes = {scope for scope, level in permissions.items() if level == "write"}
            assert writes <= {"id-token", "pull-requests"}, f"{name}:{job_name}: {writes}"


def test_forks_never_get_aws_credentials() -> None:
    """Jobs that run for pull requests and get AWS credentials carry the same-repository guard;
    jobs that get credentials on other events cannot run for a pull request at all."""
    for name, workflow in all_workflows().items():
        pull_request_workflow = "pull_request" in workflow["on"]
        for job_name, job in jobs(workflow).items():
            if not gets_aws_credentials(job):
                continue
            condition = job_if(job)
            if not pull_request_workflow:
                continue
            assert FORK_GUARD in condition or "github.event_name == 'push'" in condition, f"{name}:{job_name}"
            if "github.event_name == 'pull_request'" in condition:
                assert FORK_GUARD in condition, f"{name}:{job_name}"


def test_deploy_jobs_have_concurrency_groups_that_do_not_cancel_applies() -> None:
    for name, job_name, job in deploying_jobs():
        # A job of a matrix fan-out shares its workflow's group (a job-level one would queue the slices).
        concurrency = job.get("concurrency") or load(name).get("concurrency")
        assert isinstance(concurrency, dict) and concurrency.get("group"), f"{name}:{job_name}"
        if job_name != "plan":
            assert concurrency["cancel-in-progress"] is False, f"{name}:{job_name}"


def test_untrusted_values_never_reach_run_scripts() -> None:
    for name, workflow in all_workflows().items():
        for job_name, job in jobs(workflow).items():
            for script in run_scripts(job):
                assert not UNTRUSTED.search(script), f"{name}:{job_name}: pass it through env: and quote it"
                assert "${{" not in script, f"{name}:{job_name}: expressions go through env:, not into scripts"


def test_branch_is_passed_through_env_and_quoted() -> None:
    staging = jobs(load("deploy-staging.yml"))
    for job_name in ("plan", "deploy", "destroy"):
        job = staging[job_name]
        assert job["env"]["BRANCH"] in ("${{ github.head_ref }}", "${{ github.ref_name }}"), job_name
        for script in run_scripts(job):
            assert not re.search(r"--branch \$BRANCH\b", script), f"{job_name}: quote $BRANCH"


def all_uses() -> list[tuple[str, str]]:
    refs: list[tuple[str, str]] = []
    for name, workflow in all_workflows().items():
        for job in jobs(workflow).values():
            refs.extend((name, ref) for ref in uses(job))
            if "uses" in job:  # reusable workflow call
                refs.append((name, str(job["uses"])))
    return refs


def test_every_action_is_pinned() -> None:
    refs = all_uses()
    assert refs
    for name, ref in refs:
        if ref.startswith("./"):
            continue
        action, _, version = ref.partition("@")
        assert version, f"{name}: {action} is not pinned"
        assert version not in ("main", "master", "latest"), f"{name}: {ref}"
        assert FULL_SHA.match(version) or EXACT_VERSION.match(version), f"{name}: {ref} is not an exact pin"


def test_sha_pins_name_their_release() -> None:
    for path in sorted(WORKFLOWS.glob("*.y*ml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.search(r"uses: (\S+)@([0-9a-f]{40})(.*)$", line)
            if match:
                assert re.search(r"#\s*v?\d+\.\d+\.\d+", match.group(3)), f"{path.name}: {line.strip()}"


def test_one_version_per_action() -> None:
    versions: dict[str, set[str]] = {}
    for _, ref in all_uses():
        action, _, version = ref.partition("@")
        versions.setdefault(action, set()).add(version)
    assert {action: v for action, v in versions.items() if len(v) > 1} == {}


def test_checkouts_do_not_persist_the_token() -> None:
    for name, workflow in all_workflows().items():
        for job_name, job in jobs(workflow).items():
            for step in steps(job):
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step.get("with", {}).get("persist-credentials") is False, f"{name}:{job_name}"


@pytest.mark.parametrize(
    ("workflow", "env", "job_names"),
    [
        ("deploy-staging.yml", "staging", ("plan", "deploy")),
        ("deploy-production.yml", "production", ("build", "deploy")),
    ],
)
def test_images_are_tagged_with_their_environments_prefix(workflow: str, env: str, job_names: tuple[str, ...]) -> None:
    """The registry keeps images by the tag prefixes of deploy.toml (production's never expire), and
    deploy refuses an image without its environment's prefix: each workflow pushes and deploys
    ``<prefix><commit SHA>``."""
    prefix = load_config(REPO / "deploy.toml").environment(env).image_tag_prefix
    assert prefix
    for name in job_names:
        job = jobs(load(workflow))[name]
        tag = job["env"]["IMAGE_TAG"]
        assert tag.startswith(prefix) and tag.removeprefix(prefix).startswith("${{ github"), (name, tag)
        for step in steps(job):
            if "docker/build-push-action@" in str(step.get("uses")):
                assert step["with"]["tags"].endswith(":${{ env.IMAGE_TAG }}"), name


def test_deploy_jobs_check_out_the_history() -> None:
    """`deploytool deploy` orders commits with `git merge-base --is-ancestor`: a shallow checkout
    lacks the running commit, and a build that finished late could deploy an older commit."""
    deploying = 0
    for name, workflow in all_workflows().items():
        for job_name, job in jobs(workflow).items():
            if not calls(job, "deploytool deploy"):
                continue
            deploying += 1
            checkouts = [s for s in steps(job) if str(s.get("uses", "")).startswith("actions/checkout@")]
            assert checkouts and all(s.get("with", {}).get("fetch-depth") == 0 for s in checkouts), f"{name}:{job_name}"
    assert deploying == 2


def _lock_timeout(script: str, command: str) -> str | None:
    """The --lock-timeout value of ``deploytool <command>`` in ``script`` (None: the 0 s default)."""
    for match in re.finditer(rf"deploytool {command}\b(?:\\\n|[^\n])*", script):
        found = re.search(r"--lock-timeout[ =]\"?([0-9]+[smh])", match.group(0))
        if found:
            return found.group(1)
    return None


@pytest.mark.parametrize(
    ("workflow", "job", "command"),
    [
        ("deploy-staging.yml", "plan", "plan"),
        ("deploy-staging.yml", "deploy", "deploy"),
        ("deploy-staging.yml", "destroy", "destroy"),
        ("deploy-production.yml", "deploy", "deploy"),
        ("cleanup.yml", "plan", "cleanup"),
        ("cleanup.yml", "destroy", "cleanup"),
    ],
)
def test_state_locks_held_by_another_run_are_waited_for(workflow: str, job: str, command: str) -> None:
    """A pull request's plan and a push's deploy of one branch run at once (different concurrency
    groups) on one state; with the 0 s default one of them fails at once on the other's lock."""
    script = "\n".join(run_scripts(jobs(load(workflow))[job]))
    assert f"deploytool {command}" in script
    assert _lock_timeout(script, command) is not None, f"{workflow}:{job}: deploytool {command} without --lock-timeout"


def test_the_production_alert_also_fires_on_cancel_and_timeout() -> None:
    deploy = jobs(load("deploy-production.yml"))["deploy"]
    alert = next(step for step in steps(deploy) if step.get("name") == "Alert on failure")
    condition = str(alert["if"]).replace(" ", "")
    assert "(failure()||cancelled())" in condition and "env.ALERT_SNS_TOPIC_ARN!=''" in condition
