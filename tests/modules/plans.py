"""Readers of a module fixture root's plan: planned values, outputs, changes, rejected plans."""

from __future__ import annotations

from typing import Any

import tftest

from tests.conftest import TfRoot


def created(plan: tftest.TerraformPlanOutput, address: str) -> dict[str, Any]:
    """The planned ``after`` of the resource at ``address``, which the plan must create."""
    change: dict[str, Any] = plan.resource_changes[address]["change"]
    assert change["actions"] == ["create"], f"{address}: {change['actions']}"
    value: dict[str, Any] = change["after"]
    return value


def output(plan: tftest.TerraformPlanOutput, name: str) -> Any:
    """A root output's planned value (known at plan time)."""
    return plan.planned_values["outputs"][name]["value"]


def module_addresses(plan: tftest.TerraformPlanOutput, module: str, resource_type: str | None = None) -> list[str]:
    """The full addresses of the resources planned in ``module`` (of one type if given), sorted."""
    return sorted(
        address
        for address, change in plan.resource_changes.items()
        if address.startswith(module + ".") and resource_type in (None, change["type"])
    )


def module_call(plan: tftest.TerraformPlanOutput, name: str) -> dict[str, Any]:
    """The configuration of the root's ``module "<name>"`` call (variables, resources, outputs)."""
    found: dict[str, Any] = plan.configuration["root_module"]["module_calls"][name]["module"]
    return found


def changes(plan: tftest.TerraformPlanOutput) -> dict[str, list[str]]:
    """The actions of every resource the plan would change (no-ops left out), by address."""
    return {
        address: change["change"]["actions"]
        for address, change in plan.resource_changes.items()
        if change["change"]["actions"] != ["no-op"]
    }


def plan_error(root: TfRoot, tf_vars: dict[str, Any]) -> str:
    """The message of a plan that must be rejected, on one line."""
    result = root.plan_raw(tf_vars)
    assert result.code != 0, "the plan should have been rejected"
    return " ".join(result.output.split())
