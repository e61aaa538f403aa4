"""How a release is verified: ``[environments.<name>.health]`` (with ``.paths``) and the
``[[environments.<name>.smoke]]`` requests. Where the requests go is decided by
``deploytool.runtime.check_url``."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from deploytool.config_base import SettingsModel

_JSON_FIELD = re.compile(r"[^.\s]+(?:\.[^.\s]+)*")


def _check_path(value: str | None) -> str | None:
    if value is not None and (not value.startswith("/") or any(c.isspace() for c in value)):
        raise ValueError(f"must be a URL path starting with '/', got {value!r}")
    return value


class HealthPaths(SettingsModel):
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


class HealthConfig(SettingsModel):
    """``[environments.<name>.health]``: how a release is verified after an apply.

    Keys:
        base_url: where to send health requests; default ``https://<host>`` of the target.
        paths: see ``HealthPaths``.
        request_timeout_seconds: timeout of one request (5).
        timeout_seconds: overall budget of the verification (180).
        interval_seconds: first pause between attempts (2); backoff grows it up to
            ``max_interval_seconds`` (15).
        consecutive_passes: passes in a row needed (3).
        require_version: the detailed endpoint must report the deployed image tag as ``version`` (true;
            an answer from the old release is then "not yet", never a pass).
        required_components: components that must be healthy in the detailed JSON (``database``).
    """

    base_url: str | None = None
    paths: HealthPaths = Field(default_factory=HealthPaths)
    request_timeout_seconds: float = Field(default=5.0, gt=0)
    timeout_seconds: float = Field(default=180.0, gt=0)
    interval_seconds: float = Field(default=2.0, gt=0)
    max_interval_seconds: float = Field(default=15.0, gt=0)
    consecutive_passes: int = Field(default=3, ge=1)
    require_version: bool = True
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


class SmokeCheck(SettingsModel):
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
