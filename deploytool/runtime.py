"""Where a release runs: ECS on AWS, or the local stand-in when the target is the emulator.

The choice is made once, from the target (``runtime_for``); the release strategies, verification,
destroy and troubleshooting talk to the ``Runtime`` interface and never ask which one it is.

Where a release is checked, in this order: an explicit URL (``--health-url``), the environment's
``health.base_url``, then the runtime's own answer: on AWS the stack's ``url`` output (or the
public URL of its host), with the test-route header when the idle colour is meant; locally the
local load balancer (``deploytool.locallb``) with the environment's Host header (and the test
route's header), so local checks are routed by the listener's rules as on AWS.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from deploytool import oneoff
from deploytool.localrun import LocalRuntime, LocalTask
from deploytool.naming import Names
from deploytool.oneoff import OneOffResult
from deploytool.state import AppOutputs, ServiceOutputs

if TYPE_CHECKING:
    from deploytool.stack import Target


class Runtime(Protocol):
    """What the tool needs from the place a release runs."""

    name: str

    def roll_out(self, service: ServiceOutputs) -> None:
        """Run the applied task definition of ``service`` (ECS does it by itself on AWS)."""

    def settle(self, services: Sequence[ServiceOutputs]) -> None:
        """After every apply of an app stack (verified or not): what ECS does at once with a service's
        new desired count. A service scaled to 0 has its tasks deregistered, drained and stopped (ECS
        does it by itself on AWS)."""

    def url(self, names: Names, app: AppOutputs, service_name: str, *, test_route: bool) -> tuple[str, dict[str, str]]:
        """Base URL that reaches ``service_name``, and the headers that route there."""
        ...

    def task_failure(self, service_name: str) -> str | None:
        """A reason known without waiting why the service's task is not running (None: nothing known)."""
        ...

    def observers(self) -> tuple[Any, Any, bool]:
        """What verification reads the rollout and the target health from: an ECS client (its
        ``describe_services``), an ELBv2 client (its ``describe_target_health``), and whether they
        observe running tasks (False: those checks are ``unavailable``)."""
        ...

    def task(self, service_name: str) -> LocalTask | None:
        """The running task of ``service_name``, where the runtime tracks one itself."""
        ...

    def log_path(self, service_name: str) -> Path | None:
        """A local file holding the task's output, where there is one."""
        ...

    def stop(self, service_name: str) -> bool:
        """Stop what runs for ``service_name`` outside Terraform's reach (True if something stopped)."""
        ...

    def stop_all(self) -> int:
        """Stop everything this runtime started; returns how many."""
        ...

    def run_one_off(self, service: ServiceOutputs, command: Sequence[str], budget_s: float) -> OneOffResult:
        """Run ``command`` once from ``service.task_definition_arn`` where ``service`` runs (its network,
        its environment and secrets), and wait up to ``budget_s`` for it to end."""
        ...


def public_url(target: Target, names: Names) -> str:
    """The URL users reach: HTTPS when the environment's ALB has a certificate (given or created), else HTTP."""
    platform = target.settings.platform
    scheme = "https" if platform.certificate_arn or platform.create_certificate else "http"
    return f"{scheme}://{names.host}"


class AwsRuntime:
    """ECS Fargate behind the environment's ALB: ECS rolls tasks out, the ALB routes."""

    name = "ECS Fargate"

    def __init__(self, target: Target) -> None:
        self.target = target

    def roll_out(self, service: ServiceOutputs) -> None:
        return None

    def settle(self, services: Sequence[ServiceOutputs]) -> None:
        return None

    def url(self, names: Names, app: AppOutputs, service_name: str, *, test_route: bool) -> tuple[str, dict[str, str]]:
        headers = app.test_route_header if test_route else {}
        return app.url or public_url(self.target, names), headers

    def task_failure(self, service_name: str) -> str | None:
        return None

    def observers(self) -> tuple[Any, Any, bool]:
        clients = self.target.clients()
        return clients("ecs"), clients("elbv2"), True

    def task(self, service_name: str) -> LocalTask | None:
        return None  # ECS tracks its tasks: see `deploytool events`

    def log_path(self, service_name: str) -> Path | None:
        return None

    def stop(self, service_name: str) -> bool:
        return False

    def stop_all(self) -> int:
        return 0

    def run_one_off(self, service: ServiceOutputs, command: Sequence[str], budget_s: float) -> OneOffResult:
        return oneoff.run_on_ecs(
            self.target.clients(),
            cluster=service.cluster_name,
            service=service.service_name,
            task_definition=service.task_definition_arn,
            command=command,
            budget_s=budget_s,
        )


def runtime_for(target: Target) -> Runtime:
    """The runtime of ``target``: the local stand-in on the emulator, ECS otherwise."""
    if target.local:
        return LocalRuntime(target)
    return AwsRuntime(target)


def check_url(
    target: Target,
    names: Names,
    app: AppOutputs,
    service_name: str,
    *,
    override: str | None = None,
    test_route: bool = False,
) -> tuple[str, dict[str, str]]:
    """Where to check ``service_name`` (see the module docstring for the order)."""
    if override:
        return override.rstrip("/"), {}
    if target.settings.health.base_url:
        headers = app.test_route_header if test_route else {}
        return target.settings.health.base_url, headers
    return target.runtime.url(names, app, service_name, test_route=test_route)
