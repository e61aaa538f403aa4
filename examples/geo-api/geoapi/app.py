"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Literal

import psycopg
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg_pool import ConnectionPool, PoolTimeout
from pydantic import BaseModel

from geoapi import db
from geoapi.cache import NearbyCache
from geoapi.emf import EmfLogger
from geoapi.metrics import Metrics
from geoapi.settings import Settings

logger = logging.getLogger(__name__)

ComponentStatus = Literal["healthy", "unhealthy", "not_configured"]


class Basic(BaseModel):
    status: Literal["ok"]


class DatabaseComponent(BaseModel):
    status: ComponentStatus
    detail: str
    postgis_version: str | None = None
    #: The database role the service runs as (its ``current_user``).
    user: str | None = None


class Components(BaseModel):
    database: DatabaseComponent


class Detailed(BaseModel):
    status: Literal["healthy", "unhealthy"]
    version: str
    components: Components


class Farm(BaseModel):
    id: int
    name: str
    country: str
    area_ha: float
    lat: float
    lon: float
    distance_m: float


class Nearby(BaseModel):
    count: int
    farms: list[Farm]


def _nearby_cache(settings: Settings) -> NearbyCache | None:
    """The Redis cache of the nearby query when ``REDIS_URL`` is set."""
    if not settings.redis_url:
        return None
    return NearbyCache.from_url(
        settings.redis_url,
        auth_token=settings.redis_auth_token,
        ttl_s=settings.cache_ttl_s,
        timeout_s=settings.cache_timeout_s,
    )


def _lifespan(
    pool: ConnectionPool | None, cache: NearbyCache | None, emf: EmfLogger, pool_interval_s: int
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the pool (and report it) while the app serves; close the pool and the cache after."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if pool is not None:
            # wait=False: start serving even while the database is unreachable;
            # /health/detailed then says so and /farms/nearby answers 503.
            pool.open(wait=False)
        reporter = None
        if pool is not None and emf.enabled:
            reporter = asyncio.create_task(emf.report_pool(pool.get_stats, pool_interval_s))
        try:
            yield
        finally:
            if reporter is not None:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter
            if pool is not None:
                pool.close()
            if cache is not None:
                cache.close()

    return lifespan


def _production_unhealthy(
    test_route_header: str,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """TEST-ONLY fault ``GEOAPI_FAULT=production-unhealthy:<header>``: a release that fails only in production.

    Requests that came through a load balancer (it adds ``X-Forwarded-For``; its own health checks
    carry none) and do not carry ``test_route_header`` (the blue-green test route's header) are
    answered 503, whatever the path. The load balancer's health checks and the test route see a
    healthy release; the production host does not, once traffic is switched to it.
    """
    name = test_route_header.lower()

    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if "x-forwarded-for" in request.headers and name not in request.headers:
            return JSONResponse({"status": "fail", "detail": "test-only fault: production-unhealthy"}, status_code=503)
        return await call_next(request)

    return middleware


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application. ``settings`` default to :meth:`Settings.from_env`."""
    settings = settings or Settings.from_env()
    settings.validate()
    emf = EmfLogger(settings.environment, version=settings.app_version, enabled=settings.emf_enabled)
    metrics = Metrics(settings.app_version, emf)
    pool: ConnectionPool | None = None
    if settings.database_url:
        pool = db.make_pool(
            settings.database_url, settings.db_connect_timeout_s, settings.db_pool_max_size, settings.db_schema
        )
    cache = _nearby_cache(settings)

    lifespan = _lifespan(pool, cache, emf, settings.emf_pool_interval_s)

    app = FastAPI(
        title="Theobroma Geo API",
        version=settings.app_version,
        lifespan=lifespan,
    )
    app.middleware("http")(metrics.middleware)
    if settings.production_unhealthy_header:
        app.middleware("http")(_production_unhealthy(settings.production_unhealthy_header))

    @app.get("/health", response_model=Basic)
    def health() -> Basic | JSONResponse:
        """Liveness: the process serves HTTP. Never touches the database."""
        if settings.fault == "unhealthy":
            return JSONResponse({"status": "fail"}, status_code=503)
        return Basic(status="ok")

    @app.get(
        "/health/detailed",
        response_model=Detailed,
        responses={503: {"model": Detailed, "description": "a component is not healthy"}},
    )
    def health_detailed() -> JSONResponse:
        """Readiness: every component, the database included, with a real query.

        The service is backed by PostGIS, so a missing database configuration
        is reported as ``not_configured`` and the service as ``unhealthy``.
        """
        if settings.database_url is None:
            component = DatabaseComponent(status="not_configured", detail="DATABASE_URL is not set")
        else:
            probe = db.probe(settings.database_url, settings.db_connect_timeout_s, settings.db_schema)
            component = DatabaseComponent(
                status="healthy" if probe.healthy else "unhealthy",
                detail=probe.detail,
                postgis_version=probe.postgis_version,
                user=probe.user,
            )
        healthy = component.status == "healthy"
        body = Detailed(
            status="healthy" if healthy else "unhealthy",
            version=settings.reported_version,
            components=Components(database=component),
        )
        return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/farms/nearby",
        response_model=Nearby,
        responses={503: {"description": "no database configured or reachable"}},
    )
    def farms_nearby(
        lat: Annotated[float, Query(ge=-90, le=90, description="latitude, WGS 84")],
        lon: Annotated[float, Query(ge=-180, le=180, description="longitude, WGS 84")],
        radius_m: Annotated[float, Query(ge=1, le=100_000, description="metres")] = 5_000,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Nearby | Response:
        """Farms within ``radius_m`` metres of (lat, lon), nearest first."""
        if pool is None:
            raise HTTPException(status_code=503, detail="database is not configured")
        database = pool

        def answer(lat: float, lon: float, radius_m: float, limit: int) -> Nearby:
            # The geo query's own figures (a cache hit never reaches the database).
            start = time.perf_counter()
            rows = db.nearby(database, lat=lat, lon=lon, radius_m=radius_m, limit=limit)
            emf.nearby_query(latency_s=time.perf_counter() - start, rows=len(rows))
            return Nearby(count=len(rows), farms=[Farm(**row) for row in rows])

        def produce(lat: float, lon: float, radius_m: float, limit: int) -> bytes:
            return answer(lat, lon, radius_m, limit).model_dump_json().encode()

        try:
            if cache is None:
                return answer(lat, lon, radius_m, limit)
            body, outcome = cache.nearby(lat, lon, radius_m, limit, produce)
        except (psycopg.Error, PoolTimeout) as exc:
            logger.warning("nearby query failed: %s: %s", type(exc).__name__, exc)
            raise HTTPException(status_code=503, detail="database is unavailable") from exc
        metrics.cache.labels(outcome).inc()
        # The body is a serialised Nearby: served as stored, with no second validation.
        return Response(content=body, media_type="application/json")

    return app
