"""The deploy flow: render -> plan -> apply -> verify -> (on failure) roll back -> verify -> record.

Following an image tag through ``deploytool deploy`` reads as a straight line:
``deploy`` renders the tfvars (``render``), applies them (``terraform``), asks ``health`` and
``awschecks`` for a verdict and, when it fails, re-applies the last known good tag from the
``ledger`` and verifies again. Every run is recorded in the ledger.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from deploytool import bootstrap as boot
from deploytool import naming
from deploytool import plan as planmod
from deploytool.awschecks import check_ecs_rollout, check_target_health
from deploytool.errors import DeployError, RollbackFailedError, RolledBackError
from deploytool.health import CheckResult, HealthSettings, SmokeRequest, Verdict, check_http
from deploytool.ledger import Record
from deploytool.render import render_tfvars
from deploytool.stack import Stack, StackName, Target
from deploytool.terraform import output_values

Progress = Callable[[str], None]
PRIORITY_BASE = 1000
PRIORITY_SPAN = 40000
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


def _quiet(_: str) -> None:
    return None


def counts(summary: planmod.PlanSummary) -> dict[str, int]:
    """The plan's change counts, as recorded in the ledger."""
    return {"add": summary.add, "change": summary.change, "replace": summary.replace, "destroy": summary.destroy}


# -- inputs ----------------------------------------------------------------------------------------
def platform_outputs(target: Target) -> dict[str, Any]:
    """The platform stack's outputs, read straight from its state object (no Terraform run)."""
    s3 = target.clients()("s3")
    key = f"{target.env}/platform/terraform.tfstate"
    try:
        body = s3.get_object(Bucket=target.state_bucket, Key=key)["Body"].read()
    except ClientError as exc:
        raise DeployError(
            f"the {target.env} platform is not deployed (no state at s3://{target.state_bucket}/{key}); "
            f"run `deploytool apply --env {target.env} --stack platform` first"
        ) from exc
    outputs = json.loads(body).get("outputs", {})
    if not outputs:
        raise DeployError(f"the {target.env} platform state has no outputs; apply the platform stack again")
    return output_values(outputs)


def listener_priority(target: Target, listener_arn: str, host: str, workspace: str) -> int:
    """A stable listener-rule priority for ``workspace``: the one its host already uses, else a
    hash-derived one, moved to the next free number when another rule holds it."""
    elbv2 = target.clients()("elbv2")
    taken: dict[int, str] = {}
    paginator = elbv2.get_paginator("describe_rules") if elbv2.can_paginate("describe_rules") else None
    pages = (
        paginator.paginate(ListenerArn=listener_arn) if paginator else [elbv2.describe_rules(ListenerArn=listener_arn)]
    )
    for page in pages:
        for rule in page.get("Rules", []):
            if rule.get("IsDefault") or rule.get("Priority") in (None, "default"):
                continue
            hosts = [
                value
                for cond in rule.get("Conditions", [])
                if cond.get("Field") == "host-header"
                for value in cond.get("HostHeaderConfig", {}).get("Values", cond.get("Values", []))
            ]
            if host in hosts:
                return int(rule["Priority"])
            taken[int(rule["Priority"])] = ",".join(hosts)
    preferred = PRIORITY_BASE + int(hashlib.sha256(workspace.encode()).hexdigest()[:8], 16) % PRIORITY_SPAN
    for offset in range(PRIORITY_SPAN):
        candidate = PRIORITY_BASE + (preferred - PRIORITY_BASE + offset) % PRIORITY_SPAN
        if candidate not in taken:
            return candidate
    raise DeployError(f"no free listener rule priority on {listener_arn}")


def image_repository_uri(target: Target) -> str:
    ecr = target.clients()("ecr")
    name = target.config.project.image_repository
    try:
        return str(ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryUri"])
    except ClientError as exc:
        raise DeployError(f"ECR repository {name} not found; run `deploytool bootstrap --env {target.env}`") from exc


def platform_context(target: Target) -> dict[str, Any]:
    sm = target.clients()("secretsmanager")
    try:
        secret_arn = sm.describe_secret(SecretId=boot.db_secret_name(target))["ARN"]
    except ClientError as exc:
        raise DeployError(
            f"the database secret {boot.db_secret_name(target)} does not exist; "
            f"run `deploytool bootstrap --env {target.env}` first"
        ) from exc
    secret_arns = sorted(v for v in target.settings.secrets.values() if ":secretsmanager:" in v)
    return {
        "env": target.env,
        "settings": target.settings,
        "project": target.config.project,
        "db_secret_arn": secret_arn,
        "task_secret_arns": secret_arns,
    }


def app_context(
    target: Target,
    names: naming.Names,
    image_tag: str,
    *,
    environment: dict[str, str] | None = None,
    platform: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    platform = platform if platform is not None else platform_outputs(target)
    container_env = {**target.settings.environment, **(environment or {})}
    if target.settings.strategy != "blue-green":
        container_env["APP_VERSION"] = image_tag  # blue-green roots set it per colour
    return {
        **(extra or {}),
        "env": target.env,
        "settings": target.settings,
        "project": target.config.project,
        "names": names,
        "image_tag": image_tag,
        "image_repository": image_repository_uri(target),
        "platform_state": {
            "bucket": target.state_bucket,
            "key": f"{target.env}/platform/terraform.tfstate",
            "region": target.settings.region,
        },
        "listener_priority": (
            listener_priority(target, str(platform["listener_arn"]), names.host, names.workspace)
            if target.settings.branch_environments
            else None
        ),
        "container_environment": container_env,
    }


# -- plan and apply ----------------------------------------------------------------------------------
@dataclass
class PlanResult:
    stack: Stack
    planfile: Path
    tfvars: Path
    changed: bool
    summary: planmod.PlanSummary
    plan_json: dict[str, Any]

    def text(self) -> str:
        return self.stack.runner.show_text(self.planfile)


def _open(target: Target, stack_name: StackName, names: naming.Names | None) -> Stack:
    workspace = names.workspace if (stack_name == "app" and names is not None) else "default"
    return Stack(target, stack_name, workspace)


def plan_stack(
    target: Target,
    stack_name: StackName,
    *,
    branch: str | None = None,
    image_tag: str | None = None,
    environment: dict[str, str] | None = None,
    out: Path | None = None,
    destroy: bool = False,
) -> PlanResult:
    """Render the stack's tfvars and write a saved plan. Infra-only app plans keep the deployed tag."""
    names = target.names(branch) if stack_name == "app" else None
    if image_tag:
        naming.validate_image_tag(image_tag)  # before Terraform runs: init would create the workspace
    stack = _open(target, stack_name, names)
    stack.prepare()
    if stack_name == "platform":
        context = platform_context(target)
    else:
        assert names is not None
        tag = image_tag or deployed_image(target, stack)
        if tag is None:
            raise DeployError(f"{names.workspace} has no deployed image yet; pass --image-tag for its first deploy")
        context = app_context(target, names, naming.validate_image_tag(tag), environment=environment)
    tfvars = stack.write_tfvars(render_tfvars(stack.root, context))
    planfile = out or (stack.data_dir / "deploytool.tfplan")
    changed = stack.runner.plan(planfile, var_files=[tfvars], destroy=destroy)
    plan_json = stack.runner.show_json(planfile)
    return PlanResult(stack, planfile, tfvars, changed, planmod.summarize(plan_json), plan_json)


def deployed_image(target: Target, stack: Stack) -> str | None:
    """The image tag the workspace runs now: from state, else from the ledger."""
    try:
        tag = stack.runner.output().get("image_tag")
    except DeployError:
        tag = None
    if tag:
        return str(tag)
    return target.ledger().current_image(target.env, stack.workspace)


# -- verification -------------------------------------------------------------------------------------
def health_settings(
    target: Target, base_url: str, *, expected_version: str | None, headers: dict[str, str] | None = None
) -> HealthSettings:
    h = target.settings.health
    return HealthSettings(
        base_url=base_url,
        basic_path=h.paths.basic,
        detailed_path=h.paths.detailed,
        metrics_path=h.paths.metrics,
        request_timeout_s=h.request_timeout_seconds,
        budget_s=h.timeout_seconds,
        interval_s=h.interval_seconds,
        max_interval_s=h.max_interval_seconds,
        consecutive_passes=h.consecutive_passes,
        expected_version=expected_version if h.require_version else None,
        required_components=tuple(h.required_components),
        extra_headers=dict(headers or {}),
        smoke=[
            SmokeRequest(
                name=s.name,
                path=s.path,
                method=s.method,
                expect_status=s.expect_status,
                json_field=s.json_field,
                expect_value=s.expect_value,
            )
            for s in target.settings.smoke
        ],
    )


def verify(
    target: Target,
    outputs: dict[str, Any],
    *,
    base_url: str,
    image_tag: str,
    progress: Progress = _quiet,
    headers: dict[str, str] | None = None,
) -> Verdict:
    """HTTP health, ECS rollout and target health of the release just applied."""
    checks: list[CheckResult] = []
    clients = target.clients()
    progress(f"verifying {base_url} (health, ECS rollout, target health)")
    exited = _local_task_exited(target, outputs)
    if exited:
        # Local mode: a task that crashed at start is a verdict already, no need to wait out the budget.
        checks.append(CheckResult("local.task", "fail", exited))
    else:
        settings = health_settings(target, base_url, expected_version=image_tag, headers=headers)
        checks.extend(check_http(settings).checks)
    checks.append(
        check_ecs_rollout(
            clients("ecs"),
            str(outputs["cluster_name"]),
            str(outputs["service_name"]),
            str(outputs["task_definition_arn"]),
            emulator=target.local,
            budget_s=target.settings.health.timeout_seconds,
            poll_s=5.0,
        )
    )
    checks.append(check_target_health(clients("elbv2"), str(outputs["target_group_arn"]), emulator=target.local))
    return Verdict(tuple(checks))


def _local_task_exited(target: Target, outputs: dict[str, Any]) -> str | None:
    if not target.local:
        return None
    from deploytool.localrun import LocalRuntime

    runtime = LocalRuntime(target)
    workspace = str(outputs.get("service_name", ""))
    if runtime.task(workspace) is None and not runtime._state(workspace).is_file():
        return None  # verification of something the local runtime did not start (--health-url)
    return runtime.exited(workspace)


# -- deploy ---------------------------------------------------------------------------------------------
@dataclass
class DeployOutcome:
    env: str
    workspace: str
    image_before: str | None
    image_after: str
    url: str
    verdict: Verdict
    outcome: str
    record_ids: list[str] = field(default_factory=list)
    rollback_verdict: Verdict | None = None
    restored_image: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "workspace": self.workspace,
            "image_before": self.image_before,
            "image_after": self.image_after,
            "url": self.url,
            "outcome": self.outcome,
            "verdict": self.verdict.to_dict(),
            "rollback_verdict": self.rollback_verdict.to_dict() if self.rollback_verdict else None,
            "restored_image": self.restored_image,
            "records": self.record_ids,
        }


UrlResolver = Callable[[Target, naming.Names, dict[str, Any]], str]


def public_url(target: Target, names: naming.Names) -> str:
    """The URL users reach: HTTPS when the environment's ALB has a certificate, else HTTP."""
    scheme = "https" if target.settings.platform.certificate_arn else "http"
    return f"{scheme}://{names.host}"


def default_url(target: Target, names: naming.Names, outputs: dict[str, Any]) -> str:
    """Where to verify a release: the configured base URL, the stack's URL, or (emulator only) the
    local stand-in task started from the applied task definition."""
    if target.settings.health.base_url:
        return target.settings.health.base_url
    if target.local:
        from deploytool.localrun import local_url

        return local_url(target, names, outputs)
    return str(outputs.get("url") or public_url(target, names))


def apply_release(
    target: Target,
    names: naming.Names,
    image_tag: str,
    *,
    environment: dict[str, str] | None = None,
    progress: Progress = _quiet,
) -> tuple[PlanResult, dict[str, Any]]:
    """Plan and apply the app stack with ``image_tag``; returns the plan and the stack outputs."""
    progress(f"planning {names.workspace} with image {image_tag}")
    result = plan_stack(target, "app", branch=names.branch, image_tag=image_tag, environment=environment)
    progress(f"applying: {result.summary.headline()}")
    result.stack.runner.apply(result.planfile, discard=True)
    return result, result.stack.runner.output()


def deploy(
    target: Target,
    branch: str | None,
    image_tag: str,
    *,
    rollback: bool = True,
    environment: dict[str, str] | None = None,
    url_for: UrlResolver = default_url,
    progress: Progress = _quiet,
) -> DeployOutcome:
    """Deploy ``image_tag`` to the branch's (or the environment's) app stack and verify it."""
    naming.validate_image_tag(image_tag)
    names = target.names(branch)
    ledger = target.ledger()
    stack = _open(target, "app", names)
    stack.prepare()
    before = deployed_image(target, stack)
    started = time.monotonic()
    record = Record(
        env=target.env,
        workspace=names.workspace,
        stack="app",
        action="deploy",
        image_before=before,
        image_after=image_tag,
        extra={"environment": environment or {}},
    )
    ledger.write(record)
    try:
        result, outputs = apply_release(target, names, image_tag, environment=environment, progress=progress)
        record.plan = counts(result.summary)
        url = url_for(target, names, outputs)
        verdict = verify(target, outputs, base_url=url, image_tag=image_tag, progress=progress)
    except BaseException as exc:
        record.outcome = "interrupted" if isinstance(exc, KeyboardInterrupt) else "error"
        record.message = str(exc)[:500]
        record.duration_s = round(time.monotonic() - started, 2)
        ledger.write(record)
        raise
    record.checks = [c.to_dict() for c in verdict.checks]
    record.duration_s = round(time.monotonic() - started, 2)
    outcome = DeployOutcome(target.env, names.workspace, before, image_tag, url, verdict, "success", [record.id])
    if verdict.ok:
        record.outcome = "success"
        ledger.write(record)
        progress(f"verified: {verdict.summary()}")
        return outcome
    record.outcome = "failed"
    record.message = verdict.summary()
    ledger.write(record)
    progress(f"verification failed: {verdict.summary()}")
    if not rollback:
        outcome.outcome = "failed"
        raise DeployError(
            f"{names.workspace}: {image_tag} failed verification ({verdict.summary()}); "
            "rollback disabled (--no-rollback), the failing release is still deployed"
        )
    good = ledger.last_known_good(target.env, names.workspace, exclude=image_tag)
    restore_tag = good.image_after if good else (before if before and before != image_tag else None)
    restore_env = (good.extra.get("environment") if good else None) or {}
    if restore_tag is None:
        outcome.outcome = "rollback_failed"
        raise RollbackFailedError(
            f"{names.workspace}: {image_tag} failed verification ({verdict.summary()}) and there is no earlier "
            f"release to roll back to (first deploy). The failing release is still deployed at {url}; fix it and "
            f"deploy again, or remove it with `deploytool destroy --env {target.env}"
            + (f" --branch {branch}`" if branch else "`")
        )
    rb = rollback_to(
        target,
        names,
        restore_tag,
        environment=restore_env,
        reason=f"{image_tag} failed: {verdict.summary()}",
        url_for=url_for,
        progress=progress,
    )
    outcome.rollback_verdict = rb.verdict
    outcome.restored_image = restore_tag
    outcome.record_ids.append(rb.record_ids[0])
    if rb.outcome == "success":
        outcome.outcome = "rolled_back"
        record.outcome = "rolled_back"
        record.extra["restored_image"] = restore_tag
        ledger.write(record)
        raise RolledBackError(
            f"{names.workspace}: {image_tag} failed verification ({verdict.summary()}); rolled back to "
            f"{restore_tag}, which verified healthy"
        )
    outcome.outcome = "rollback_failed"
    raise RollbackFailedError(
        f"{names.workspace}: {image_tag} failed verification ({verdict.summary()}) and the rollback to "
        f"{restore_tag} failed too ({rb.verdict.summary()}); {restore_tag} is applied but unhealthy — "
        "check `deploytool diagnose`/`logs` for this environment"
    )


def rollback_to(
    target: Target,
    names: naming.Names,
    image_tag: str,
    *,
    environment: dict[str, str] | None = None,
    reason: str = "requested",
    url_for: UrlResolver = default_url,
    progress: Progress = _quiet,
) -> DeployOutcome:
    """Re-apply ``image_tag`` (all other inputs as configured), verify, record."""
    ledger = target.ledger()
    stack = _open(target, "app", names)
    stack.prepare()
    before = deployed_image(target, stack)
    started = time.monotonic()
    record = Record(
        env=target.env,
        workspace=names.workspace,
        stack="app",
        action="rollback",
        image_before=before,
        image_after=image_tag,
        message=reason,
        extra={"environment": environment or {}},
    )
    ledger.write(record)
    progress(f"rolling back {names.workspace} to {image_tag}")
    try:
        result, outputs = apply_release(target, names, image_tag, environment=environment, progress=progress)
        record.plan = counts(result.summary)
        url = url_for(target, names, outputs)
        verdict = verify(target, outputs, base_url=url, image_tag=image_tag, progress=progress)
    except BaseException as exc:
        record.outcome = "error"
        record.message = f"{reason}; rollback error: {exc}"[:500]
        ledger.write(record)
        raise
    record.checks = [c.to_dict() for c in verdict.checks]
    record.outcome = "success" if verdict.ok else "failed"
    record.duration_s = round(time.monotonic() - started, 2)
    ledger.write(record)
    return DeployOutcome(target.env, names.workspace, before, image_tag, url, verdict, record.outcome, [record.id])


def rollback(
    target: Target,
    branch: str | None,
    to: str | None = None,
    *,
    url_for: UrlResolver = default_url,
    progress: Progress = _quiet,
) -> DeployOutcome:
    """On-demand rollback to ``to`` or the last known good release other than the running one."""
    names = target.names(branch)
    stack = _open(target, "app", names)
    stack.prepare(create_workspace=False)
    current = deployed_image(target, stack)
    environment: dict[str, str] = {}
    if to is None:
        good = target.ledger().last_known_good(target.env, names.workspace, exclude=current)
        if good is None or not good.image_after:
            raise DeployError(f"{names.workspace}: no earlier verified release to roll back to; pass --to TAG")
        to = good.image_after
        environment = good.extra.get("environment") or {}
    out = rollback_to(
        target,
        names,
        naming.validate_image_tag(to),
        environment=environment,
        reason=f"rollback requested from {current}",
        url_for=url_for,
        progress=progress,
    )
    if out.outcome != "success":
        raise RollbackFailedError(f"{names.workspace}: rollback to {to} failed verification ({out.verdict.summary()})")
    return out


# -- apply / destroy ---------------------------------------------------------------------------------
def apply_stack(
    target: Target,
    stack_name: StackName,
    *,
    branch: str | None = None,
    image_tag: str | None = None,
    planfile: Path | None = None,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Plan (unless a saved plan is given) and apply one stack; records it; returns its outputs."""
    names = target.names(branch) if stack_name == "app" else None
    started = time.monotonic()
    own_plan = planfile is None
    if planfile is not None:
        stack = _open(target, stack_name, names)
        stack.prepare()
        summary_counts = counts(planmod.summarize(stack.runner.show_json(planfile)))
    else:
        result = plan_stack(target, stack_name, branch=branch, image_tag=image_tag)
        stack, planfile, summary_counts = result.stack, result.planfile, counts(result.summary)
    progress(f"applying {target.env}/{stack_name} ({stack.workspace})")
    record = Record(
        env=target.env,
        workspace=stack.workspace,
        stack=stack_name,
        action="apply",
        image_after=image_tag,
        plan=summary_counts,
    )
    ledger = target.ledger()
    ledger.write(record)
    try:
        stack.runner.apply(planfile, discard=own_plan)
    except BaseException as exc:
        record.outcome, record.message = "error", str(exc)[:500]
        ledger.write(record)
        raise
    record.outcome = "success"
    record.duration_s = round(time.monotonic() - started, 2)
    ledger.write(record)
    return stack.runner.output()


def destroy(target: Target, branch: str | None, stack_name: StackName = "app", *, progress: Progress = _quiet) -> str:
    """Destroy a branch environment (or a stack) and delete its workspace. Idempotent."""
    names = target.names(branch) if stack_name == "app" else None
    return _destroy(target, stack_name, names, progress=progress)


def destroy_workspace(target: Target, workspace: str, *, reason: str = "", progress: Progress = _quiet) -> str:
    """Destroy the branch environment in app workspace ``workspace`` and delete the workspace. Idempotent.

    For callers that know a branch environment only by its workspace (the branch itself is not
    recorded anywhere): every name of a branch environment derives from its workspace. ``reason``
    is kept in the ledger record.
    """
    return _destroy(target, "app", workspace_names(target, workspace), progress=progress, reason=reason)


def workspace_names(target: Target, workspace: str) -> naming.Names:
    """The names of the branch environment in ``workspace`` (``<env>-<slug>``), without its branch."""
    slug = workspace.removeprefix(f"{target.env}-")
    if not target.settings.branch_environments or slug == workspace or not _SLUG.fullmatch(slug):
        raise DeployError(f"{workspace!r} is not a branch environment workspace of {target.env}")
    return naming.Names(
        env=target.env,
        branch=None,
        slug=slug,
        workspace=workspace,
        service=workspace,
        target_group=naming.lb_name(workspace, naming.TARGET_GROUP_MAX_LEN),
        host=f"{workspace}.{target.settings.domain}",
        log_prefix=workspace,
    )


def _destroy(
    target: Target, stack_name: StackName, names: naming.Names | None, *, progress: Progress, reason: str = ""
) -> str:
    stack = _open(target, stack_name, names)
    stack.prepare(create_workspace=False) if stack.workspace == "default" else _prepare_existing(stack)
    if stack.workspace != "default" and not stack.exists():
        return f"{stack.workspace} does not exist (already destroyed); nothing to do"
    ledger = target.ledger()
    before = None
    if stack_name == "app":
        before = deployed_image(target, stack)
    record = Record(env=target.env, workspace=stack.workspace, stack=stack_name, action="destroy", image_before=before)
    if reason:
        record.extra["reason"] = reason
    ledger.write(record)
    started = time.monotonic()
    try:
        if stack.runner.state_resources():
            context = platform_context(target) if stack_name == "platform" else None
            if context is None:
                assert names is not None
                tag = before or "destroy"
                try:
                    context = app_context(target, names, naming.validate_image_tag(tag))
                except DeployError:
                    context = None
            var_files = [stack.write_tfvars(render_tfvars(stack.root, context))] if context else []
            progress(f"destroying {target.env}/{stack_name} ({stack.workspace})")
            stack.runner.destroy(var_files=var_files)
        if stack.workspace != "default":
            stack.runner.delete_workspace(stack.workspace)
        if target.local and stack_name == "app":
            from deploytool.localrun import LocalRuntime

            LocalRuntime(target).stop(stack.workspace)
    except BaseException as exc:
        record.outcome, record.message = "error", str(exc)[:500]
        ledger.write(record)
        raise
    record.outcome = "success"
    record.duration_s = round(time.monotonic() - started, 2)
    ledger.write(record)
    return f"{stack.workspace} destroyed and its workspace deleted"


def _prepare_existing(stack: Stack) -> None:
    """Init and select the workspace only if it exists (destroy never creates one)."""
    original = stack.workspace
    stack.workspace = "default"
    stack.prepare(create_workspace=False)
    stack.workspace = original
    if stack.exists():
        stack.runner.select_workspace(original, create=False)


def render_only(
    target: Target, stack_name: StackName, *, branch: str | None = None, image_tag: str | None = None
) -> tuple[str, str]:
    """The rendered tfvars of a stack and the workspace it would use (no Terraform run)."""
    if stack_name == "platform":
        return render_tfvars(target.roots_dir / "platform", platform_context(target)), "default"
    names = target.names(branch)
    tag = image_tag or target.ledger().current_image(target.env, names.workspace)
    if tag is None:
        raise DeployError(f"{names.workspace} has no deployed image yet; pass --image-tag")
    context = app_context(target, names, naming.validate_image_tag(tag))
    return render_tfvars(target.roots_dir / "app", context), names.workspace


def force_unlock(target: Target, stack_name: StackName, branch: str | None, lock_id: str) -> None:
    names = target.names(branch) if stack_name == "app" else None
    stack = _open(target, stack_name, names)
    stack.prepare(create_workspace=False)
    stack.runner.force_unlock(lock_id)
