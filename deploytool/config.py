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

import difflib
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from deploytool import naming
from deploytool.durations import parse_duration
from deploytool.errors import DeployError

CONFIG_FILE = "deploy.toml"
CONFIG_ENV_VAR = "DEPLOYTOOL_CONFIG"

_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+")
_ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REPOSITORY = re.compile(r"(?:[a-z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")
_S3_PREFIX = re.compile(r"[A-Za-z0-9!_.*'()-]+(?:/[A-Za-z0-9!_.*'()-]+)*")
_VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")
_SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8,17}")
_ZONE_ID = re.compile(r"Z[A-Z0-9]{1,31}")
_CERT_ARN = re.compile(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+")
_DB_CLASS = re.compile(r"db\.[a-z0-9]+\.[a-z0-9]+")
_SECRET_REF = re.compile(r"arn:aws[a-z-]*:(?:secretsmanager|ssm):[a-z0-9-]+:\d{12}:\S+|/?[A-Za-z0-9_.\-/]+")
_JSON_FIELD = re.compile(r"[^.\s]+(?:\.[^.\s]+)*")
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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=False)


class ProjectSettings(_Model):
    """``[project]``: settings shared by every environment.

    Keys:
        name: project name, prefix of shared resource names (``theobroma``).
        service: the deployed service's name (``geo-api``).
        image_repository: the container image repository, an ECR repository name
            (``theobroma-geo-api``) or a full registry path (``ghcr.io/org/geo-api``).
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
        if len(value) > 256 or not _REPOSITORY.fullmatch(value):
            raise ValueError("must be a repository name such as theobroma-geo-api (lowercase, no tag)")
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


class Autoscaling(_Model):
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


class PlatformSettings(_Model):
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
        certificate_arn: ACM certificate for the HTTPS listener (none: HTTP only).
        create_dns_records: create Route 53 records for hosts (needs ``hosted_zone_id``).
        hosted_zone_id: the Route 53 hosted zone of the environment's domain.
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
    create_dns_records: bool = False
    hosted_zone_id: str | None = None

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
        return self


def _check_path(value: str | None) -> str | None:
    if value is not None and (not value.startswith("/") or any(c.isspace() for c in value)):
        raise ValueError(f"must be a URL path starting with '/', got {value!r}")
    return value


class HealthPaths(_Model):
    """``[environments.<name>.health.paths]``: the service's health endpoints.

    Keys: ``basic`` (``/health``, must answer 200), ``detailed`` (``/health/detailed``, JSON with
    per-component status; omit to skip), ``metrics`` (Prometheus text, e.g. ``/metrics``; optional).
    """

    basic: str = "/health"
    detailed: str | None = "/health/detailed"
    metrics: str | None = None

    @field_validator("basic", "detailed", "metrics")
    @classmethod
    def _paths(cls, value: str | None) -> str | None:
        return _check_path(value)


class HealthConfig(_Model):
    """``[environments.<name>.health]``: how a release is verified after an apply.

    Keys:
        base_url: where to send health requests; default ``https://<host>`` of the target.
        paths: see ``HealthPaths``.
        request_timeout_seconds: timeout of one request (5).
        timeout_seconds: overall budget of the verification (180).
        interval_seconds: first pause between attempts (2); backoff grows it up to
            ``max_interval_seconds`` (15).
        consecutive_passes: passes in a row needed (3).
        require_version: the detailed endpoint must report the deployed image tag as ``version``.
        required_components: components that must be healthy in the detailed JSON (``database``).
    """

    base_url: str | None = None
    paths: HealthPaths = Field(default_factory=HealthPaths)
    request_timeout_seconds: float = Field(default=5.0, gt=0)
    timeout_seconds: float = Field(default=180.0, gt=0)
    interval_seconds: float = Field(default=2.0, gt=0)
    max_interval_seconds: float = Field(default=15.0, gt=0)
    consecutive_passes: int = Field(default=3, ge=1)
    require_version: bool = False
    required_components: list[str] = Field(default_factory=lambda: ["database"])

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"https?://[^/\s?#]+(?:/[^\s?#]*)?", value):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> HealthConfig:
        if self.request_timeout_seconds > self.timeout_seconds:
            raise ValueError("request_timeout_seconds must be <= timeout_seconds")
        if self.interval_seconds > self.max_interval_seconds:
            raise ValueError("interval_seconds must be <= max_interval_seconds")
        if self.require_version and self.paths.detailed is None:
            raise ValueError("require_version = true needs paths.detailed")
        return self

    def url_for(self, host: str) -> str:
        """The base URL of health requests for ``host`` (``base_url`` if set)."""
        return self.base_url or f"https://{host}"


class SmokeCheck(_Model):
    """``[[environments.<name>.smoke]]``: one request that must succeed after a deploy.

    Keys: ``name``, ``method`` (GET), ``path``, ``expect_status`` (200), ``json_field`` (dotted
    path into the JSON body, ``a.b`` or ``items.0.id``; optional) and ``expect_value`` (the field's
    expected value; a TOML string, number or boolean, compared as JSON text: ``true``, ``3``).
    """

    name: str = Field(min_length=1, max_length=64)
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    path: str
    expect_status: int = Field(default=200, ge=100, le=599)
    json_field: str | None = None
    expect_value: str | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        _check_path(value)
        return value

    @field_validator("json_field")
    @classmethod
    def _field(cls, value: str | None) -> str | None:
        if value is not None and not _JSON_FIELD.fullmatch(value):
            raise ValueError(f"must be a dotted path such as status or data.items.0.id, got {value!r}")
        return value

    @field_validator("expect_value", mode="before")
    @classmethod
    def _scalar(cls, value: Any) -> Any:
        if isinstance(value, bool | int | float):
            return json.dumps(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SmokeCheck:
        if self.expect_value is not None and self.json_field is None:
            raise ValueError("expect_value needs json_field")
        return self


class EnvironmentSettings(_Model):
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
        for key, item in value.items():
            if not _ENV_VAR_NAME.fullmatch(key):
                raise ValueError(f"{key!r} is not a valid environment variable name")
            if looks_secret(key, item):
                raise ValueError(
                    f"{key} looks like a secret: move it to [secrets] (a Secrets Manager or SSM reference)"
                )
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


class Config(_Model):
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


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed at ``loc`` (the location of a table), for "did you mean" hints."""
    current: Any = Config
    for part in loc:
        while get_origin(current) in (Union, UnionType):
            current = next(a for a in get_args(current) if a is not type(None))
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) in (dict, list):
            current = get_args(current)[-1]
        else:
            return []
    while get_origin(current) in (Union, UnionType):
        current = next(a for a in get_args(current) if a is not type(None))
    if not (isinstance(current, type) and issubclass(current, BaseModel)):
        return []
    names = list(current.model_fields)
    return [*names, "extends"] if current is EnvironmentSettings else names


_TYPE_WORDS = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "list_type": "must be a list",
    "timedelta_type": "must be a duration string such as 7d",
}


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


_CTX_WORDS = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "too_short": "needs at least {min_length} item(s)",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
}


def _problem(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        message = "is required"
    elif kind == "extra_forbidden":
        key = str(error["loc"][-1]) if error["loc"] else ""
        close = difflib.get_close_matches(key, _fields_at(tuple(error["loc"][:-1])), n=1)
        message = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    elif kind in _CTX_WORDS:
        message = _CTX_WORDS[kind].format(**ctx)
    elif kind == "literal_error":
        got = error.get("input")
        shown = f" (got {got!r})" if isinstance(got, str | int | float) and len(repr(got)) <= 40 else ""
        message = f"must be {ctx.get('expected')}{shown}"
    elif kind in _TYPE_WORDS:
        message = _TYPE_WORDS[kind]
    elif kind in ("value_error", "assertion_error"):
        message = str(error.get("msg", "is invalid"))
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
    else:
        message = str(error.get("msg", "is invalid"))
        message = message[:1].lower() + message[1:]
    return message


def format_validation_error(label: str, exc: ValidationError, *, limit: int = 3) -> str:
    """One line: ``<file>: <key>: <problem>`` for each error (at most ``limit``), joined by ``; ``."""
    errors = exc.errors(include_url=False)
    parts = []
    for error in errors[:limit]:
        where = _location(tuple(error["loc"]))
        problem = " ".join(_problem(error).split())
        parts.append(f"{where}: {problem}" if where else problem)
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return f"{label}: {'; '.join(parts)}{more}"


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
        raise DeployError(format_validation_error(label, exc)) from None
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
