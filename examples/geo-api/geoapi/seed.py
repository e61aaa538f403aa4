"""Deterministic pseudo-random farm points in the cocoa belt of Côte d'Ivoire and Ghana.

``python -m geoapi.seed --count 100000`` applies the schema, replaces the
farms table's rows with ``count`` generated farms (COPY) and runs ANALYZE.
The same ``--seed`` always yields the same farms.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from geoapi.db import apply_schema


@dataclass(frozen=True)
class Region:
    """A cocoa-growing area, approximated by a lat/lon box."""

    name: str
    country: str
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float
    weight: int

    def contains(self, lat: float, lon: float) -> bool:
        return self.lat_min <= lat <= self.lat_max and self.lon_min <= lon <= self.lon_max


#: Boxes around the main cocoa districts; weights roughly follow production.
REGIONS: tuple[Region, ...] = (
    Region("Soubre", "CI", 5.40, 6.20, -7.00, -6.20, 20),
    Region("San-Pedro", "CI", 4.80, 5.40, -7.20, -6.40, 12),
    Region("Daloa", "CI", 6.60, 7.20, -6.80, -6.20, 12),
    Region("Divo", "CI", 5.60, 6.20, -5.60, -5.00, 8),
    Region("Abengourou", "CI", 6.40, 7.00, -3.80, -3.20, 6),
    Region("Sefwi", "GH", 5.90, 6.60, -2.90, -2.20, 14),
    Region("Ashanti", "GH", 6.30, 7.10, -2.20, -1.30, 12),
    Region("Ahafo", "GH", 6.70, 7.40, -2.80, -2.20, 8),
    Region("Central", "GH", 5.30, 5.90, -1.80, -1.00, 4),
    Region("Eastern", "GH", 5.90, 6.50, -1.00, -0.40, 4),
)

COPY_SQL = "COPY farms (name, country, area_ha, location) FROM STDIN"


def generate_farms(count: int, seed: int = 42) -> Iterator[tuple[str, str, str, str]]:
    """Yield ``count`` rows ``(name, country, area_ha, EWKT location)``."""
    # Not used for anything secret: a seeded PRNG is what makes the data reproducible.
    rng = random.Random(seed)  # nosec B311
    weights = [r.weight for r in REGIONS]
    for i in range(1, count + 1):
        region = rng.choices(REGIONS, weights=weights)[0]
        lat = rng.uniform(region.lat_min, region.lat_max)
        lon = rng.uniform(region.lon_min, region.lon_max)
        area = rng.uniform(0.5, 8.0)
        yield (
            f"{region.name} farm {i:06d}",
            region.country,
            f"{area:.2f}",
            f"SRID=4326;POINT({lon:.6f} {lat:.6f})",
        )


def seed_farms(conn: psycopg.Connection[Any], count: int, seed: int = 42, *, replace: bool = True) -> int:
    """Apply the schema, load ``count`` generated farms with COPY, ANALYZE. Returns rows loaded."""
    apply_schema(conn)
    with conn.cursor() as cur:
        if replace:
            cur.execute("TRUNCATE farms RESTART IDENTITY")
        with cur.copy(COPY_SQL) as copy:
            for row in generate_farms(count, seed):
                copy.write_row(row)
        cur.execute("ANALYZE farms")
    conn.commit()
    return count


def _bump_cache() -> None:
    """Cached nearby results of the old data must not be served: move readers to a new version."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return
    from geoapi.cache import NearbyCache

    cache = NearbyCache.from_url(url, auth_token=os.environ.get("REDIS_AUTH_TOKEN"), ttl_s=60, timeout_s=2.0)
    try:
        if not cache.bump():
            print("warning: the cache's data version was not bumped (Redis unreachable)", file=sys.stderr)
    finally:
        cache.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m geoapi.seed", description=__doc__)
    parser.add_argument("--count", type=int, default=100_000, help="farms to generate")
    parser.add_argument("--seed", type=int, default=42, help="PRNG seed (same seed, same farms)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="PostgreSQL URL (default: $DATABASE_URL)",
    )
    parser.add_argument("--append", action="store_true", help="keep existing rows")
    parser.add_argument("--schema-only", action="store_true", help="apply the schema and load nothing")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("no database: pass --database-url or set DATABASE_URL")
    if args.count < 0:
        parser.error("--count must be >= 0")

    start = time.perf_counter()
    try:
        with psycopg.connect(args.database_url, connect_timeout=5) as conn:
            if args.schema_only:
                apply_schema(conn)
                conn.commit()
                print("schema applied", file=sys.stderr)
                return 0
            loaded = seed_farms(conn, args.count, args.seed, replace=not args.append)
    except psycopg.Error as exc:
        print(f"seed failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    _bump_cache()
    print(
        f"seeded {loaded} farms (seed {args.seed}) in {time.perf_counter() - start:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
