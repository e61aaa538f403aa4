"""The service against a real PostgreSQL + PostGIS (skipped when none is reachable)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from geoapi import Settings, create_app
from geoapi.db import LOCATION_INDEX, NEARBY_SQL
from geoapi.seed import REGIONS, seed_farms

from tests.service.emf_schema import emf_lines, emf_problems

SEEDED = 20_000

# Known farms around a point outside every seeded cocoa region (near Accra),
# so that the random farms never land within the radii used below.
CENTER = (5.6000, -0.2000)
# Expected distances, computed by hand on the WGS 84 ellipsoid at latitude 5.6°:
#   metres per degree of latitude  = M * pi/180 with M = a(1-e²)/(1-e² sin²φ)^1.5
#                                  ≈ 110 585.6 m
#   metres per degree of longitude = N cos φ * pi/180 with N = a/(1-e² sin²φ)^0.5
#                                  ≈ 110 791.6 m
KNOWN_FARMS: list[tuple[str, float, float, float]] = [
    # name, lat, lon, expected distance from CENTER in metres
    ("Known farm A", 5.6000, -0.2000, 0.0),
    ("Known farm B", 5.6010, -0.2000, 110.59),  # 0.001° north
    ("Known farm C", 5.6000, -0.1900, 1107.92),  # 0.01° east
    ("Known farm D", 5.6300, -0.2000, 3317.57),  # 0.03° north
    ("Known farm E", 5.7000, -0.2000, 11058.6),  # 0.1° north
]


@pytest.fixture(scope="module")
def seeded(db_conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    assert not any(r.contains(*CENTER) for r in REGIONS)
    seed_farms(db_conn, SEEDED, seed=7)
    with db_conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO farms (name, country, area_ha, location) "
            "VALUES (%s, 'GH', 1.50, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography)",
            [(name, lon, lat) for name, lat, lon, _ in KNOWN_FARMS],
        )
        cur.execute("ANALYZE farms")
    db_conn.commit()
    return db_conn


@pytest.fixture(scope="module")
def client(seeded: psycopg.Connection[Any], database_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=database_url, app_version="sha-abc1234"))
    with TestClient(app) as test_client:
        yield test_client


def _nearby(client: TestClient, radius_m: float, limit: int = 50) -> list[dict[str, Any]]:
    response = client.get(
        "/farms/nearby",
        params={"lat": CENTER[0], "lon": CENTER[1], "radius_m": radius_m, "limit": limit},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["farms"])
    farms: list[dict[str, Any]] = body["farms"]
    return farms


def test_schema_is_applied(seeded: psycopg.Connection[Any]) -> None:
    row = seeded.execute(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = 'farms'::regclass AND attname = 'location'"
    ).fetchone()
    assert row == ("geography(Point,4326)",)
    index = seeded.execute(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'farms' AND indexname = %s",
        (LOCATION_INDEX,),
    ).fetchone()
    assert index is not None and "USING gist (location)" in index[0]
    count = seeded.execute("SELECT count(*) FROM farms").fetchone()
    assert count == (SEEDED + len(KNOWN_FARMS),)


def test_detailed_health_is_healthy_with_postgis(client: TestClient) -> None:
    response = client.get("/health/detailed")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "healthy"
    assert body["version"] == "sha-abc1234"
    database = body["components"]["database"]
    assert database["status"] == "healthy"
    assert database["postgis_version"].startswith("POSTGIS=")


@pytest.mark.parametrize(
    ("radius_m", "expected"),
    [
        (1, ["Known farm A"]),
        (1_000, ["Known farm A", "Known farm B"]),
        (2_000, ["Known farm A", "Known farm B", "Known farm C"]),
        (5_000, ["Known farm A", "Known farm B", "Known farm C", "Known farm D"]),
        (20_000, [name for name, *_ in KNOWN_FARMS]),
    ],
)
def test_nearby_returns_farms_within_radius_nearest_first(
    client: TestClient, radius_m: float, expected: list[str]
) -> None:
    farms = _nearby(client, radius_m)
    assert [f["name"] for f in farms] == expected


def test_nearby_distances_match_hand_computed_values(client: TestClient) -> None:
    farms = {f["name"]: f for f in _nearby(client, 20_000)}
    for name, lat, lon, expected_m in KNOWN_FARMS:
        farm = farms[name]
        assert farm["lat"] == pytest.approx(lat, abs=1e-9)
        assert farm["lon"] == pytest.approx(lon, abs=1e-9)
        assert farm["country"] == "GH"
        assert farm["area_ha"] == 1.5
        assert math.isclose(farm["distance_m"], expected_m, rel_tol=1e-3, abs_tol=0.01), (
            name,
            farm["distance_m"],
            expected_m,
        )


def test_nearby_limit_keeps_the_nearest(client: TestClient) -> None:
    assert [f["name"] for f in _nearby(client, 20_000, limit=2)] == [
        "Known farm A",
        "Known farm B",
    ]


def test_nearby_writes_query_latency_and_rows_as_emf(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert len(_nearby(client, 2_000)) == 3
    queries = [d for d in emf_lines(capsys.readouterr().out) if "NearbyQueryLatency" in d]
    assert len(queries) == 1
    assert emf_problems(queries[0]) == []
    assert queries[0]["NearbyRowsReturned"] == 3
    assert 0 < queries[0]["NearbyQueryLatency"] < 10_000


def test_nearby_finds_seeded_farms_in_a_cocoa_region(client: TestClient) -> None:
    soubre = next(r for r in REGIONS if r.name == "Soubre")
    lat = (soubre.lat_min + soubre.lat_max) / 2
    lon = (soubre.lon_min + soubre.lon_max) / 2
    response = client.get("/farms/nearby", params={"lat": lat, "lon": lon, "radius_m": 10_000, "limit": 500})
    assert response.status_code == 200
    farms = response.json()["farms"]
    assert farms, "a 10 km circle in the middle of the densest region holds seeded farms"
    distances = [f["distance_m"] for f in farms]
    assert distances == sorted(distances)
    assert max(distances) <= 10_000


@pytest.mark.parametrize(
    "params",
    [
        {"lat": 95, "lon": 0},
        {"lat": 0, "lon": -181},
        {"lat": 0, "lon": 0, "radius_m": 0.5},
        {"lat": 0, "lon": 0, "radius_m": 250_000},
        {"lat": 0, "lon": 0, "limit": 1_000},
    ],
)
def test_validation_errors_are_422(client: TestClient, params: dict[str, float]) -> None:
    response = client.get("/farms/nearby", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


def test_nearby_query_uses_the_gist_index(seeded: psycopg.Connection[Any]) -> None:
    # With 20,000 analysed rows the planner picks the GiST index on its own for
    # a small radius: enable_seqscan stays on, so a regression is caught.
    plan_rows = seeded.execute(
        "EXPLAIN " + NEARBY_SQL,
        {"lat": 6.0, "lon": -6.5, "radius_m": 1_000, "limit": 50},
    ).fetchall()
    plan = "\n".join(row[0] for row in plan_rows)
    assert LOCATION_INDEX in plan, plan
    assert "Seq Scan" not in plan, plan
