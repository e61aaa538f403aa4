"""Cache-aside for the nearby-farms query in Redis (when ``REDIS_URL`` is set): the serialised answer
is stored, so a hit costs neither a query nor a serialisation.

Entries are keyed by the query, its coordinates rounded to :data:`COORDINATE_DECIMALS` places
(about a metre) and its radius to a tenth of a metre, and by the farms' data version: a counter
in Redis (:data:`VERSION_KEY`) that every write bumps once its transaction has committed
(:func:`geoapi.db.insert_farm` through :meth:`NearbyCache.bump`, and ``geoapi-seed``). A write
thus never serves stale results: readers move to keys of the new version at once, and the old
entries expire with their TTL. A writer that cannot reach Redis leaves the old version in place;
the TTL bounds how long its write goes unseen.

Redis is an optimisation, never a dependency: when it cannot be reached, the query goes to the
database, and the cache is left alone for :data:`RETRY_AFTER_S` seconds so that an outage costs one
short timeout, not one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

logger = logging.getLogger(__name__)

VERSION_KEY = "geoapi:farms:version"
KEY_PREFIX = "geoapi:nearby"
COORDINATE_DECIMALS = 5
RETRY_AFTER_S = 5.0

Produce = Callable[[float, float, float, int], bytes]


def rounded(lat: float, lon: float, radius_m: float) -> tuple[float, float, float]:
    """The query values a cache entry stands for (the database is asked exactly these)."""
    return round(lat, COORDINATE_DECIMALS), round(lon, COORDINATE_DECIMALS), round(radius_m, 1)


class NearbyCache:
    """Nearby-query results in Redis, versioned by the farms' data version."""

    def __init__(self, client: redis.Redis, ttl_s: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._down_until = 0.0

    @classmethod
    def from_url(cls, url: str, *, auth_token: str | None, ttl_s: int, timeout_s: float) -> NearbyCache:
        """A cache on ``url`` (``rediss://`` for TLS); ``auth_token`` is the AUTH password."""
        client = redis.Redis.from_url(
            url,
            password=auth_token or None,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            health_check_interval=30,
        )
        return cls(client, ttl_s)

    @staticmethod
    def key(version: int, lat: float, lon: float, radius_m: float, limit: int) -> str:
        lat, lon, radius_m = rounded(lat, lon, radius_m)
        places = COORDINATE_DECIMALS
        return f"{KEY_PREFIX}:v{version}:{lat:.{places}f}:{lon:.{places}f}:{radius_m:.1f}:{limit}"

    def _available(self) -> bool:
        with self._lock:
            return self._clock() >= self._down_until

    def _failed(self, what: str, exc: Exception) -> None:
        with self._lock:
            self._down_until = self._clock() + RETRY_AFTER_S
        logger.warning(
            "cache %s failed, using the database for %.0f s: %s: %s", what, RETRY_AFTER_S, type(exc).__name__, exc
        )

    def nearby(self, lat: float, lon: float, radius_m: float, limit: int, produce: Produce) -> tuple[bytes, str]:
        """The response body for the query and where it came from: ``hit``, ``miss`` or ``bypass``.

        ``produce(lat, lon, radius_m, limit)`` runs the query on the database, with the rounded values,
        and serialises the answer; a hit is served as stored, with no query and no serialisation.
        """
        lat, lon, radius_m = rounded(lat, lon, radius_m)
        if not self._available():
            return produce(lat, lon, radius_m, limit), "bypass"
        try:
            version = int(self._client.get(VERSION_KEY) or 0)
            key = self.key(version, lat, lon, radius_m, limit)
            cached = self._client.get(key)
        except redis.RedisError as exc:
            self._failed("read", exc)
            return produce(lat, lon, radius_m, limit), "bypass"
        if cached is not None:
            return cached.encode() if isinstance(cached, str) else bytes(cached), "hit"
        body = produce(lat, lon, radius_m, limit)
        try:
            self._client.set(key, body, ex=self._ttl_s)
        except redis.RedisError as exc:
            self._failed("write", exc)
        return body, "miss"

    def bump(self) -> bool:
        """Move readers to a new data version (call after a write has committed). False when Redis
        could not be reached: entries of the old version then live out their TTL."""
        try:
            self._client.incr(VERSION_KEY)
        except redis.RedisError as exc:
            self._failed("version bump", exc)
            return False
        return True

    def close(self) -> None:
        self._client.close()
