"""What must exist before Terraform can run: the state bucket, the image repository, the DB secret.

Idempotent: every step checks first and only creates or tightens what is missing, so it is safe to
re-run at any time (CI runs it before each deploy).
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from deploytool.config import Config
from deploytool.errors import DeployError
from deploytool.stack import Target

_PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_"


@dataclass
class BootstrapResult:
    state_bucket: str
    ecr_repository_uri: str
    db_secret_arn: str
    created: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "state_bucket": self.state_bucket,
            "ecr_repository_uri": self.ecr_repository_uri,
            "db_secret_arn": self.db_secret_arn,
            "created": self.created,
        }


def db_secret_name(target: Target) -> str:
    return f"{target.config.project.name}/{target.env}/db-master-password"


def db_app_secret_name(target: Target) -> str:
    """The password of the service's own database role (its migration creates the role with it)."""
    return f"{target.config.project.name}/{target.env}/db-app-password"


def cache_secret_name(target: Target) -> str:
    return f"{target.config.project.name}/{target.env}/cache-auth-token"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def ensure_state_bucket(s3: Any, bucket: str, region: str, *, require_tls: bool = True) -> bool:
    """Versioned, encrypted, private, TLS-only. True when the bucket was created now.

    ``require_tls=False`` is for the local emulator, which speaks plain HTTP on loopback and enforces
    bucket policies: there a TLS-only policy would lock the tool out of its own state.
    """
    created = False
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise DeployError(f"cannot use state bucket {bucket}: {_code(exc) or exc}") from exc
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)
        created = True
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    if not require_tls:
        s3.delete_bucket_policy(Bucket=bucket)
        return created
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return created


def lifecycle_policy(config: Config) -> dict[str, Any]:
    """The image repository's lifecycle policy, from each environment's image tag prefix and retention.

    The repository is shared by every environment of the account, so each prefix has its own rule:
    a prefix kept for a number N gets "expire all but the newest N images tagged PREFIX*"; a prefix
    kept ``forever`` gets no rule, and neither do tags without a configured prefix nor untagged
    images: an image no rule selects never expires (and there is no ``any`` rule that could reach
    it). A prefix kept forever must not start with a counted one, or that rule would select it.
    """
    forever: set[str] = set()
    counted: dict[str, int] = {}
    for settings in config.environments.values():
        prefix, retention = settings.image_tag_prefix, settings.image_retention
        if not prefix:
            continue
        if retention == "forever":
            forever.add(prefix)
        elif counted.setdefault(prefix, retention) != retention:
            raise DeployError(f"image_tag_prefix {prefix!r} is kept for {counted[prefix]} and {retention} images")
    for prefix in sorted(forever):
        if prefix in counted:
            raise DeployError(f"image_tag_prefix {prefix!r} is kept both forever and for {counted[prefix]} images")
        shadowing = sorted(p for p in counted if prefix.startswith(p))
        if shadowing:
            raise DeployError(
                f"images tagged {prefix}* are kept forever, but the rule for {shadowing[0]}* selects them"
            )
    rules = [
        {
            "rulePriority": priority,
            "description": f"keep the newest {keep} images tagged {prefix}*",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": [prefix],
                "countType": "imageCountMoreThan",
                "countNumber": keep,
            },
            "action": {"type": "expire"},
        }
        for priority, (prefix, keep) in enumerate(sorted(counted.items()), 1)
    ]
    return {"rules": rules}


def ensure_repository(ecr: Any, name: str, lifecycle: dict[str, Any]) -> tuple[str, bool]:
    """Scan on push, immutable tags, the lifecycle policy ``lifecycle`` (none when it has no rules).
    Returns (URI, created)."""
    created = False
    try:
        repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ClientError as exc:
        if _code(exc) != "RepositoryNotFoundException":
            raise DeployError(f"cannot use ECR repository {name}: {_code(exc) or exc}") from exc
        repo = ecr.create_repository(
            repositoryName=name,
            imageScanningConfiguration={"scanOnPush": True},
            imageTagMutability="IMMUTABLE",
            encryptionConfiguration={"encryptionType": "AES256"},
        )["repository"]
        created = True
    ecr.put_image_scanning_configuration(repositoryName=name, imageScanningConfiguration={"scanOnPush": True})
    if lifecycle["rules"]:
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(lifecycle))
    else:
        try:
            ecr.delete_lifecycle_policy(repositoryName=name)
        except ClientError as exc:
            if _code(exc) != "LifecyclePolicyNotFoundException":
                raise DeployError(f"cannot use ECR repository {name}: {_code(exc) or exc}") from exc
    return str(repo["repositoryUri"]), created


def ensure_db_secret(
    sm: Any,
    name: str,
    *,
    password: Callable[[], str] | None = None,
    description: str = "Master password of the Theobroma PostGIS database",
) -> tuple[str, bool]:
    """The DB master password (or the cache's auth token) lives only in Secrets Manager (generated here
    once; never printed)."""
    try:
        return str(sm.describe_secret(SecretId=name)["ARN"]), False
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise DeployError(f"cannot use secret {name}: {_code(exc) or exc}") from exc
    value = (password or generate_password)()
    arn = sm.create_secret(Name=name, Description=description, SecretString=value)["ARN"]
    return str(arn), True


def generate_password(length: int = 32) -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def bootstrap(target: Target) -> BootstrapResult:
    clients = target.clients()
    created = []
    if ensure_state_bucket(clients("s3"), target.state_bucket, target.settings.region, require_tls=not target.local):
        created.append(f"s3://{target.state_bucket}")
    uri, made = ensure_repository(
        clients("ecr"), target.config.project.image_repository, lifecycle_policy(target.config)
    )
    if made:
        created.append(uri)
    secret_arn, made = ensure_db_secret(clients("secretsmanager"), db_secret_name(target))
    if made:
        created.append(secret_arn)
    app_arn, made = ensure_db_secret(
        clients("secretsmanager"),
        db_app_secret_name(target),
        description="Password of the Theobroma service's own database role",
    )
    if made:
        created.append(app_arn)
    if target.settings.platform.cache:
        # 32 characters of letters, digits, - and _: within ElastiCache's 16-128 printable, no / " @.
        cache_arn, made = ensure_db_secret(
            clients("secretsmanager"), cache_secret_name(target), description="Auth token of the Theobroma Redis cache"
        )
        if made:
            created.append(cache_arn)
    return BootstrapResult(target.state_bucket, uri, secret_arn, created)
