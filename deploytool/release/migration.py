"""The database migration of a release: run once, from the release's own task definition, before the
service moves to it.

    later deploys   apply the new task definition alone (-target) -> run the migration as a one-off
                    task of it, in the service's network -> the full apply moves the service
    first deploy    nothing serves yet: the full apply -> the migration -> verification

Why a targeted apply of the stack's own task definition rather than a task definition registered on
the side: the migration then runs with exactly the image, environment and secrets Terraform gives the
service (a release that adds a secret migrates with it), and there is no second description of the
container to drift from the module. The service's resource is not in the target set, so it keeps
its task definition (and ECS keeps running it) until the full apply; if the migration fails, the run
stops there: the old release serves, untouched, and the next deploy's plan replaces the registered
revision again.

Blue-green does the same once, on the idle colour's task definition, before the colour is staged.
A failure (non-zero exit, budget spent, never started) is ``MigrationFailedError`` (exit 1) with the
migration's last log lines; the release strategy records it in the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from deploytool import naming
from deploytool.errors import DeployError
from deploytool.ledger import Record
from deploytool.oneoff import OneOffResult
from deploytool.stack import Stack, Target
from deploytool.stackops import Progress, check_branch, claim_branch, plan_stack, quiet
from deploytool.state import ServiceOutputs, app_outputs

#: Where each strategy's module keeps the service's task definition (the roots call their module "app").
_TASK_DEFINITION = {
    "rolling": "module.app.module.service.aws_ecs_task_definition.this",
    "blue-green": 'module.app.module.service["{color}"].aws_ecs_task_definition.this',
}


class MigrationFailedError(DeployError):
    """The release's migration failed; the running release was not touched."""


def command(target: Target) -> list[str]:
    """The migration command of ``target`` (``[environments.X.release] migrate_command``); [] for none."""
    return list(target.settings.release.migrate_command)


def task_definition_address(target: Target, color: str | None = None) -> str:
    address = _TASK_DEFINITION[target.settings.strategy]
    return address.format(color=color) if color else address


def _state_arn(stack: Stack, address: str) -> str:
    """The ARN of the resource at ``address`` in ``stack``'s state."""
    modules = [stack.runner.show_json().get("values", {}).get("root_module", {})]
    while modules:
        module = modules.pop()
        for resource in module.get("resources", []):
            if resource.get("address") == address:
                return str(resource["values"]["arn"])
        modules.extend(module.get("child_modules", []))
    raise DeployError(f"{address} is not in the state of {stack.workspace} after its apply")


def register(
    target: Target,
    names: naming.Names,
    image_tag: str,
    *,
    environment: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    color: str | None = None,
    progress: Progress = quiet,
) -> str:
    """Apply the release's task definition alone (the service keeps its own); its ARN."""
    address = task_definition_address(target, color)
    progress(f"registering the task definition of {image_tag} for its migration ({address})")
    result = plan_stack(
        target,
        "app",
        branch=names.branch,
        image_tag=image_tag,
        environment=environment,
        extra=extra,
        targets=[address],
    )
    claim_branch(target, names)
    result.stack.runner.apply(result.planfile, discard=True)
    return _state_arn(result.stack, address)


def run(target: Target, service: ServiceOutputs, *, progress: Progress = quiet) -> OneOffResult:
    """Run the migration from ``service.task_definition_arn``; raise ``MigrationFailedError`` unless it exits 0."""
    argv = command(target)
    budget = float(target.settings.release.migrate_timeout_seconds)
    progress(f"migrating: `{' '.join(argv)}` as a one-off task of {service.task_definition_arn.rsplit('/', 1)[-1]}")
    started = time.monotonic()
    result = target.runtime.run_one_off(service, argv, budget)
    took = time.monotonic() - started
    result = replace(result, duration_s=took)
    if not result.ok:
        tail = "\n".join(f"  | {target.redact(line)}" for line in result.log_tail[-10:]) or "  | (no output)"
        raise MigrationFailedError(
            f"the migration failed ({target.redact(result.describe())}) after {took:.1f} s; the running release "
            f"was not touched. Its last log lines:\n{tail}",
            result={"migration": result.to_dict()},
        )
    last = result.log_tail[-1] if result.log_tail else "no output"
    progress(f"migration done in {took:.1f} s: {target.redact(last)}")
    return result


def before_release(
    target: Target,
    names: naming.Names,
    image_tag: str,
    service: ServiceOutputs,
    *,
    environment: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    color: str | None = None,
    progress: Progress = quiet,
) -> OneOffResult | None:
    """Register the release's task definition and migrate from it, in ``service``'s network (None: no
    migration configured)."""
    if not command(target):
        return None
    arn = register(target, names, image_tag, environment=environment, extra=extra, color=color, progress=progress)
    return run(target, replace(service, task_definition_arn=arn), progress=progress)


@contextmanager
def recorded(record: Record) -> Iterator[None]:
    """A failed migration becomes ``record``'s outcome, with its reason and last lines."""
    try:
        yield
    except MigrationFailedError as exc:
        record.outcome = "migration_failed"
        record.message = exc.message.splitlines()[0][:500]
        record.extra["migration"] = (exc.result or {}).get("migration", {})
        raise


def migrate_now(target: Target, branch: str | None, *, progress: Progress = quiet) -> OneOffResult:
    """``deploytool migrate``: run the migration of the release that serves, from its task definition,
    under the workspace's deploy lock; recorded in the ledger (action ``migrate``)."""
    if not command(target):
        raise DeployError(f"environment {target.env!r} has no [environments.{target.env}.release] migrate_command")
    names = target.names(branch)
    check_branch(target, names)
    with target.deploy_lock(branch, operation="migrate"):
        outputs = app_outputs(target, names.workspace)
        if outputs is None or not (outputs.text("service_name") or outputs.active_color):
            raise DeployError(f"{names.workspace} has no deployed release to migrate; deploy one first")
        service = outputs.service(outputs.active_color) if outputs.active_color else outputs.service()
        record = Record(
            env=target.env,
            workspace=names.workspace,
            stack="app",
            action="migrate",
            image_before=outputs.image_tag,
            message="migration requested",
        )
        with target.ledger().recording(record, warn=progress), recorded(record):
            result = run(target, service, progress=progress)
            record.extra["migration"] = result.to_dict()
        return result


def drop_branch_schema(target: Target, names: naming.Names, *, progress: Progress = quiet) -> OneOffResult | None:
    """Before a branch environment is destroyed: its schema, by ``release.drop_schema_command`` as a
    one-off task of its service's task definition (None: nothing to do). A failure is a warning."""
    argv = list(target.settings.release.drop_schema_command)
    if not argv or names.workspace == naming.DEFAULT_WORKSPACE:
        return None
    outputs = app_outputs(target, names.workspace)
    if outputs is None or not outputs.text("service_name"):
        return None
    progress(f"dropping the database schema of {names.workspace}: `{' '.join(argv)}`")
    result = target.runtime.run_one_off(outputs.service(), argv, float(target.settings.release.migrate_timeout_seconds))
    if not result.ok:
        last = result.log_tail[-1] if result.log_tail else "no output"
        progress(
            f"warning: the schema of {names.workspace} was not dropped ({target.redact(result.describe())}): {last}"
        )
    return result
