"""Fixtures for the Theobroma Geo API service tests.

Tests that need PostgreSQL + PostGIS connect with ``GEOAPI_TEST_DATABASE_URL``
(default below) and are skipped, with the reason shown, when it cannot be
reached. ``.ci/install-postgis.sh`` installs, starts and prepares it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_DIR = REPO_ROOT / "examples" / "geo-api"
if str(SERVICE_DIR) not in sys.path:
    sys.path.insert(0, str(SERVICE_DIR))

import psycopg  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from geoapi import Settings, create_app  # noqa: E402
from geoapi.db import apply_schema  # noqa: E402
from psycopg.conninfo import conninfo_to_dict  # noqa: E402

DEFAULT_TEST_DATABASE_URL = "postgresql://geoapi:geoapi@127.0.0.1:5432/geoapi_test"


def _redacted(url: str) -> str:
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable DSN>"
    return f"{info.get('host', '?')}:{info.get('port', '5432')}/{info.get('dbname', '?')}"


@pytest.fixture(scope="session")
def service_dir() -> Path:
    return SERVICE_DIR


@pytest.fixture()
def client_without_db() -> Iterator[TestClient]:
    app = create_app(Settings(database_url=None, app_version="test-sha"))
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="session")
def database_url() -> str:
    """A reachable PostgreSQL with PostGIS, migrated (the database arrives bare, as on RDS), or skip."""
    url = os.environ.get("GEOAPI_TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            apply_schema(conn)
            conn.execute("SELECT postgis_lib_version()")
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        pytest.skip(
            f"PostgreSQL + PostGIS not reachable at {_redacted(url)} ({first_line}); "
            "run `.ci/install-postgis.sh` as root or set GEOAPI_TEST_DATABASE_URL"
        )
    return url


@pytest.fixture(scope="session")
def db_conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=False) as conn:
        yield conn


@pytest.fixture(autouse=True)
def _no_transaction_left_open(request: pytest.FixtureRequest) -> Iterator[None]:
    """End the shared connection's transaction after each test that used it.

    A read on ``db_conn`` opens a transaction that holds its table locks until the next commit; left
    open for the rest of a worker's session, it makes another worker's ``TRUNCATE farms`` wait, and
    every later lock on ``farms`` (the local stand-in's schema step included) queues behind that.
    What a test wants kept, it commits.
    """
    yield
    if "db_conn" in request.fixturenames:
        conn: psycopg.Connection[Any] = request.getfixturevalue("db_conn")
        if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
