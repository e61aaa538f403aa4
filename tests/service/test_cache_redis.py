"""The nearby query with the Redis cache (``REDIS_URL``), against a private redis-server and the real
PostgreSQL + PostGIS: a miss then a hit, a write served at once, and the database when Redis fails.

redis-server comes from Debian's ``redis-server`` package (``.ci/install-redis.sh``); without it, or
without PostgreSQL, the tests are skipped with the reason shown.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from geoapi import Settings, create_app
from geoapi.cache import VERSION_KEY, NearbyCache
from geoapi.db import NewFarm, insert_farm
from geoapi.seed import seed_farms

TOKEN = "test-token-8c1f0e5a9b2d4c6e"
# A point away from every seeded cocoa region, with farms of its own.
CENTER = (6.1000, 1.2000)
KNOWN = [("Cached farm A", 6.1000, 1.2000), ("Cached farm B", 6.1010, 1.2000)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server (its own port and directory, a password, no persistence), stopped after."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed; run `.ci/install-redis.sh` as root (apt-get install redis-server)")
    workdir: Path = tmp_path_factory.mktemp("redis")
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            TOKEN,
            "--logfile",
            str(workdir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, password=TOKEN, socket_timeout=1)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start: {(workdir / 'redis.log').read_text()}") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture()
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, password=TOKEN)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="module")
def farms(db_conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    seed_farms(db_conn, 2_000, seed=11)
    for name, lat, lon in KNOWN:
        insert_farm(db_conn, NewFarm(name=name, country="TG", area_ha=2.0, lat=lat, lon=lon))
    return db_conn


@pytest.fixture()
def client(
    farms: psycopg.Connection[Any], database_url: str, redis_url: str, redis_client: redis.Redis
) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=database_url, redis_url=redis_url, redis_auth_token=TOKEN, cache_ttl_s=60))
    with TestClient(app) as test_client:
        yield test_client


def _names(client: TestClient, lat: float = CENTER[0], lon: float = CENTER[1]) -> list[str]:
    response = client.get("/farms/nearby", params={"lat": lat, "lon": lon, "radius_m": 500, "limit": 10})
    assert response.status_code == 200, response.text
    return [farm["name"] for farm in response.json()["farms"]]


def _outcomes(client: TestClient) -> dict[str, float]:
    text = client.get("/metrics").text
    found = {}
    for line in text.splitlines():
        if line.startswith("geoapi_nearby_cache_total{"):
            outcome = line.split('outcome="')[1].split('"')[0]
            found[outcome] = float(line.rsplit(" ", 1)[1])
    return found


def test_a_miss_then_a_hit(client: TestClient, redis_client: redis.Redis, db_conn: psycopg.Connection[Any]) -> None:
    assert _names(client) == ["Cached farm A", "Cached farm B"]
    assert _outcomes(client) == {"miss": 1.0}
    keys = [k.decode() for k in redis_client.keys("geoapi:nearby:*")]
    assert keys == ["geoapi:nearby:v0:6.10000:1.20000:500.0:10"]
    assert 0 < redis_client.ttl(keys[0]) <= 60
    # A row written behind the cache's back (no version bump) is not seen: the answer is the cached one.
    db_conn.execute(
        "INSERT INTO farms (name, country, area_ha, location) "
        "VALUES ('Unannounced farm', 'TG', 1.0, ST_SetSRID(ST_MakePoint(1.2001, 6.1), 4326)::geography)"
    )
    db_conn.commit()
    try:
        # Coordinates that round to the same key are the same entry.
        assert _names(client, lat=CENTER[0] + 0.000001) == ["Cached farm A", "Cached farm B"]
        assert _outcomes(client) == {"miss": 1.0, "hit": 1.0}
    finally:
        db_conn.execute("DELETE FROM farms WHERE name = 'Unannounced farm'")
        db_conn.commit()


def test_a_write_is_served_at_once(
    client: TestClient, redis_url: str, redis_client: redis.Redis, db_conn: psycopg.Connection[Any]
) -> None:
    assert _names(client) == ["Cached farm A", "Cached farm B"]
    writer = NearbyCache.from_url(redis_url, auth_token=TOKEN, ttl_s=60, timeout_s=1.0)
    try:
        insert_farm(
            db_conn, NewFarm(name="New farm", country="TG", area_ha=3.0, lat=6.1005, lon=1.2), on_commit=writer.bump
        )
        assert redis_client.get(VERSION_KEY) == b"1"
        assert _names(client) == ["Cached farm A", "New farm", "Cached farm B"]
        assert _outcomes(client) == {"miss": 2.0}
        assert _names(client) == ["Cached farm A", "New farm", "Cached farm B"]
        assert _outcomes(client) == {"miss": 2.0, "hit": 1.0}
    finally:
        db_conn.execute("DELETE FROM farms WHERE name = 'New farm'")
        db_conn.commit()
        writer.bump()
        writer.close()


@pytest.mark.parametrize("how", ["unreachable", "wrong token"])
def test_the_database_answers_when_redis_fails(
    farms: psycopg.Connection[Any], database_url: str, redis_url: str, how: str
) -> None:
    url, token = (f"redis://127.0.0.1:{_free_port()}/0", TOKEN) if how == "unreachable" else (redis_url, "wrong-token")
    app = create_app(Settings(database_url=database_url, redis_url=url, redis_auth_token=token))
    with TestClient(app) as client:
        start = time.monotonic()
        for _ in range(3):
            assert _names(client) == ["Cached farm A", "Cached farm B"]
        assert time.monotonic() - start < 5
        assert _outcomes(client) == {"bypass": 3.0}


def test_without_redis_url_there_is_no_cache(farms: psycopg.Connection[Any], database_url: str) -> None:
    app = create_app(Settings(database_url=database_url))
    with TestClient(app) as client:
        assert _names(client) == ["Cached farm A", "Cached farm B"]
        assert _outcomes(client) == {}


def test_settings_read_the_cache_from_the_environment() -> None:
    settings = Settings.from_env({"REDIS_URL": "rediss://cache.example:6379", "REDIS_AUTH_TOKEN": TOKEN})
    assert (settings.redis_url, settings.redis_auth_token, settings.cache_ttl_s) == (
        "rediss://cache.example:6379",
        TOKEN,
        60,
    )
    assert TOKEN not in repr(settings)
    assert Settings.from_env({}).redis_url is None
