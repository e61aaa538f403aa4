"""Load profile for ``make perf``: liveness and nearby searches in the cocoa belt."""

from __future__ import annotations

import random
from itertools import count

from locust import HttpUser, constant, task

from geoapi.seed import REGIONS

_user_ids = count()


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
        region = self.rng.choice(REGIONS)
        lat = self.rng.uniform(region.lat_min, region.lat_max)
        lon = self.rng.uniform(region.lon_min, region.lon_max)
        self.client.get(
            "/farms/nearby",
            params={"lat": f"{lat:.5f}", "lon": f"{lon:.5f}", "radius_m": 2000, "limit": 50},
            name="/farms/nearby",
        )
