"""The service with no database, or an unreachable one: liveness up, readiness down."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from geoapi import Settings, create_app
from prometheus_client.parser import text_string_to_metric_families


def test_health_is_ok(client_without_db: TestClient) -> None:
    response = client_without_db.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_detailed_health_is_unhealthy_without_database(client_without_db: TestClient) -> None:
    response = client_without_db.get("/health/detailed")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["version"] == "test-sha"
    database = body["components"]["database"]
    assert database["status"] == "not_configured"
    assert "DATABASE_URL" in database["detail"]
    assert database["postgis_version"] is None


def test_nearby_is_503_without_database(client_without_db: TestClient) -> None:
    response = client_without_db.get("/farms/nearby", params={"lat": 6.0, "lon": -2.0})
    assert response.status_code == 503
    assert response.json() == {"detail": "database is not configured"}


def test_validation_comes_before_the_database_check(client_without_db: TestClient) -> None:
    response = client_without_db.get("/farms/nearby", params={"lat": 91, "lon": 0})
    assert response.status_code == 422


def test_metrics_is_prometheus_text(client_without_db: TestClient) -> None:
    for _ in range(3):
        client_without_db.get("/health")
    client_without_db.get("/no/such/path")
    response = client_without_db.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}

    requests = families["geoapi_http_requests"]
    assert requests.type == "counter"
    counts = {
        (s.labels["route"], s.labels["status"]): s.value
        for s in requests.samples
        if s.name == "geoapi_http_requests_total"
    }
    assert counts[("/health", "200")] == 3
    # Unknown paths share one label value: scanners cannot grow the series count.
    assert counts[("<unmatched>", "404")] == 1
    assert not any(route == "/no/such/path" for route, _ in counts)

    latency = families["geoapi_http_request_duration_seconds"]
    assert latency.type == "histogram"
    health_count = [s.value for s in latency.samples if s.name.endswith("_count") and s.labels["route"] == "/health"]
    assert health_count == [3]

    build = families["geoapi_build_info"]
    assert [s.labels["version"] for s in build.samples] == ["test-sha"]


@pytest.mark.parametrize(
    "params",
    [
        {"lat": -90.5, "lon": 0},
        {"lat": 0, "lon": 180.1},
        {"lat": 0, "lon": 0, "radius_m": 0},
        {"lat": 0, "lon": 0, "radius_m": 100_001},
        {"lat": 0, "lon": 0, "limit": 0},
        {"lat": 0, "lon": 0, "limit": 501},
        {"lon": 0},
        {"lat": "north", "lon": 0},
    ],
)
def test_invalid_query_parameters_are_422(client_without_db: TestClient, params: dict[str, object]) -> None:
    response = client_without_db.get("/farms/nearby", params=params)
    assert response.status_code == 422


def test_unreachable_database_is_unhealthy_and_nearby_503() -> None:
    # Port 1 on loopback: connection refused at once, no waiting on a timeout.
    settings = Settings(
        database_url="postgresql://geoapi:secret-password@127.0.0.1:1/geoapi",
        app_version="sha-down",
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/health/detailed")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unhealthy"
        database = body["components"]["database"]
        assert database["status"] == "unhealthy"
        assert database["detail"].startswith("OperationalError")
        assert "secret-password" not in response.text

        nearby = client.get("/farms/nearby", params={"lat": 6.0, "lon": -2.0})
        assert nearby.status_code == 503
        assert nearby.json() == {"detail": "database is unavailable"}
