"""Database access: the connection pool, the health probe and the nearby query."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)

#: Name of the GiST index on ``farms.location`` (migrations/0001_init.sql); the nearby query must use it.
LOCATION_INDEX = "farms_location_gist"

#: Farms within ``radius_m`` metres of a point, nearest first. ``ST_DWithin`` on
#: geography is index-assisted (it expands to a ``&&`` box test on the GiST index).
NEARBY_SQL = """
SELECT f.id,
       f.name,
       f.country,
       f.area_ha::float8 AS area_ha,
       ST_Y(f.location::geometry) AS lat,
       ST_X(f.location::geometry) AS lon,
       ST_Distance(f.location, q.point) AS distance_m
FROM farms AS f,
     (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography AS point) AS q
WHERE ST_DWithin(f.location, q.point, %(radius_m)s)
ORDER BY distance_m, f.id
LIMIT %(limit)s
"""


def apply_schema(conn: psycopg.Connection[Any], schema: str = "public") -> None:
    """Bring ``schema`` to the latest migration on ``conn`` (idempotent; no application role)."""
    from geoapi import migrate

    migrate.ensure_extension(conn)
    migrate.ensure_schema(conn, schema)
    migrate.apply_pending(conn, schema, migrate.discover(migrate.packaged_dir()))


def session_options(schema: str | None, statement_timeout_ms: int | None = None) -> str:
    """libpq ``options`` for the service's sessions: its schema first, then ``public`` for PostGIS."""
    parts = []
    if schema:
        parts.append(f"-c search_path={schema},public")
    if statement_timeout_ms is not None:
        parts.append(f"-c statement_timeout={statement_timeout_ms}")
    return " ".join(parts)


@dataclass(frozen=True)
class DatabaseStatus:
    """Outcome of one health probe."""

    healthy: bool
    detail: str
    postgis_version: str | None = None
    #: The role the service connects as (``current_user``).
    user: str | None = None


def probe(database_url: str, connect_timeout_s: int, schema: str | None = None) -> DatabaseStatus:
    """Open a fresh connection and run ``SELECT postgis_full_version()``.

    A fresh connection, not a pooled one, so the answer reflects whether a new
    task could reach the database right now.
    """
    try:
        with psycopg.connect(
            database_url,
            connect_timeout=connect_timeout_s,
            options=session_options(schema, connect_timeout_s * 1000),
        ) as conn:
            row = conn.execute("SELECT postgis_full_version(), current_user").fetchone()
    except psycopg.Error as exc:
        # Connection errors can carry the DSN's host and user, never the password.
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        logger.warning("database health check failed: %s", message)
        return DatabaseStatus(healthy=False, detail=f"{type(exc).__name__}: {message}")
    version = str(row[0]) if row else ""
    user = str(row[1]) if row else None
    return DatabaseStatus(
        healthy=True, detail="SELECT postgis_full_version() succeeded", postgis_version=version, user=user
    )


def make_pool(database_url: str, connect_timeout_s: int, max_size: int, schema: str | None = None) -> ConnectionPool:
    """A pool that opens lazily: the service starts even while the database is down."""
    return ConnectionPool(
        database_url,
        min_size=1,
        max_size=max_size,
        kwargs={"connect_timeout": connect_timeout_s, "row_factory": dict_row, "options": session_options(schema)},
        open=False,
        timeout=float(connect_timeout_s) + 1.0,
        name="geoapi",
    )


INSERT_SQL = """
INSERT INTO farms (name, country, area_ha, location)
VALUES (%(name)s, %(country)s, %(area_ha)s, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography)
RETURNING id
"""


@dataclass(frozen=True)
class NewFarm:
    """A farm to insert."""

    name: str
    country: str
    area_ha: float
    lat: float
    lon: float


def insert_farm(conn: psycopg.Connection[Any], farm: NewFarm, *, on_commit: Callable[[], object] | None = None) -> int:
    """Insert one farm and commit; then ``on_commit`` (the cache's version bump). Returns its id."""
    row = conn.execute(INSERT_SQL, asdict(farm)).fetchone()
    conn.commit()
    if on_commit is not None:
        on_commit()
    if row is None:  # pragma: no cover - RETURNING always yields the row
        raise RuntimeError("INSERT ... RETURNING id returned no row")
    return int(row["id"] if isinstance(row, dict) else row[0])


def nearby(pool: ConnectionPool, *, lat: float, lon: float, radius_m: float, limit: int) -> list[dict[str, Any]]:
    """Run :data:`NEARBY_SQL` on a pooled connection."""
    with pool.connection() as conn:
        cur = conn.execute(
            NEARBY_SQL,
            {"lat": lat, "lon": lon, "radius_m": radius_m, "limit": limit},
        )
        return [dict(row) for row in cur.fetchall()]
