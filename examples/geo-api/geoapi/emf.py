"""CloudWatch metrics as embedded metric format (EMF) JSON lines on stdout.

On ECS the awslogs driver ships stdout to CloudWatch Logs, which extracts the
metrics from every line whose ``_aws`` member declares them: no agent, no
``PutMetricData`` permission. The namespace, metric names, units and dimensions
are declared once, in ``emf_metrics.json`` (the dashboard and alarms of
``modules/monitoring`` use the same names; a test holds them to this file).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, TextIO

#: The file that declares every metric the service emits.
SPEC_FILE = "emf_metrics.json"


@dataclass(frozen=True)
class Directive:
    """One ``CloudWatchMetrics`` entry: metrics (name -> unit) over one dimension set."""

    dimensions: tuple[str, ...]
    metrics: Mapping[str, str]


@dataclass(frozen=True)
class Spec:
    namespace: str
    directives: Mapping[str, Directive]


def load_spec() -> Spec:
    """The namespace and the directives declared in :data:`SPEC_FILE`."""
    raw = json.loads(resources.files("geoapi").joinpath(SPEC_FILE).read_text(encoding="utf-8"))
    return Spec(
        namespace=str(raw["namespace"]),
        directives={
            name: Directive(dimensions=tuple(d["dimensions"]), metrics=dict(d["metrics"]))
            for name, d in raw["directives"].items()
        },
    )


def status_class(status: int) -> str:
    """``2xx``, ``4xx``, ...: bounded dimension values (each combination is a custom metric)."""
    return f"{status // 100}xx"


class EmfLogger:
    """Writes one EMF document per event as a single JSON line.

    Thread-safe: sync endpoints run in a thread pool, so a lock keeps lines whole.
    """

    def __init__(
        self,
        environment: str,
        *,
        version: str = "dev",
        stream: TextIO | None = None,
        enabled: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = load_spec()
        self.environment = environment
        self.version = version
        self.enabled = enabled
        self._stream = stream
        self._clock = clock
        self._lock = threading.Lock()
        #: Lines that could not be written.
        self.dropped = 0

    def document(
        self,
        directives: Sequence[str],
        values: Mapping[str, float],
        dimensions: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The EMF document for ``values`` under ``directives`` (names in the spec).

        ``Environment`` is added to the dimensions. Raises ``ValueError`` when a declared
        metric or dimension has no value, or a value is not declared: CloudWatch would
        silently drop such a line.
        """
        dims = {"Environment": self.environment, **(dimensions or {})}
        declared_metrics: set[str] = set()
        declared_dims: set[str] = set()
        entries = []
        for name in directives:
            directive = self.spec.directives[name]
            declared_metrics.update(directive.metrics)
            declared_dims.update(directive.dimensions)
            entries.append(
                {
                    "Namespace": self.spec.namespace,
                    "Dimensions": [list(directive.dimensions)],
                    "Metrics": [{"Name": m, "Unit": unit} for m, unit in directive.metrics.items()],
                }
            )
        if declared_metrics != set(values):
            raise ValueError(f"metric values {sorted(values)} do not match the directives' {sorted(declared_metrics)}")
        if declared_dims != set(dims):
            raise ValueError(f"dimensions {sorted(dims)} do not match the directives' {sorted(declared_dims)}")
        return {
            "_aws": {"Timestamp": int(self._clock() * 1000), "CloudWatchMetrics": entries},
            **dims,
            **{k: float(v) for k, v in values.items()},
            "version": self.version,
        }

    def emit(
        self,
        directives: Sequence[str],
        values: Mapping[str, float],
        dimensions: Mapping[str, str] | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Write one document; ``properties`` are extra members, searchable in Logs Insights."""
        if not self.enabled:
            return
        document = {**(properties or {}), **self.document(directives, values, dimensions)}
        line = json.dumps(document, separators=(",", ":")) + "\n"
        stream = self._stream or sys.stdout
        with self._lock:
            try:
                stream.write(line)
                stream.flush()
            except (OSError, ValueError):
                # A closed or broken stdout loses metrics; it must not fail the request that emits them.
                self.dropped += 1

    def request(self, *, method: str, route: str, status: int, latency_s: float) -> None:
        self.emit(
            ["request_latency", "requests"],
            {"RequestLatency": latency_s * 1000.0, "Requests": 1},
            {"Route": route, "StatusClass": status_class(status)},
            {"method": method, "status": status},
        )

    def nearby_query(self, *, latency_s: float, rows: int) -> None:
        self.emit(["nearby_query"], {"NearbyQueryLatency": latency_s * 1000.0, "NearbyRowsReturned": rows})

    def db_pool(self, *, size: int, in_use: int, waiting: int) -> None:
        self.emit(["db_pool"], {"DbPoolSize": size, "DbPoolInUse": in_use, "DbPoolWaiting": waiting})

    async def report_pool(self, stats: Callable[[], Mapping[str, int]], interval_s: float) -> None:
        """Report the pool's ``stats()`` now and every ``interval_s`` seconds, until cancelled."""
        while True:
            self.db_pool_from_stats(stats())
            await asyncio.sleep(interval_s)

    def db_pool_from_stats(self, stats: Mapping[str, int]) -> None:
        """From psycopg_pool's ``get_stats()``: ``pool_size``, ``pool_available``, ``requests_waiting``."""
        size = int(stats.get("pool_size", 0))
        available = int(stats.get("pool_available", 0))
        self.db_pool(size=size, in_use=max(size - available, 0), waiting=int(stats.get("requests_waiting", 0)))
