"""Request metrics per route template: Prometheus (``/metrics``) and, when given, EMF lines."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

from geoapi.emf import EmfLogger

#: Label used for requests that match no route, so that scanners probing random
#: paths cannot blow up the label cardinality.
UNMATCHED_ROUTE = "<unmatched>"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's collectors, on a registry of their own (one per app)."""

    def __init__(self, app_version: str, emf: EmfLogger | None = None) -> None:
        self.emf = emf
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "geoapi_http_requests",
            "HTTP requests handled, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "geoapi_http_request_duration_seconds",
            "HTTP request latency in seconds, by method and route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "geoapi_http_requests_in_progress",
            "HTTP requests being handled.",
            registry=self.registry,
        )
        self.cache = Counter(
            "geoapi_nearby_cache",
            "Nearby queries by cache outcome: hit, miss, or bypass (Redis unreachable).",
            ["outcome"],
            registry=self.registry,
        )
        build = Gauge(
            "geoapi_build_info",
            "Constant 1, labelled with the running image tag.",
            ["version"],
            registry=self.registry,
        )
        build.labels(version=app_version).set(1)

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Time the request and count it under its route template."""
        route = _route_template(request)
        start = time.perf_counter()
        status = 500
        self.in_progress.inc()
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            self.in_progress.dec()
            elapsed = time.perf_counter() - start
            self.requests.labels(request.method, route, str(status)).inc()
            self.latency.labels(request.method, route).observe(elapsed)
            if self.emf is not None:
                self.emf.request(method=request.method, route=route, status=status, latency_s=elapsed)


def _route_template(request: Request) -> str:
    """``/farms/nearby`` rather than the raw URL: bounded label values."""
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.FULL:
            return str(getattr(route, "path", UNMATCHED_ROUTE))
    return UNMATCHED_ROUTE
