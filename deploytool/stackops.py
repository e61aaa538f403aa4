"""Operations on one stack: render -> plan -> apply -> outputs, destroy, and the rest.

Every path that changes a stack goes through here (the release strategies included), so a plan
is always rendered, saved and summarised the same way and what is applied is what was planned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploytool import naming
from deploytool import plansummary as summaries
from deploytool.errors import DeployError
from deploytool.inputs import app_context, platform_context
from deploytool.ledger import Record
from deploytool.render import render_tfvars
from deploytool.stack import Stack, StackName, Target
from deploytool.state import (
    AppOutputs,
    Outputs,
    PlatformOutputs,
    app_outputs,
    delete_platform_outputs,
    publish_platform_outputs,
    read_outputs,
    read_state,
)
from deploytool.terraform import LateVars, TerraformError

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """A progress callback that says nothing."""
    return None


def counts(summary: summaries.PlanSummary) -> dict[str, int]:
    """The plan's change counts, as recorded in the ledger."""
    return {"add": summary.add, "change": summary.change, "replace": summary.replace, "destroy": summary.destroy}


def open_stack(target: Target, stack_name: StackName, names: naming.Names | None = None) -> Stack:
    """The stack ``stack_name`` of ``target``; an app stack in the workspace of ``names``."""
    workspace = names.workspace if (stack_name == "app" and names is not None) else naming.DEFAULT_WORKSPACE
    return Stack(target, stack_name, workspace)


def deployed_image(target: Target, workspace: str) -> str | None:
    """The image tag the app workspace runs now: from its state, else from the ledger."""
    outputs = app_outputs(target, workspace)
    tag = outputs.image_tag if outputs is not None else None
    return tag or target.ledger().current_image(target.env, workspace)


def _not_yours(target: Target, names: naming.Names, owner: str) -> DeployError:
    return DeployError(
        f"branch {names.branch!r} maps to {names.workspace}, which belongs to branch {owner!r}: destroy that "
        f"environment first (`deploytool destroy --env {target.env} --branch {owner}`) or rename {names.branch!r}"
    )


def check_branch(target: Target, names: naming.Names) -> None:
    """Refuse a branch whose workspace belongs to another branch (``feature/x`` vs ``feature-x``).

    Environments without branches have nothing to check."""
    if names.branch is None:
        return
    owner = target.ledger().branch_of(target.env, names.workspace)
    if owner is not None and owner != names.branch:
        raise _not_yours(target, names, owner)


def claim_branch(target: Target, names: naming.Names) -> None:
    """Before a branch environment is changed: record its branch (first deploy), or refuse another branch."""
    if names.branch is None:
        return
    owner = target.ledger().claim_branch(target.env, names.workspace, names.branch)
    if owner != names.branch:
        raise _not_yours(target, names, owner)


@dataclass
class PlanResult:
    stack: Stack
    planfile: Path
    tfvars: Path
    changed: bool
    summary: summaries.PlanSummary
    plan_json: dict[str, Any]

    def text(self) -> str:
        return self.stack.runner.show_text(self.planfile)


def _opened(
    target: Target, stack_name: StackName, branch: str | None, image_tag: str | None
) -> tuple[Stack, naming.Names | None]:
    """The stack and its names (app stacks), after the checks that come before Terraform runs: init
    would create the workspace of a bad tag or of another branch's workspace."""
    names = target.names(branch) if stack_name == "app" else None
    if image_tag:
        naming.validate_image_tag(image_tag)
    stack = open_stack(target, stack_name, names)  # checks the toolchain
    if names is not None:
        check_branch(target, names)
    return stack, names


def _rendered(
    target: Target,
    stack_name: StackName,
    *,
    branch: str | None = None,
    image_tag: str | None = None,
    environment: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[Stack, Path]:
    """The stack, prepared, and its tfvars rendered. Infra-only app runs keep the deployed tag."""
    stack, names = _opened(target, stack_name, branch, image_tag)
    if names is None:
        stack.prepare()
        context = _context(target, stack, names, image_tag, environment, extra)
    else:
        # Terraform's init and workspace selection, and the inputs' AWS look-ups, are independent.
        with ThreadPoolExecutor(max_workers=1) as pool:
            prepared = pool.submit(stack.prepare)
            try:
                context = _context(target, stack, names, image_tag, environment, extra)
            except BaseException:
                prepared.result()  # Terraform's error (init, a held lock) first, as when prepare ran first
                raise
            prepared.result()
    return stack, stack.write_tfvars(render_tfvars(stack.root, context))


def _context(
    target: Target,
    stack: Stack,
    names: naming.Names | None,
    image_tag: str | None,
    environment: dict[str, str] | None,
    extra: dict[str, Any] | None,
) -> dict[str, Any]:
    """The stack's template inputs (the AWS look-ups); an app run without a tag keeps the deployed one."""
    if names is None:
        return platform_context(target)
    tag = image_tag or deployed_image(target, stack.workspace)
    if tag is None:
        raise DeployError(f"{names.workspace} has no deployed image yet; pass --image-tag for its first deploy")
    return app_context(target, names, naming.validate_image_tag(tag), environment=environment, extra=extra)


def plan_stack(
    target: Target,
    stack_name: StackName,
    *,
    branch: str | None = None,
    image_tag: str | None = None,
    environment: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    out: Path | None = None,
    destroy: bool = False,
    targets: Sequence[str] = (),
) -> PlanResult:
    """Render the stack's tfvars and write a saved plan. Infra-only app plans keep the deployed tag.

    ``extra`` adds template inputs of a release strategy (the blue-green colours); ``targets``
    limits the plan to those resource addresses (``-target``: the migration's task definition).
    """
    stack, tfvars = _rendered(
        target, stack_name, branch=branch, image_tag=image_tag, environment=environment, extra=extra
    )
    planfile = out or (stack.data_dir / "deploytool.tfplan")
    changed = stack.runner.plan(planfile, var_files=[tfvars], destroy=destroy, targets=targets)
    plan_json = stack.runner.show_json(planfile)
    return PlanResult(stack, planfile, tfvars, changed, summaries.summarize(plan_json), plan_json)


@dataclass
class AppliedResult:
    """A stack planned and applied in one Terraform process: what it planned (and applied), the outputs after."""

    stack: Stack
    tfvars: Path
    summary: summaries.PlanSummary
    outputs: Outputs


def one_phase(stack_name: StackName) -> bool:
    """Whether a run that reviews no plan plans and applies ``stack_name`` in one Terraform process.

    ``terraform apply -json`` streams what it plans before it changes anything, but cannot be stopped
    between its plan and its apply: a check that must see the plan first needs a saved plan. The app
    stack holds no data (task definition, service, target group, listener rule, alarms: what a
    redeploy recreates), so nothing there needs refusing before an apply; the platform stack holds the
    database, and keeps plan -> summary -> apply, so a destructive plan of it can be stopped first.
    The tool has no destroy guard today: a guard that must refuse a plan before it runs would make
    the stacks it covers (those with protected resources in state) two-phase here. Nothing of the app
    stack is marked sensitive, so its plans teach ``Secrets`` nothing, and the stream carries no values."""
    return stack_name == "app"


def plan_and_apply(
    target: Target,
    stack_name: StackName,
    *,
    branch: str | None = None,
    image_tag: str | None = None,
    environment: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    progress: Progress = quiet,
    planned: Callable[[summaries.PlanSummary], None] | None = None,
) -> AppliedResult:
    """Render, plan and apply ``stack_name`` in one Terraform process (see ``one_phase``).

    Terraform starts as soon as its workspace is selected; the inputs are looked up and rendered
    while it starts, and it reads them through its var file (``terraform.VarFeed``), so the branch
    is claimed before Terraform locks or reads anything, and a failed look-up stops it with nothing
    done. ``planned`` gets the summary of what Terraform planned, before it changes anything; the
    summary returned is of the same plan, so what is recorded is what was applied."""
    stack, names = _opened(target, stack_name, branch, image_tag)
    stack.prepare()  # init when needed, the workspace selected: before Terraform starts

    def produce() -> str:
        # While Terraform starts (``terraform.VarFeed``): the inputs' look-ups, then the branch
        # claimed; Terraform goes on only with this text, and is stopped when this raises.
        text = render_tfvars(stack.root, _context(target, stack, names, image_tag, environment, extra))
        if names is not None:
            claim_branch(target, names)
        return text

    def on_plan(changes: list[dict[str, Any]]) -> None:
        summary = summaries.summarize_planned_changes(changes)
        progress(f"applying: {summary.headline()}")
        if planned is not None:
            planned(summary)

    tfvars = stack.tfvars_path()
    applied = stack.runner.apply_now(planned=on_plan, late_vars=LateVars(produce, keep=tfvars))
    summary = summaries.summarize_planned_changes(applied.changes, applied.terraform_version)
    values = applied.output_values()
    if values is None:
        outputs = stack_outputs(stack)
    else:
        outputs = PlatformOutputs(values) if stack_name == "platform" else AppOutputs(values)
    if isinstance(outputs, AppOutputs):
        settle(target, outputs)
    return AppliedResult(stack, tfvars, summary, outputs)


def settle(target: Target, outputs: AppOutputs) -> None:
    """After an app stack's apply, whatever runs it next: the runtime catches up with the applied
    desired counts (see ``Runtime.settle``; on AWS, ECS does it by itself)."""
    colors: tuple[str | None, ...] = tuple(naming.COLORS) if outputs.active_color else (None,)
    named = [c for c in colors if outputs.text(f"{c}_service_name" if c else "service_name")]
    target.runtime.settle([outputs.service(c) for c in named])


def stack_outputs(stack: Stack) -> Outputs:
    """The outputs ``stack`` has now (typed by stack), from its state."""
    values = read_outputs(stack.target.clients()("s3"), stack.target.layout, stack.name, stack.workspace) or {}
    return PlatformOutputs(values) if stack.name == "platform" else AppOutputs(values)


def apply_app(
    target: Target,
    names: naming.Names,
    image_tag: str,
    *,
    environment: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    progress: Progress = quiet,
) -> tuple[AppliedResult, AppOutputs]:
    """Plan and apply the app stack of ``names`` with ``image_tag`` (one Terraform process); what was
    planned and applied, and the outputs after it."""
    progress(f"planning {names.workspace} with image {image_tag}")
    result = plan_and_apply(
        target, "app", branch=names.branch, image_tag=image_tag, environment=environment, extra=extra, progress=progress
    )
    return result, AppOutputs(result.outputs)


def apply_stack(
    target: Target,
    stack_name: StackName,
    *,
    branch: str | None = None,
    image_tag: str | None = None,
    planfile: Path | None = None,
    progress: Progress = quiet,
) -> dict[str, Any]:
    """Plan (unless a saved plan is given) and apply one stack; records it; returns its outputs.

    After a platform apply its non-sensitive outputs are published for the app stacks (the app
    stacks never read the platform's state, which holds the database password)."""
    names = target.names(branch) if stack_name == "app" else None
    own_plan = planfile is None
    if own_plan and one_phase(stack_name):
        return _apply_one_phase(target, stack_name, branch=branch, image_tag=image_tag, progress=progress)
    if planfile is not None:
        stack = open_stack(target, stack_name, names)
        if names is not None:
            check_branch(target, names)
        stack.prepare()
        summary_counts = counts(summaries.summarize(stack.runner.show_json(planfile)))
    else:
        result = plan_stack(target, stack_name, branch=branch, image_tag=image_tag)
        stack, planfile, summary_counts = result.stack, result.planfile, counts(result.summary)
    if names is not None:
        claim_branch(target, names)
    progress(f"applying {target.env}/{stack_name} ({stack.workspace})")
    record = Record(
        env=target.env,
        workspace=stack.workspace,
        stack=stack_name,
        action="apply",
        image_after=image_tag,
        plan=summary_counts,
    )
    with target.ledger().recording(record, warn=progress):
        stack.runner.apply(planfile, discard=own_plan)
        if stack_name == "platform":
            progress(f"publishing the platform's outputs to {target.layout.outputs_url('platform')}")
            publish_platform_outputs(target.clients()("s3"), target.layout)
    outputs = stack_outputs(stack)
    if isinstance(outputs, AppOutputs):
        settle(target, outputs)
    return outputs.to_dict()


def _apply_one_phase(
    target: Target, stack_name: StackName, *, branch: str | None, image_tag: str | None, progress: Progress
) -> dict[str, Any]:
    """``apply_stack`` without a saved plan: one Terraform process, recorded with what it planned."""
    workspace = target.names(branch).workspace if stack_name == "app" else naming.DEFAULT_WORKSPACE
    progress(f"applying {target.env}/{stack_name} ({workspace})")
    record = Record(env=target.env, workspace=workspace, stack=stack_name, action="apply", image_after=image_tag)

    def planned(summary: summaries.PlanSummary) -> None:
        record.plan = counts(summary)

    result: AppliedResult | None = None
    with target.ledger().recording(record, warn=progress):
        result = plan_and_apply(
            target, stack_name, branch=branch, image_tag=image_tag, progress=progress, planned=planned
        )
        record.plan = counts(result.summary)
    return result.outputs.to_dict()


def destroy(target: Target, branch: str | None, stack_name: StackName = "app", *, progress: Progress = quiet) -> str:
    """Destroy a branch environment (or a stack) and delete its workspace. Idempotent.

    An app stack's destroy holds the workspace's deploy lock throughout (see ``deploytool.deploylock``):
    while a release run holds it, the destroy is refused (``DeployLockedError``, exit 5) with nothing
    changed."""
    names = target.names(branch) if stack_name == "app" else None
    return _destroy(target, stack_name, names, progress=progress)


def destroy_workspace(target: Target, workspace: str, *, reason: str = "", progress: Progress = quiet) -> str:
    """Destroy the branch environment in app workspace ``workspace`` and delete the workspace. Idempotent.

    For callers that know a branch environment only by its workspace; ``reason`` is kept in the
    ledger record.
    """
    if not target.settings.branch_environments:
        raise DeployError(f"{workspace!r} is not a branch environment workspace of {target.env}")
    names = naming.names_for_workspace(target.env, workspace, target.settings.domain)
    return _destroy(target, "app", names, progress=progress, reason=reason)


def _destroy(
    target: Target, stack_name: StackName, names: naming.Names | None, *, progress: Progress, reason: str = ""
) -> str:
    ledger = target.ledger()
    if names is None:
        return _destroy_stack(target, stack_name, names, progress=progress, reason=reason)
    owner = ledger.branch_of(target.env, names.workspace) if target.settings.branch_environments else None
    if names.branch is not None and owner is not None and owner != names.branch:
        return f"{names.workspace} belongs to branch {owner!r}, not {names.branch!r}; nothing to do"
    # The app workspace's deploy lock, for the whole destroy: a release run of the workspace (from its
    # plan to its verdict, a rollback included) never judges, or re-creates, an environment that is
    # being deleted, and no release starts on one. The lock goes at the end, however the destroy ends,
    # so none outlives the workspace.
    with target.workspace_lock(names.workspace, names.branch or owner, operation="destroy"):
        return _destroy_stack(target, stack_name, names, progress=progress, reason=reason)


def _destroy_stack(
    target: Target, stack_name: StackName, names: naming.Names | None, *, progress: Progress, reason: str = ""
) -> str:
    ledger = target.ledger()
    stack = open_stack(target, stack_name, names)
    if stack.workspace != "default":
        return _destroy_workspace(target, stack, names, progress=progress, reason=reason)
    stack.prepare(create_workspace=False)
    before = deployed_image(target, stack.workspace) if stack_name == "app" else None
    record = Record(env=target.env, workspace=stack.workspace, stack=stack_name, action="destroy", image_before=before)
    if reason:
        record.extra["reason"] = reason
    with ledger.recording(record, warn=progress):
        if stack_name == "platform":
            # First, so no app deploy starts against a platform that is going away.
            delete_platform_outputs(target.clients()("s3"), target.layout)
        if stack_name == "app" and names is not None:
            from deploytool.release.migration import drop_branch_schema  # late: the release package uses this one

            dropped = drop_branch_schema(target, names, progress=progress)
            if dropped is not None:
                record.extra["drop_schema"] = dropped.to_dict()
        if stack.runner.state_resources():
            context = _destroy_context(target, stack_name, names, before)
            var_files = [stack.write_tfvars(render_tfvars(stack.root, context))] if context else []
            progress(f"destroying {target.env}/{stack_name} ({stack.workspace})")
            stack.runner.destroy(var_files=var_files)
        if stack_name == "app" and names is not None:
            for service in _service_names(target, names):
                target.runtime.stop(service)
    return f"{stack.workspace} destroyed and its workspace deleted"


def _destroy_workspace(
    target: Target, stack: Stack, names: naming.Names | None, *, progress: Progress, reason: str = ""
) -> str:
    """Destroy a branch environment's workspace: its state read from S3 (existence, resources, image)
    in one GET, then one ``terraform destroy`` and one ``workspace delete``, the workspace named per
    process (``TF_WORKSPACE``), so no ``workspace list``/``select``/``show``/``state list`` runs.

    The destroy skips the refresh: a branch environment's resources are the tool's alone (its
    task definition, service, target group, listener rule, alarm, autoscaling), changed only by its
    applies, which refresh them, and by ECS autoscaling (the desired count, which a delete does not
    read); deleting them goes by the IDs in state. Should a resource have gone or changed under it
    anyway (someone deleted it by hand) and the delete fail, the destroy runs again with the refresh.
    """
    ledger = target.ledger()
    workspace = stack.workspace
    state = read_state(target.clients()("s3"), target.layout, stack.name, workspace)
    if state is None:
        if stack.name == "app":
            ledger.forget_branch(target.env, workspace)
        return f"{workspace} does not exist (already destroyed); nothing to do"
    stack.prepare(create_workspace=False, select=False)
    before = (
        (AppOutputs(state.outputs).image_tag or ledger.current_image(target.env, workspace))
        if stack.name == "app"
        else None
    )
    record = Record(env=target.env, workspace=workspace, stack=stack.name, action="destroy", image_before=before)
    if reason:
        record.extra["reason"] = reason
    with ledger.recording(record, warn=progress):
        if stack.name == "app" and names is not None and state.resources:
            from deploytool.release.migration import drop_branch_schema  # late: the release package uses this one

            dropped = drop_branch_schema(target, names, progress=progress)
            if dropped is not None:
                record.extra["drop_schema"] = dropped.to_dict()
        if state.resources:
            context = _destroy_context(target, stack.name, names, before)
            var_files = [stack.write_tfvars(render_tfvars(stack.root, context))] if context else []
            progress(f"destroying {target.env}/{stack.name} ({workspace})")
            try:
                stack.runner.destroy(var_files=var_files, workspace=workspace, refresh=False)
            except TerraformError as exc:
                progress(f"destroy without refresh failed ({exc.message}); destroying again with the refresh")
                stack.runner.destroy(var_files=var_files, workspace=workspace)
        stack.runner.delete_workspace(workspace, exists=True)
        ledger.forget_branch(target.env, workspace)
        if stack.name == "app" and names is not None:
            for service in _service_names(target, names):
                target.runtime.stop(service)
    return f"{workspace} destroyed and its workspace deleted"


def _destroy_context(
    target: Target, stack_name: StackName, names: naming.Names | None, image: str | None
) -> dict[str, Any] | None:
    """Template inputs for a destroy (None: destroy with the stack's state alone)."""
    if stack_name == "platform":
        return platform_context(target)
    assert names is not None
    try:
        return app_context(target, names, naming.validate_image_tag(image or "destroy"))
    except DeployError:
        return None


def _service_names(target: Target, names: naming.Names) -> list[str]:
    """The ECS services of an app stack: one, or one per blue-green colour."""
    if target.settings.strategy == "blue-green":
        return [names.colored(color).service for color in naming.COLORS]
    return [names.service]


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
    stack = open_stack(target, stack_name, names)
    stack.prepare(create_workspace=False)
    stack.runner.force_unlock(lock_id)
