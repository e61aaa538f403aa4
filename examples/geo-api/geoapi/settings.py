"""Service settings, read from environment variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
#: An HTTP header name (RFC 9110 token), as the ``production-unhealthy`` fault takes one.
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")


class SettingsError(ValueError):
    """A required setting is missing or a value is invalid."""


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _parse_port(name: str, raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise SettingsError(f"{name} must be between 1 and 65535, got {port}")
    return port


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment.

    ``database_url`` is optional so that the service starts (and reports itself
    unhealthy) without a database; ``require_database`` turns its absence into
    a start-up failure instead.
    """

    database_url: str | None = None
    app_version: str = "dev"
    host: str = "127.0.0.1"
    port: int = 8000
    require_database: bool = False
    db_connect_timeout_s: int = 2
    db_pool_max_size: int = 10
    environment: str = "local"
    emf_enabled: bool = True
    emf_pool_interval_s: int = 10
    #: Redis for the nearby query (cache-aside), e.g. ``rediss://host:6379``; none: no cache.
    redis_url: str | None = None
    #: Redis AUTH token (kept out of repr, so out of logs).
    redis_auth_token: str | None = field(default=None, repr=False)
    cache_ttl_s: int = 60
    cache_timeout_s: float = 0.25
    #: The schema the service's tables live in (``DB_SCHEMA``; one per branch); ``public`` follows it
    #: on the search path for PostGIS. None: the server's default search path.
    db_schema: str | None = None
    #: Test-only fault injection (``GEOAPI_FAULT``) for the deployment tests: ``unhealthy`` (``/health``
    #: answers 503), ``exit-after:<seconds>`` (the process exits with status 1 that long after it
    #: starts), ``version:<text>`` (the detailed health reports that version, not ``APP_VERSION``) or
    #: ``production-unhealthy:<header>`` (every request that came through the load balancer, i.e.
    #: carries ``X-Forwarded-For``, and does not carry ``<header>``, the blue-green test route's
    #: header, is answered 503: healthy to the load balancer's own health checks and on the test
    #: route, failing in production). Never set outside the deployment tests.
    fault: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default: ``os.environ``) and validate them."""
        env = os.environ if environ is None else environ
        settings = cls(
            database_url=env.get("DATABASE_URL") or None,
            app_version=env.get("APP_VERSION") or "dev",
            host=env.get("HOST") or "127.0.0.1",
            port=_parse_port("PORT", env.get("PORT") or "8000"),
            require_database=_parse_bool("GEOAPI_REQUIRE_DATABASE", env.get("GEOAPI_REQUIRE_DATABASE", "false")),
            db_pool_max_size=_parse_port("GEOAPI_DB_POOL_MAX_SIZE", env.get("GEOAPI_DB_POOL_MAX_SIZE") or "10"),
            environment=env.get("APP_ENV") or "local",
            emf_enabled=_parse_bool("GEOAPI_EMF", env.get("GEOAPI_EMF") or "true"),
            emf_pool_interval_s=_parse_port(
                "GEOAPI_EMF_POOL_INTERVAL_S", env.get("GEOAPI_EMF_POOL_INTERVAL_S") or "10"
            ),
            redis_url=env.get("REDIS_URL") or None,
            redis_auth_token=env.get("REDIS_AUTH_TOKEN") or None,
            cache_ttl_s=_parse_port("GEOAPI_CACHE_TTL_SECONDS", env.get("GEOAPI_CACHE_TTL_SECONDS") or "60"),
            db_schema=env.get("DB_SCHEMA") or None,
            fault=env.get("GEOAPI_FAULT", "").strip(),
        )
        settings.validate()
        return settings

    @property
    def exit_after_s(self) -> float | None:
        """Seconds after start at which the ``exit-after`` fault ends the process (None: no such fault)."""
        kind, _, value = self.fault.partition(":")
        return float(value) if kind == "exit-after" else None

    @property
    def production_unhealthy_header(self) -> str | None:
        """The test route's header of the ``production-unhealthy`` fault (None: no such fault)."""
        kind, _, value = self.fault.partition(":")
        return value if kind == "production-unhealthy" else None

    @property
    def reported_version(self) -> str:
        """The version the detailed health reports (``app_version`` unless the ``version`` fault is set)."""
        kind, _, value = self.fault.partition(":")
        return value if kind == "version" else self.app_version

    def validate(self) -> None:
        """Raise :class:`SettingsError` when the settings cannot run the service."""
        if self.db_schema is not None and not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", self.db_schema):
            raise SettingsError(f"DB_SCHEMA must match [a-z_][a-z0-9_]{{0,62}}, got {self.db_schema!r}")
        kind, _, value = self.fault.partition(":")
        if self.fault and kind not in ("unhealthy", "exit-after", "version", "production-unhealthy"):
            raise SettingsError(
                "GEOAPI_FAULT must be unhealthy, exit-after:<seconds>, version:<text> or "
                f"production-unhealthy:<header>, got {self.fault!r}"
            )
        if kind == "production-unhealthy" and not _HEADER_NAME.fullmatch(value):
            raise SettingsError(f"GEOAPI_FAULT=production-unhealthy needs an HTTP header name, got {value!r}")
        if kind == "exit-after":
            try:
                float(value)
            except ValueError:
                raise SettingsError(f"GEOAPI_FAULT=exit-after needs seconds, got {value!r}") from None
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(f"REDIS_URL must be a redis:// or rediss:// URL, got {self.redis_url.split('@')[-1]!r}")
        if self.require_database and not self.database_url:
            raise SettingsError(
                "GEOAPI_REQUIRE_DATABASE=true but DATABASE_URL is not set; "
                "set DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DB"
            )
