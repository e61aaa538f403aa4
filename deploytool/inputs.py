"""What a stack's tfvars template is rendered with: settings, names, image, and values looked up in AWS.

The platform's template gets the environment's settings and the ARNs of the secrets its tasks may
read; an app's template gets the branch's names, the image, the platform's published outputs (the
attributes its composition declares; never the platform's state) and a free listener-rule
priority. Secrets reach templates only as ARNs, never as values.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from deploytool import bootstrap as boot
from deploytool import naming
from deploytool.config import EnvironmentSettings, ProjectSettings
from deploytool.errors import DeployError
from deploytool.stack import Target
from deploytool.state import PlatformOutputs, platform_outputs

PRIORITY_BASE = 1000
PRIORITY_SPAN = 40000


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
        if exc.response.get("Error", {}).get("Code") != "RepositoryNotFoundException":
            raise  # access denied, expired credentials...: not a missing repository
        raise DeployError(f"ECR repository {name} not found; run `deploytool bootstrap --env {target.env}`") from exc


def require_image(target: Target, ref: str, *, deploy: bool = True) -> None:
    """Refuse ``ref`` (a tag, or a ``sha256:`` digest) unless the image is in the ECR repository.

    For a deploy (``deploy=True``) the image must also carry one of the environment's own tags
    (``image_tag_prefix``): the registry keeps images by those prefixes, so an environment never
    runs an image another environment's retention may expire. A rollback only needs the image.
    """
    ecr = target.clients()("ecr")
    name = target.config.project.image_repository
    image_id = {"imageDigest": ref} if naming.is_image_digest(ref) else {"imageTag": ref}
    try:
        details = ecr.describe_images(repositoryName=name, imageIds=[image_id])["imageDetails"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ImageNotFoundException":
            raise DeployError(
                f"image {ref} is not in the ECR repository {name}: push it first (the build job pushes "
                f"{name}:{ref}) or pick an image that is there (`aws ecr describe-images --repository-name {name}`)"
            ) from exc
        if code == "RepositoryNotFoundException":
            raise DeployError(
                f"ECR repository {name} not found; run `deploytool bootstrap --env {target.env}`"
            ) from exc
        raise DeployError(f"cannot look image {ref} up in the ECR repository {name}: {code or exc}") from exc
    prefix = target.settings.image_tag_prefix
    if not deploy or not prefix:
        return
    tags = sorted({tag for detail in details for tag in detail.get("imageTags", [])})
    if not any(tag.startswith(prefix) for tag in tags):
        raise DeployError(
            f"image {ref} is not an image built for {target.env} (its tags: {', '.join(tags) or 'none'}): "
            f"{target.env} deploys only images tagged {prefix}*, which the registry keeps "
            f"({_retention(target.settings.image_retention)})"
        )


def _retention(retention: str | int) -> str:
    return "never expire" if retention == "forever" else f"the newest {retention}"


def platform_context(target: Target) -> dict[str, Any]:
    """The platform template's inputs."""
    sm = target.clients()("secretsmanager")
    try:
        secret_arn = sm.describe_secret(SecretId=boot.db_secret_name(target))["ARN"]
    except ClientError as exc:
        raise DeployError(
            f"the database secret {boot.db_secret_name(target)} does not exist; "
            f"run `deploytool bootstrap --env {target.env}` first"
        ) from exc
    try:
        app_secret_arn = sm.describe_secret(SecretId=boot.db_app_secret_name(target))["ARN"]
    except ClientError as exc:
        raise DeployError(
            f"the service role's password secret {boot.db_app_secret_name(target)} does not exist; "
            f"run `deploytool bootstrap --env {target.env}` first"
        ) from exc
    cache_secret_arn = None
    if target.settings.platform.cache:
        try:
            cache_secret_arn = sm.describe_secret(SecretId=boot.cache_secret_name(target))["ARN"]
        except ClientError as exc:
            raise DeployError(
                f"the cache's auth token secret {boot.cache_secret_name(target)} does not exist; "
                f"run `deploytool bootstrap --env {target.env}` first"
            ) from exc
    return platform_template_context(
        target.env,
        target.settings,
        target.config.project,
        secret_arn,
        cache_secret_arn=cache_secret_arn,
        db_app_secret_arn=app_secret_arn,
    )


def platform_template_context(
    env: str,
    settings: EnvironmentSettings,
    project: ProjectSettings,
    db_secret_arn: str,
    *,
    cache_secret_arn: str | None = None,
    db_app_secret_arn: str | None = None,
) -> dict[str, Any]:
    """The platform template's inputs from the settings and the secrets' ARNs (no AWS calls).

    ``cache_secret_arn`` is the cache's auth token secret, when the settings ask for a cache;
    ``db_app_secret_arn`` the service role's password (None: the service connects as the master user).
    """
    secret_arns = sorted(v for v in settings.secrets.values() if ":secretsmanager:" in v)
    return {
        "env": env,
        "settings": settings,
        "project": project,
        "db_secret_arn": db_secret_arn,
        "cache_secret_arn": cache_secret_arn,
        "db_app_secret_arn": db_app_secret_arn,
        "task_secret_arns": secret_arns,
    }


def app_context(
    target: Target,
    names: naming.Names,
    image_tag: str,
    *,
    environment: dict[str, str] | None = None,
    platform: PlatformOutputs | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An app template's inputs for ``image_tag`` (``extra`` adds strategy inputs, e.g. the colours).

    The repository look-up runs beside the platform's outputs and the listener-priority look-up
    (which needs them): independent AWS round trips."""
    with ThreadPoolExecutor(max_workers=1) as pool:  # on an error here, the look-up is waited for and dropped
        repository = pool.submit(image_repository_uri, target)
        platform = platform if platform is not None else platform_outputs(target)  # a clear error when not deployed
        priority = None
        if target.settings.branch_environments:
            priority = listener_priority(target, platform.listener_arn, names.host, names.workspace)
        image_repository = repository.result()
    return app_template_context(
        target.env,
        target.settings,
        target.config.project,
        names,
        image_tag,
        image_repository=image_repository,
        platform=platform.for_app(),
        listener_priority=priority,
        environment=environment,
        extra=extra,
    )


def app_template_context(
    env: str,
    settings: EnvironmentSettings,
    project: ProjectSettings,
    names: naming.Names,
    image_tag: str,
    *,
    image_repository: str,
    platform: dict[str, Any],
    listener_priority: int | None,
    environment: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An app template's inputs from the settings and the values looked up in AWS (no AWS calls)."""
    # The service's schema (the migration creates it): one per branch environment.
    container_env = {"DB_SCHEMA": naming.db_schema(names), **settings.environment, **(environment or {})}
    if settings.strategy != "blue-green":
        container_env["APP_VERSION"] = image_tag  # blue-green roots set it per colour
    return {
        **(extra or {}),
        "env": env,
        "settings": settings,
        "project": project,
        "names": names,
        "image_tag": image_tag,
        "image_repository": image_repository,
        "platform": platform,
        "listener_priority": listener_priority,
        "container_environment": container_env,
    }
