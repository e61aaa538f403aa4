"""Load profile for ``make perf``: liveness and nearby searches in the cocoa belt."""

from __future__ import annotations

import os
import random
from itertools import count

from locust import HttpUser, constant, task

from geoapi.seed import REGIONS

_user_ids = count()


def _hot_points(n: int) -> list[tuple[float, float]]:
    """``GEOAPI_PERF_HOT_POINTS`` fixed points in the cocoa belt (the same every run)."""
    rng = random.Random(20_000)  # nosec B311 - load pattern, not security
    points = []
    for _ in range(n):
        region = rng.choice(REGIONS)
        points.append((rng.uniform(region.lat_min, region.lat_max), rng.uniform(region.lon_min, region.lon_max)))
    return points


HOT_POINTS = _hot_points(int(os.environ.get("GEOAPI_PERF_HOT_POINTS") or 0))


class ApiUser(HttpUser):
    """A client with no think time: measures the service, not the pacing."""

    wait_time = constant(0)

    def on_start(self) -> None:
        # Seeded per user: every run sends the same sequence of points.
        self.rng = random.Random(next(_user_ids))  # nosec B311 - load pattern, not security

    @task(1)
    def health(self) -> None:
        self.client.get("/health", name="/health")

    @task(3)
    def nearby(self) -> None:
        if HOT_POINTS:
            lat, lon = self.rng.choice(HOT_POINTS)
        else:
            region = self.rng.choice(REGIONS)
            lat = self.rng.uniform(region.lat_min, region.lat_max)
            lon = self.rng.uniform(region.lon_min, region.lon_max)
        self.client.get(
            "/farms/nearby",
            params={"lat": f"{lat:.5f}", "lon": f"{lon:.5f}", "radius_m": 2000, "limit": 50},
            name="/farms/nearby",
        )
