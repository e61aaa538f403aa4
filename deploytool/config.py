"""Load and validate ``deploy.toml``: project settings and one section per environment.

The file is found, in order: the path passed to ``load_config``, the ``DEPLOYTOOL_CONFIG``
environment variable, or the first ``deploy.toml`` in the current directory or a parent.

Layout::

    [project]                       # ProjectSettings
    [environments.<name>]           # EnvironmentSettings, one table per environment
    extends = "staging"             #   optional: start from another environment's table
    [environments.<name>.autoscaling]
    [environments.<name>.platform]
    [environments.<name>.health]
    [environments.<name>.health.paths]
    [[environments.<name>.smoke]]   # one table per smoke request
    [environments.<name>.environment]
    [environments.<name>.secrets]

``extends`` merges the named environment's table under this one: tables merge key by key,
any other value (lists included) is replaced. Unknown keys are errors. Every mistake is reported
as one line naming the file, the key and the problem, e.g.
``deploy.toml: environments.staging.health.timeout_seconds: must be > 0``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from deploytool import naming
from deploytool.config_base import SettingsModel, format_validation_error
from deploytool.config_checks import HealthConfig, SmokeCheck
from deploytool.durations import parse_duration
from deploytool.errors import DeployError

CONFIG_FILE = "deploy.toml"
CONFIG_ENV_VAR = "DEPLOYTOOL_CONFIG"

_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+")
_ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# An ECR repository name (CreateRepository's pattern): lowercase components, optionally namespaced by "/".
_ECR_REPOSITORY = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
_S3_PREFIX = re.compile(r"[A-Za-z0-9!_.*'()-]+(?:/[A-Za-z0-9!_.*'()-]+)*")
_VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")
_SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8,17}")
_ZONE_ID = re.compile(r"Z[A-Z0-9]{1,31}")
_TAG_PREFIX = re.compile(r"[a-z0-9][a-z0-9._-]{0,30}-")
_OIDC_PROVIDER_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com")
_CERT_ARN = re.compile(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+")
_DB_CLASS = re.compile(r"db\.[a-z0-9]+\.[a-z0-9]+")
_CACHE_NODE_TYPE = re.compile(r"cache\.[a-z0-9]+\.[a-z0-9]+")
_SECRET_REF = re.compile(r"arn:aws[a-z-]*:(?:secretsmanager|ssm):[a-z0-9-]+:\d{12}:\S+|/?[A-Za-z0-9_.\-/]+")
_SECRET_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL", "PRIVATE")
_URL_WITH_PASSWORD = re.compile(r"://[^/@\s:]*:[^/@\s]+@")

# Fargate task sizes: cpu units -> allowed memory (MiB).
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}


def looks_secret(name: str, value: str = "") -> bool:
    """True if an environment variable name (or a URL value with a password) looks like a secret.

    Name parts (split on ``_``) containing PASSWORD, PASSWD, SECRET, TOKEN, CREDENTIAL or PRIVATE,
    or equal to / ending in KEY (``API_KEY``, ``APIKEY``), count as secret; so does a value like
    ``postgres://user:password@host``.
    """
    for part in name.upper().split("_"):
        if any(word in part for word in _SECRET_WORDS) or part == "KEY" or part.endswith("APIKEY"):
            return True
    return bool(_URL_WITH_PASSWORD.search(value))


def check_plain_environment(values: Mapping[str, str]) -> None:
    """Plain container environment variables: valid names, and nothing that looks like a secret.

    Plain values travel in tfvars, the task definition, plans and the deploy history, and
    Terraform does not mark them sensitive, so no redaction could hide them: a secret goes in
    ``[secrets]`` (a Secrets Manager or SSM reference) instead. Raises ``ValueError`` naming the
    variable, never its value.
    """
    for key, item in values.items():
        if not _ENV_VAR_NAME.fullmatch(key):
            raise ValueError(f"{key!r} is not a valid environment variable name")
        if looks_secret(key, item):
            raise ValueError(f"{key} looks like a secret: move it to [secrets] (a Secrets Manager or SSM reference)")


class ProjectSettings(SettingsModel):
    """``[project]``: settings shared by every environment.

    Keys:
        name: project name, prefix of shared resource names (``theobroma``).
        service: the deployed service's name (``geo-api``).
        image_repository: the ECR repository of the service's images, by name (``theobroma-geo-api``),
            in each environment's account and region. Only ECR: ``deploy`` looks the repository and the
            tag up in ECR, and the task execution role pulls from it with IAM; a registry path
            (``ghcr.io/org/geo-api``, a full ECR URI) is an error.
        state_bucket: S3 bucket holding Terraform state and the deploy history; users override it.
        ledger_prefix: key prefix of the deploy history in the state bucket (``deploy-history``).
        github_repository: ``OWNER/NAME`` allowed to assume the deploy role through GitHub OIDC;
            when set, the production platform creates the OIDC provider and the scoped deploy role.
    """

    name: str = "theobroma"
    service: str = "geo-api"
    image_repository: str = "theobroma-geo-api"
    state_bucket: str = "theobroma-terraform-state"
    ledger_prefix: str = "deploy-history"
    github_repository: str | None = None

    @field_validator("github_repository")
    @classmethod
    def _github_repository(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}", value):
            raise ValueError("must be OWNER/NAME of a GitHub repository")
        return value

    @field_validator("name", "service")
    @classmethod
    def _name(cls, value: str) -> str:
        try:
            return naming.validate_project(value)
        except DeployError:
            raise ValueError("must be 1-16 lowercase letters, digits and single '-', starting with a letter") from None

    @field_validator("image_repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        first, slash, _ = value.partition("/")
        # Docker reads a first component with a '.' or ':' (or "localhost") as a registry host.
        registry = slash and ("." in first or ":" in first or first == "localhost")
        if registry or not 2 <= len(value) <= 256 or not _ECR_REPOSITORY.fullmatch(value):
            raise ValueError(
                "must be the name of an ECR repository such as theobroma-geo-api (lowercase, no tag), "
                f"not a registry path: deploytool deploys only from ECR, got {value!r}"
            )
        return value

    @field_validator("state_bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not _S3_BUCKET.fullmatch(value) or ".." in value:
            raise ValueError("must be an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-'")
        return value

    @field_validator("ledger_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip("/")
        if not _S3_PREFIX.fullmatch(value):
            raise ValueError("must be an S3 key prefix such as deploy-history")
        return value


class Autoscaling(SettingsModel):
    """``[environments.<name>.autoscaling]``: ECS service autoscaling on average CPU.

    Keys: ``min`` and ``max`` task counts (0 <= min <= max, max >= 1), ``cpu_target`` percent (1-100).
    """

    min: int = Field(default=1, ge=0)
    max: int = Field(default=2, ge=1)
    cpu_target: float = Field(default=70.0, gt=0, le=100)

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must be <= max ({self.max})")
        return self


class ReleaseSettings(SettingsModel):
    """``[environments.<name>.release]``: what runs once per release, before the service moves.

    Keys:
        migrate_command: the command of the database migration, run as a one-off task of the
            release's task definition (``["python", "-m", "geoapi.migrate"]``); empty: no migration.
        migrate_timeout_seconds: its budget, from the request to the task's end; over it, the task
            is stopped and the release fails.
        drop_schema_command: run the same way when a branch environment is destroyed, before its
            stack goes (``["python", "-m", "geoapi.migrate", "--drop-schema"]``: its schema, nothing
            else); empty: the schema stays. A failure is a warning: the destroy goes on.
    """

    migrate_command: list[str] = Field(default_factory=list)
    migrate_timeout_seconds: int = Field(default=600, ge=10, le=3600)
    drop_schema_command: list[str] = Field(default_factory=list)


class PlatformSettings(SettingsModel):
    """``[environments.<name>.platform]``: the shared platform stack (network, ALB, database).

    Keys:
        create_vpc: create a VPC (true) or use an existing one (false, then ``existing_*`` are required).
        vpc_cidr: CIDR of the created VPC, /16 to /24.
        nat: NAT gateways for private subnets: ``none``, ``single`` or ``one_per_az``.
        existing_vpc_id, existing_public_subnet_ids, existing_private_subnet_ids: an existing
            network (at least two subnets of each kind, in different availability zones).
        db_instance_class: RDS instance class (``db.t3.micro``).
        db_multi_az: run the database Multi-AZ.
        deletion_protection: protect the ALB and database from deletion (on by default).
        certificate_arn: an existing ACM certificate for the HTTPS listener, covering the
            environment's hosts (``domain`` and ``*.<domain>``).
        create_certificate: have the platform request an ACM certificate for ``domain`` and
            ``*.<domain>`` (the branch hosts ``<env>-<slug>.<domain>``) and validate it with DNS
            records in ``hosted_zone_id`` (needs ``hosted_zone_id``; not with ``certificate_arn``).
            With a certificate (either way) the load balancer serves HTTPS and redirects HTTP to it;
            without one it serves plain HTTP, which only suits the emulator.
        create_dns_records: create Route 53 alias records for the service hosts in
            ``hosted_zone_id``, and let the GitHub deploy role change records there (needs
            ``hosted_zone_id``).
        hosted_zone_id: the Route 53 hosted zone of the environment's domain.
        cache: run a Redis cache (ElastiCache, TLS, encrypted at rest, in the private subnets, admitting
            only the app tasks) for frequently read data; off by default. The app's containers then get
            ``REDIS_URL`` (``rediss://host:port``) and the auth token as the secret ``REDIS_AUTH_TOKEN``;
            ``deploytool bootstrap`` generates the token into Secrets Manager (never in tfvars).
        cache_node_type: ElastiCache node type of the cache (``cache.t3.micro``).
        github_oidc_provider_arn: trust this existing GitHub Actions OIDC provider instead of
            creating one (with ``github_repository`` set). An AWS account holds one provider per URL,
            so when staging and production share an account, set it in the second one to the
            first's ``arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com``.
    """

    create_vpc: bool = True
    vpc_cidr: str = "10.0.0.0/16"
    nat: Literal["none", "single", "one_per_az"] = "single"
    existing_vpc_id: str | None = None
    existing_public_subnet_ids: list[str] = Field(default_factory=list)
    existing_private_subnet_ids: list[str] = Field(default_factory=list)
    db_instance_class: str = "db.t3.micro"
    db_multi_az: bool = False
    deletion_protection: bool = True
    certificate_arn: str | None = None
    create_certificate: bool = False
    create_dns_records: bool = False
    hosted_zone_id: str | None = None
    github_oidc_provider_arn: str | None = None
    cache: bool = False
    cache_node_type: str = "cache.t3.micro"

    @field_validator("cache_node_type")
    @classmethod
    def _cache_node_type(cls, value: str) -> str:
        if not _CACHE_NODE_TYPE.fullmatch(value):
            raise ValueError(f"must be an ElastiCache node type such as cache.t3.micro, got {value!r}")
        return value

    @field_validator("github_oidc_provider_arn")
    @classmethod
    def _oidc_provider(cls, value: str | None) -> str | None:
        if value is not None and not _OIDC_PROVIDER_ARN.fullmatch(value):
            raise ValueError(
                "must be the ARN of the account's GitHub Actions OIDC provider, "
                "arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com"
            )
        return value

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError:
            raise ValueError(f"must be an IPv4 network such as 10.0.0.0/16, got {value!r}") from None
        if not 16 <= network.prefixlen <= 24:
            raise ValueError("must be a network from /16 to /24")
        return value

    @field_validator("existing_vpc_id")
    @classmethod
    def _vpc_id(cls, value: str | None) -> str | None:
        if value is not None and not _VPC_ID.fullmatch(value):
            raise ValueError(f"must be a VPC id such as vpc-0a1b2c3d, got {value!r}")
        return value

    @field_validator("existing_public_subnet_ids", "existing_private_subnet_ids")
    @classmethod
    def _subnet_ids(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _SUBNET_ID.fullmatch(item):
                raise ValueError(f"must be subnet ids such as subnet-0a1b2c3d, got {item!r}")
        if len(set(value)) != len(value):
            raise ValueError("lists a subnet twice")
        return value

    @field_validator("db_instance_class")
    @classmethod
    def _db_class(cls, value: str) -> str:
        if not _DB_CLASS.fullmatch(value):
            raise ValueError(f"must be an RDS instance class such as db.t3.micro, got {value!r}")
        return value

    @field_validator("certificate_arn")
    @classmethod
    def _cert(cls, value: str | None) -> str | None:
        if value is not None and not _CERT_ARN.fullmatch(value):
            raise ValueError("must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)")
        return value

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and not _ZONE_ID.fullmatch(value):
            raise ValueError(f"must be a Route 53 hosted zone id such as Z0123456789ABC, got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PlatformSettings:
        existing = self.existing_vpc_id or self.existing_public_subnet_ids or self.existing_private_subnet_ids
        if self.create_vpc and existing:
            raise ValueError("existing_* network settings need create_vpc = false")
        if not self.create_vpc:
            if self.existing_vpc_id is None:
                raise ValueError("existing_vpc_id is required when create_vpc = false")
            for key in ("existing_public_subnet_ids", "existing_private_subnet_ids"):
                if len(getattr(self, key)) < 2:
                    raise ValueError(f"{key} needs at least 2 subnets when create_vpc = false")
        if self.create_dns_records and self.hosted_zone_id is None:
            raise ValueError("hosted_zone_id is required when create_dns_records = true")
        if self.create_certificate and self.hosted_zone_id is None:
            raise ValueError("hosted_zone_id is required when create_certificate = true")
        if self.create_certificate and self.certificate_arn is not None:
            raise ValueError("set certificate_arn or create_certificate = true, not both")
        return self


class EnvironmentSettings(SettingsModel):
    """``[environments.<name>]``: one environment.

    Keys:
        extends: name of another environment whose table this one starts from (optional).
        region: AWS region (``us-east-1``).
        domain: DNS domain of the environment; branch hosts are ``<env>-<slug>.<domain>``.
        cluster: ECS cluster name; default ``<project.name>-<env>``.
        strategy: ``rolling`` (ECS rolling update with circuit breaker) or ``blue-green``.
        branch_environments: one app workspace per Git branch (needs ``rolling``).
        ttl: how long an idle branch environment lives (``7d``, ``12h``, ``1d12h``); needs
            ``branch_environments``. Parsed to a ``timedelta``.
        emulator: target the local AWS emulator instead of AWS.
        cpu, memory: Fargate task size (CPU units, MiB; a valid Fargate combination).
        desired_count: running tasks (within ``autoscaling`` min..max when that is set).
        autoscaling: see ``Autoscaling`` (omit for a fixed count).
        platform: see ``PlatformSettings``.
        health: see ``HealthConfig``.
        smoke: list of ``SmokeCheck``.
        bake_minutes: blue-green only: minutes the previous colour stays up after a switch.
        environment: plain environment variables of the container (values are strings; numbers
            and booleans are converted). Names that look secret are rejected: use ``secrets``.
        secrets: container environment variables read from Secrets Manager or SSM Parameter
            Store: variable name -> secret ARN, parameter ARN or parameter name.
        image_tag_prefix: the prefix of the image tags built for this environment (``prod-``,
            ``staging-``; the workflows push ``<prefix><commit SHA>``); ``deploy`` refuses another
            tag. Empty: any tag. The registry's lifecycle rules go by these prefixes.
        image_retention: how long the registry keeps the images of ``image_tag_prefix``:
            ``"forever"`` (never expire) or a number N (keep the newest N, expire older ones).
            Tags without a configured prefix never expire.
        release: see ``ReleaseSettings`` (the migration run before each release).
    """

    region: str
    domain: str
    cluster: str
    strategy: Literal["rolling", "blue-green"] = "rolling"
    branch_environments: bool = False
    ttl: timedelta | None = None
    emulator: bool = False
    cpu: int = 256
    memory: int = 512
    desired_count: int = Field(default=1, ge=0)
    autoscaling: Autoscaling | None = None
    platform: PlatformSettings = Field(default_factory=PlatformSettings)
    health: HealthConfig = Field(default_factory=HealthConfig)
    smoke: list[SmokeCheck] = Field(default_factory=list)
    bake_minutes: int = Field(default=0, ge=0, le=24 * 60)
    environment: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)
    image_tag_prefix: str = ""
    image_retention: Literal["forever"] | int = "forever"
    release: ReleaseSettings = Field(default_factory=ReleaseSettings)

    _name: str = PrivateAttr(default="")

    @property
    def name(self) -> str:
        """The environment's name (its key under ``[environments]``)."""
        return self._name

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.fullmatch(value):
            raise ValueError(f"must be an AWS region such as us-east-1, got {value!r}")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        try:
            return naming.validate_domain(value)
        except DeployError:
            raise ValueError(f"must be a DNS name such as staging.example.com, got {value!r}") from None

    @field_validator("cluster")
    @classmethod
    def _cluster(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", value):
            raise ValueError("must be 1-255 letters, digits, '-' and '_'")
        return value

    @field_validator("ttl", mode="before")
    @classmethod
    def _ttl(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_duration(value)
        if value is not None and not isinstance(value, timedelta):
            raise ValueError("must be a duration string such as 7d")
        return value

    @field_validator("image_tag_prefix")
    @classmethod
    def _tag_prefix(cls, value: str) -> str:
        if value and not _TAG_PREFIX.fullmatch(value):
            raise ValueError(
                f"must be empty or a tag prefix such as prod- (lowercase letters, digits, '.', '_', '-', "
                f"ending in '-', at most 32 characters), got {value!r}"
            )
        return value

    @field_validator("image_retention")
    @classmethod
    def _retention(cls, value: str | int) -> str | int:
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise ValueError('must be "forever" or a number of images >= 1')
        return value

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: int) -> int:
        if value not in FARGATE_SIZES:
            raise ValueError(f"must be a Fargate CPU size: {', '.join(map(str, FARGATE_SIZES))}")
        return value

    @field_validator("environment", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: json.dumps(v) if isinstance(v, bool | int | float) else v for k, v in value.items()}
        return value

    @field_validator("environment")
    @classmethod
    def _plain_environment(cls, value: dict[str, str]) -> dict[str, str]:
        check_plain_environment(value)
        return value

    @field_validator("secrets")
    @classmethod
    def _secret_refs(cls, value: dict[str, str]) -> dict[str, str]:
        for key, ref in value.items():
            if not _ENV_VAR_NAME.fullmatch(key):
                raise ValueError(f"{key!r} is not a valid environment variable name")
            if not _SECRET_REF.fullmatch(ref):
                raise ValueError(
                    f"{key}: must be a Secrets Manager/SSM ARN or an SSM parameter name, not the secret itself"
                )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EnvironmentSettings:
        if self.memory not in FARGATE_SIZES.get(self.cpu, ()):
            allowed = FARGATE_SIZES[self.cpu]
            raise ValueError(
                f"memory = {self.memory} does not fit cpu = {self.cpu}: use {allowed[0]}..{allowed[-1]} "
                f"(one of {', '.join(map(str, allowed))})"
            )
        if self.autoscaling is not None and not self.autoscaling.min <= self.desired_count <= self.autoscaling.max:
            raise ValueError(
                f"desired_count = {self.desired_count} must be within autoscaling min..max "
                f"({self.autoscaling.min}..{self.autoscaling.max})"
            )
        if self.ttl is not None and not self.branch_environments:
            raise ValueError("ttl needs branch_environments = true")
        if self.branch_environments and self.strategy != "rolling":
            raise ValueError("branch_environments = true needs strategy = 'rolling'")
        if self.bake_minutes and self.strategy != "blue-green":
            raise ValueError("bake_minutes needs strategy = 'blue-green'")
        both = sorted(set(self.environment) & set(self.secrets))
        if both:
            raise ValueError(f"{', '.join(both)} set in both environment and secrets")
        return self


TOOL_ONLY_KEYS: dict[str, str] = {
    "ttl": "the janitor's idle limit; deploytool destroys branch environments, Terraform never reads it",
    "emulator": "where deploytool points the provider (a generated override), not a resource attribute",
    "bake_minutes": "how long deploytool waits before `finalize` scales the old colour down",
    "health.base_url": "where verification sends its requests",
    "health.paths.detailed": "verification's detailed health request; the target group checks paths.basic",
    "health.paths.metrics": "verification's metrics request",
    "health.request_timeout_seconds": "verification's per-request timeout",
    "health.timeout_seconds": "verification's overall budget",
    "health.interval_seconds": "verification's first backoff",
    "health.max_interval_seconds": "verification's longest backoff",
    "health.consecutive_passes": "verification's passes in a row",
    "health.require_version": "verification compares the reported version with the tag",
    "health.required_components": "verification's required components of /health/detailed",
    "smoke": "verification's smoke requests",
    "image_tag_prefix": "deploy refuses tags without it; the registry's lifecycle rules (bootstrap) go by it",
    "image_retention": "the registry's lifecycle rule for image_tag_prefix, set by bootstrap",
    "release.migrate_command": "deploytool runs it as a one-off task of the release's task definition",
    "release.migrate_timeout_seconds": "deploytool's budget for that one-off task",
    "release.drop_schema_command": "deploytool runs it as a one-off task before destroying a branch environment",
}
"""Settings keys (dotted, under ``[environments.<name>]``) that configure deploytool itself and never
reach Terraform, each with the reason. Every other key is rendered into a root's tfvars (a test renders
every environment and checks both)."""


class Config(SettingsModel):
    """The whole ``deploy.toml``: ``[project]`` and ``[environments.<name>]`` tables."""

    project: ProjectSettings = Field(default_factory=ProjectSettings)
    environments: dict[str, EnvironmentSettings] = Field(min_length=1)

    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, data: Any) -> Any:
        """Resolve ``extends`` and default each environment's ``cluster``."""
        if not isinstance(data, Mapping) or not isinstance(data.get("environments"), Mapping):
            return data
        raw_envs: Mapping[str, Any] = data["environments"]
        project = data.get("project")
        project_name = project.get("name", "theobroma") if isinstance(project, Mapping) else "theobroma"
        resolved: dict[str, Any] = {}
        for name in raw_envs:
            table = _resolve_extends(raw_envs, name, ())
            if isinstance(table, dict):
                table.setdefault("cluster", f"{project_name}-{name}")
            resolved[name] = table
        return {**data, "environments": resolved}

    @field_validator("environments")
    @classmethod
    def _names(cls, value: dict[str, EnvironmentSettings]) -> dict[str, EnvironmentSettings]:
        for name in value:
            try:
                naming.validate_env(name)
            except DeployError:
                raise ValueError(
                    f"{name!r} is not a valid environment name: use 1-16 lowercase letters, digits "
                    "and single '-', starting with a letter"
                ) from None
        return value

    @model_validator(mode="after")
    def _name_environments(self) -> Config:
        for name, settings in self.environments.items():
            settings._name = name
        return self

    @property
    def source(self) -> Path | None:
        """The file this configuration was loaded from (``None`` if built in memory)."""
        return self._source

    @property
    def root(self) -> Path:
        """The directory of the configuration file (the repository root); cwd if built in memory."""
        return self._source.parent if self._source is not None else Path.cwd()

    @property
    def environment_names(self) -> list[str]:
        return list(self.environments)

    def environment(self, name: str) -> EnvironmentSettings:
        """The settings of environment ``name``; ``DeployError`` naming the known ones if unknown."""
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(self.environments)
            raise DeployError(f"unknown environment {name!r}: {self._label()} defines {known}") from None

    def _label(self) -> str:
        return _display(self._source) if self._source is not None else CONFIG_FILE


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolve_extends(envs: Mapping[str, Any], name: str, seen: tuple[str, ...]) -> Any:
    table = envs[name]
    if not isinstance(table, Mapping):
        return table
    parent = table.get("extends")
    own = {k: v for k, v in table.items() if k != "extends"}
    if parent is None:
        return own
    where = f"environments.{name}.extends"
    if not isinstance(parent, str):
        raise ValueError(f"{where}: must be the name of another environment")
    if parent == name or parent in seen:
        raise ValueError(f"{where}: circular extends ({' -> '.join((*seen, name, parent))})")
    if parent not in envs:
        raise ValueError(f"{where}: unknown environment {parent!r} (known: {', '.join(envs)})")
    base = _resolve_extends(envs, parent, (*seen, name))
    if not isinstance(base, Mapping):
        raise ValueError(f"{where}: environments.{parent} is not a table")
    return _merge(base, own)


# --- loading and error messages -----------------------------------------------------------------


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def find_config(start: Path | None = None) -> Path:
    """The first ``deploy.toml`` in ``start`` (default: cwd) or its parents; ``DeployError`` if none."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_FILE
        if candidate.is_file():
            return candidate
    raise DeployError(
        f"no {CONFIG_FILE} found in {here} or any parent directory: run from the repository or set {CONFIG_ENV_VAR}"
    )


def parse_config(text: str, *, label: str = CONFIG_FILE) -> Config:
    """Parse and validate ``deploy.toml`` content; ``label`` names the file in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if match:
            detail = message[: match.start()].strip()
            raise DeployError(f"{label}: line {match[1]}, column {match[2]}: invalid TOML: {detail}") from None
        raise DeployError(f"{label}: invalid TOML: {message}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        message = format_validation_error(label, exc, root=Config, extras={EnvironmentSettings: ("extends",)})
        raise DeployError(message) from None
    except ValueError as exc:  # raised while resolving extends, before field validation
        raise DeployError(f"{label}: {exc}") from None


def load_config(path: Path | None = None) -> Config:
    """Load ``deploy.toml`` from ``path``, ``$DEPLOYTOOL_CONFIG`` or the nearest parent directory."""
    if path is None:
        from_env = os.environ.get(CONFIG_ENV_VAR)
        path = Path(from_env) if from_env else find_config()
    label = _display(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DeployError(f"{label}: cannot read the configuration file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DeployError(f"{label}: not valid UTF-8 text") from None
    config = parse_config(text, label=label)
    config._source = path.resolve()
    return config
