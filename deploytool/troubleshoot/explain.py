"""What an ECS service event or a stopped task's reason means, in plain words, with the likely fix.

``explain`` runs the rule table: the first rule whose matcher accepts the (lower-cased) message
explains it. The fixes name commands through placeholders (``{logs}``, ``{diagnose}``) that the
caller fills for its environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from deploytool.troubleshoot.iam import EXECUTION_ROLE_POLICY
from deploytool.troubleshoot.locate import CONTAINER_PORT


@dataclass(frozen=True)
class Explanation:
    """What an ECS message means in plain words and what usually fixes it."""

    kind: str
    meaning: str
    fix: str
    problem: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "meaning": self.meaning, "fix": self.fix, "problem": self.problem}


# Placeholders in the fixes, filled with the commands for the environment at hand (see ``explain``).
_LOGS_FIX = "read what the container printed before it stopped: {logs}"
_DIAGNOSE = "{diagnose}"
DEFAULT_COMMANDS = {"logs": "`deploytool logs --since 1h`", "diagnose": "`deploytool diagnose`"}


def _exit_code_note(code: int | None) -> str:
    notes = {
        0: "it exited with code 0: the process ended on its own, but a service must keep running",
        1: "it exited with code 1: the application failed at start (configuration, database, import error)",
        2: "it exited with code 2: the command line of the container is wrong",
        126: "it exited with code 126: the container command is not executable",
        127: "it exited with code 127: the container command was not found in the image",
        137: "it exited with code 137: it was killed (out of memory, or it ignored SIGTERM when stopped)",
        139: "it exited with code 139: it crashed (segmentation fault)",
        143: "it exited with code 143: it was stopped with SIGTERM",
    }
    if code is None:
        return "it exited"
    return notes.get(code, f"it exited with code {code}")


Matcher = Callable[[str], bool]


def _any(*words: str) -> Matcher:
    return lambda text: any(word in text for word in words)


def _all(*matchers: Matcher) -> Matcher:
    return lambda text: all(m(text) for m in matchers)


_DENIED = _any("accessdenied", "access denied", "not authorized", "403", "unauthorized")
_UNREACHABLE = _any("timeout", "timed out", "dial tcp", "deadline exceeded", "no route", "request canceled")
_PULL = _any("cannotpullcontainererror", "pull image manifest", "failed to resolve ref")
_INIT = _any("resourceinitializationerror")
_INIT_ECR = _all(_INIT, _any("ecr registry auth", "api.ecr"))
# Every task-init message says "unable to pull secrets or registry auth"; the cause follows it.
_INIT_SECRETS = _all(_INIT, _any("retrieve secret", "from asm", "secretsmanager", "ssm", "parameter"))


def _elb_health_check(text: str) -> bool:
    return "failed elb health checks" in text or ("unhealthy in" in text and "target-group" in text)


# Ordered: the first rule that matches explains the message. ``container-exited`` gets the exit code.
_RULES: tuple[tuple[Matcher, Explanation], ...] = (
    (
        _all(_PULL, _any("not found", "manifest unknown", "does not exist")),
        Explanation(
            "image-not-found",
            "ECS could not pull the image: the tag is not in the repository.",
            f"push the image (CI builds and pushes it) or deploy a tag that exists; {_DIAGNOSE} checks image.ecr",
        ),
    ),
    (
        _all(_PULL, _DENIED),
        Explanation(
            "image-pull-denied",
            "ECS could not pull the image: the task execution role may not read the repository.",
            f"attach {EXECUTION_ROLE_POLICY} to the execution role (re-apply the platform); "
            f"{_DIAGNOSE} checks iam.execution_role",
        ),
    ),
    (
        _all(_PULL, _UNREACHABLE),
        Explanation(
            "image-pull-network",
            "ECS could not reach the registry: the task's subnets have no route to ECR.",
            "give the private subnets a NAT gateway or VPC endpoints for ECR (api, dkr) and S3",
        ),
    ),
    (
        _PULL,
        Explanation(
            "image-pull",
            "ECS could not pull the container image.",
            f"check the tag exists and the execution role may pull it: {_DIAGNOSE} (image.ecr, iam.execution_role)",
        ),
    ),
    (
        _all(_INIT_ECR, _DENIED),
        Explanation(
            "registry-auth-denied",
            "The task could not start: the execution role may not get ECR credentials.",
            f"re-apply the platform (it attaches {EXECUTION_ROLE_POLICY}); {_DIAGNOSE} checks iam.execution_role",
        ),
    ),
    (
        _INIT_ECR,
        Explanation(
            "registry-unreachable",
            "The task could not start: ECS could not reach ECR from the task's subnets.",
            "give the private subnets a NAT gateway or VPC endpoints for ECR (api, dkr) and S3",
        ),
    ),
    (
        _all(_INIT_SECRETS, _DENIED),
        Explanation(
            "secrets-denied",
            "The task could not start: the execution role may not read one of its secrets.",
            "add the secret's ARN to the platform's task secrets and re-apply the platform; "
            f"{_DIAGNOSE} checks iam.execution_role",
        ),
    ),
    (
        _all(_INIT_SECRETS, _any("resourcenotfound", "not found", "can't find", "parameternotfound")),
        Explanation(
            "secret-missing",
            "The task could not start: a secret it references does not exist.",
            "create the secret (`deploytool bootstrap` creates the database one) or fix its ARN in deploy.toml",
        ),
    ),
    (
        _INIT_SECRETS,
        Explanation(
            "secrets-unreachable",
            "The task could not start: ECS could not fetch its secrets (no network path to Secrets Manager / SSM).",
            "give the private subnets a NAT gateway or a Secrets Manager VPC endpoint; "
            f"{_DIAGNOSE} checks the execution role's permissions",
        ),
    ),
    (
        _all(_INIT, _any("logger", "log group", "log stream")),
        Explanation(
            "log-setup",
            "The task could not start: its awslogs configuration failed (log group missing or no permission).",
            "re-apply the platform (it creates the log group and the execution role's log permissions)",
        ),
    ),
    (
        _INIT,
        Explanation(
            "task-init",
            "The task could not start: ECS failed preparing it (secrets, registry credentials, logs or network).",
            f"{_DIAGNOSE} checks the execution role, the image and the network",
        ),
    ),
    (
        _any("outofmemory", "killed due to memory"),
        Explanation(
            "out-of-memory",
            "The container used more memory than the task has and was killed.",
            "raise `memory` for this environment in deploy.toml (and cpu to a valid pair), then deploy again",
        ),
    ),
    (
        _elb_health_check,
        Explanation(
            "health-check",
            f"The load balancer's health check failed: the app did not answer 200 on /health, port "
            f"{CONTAINER_PORT}, in time (crashing, slow to start, listening elsewhere, or blocked).",
            f"{_DIAGNOSE} checks the target group's path/port and the ALB -> service security group; "
            f"the app must listen on 0.0.0.0:{CONTAINER_PORT}; {_LOGS_FIX}",
        ),
    ),
    (
        _any("failed container health checks"),
        Explanation(
            "container-health-check",
            "The container's own health check command failed.",
            f"check the health check command of the image and /health; {_LOGS_FIX}",
        ),
    ),
    (
        _any("essential container in task exited"),
        Explanation("container-exited", "The application container stopped, so ECS stopped the task.", _LOGS_FIX),
    ),
    (
        _any("circuit breaker", "deployment failed"),
        Explanation(
            "deployment-failed",
            "The deployment failed (its tasks kept stopping) and ECS rolled back to the previous task definition.",
            "read the stopped tasks' reasons (this command) and the logs, fix, then deploy again",
        ),
    ),
    (
        _any("unable to assume the role", "not authorized to perform", "accessdenied"),
        Explanation(
            "permissions",
            "ECS was denied an AWS action (a role is missing, not trusted by ECS, or lacks a permission).",
            f"re-apply the platform (it owns the roles); {_DIAGNOSE} checks iam.execution_role",
        ),
    ),
    (
        _any("unable to place a task", "no container instance met"),
        Explanation(
            "placement",
            "ECS could not place a task (capacity, subnets or account limits).",
            "check the service's subnets have free IP addresses and the account's Fargate quota",
        ),
    ),
    (
        _any("network interface"),
        Explanation(
            "networking",
            "ECS could not attach a network interface to the task.",
            "check the subnets have free IP addresses and the security groups exist",
        ),
    ),
    (
        _any("failed to register targets", "failed to deregister targets"),
        Explanation(
            "target-registration",
            "ECS could not register the task with the target group.",
            "re-apply the app stack so the service and its target group match",
        ),
    ),
    (
        _any("has reached a steady state", "deployment completed"),
        Explanation("steady", "The service runs the desired number of healthy tasks.", "nothing to do", False),
    ),
    (
        _any(
            "scaling activity initiated by", "stopped by user", "has started", "has stopped", "registered", "draining"
        ),
        Explanation(
            "routine", "Routine ECS work (a deployment or scaling starting or stopping tasks).", "nothing to do", False
        ),
    ),
)


def explain(
    message: str, *, exit_code: int | None = None, commands: Mapping[str, str] | None = None
) -> Explanation | None:
    """Plain words and the likely fix for an ECS service event or a stopped task's reason (None: unknown).

    ``commands`` fills the commands the fixes name (``logs``, ``diagnose``) for one environment.
    """
    text = message.lower()
    filled = {**DEFAULT_COMMANDS, **(commands or {})}
    for matches, explanation in _RULES:
        if matches(text):
            meaning = explanation.meaning
            if explanation.kind == "container-exited":
                meaning = f"The application container stopped, so ECS stopped the task: {_exit_code_note(exit_code)}."
            return replace(explanation, meaning=meaning, fix=explanation.fix.format(**filled))
    return None
