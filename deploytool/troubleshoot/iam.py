"""The task execution role: identity-policy evaluation and the check that the role can start the task.

``required_permissions`` lists what starting a container needs (pull its ECR image, write its
awslogs logs, read its secrets); ``allowed`` evaluates the role's policy statements for one action
on one resource (an explicit Deny wins; conditions are not evaluated).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from deploytool.aws import Clients
from deploytool.localrun import secret_id  # an ARN helper, used on AWS as well
from deploytool.troubleshoot.facts import Facts, service_ok
from deploytool.troubleshoot.findings import Finding, failed, not_checked, passed
from deploytool.troubleshoot.image import ECR_IMAGE, split_image
from deploytool.troubleshoot.locate import Where, aws_error, error_code

EXECUTION_ROLE_POLICY = "AmazonECSTaskExecutionRolePolicy"


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _document(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            loaded = json.loads(unquote(value))
        except ValueError:
            return {}
        return loaded if isinstance(loaded, Mapping) else {}
    return {}


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = document.get("Statement", [])
    items = raw if isinstance(raw, list) else [raw]
    return [s for s in items if isinstance(s, Mapping)]


def _matches(patterns: list[str], value: str, *, case: bool) -> bool:
    if case:
        return any(fnmatch.fnmatchcase(value, p) for p in patterns)
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def _statement_applies(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    if "NotAction" in statement:
        action_ok = not _matches(_as_list(statement["NotAction"]), action, case=False)
    else:
        action_ok = _matches(_as_list(statement.get("Action")), action, case=False)
    if "NotResource" in statement:
        resource_ok = not _matches(_as_list(statement["NotResource"]), resource, case=True)
    else:
        resource_ok = _matches(_as_list(statement.get("Resource")), resource, case=True)
    return action_ok and resource_ok


def allowed(statements: Sequence[Mapping[str, Any]], action: str, resource: str) -> bool:
    """Whether identity policy ``statements`` allow ``action`` on ``resource`` (an explicit Deny wins;
    conditions are not evaluated)."""
    applicable = [s for s in statements if _statement_applies(s, action, resource)]
    if any(str(s.get("Effect")) == "Deny" for s in applicable):
        return False
    return any(str(s.get("Effect")) == "Allow" for s in applicable)


def _trusts_ecs_tasks(document: Mapping[str, Any]) -> bool:
    for statement in _statements(document):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        services = _as_list(principal.get("Service")) if isinstance(principal, Mapping) else []
        actions = _as_list(statement.get("Action"))
        if "ecs-tasks.amazonaws.com" in services and any(fnmatch.fnmatchcase("sts:AssumeRole", a) for a in actions):
            return True
    return False


def role_statements(iam: Any, role: str) -> tuple[list[Mapping[str, Any]], list[str]]:
    """All identity policy statements of ``role`` and the names of its attached managed policies."""
    statements: list[Mapping[str, Any]] = []
    attached_names: list[str] = []
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role):
        for policy in page.get("AttachedPolicies", []):
            attached_names.append(str(policy.get("PolicyName")))
            meta = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]
            version = iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=meta["DefaultVersionId"])
            statements += _statements(_document(version["PolicyVersion"]["Document"]))
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role):
        for policy_name in page.get("PolicyNames", []):
            inline = iam.get_role_policy(RoleName=role, PolicyName=policy_name)
            statements += _statements(_document(inline.get("PolicyDocument")))
    return statements, attached_names


def required_permissions(
    container: Mapping[str, Any], *, partition: str, region: str, account: str
) -> list[tuple[str, str, str]]:
    """(purpose, action, resource) the execution role needs to start ``container``: pull its ECR image,
    write its awslogs logs, read its secrets."""
    needs: list[tuple[str, str, str]] = []
    repo, _, _ = split_image(str(container.get("image", "")))
    match = ECR_IMAGE.match(repo)
    if match:
        repo_arn = f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"
        needs += [
            ("pull the image", "ecr:GetAuthorizationToken", "*"),
            ("pull the image", "ecr:BatchGetImage", repo_arn),
            ("pull the image", "ecr:GetDownloadUrlForLayer", repo_arn),
        ]
    log = container.get("logConfiguration") or {}
    if log.get("logDriver") == "awslogs":
        options = log.get("options") or {}
        group = str(options.get("awslogs-group", "*"))
        log_region = str(options.get("awslogs-region", region))
        group_arn = f"arn:{partition}:logs:{log_region}:{account}:log-group:{group}"
        needs += [
            ("write logs", "logs:CreateLogStream", f"{group_arn}:log-stream:*"),
            ("write logs", "logs:PutLogEvents", f"{group_arn}:log-stream:*"),
        ]
    for secret in container.get("secrets", []):
        ref = str(secret.get("valueFrom", ""))
        if ":secretsmanager:" in ref:
            needs.append((f"read secret {secret.get('name')}", "secretsmanager:GetSecretValue", secret_id(ref)))
        elif ":ssm:" in ref or not ref.startswith("arn:"):
            arn = (
                ref if ref.startswith("arn:") else f"arn:{partition}:ssm:{region}:{account}:parameter/{ref.lstrip('/')}"
            )
            needs.append((f"read parameter {secret.get('name')}", "ssm:GetParameters", arn))
    return needs


def check_execution_role(where: Where, facts: Facts, clients: Clients) -> Finding:  # noqa: PLR0911
    """``iam.execution_role``: ECS can assume the role, and it may pull the image, write logs, read secrets."""
    name = "iam.execution_role"
    if not service_ok(facts) or facts.container is None or facts.task_definition is None:
        return not_checked(name, "the service or its task definition is missing", "ecs.service")
    role_arn = str(facts.task_definition.get("executionRoleArn") or "")
    platform = where.platform_command()
    if not role_arn:
        return failed(
            name,
            "the task definition has no execution role: ECS cannot pull from ECR, write logs or read secrets",
            f"re-apply the platform and the app stack: {platform}, {where.command('apply', '--yes')}",
        )
    parts = role_arn.split(":")
    partition, account = (parts[1], parts[4]) if len(parts) > 5 else ("aws", "")
    role = role_arn.rsplit("/", 1)[-1]
    iam = clients("iam")
    try:
        trust = _document(iam.get_role(RoleName=role)["Role"].get("AssumeRolePolicyDocument"))
        statements, attached = role_statements(iam, role)
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return failed(name, f"execution role {role} does not exist", f"re-apply the platform: {platform}")
        return failed(name, f"reading role {role} failed: {aws_error(exc)}", "check the credentials may read IAM")
    except BotoCoreError as exc:
        return failed(name, f"reading role {role} failed: {aws_error(exc)}", "check the network path to IAM")
    problems: list[str] = []
    if not _trusts_ecs_tasks(trust):
        problems.append("it does not trust ecs-tasks.amazonaws.com (ECS cannot assume it)")
    needs = required_permissions(
        facts.container, partition=partition, region=where.target.settings.region, account=account
    )
    missing: dict[str, list[str]] = {}
    for purpose, action, resource in needs:
        if not allowed(statements, action, resource):
            missing.setdefault(purpose, []).append(action)
    for purpose, actions in missing.items():
        problems.append(f"it may not {purpose} ({', '.join(actions)})")
    if problems:
        fix = f"re-apply the platform, which attaches {EXECUTION_ROLE_POLICY} and the secret permissions: {platform}"
        if any(p.startswith("read ") for p in missing):
            fix += "; a secret from deploy.toml must also be listed in the platform's task secrets"
        return failed(name, f"execution role {role}: " + "; ".join(problems), fix)
    how = EXECUTION_ROLE_POLICY if EXECUTION_ROLE_POLICY in attached else "its policies"
    purposes = list(dict.fromkeys(p for p, _, _ in needs if not p.startswith("read ")))
    secrets = sum(1 for p, _, _ in needs if p.startswith("read "))
    if secrets:
        purposes.append(f"read {secrets} secret{'s' if secrets != 1 else ''}")
    return passed(name, f"{role} can {', '.join(purposes) or 'start tasks'} ({how})")
