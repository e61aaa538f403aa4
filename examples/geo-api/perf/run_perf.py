"""Bounded local load test of the Geo API against a seeded PostGIS table.

Seeds the table if it does not hold ``--count`` farms, starts the service on a
free loopback port, runs locust headless for ``--run-time``, prints p50/p95/p99
and requests per second per endpoint, and compares p95 with the committed
baseline: the run fails only when an endpoint's p95 exceeds ``--max-ratio``
times its baseline, or more than 1 % of requests fail.

``--cache`` runs the service with a Redis cache (``REDIS_URL``): a private redis-server on a free
loopback port, started and stopped here; ``--hot-points N`` makes the nearby searches pick from N
fixed points instead of random ones (a cacheable load). The cache's hit/miss counts are printed.

Traffic only ever goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import socket
import subprocess  # nosec B404 - starts the service and locust from fixed argv
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
SERVICE_DIR = HERE.parent
ENDPOINTS = ("/health", "/farms/nearby")
MAX_FAILURE_RATIO = 0.01
DEFAULT_DSN = "postgresql://geoapi:geoapi@127.0.0.1:5432/geoapi_test"


def ensure_seeded(database_url: str, count: int) -> None:
    from geoapi.seed import seed_farms

    with psycopg.connect(database_url, connect_timeout=5) as conn:
        present = conn.execute("SELECT to_regclass('farms') IS NOT NULL").fetchone()
        rows = conn.execute("SELECT count(*) FROM farms").fetchone() if present and present[0] else (0,)
        conn.commit()
        if rows and rows[0] == count:
            print(f"perf: farms table already holds {count} rows", file=sys.stderr)
            return
        start = time.perf_counter()
        seed_farms(conn, count)
        print(f"perf: seeded {count} farms in {time.perf_counter() - start:.1f} s", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A redis-server of our own on a free loopback port (no persistence), stopped on exit."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("perf: --cache needs redis-server (sudo bash .ci/install-redis.sh)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="geoapi-perf-redis-") as tmp:
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp, "--save", "", "--appendonly", "no"]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # nosec B603 - fixed argv
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("perf: redis-server did not start") from None
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def cache_outcomes(base_url: str) -> dict[str, float]:
    """The service's ``geoapi_nearby_cache_total`` by outcome."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as resp:  # nosec B310 - loopback
        text = resp.read().decode()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("geoapi_nearby_cache_total{"):
            found[line.split('outcome="')[1].split('"')[0]] = float(line.rsplit(" ", 1)[1])
    return found


def wait_healthy(base_url: str, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"perf: service exited with {proc.returncode} before answering /health")
        try:
            with urllib.request.urlopen(f"{base_url}/health/detailed", timeout=2) as resp:  # nosec B310 - loopback
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("perf: service not healthy within 30 s")


def read_stats(csv_path: Path) -> dict[str, dict[str, float]]:
    stats: dict[str, dict[str, float]] = {}
    with csv_path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] not in ENDPOINTS:
                continue
            stats[row["Name"]] = {
                "requests": float(row["Request Count"]),
                "failures": float(row["Failure Count"]),
                "p50_ms": float(row["50%"]),
                "p95_ms": float(row["95%"]),
                "p99_ms": float(row["99%"]),
                "rps": float(row["Requests/s"]),
            }
    return stats


def compare(stats: dict[str, dict[str, float]], baseline: dict[str, Any], max_ratio: float) -> list[str]:
    problems: list[str] = []
    for name in ENDPOINTS:
        current = stats.get(name)
        if current is None or current["requests"] == 0:
            problems.append(f"{name}: no requests recorded")
            continue
        if current["failures"] / current["requests"] > MAX_FAILURE_RATIO:
            problems.append(f"{name}: {current['failures']:.0f} of {current['requests']:.0f} requests failed")
        base = baseline.get("endpoints", {}).get(name)
        if base is None:
            problems.append(f"{name}: no baseline entry")
            continue
        limit = max_ratio * float(base["p95_ms"])
        if current["p95_ms"] > limit:
            problems.append(
                f"{name}: p95 {current['p95_ms']:.0f} ms > {max_ratio:g} x baseline {base['p95_ms']:.0f} ms"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or os.environ.get("GEOAPI_TEST_DATABASE_URL") or DEFAULT_DSN,
    )
    parser.add_argument("--count", type=int, default=100_000, help="farms in the table under test")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=int, default=10)
    parser.add_argument("--run-time", default="30s")
    parser.add_argument("--baseline", type=Path, default=SERVICE_DIR / "perf-baseline.json")
    parser.add_argument("--max-ratio", type=float, default=3.0, help="fail when p95 > ratio x baseline p95")
    parser.add_argument("--update-baseline", action="store_true", help="write this run's figures as the baseline")
    parser.add_argument("--cache", action="store_true", help="serve with a Redis cache (a private redis-server)")
    parser.add_argument(
        "--hot-points", type=int, default=0, help="nearby searches pick from N fixed points (0: random)"
    )
    args = parser.parse_args(argv)

    ensure_seeded(args.database_url, args.count)
    with contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(private_redis()) if args.cache else None
        return run(args, redis_url)


def run(args: argparse.Namespace, redis_url: str | None) -> int:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        DATABASE_URL=args.database_url,
        APP_VERSION="perf",
        PYTHONPATH=str(SERVICE_DIR),
        GEOAPI_PERF_HOT_POINTS=str(args.hot_points),
    )
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    outcomes: dict[str, float] = {}
    service = subprocess.Popen(  # nosec B603 - fixed argv
        [sys.executable, "-m", "geoapi"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_healthy(base_url, service)
        with tempfile.TemporaryDirectory(prefix="geoapi-perf-") as tmp:
            prefix = Path(tmp) / "perf"
            cmd = [
                sys.executable, "-m", "locust",
                "-f", str(HERE / "locustfile.py"),
                "--headless", "--only-summary",
                "--users", str(args.users),
                "--spawn-rate", str(args.spawn_rate),
                "--run-time", args.run_time,
                "--stop-timeout", "5",
                "--host", base_url,
                "--csv", str(prefix),
                "--exit-code-on-error", "0",
            ]  # fmt: skip
            print(f"perf: {args.users} users for {args.run_time} against {base_url}", file=sys.stderr)
            subprocess.run(cmd, env=env, check=True, timeout=600)  # nosec B603 - fixed argv
            stats = read_stats(Path(f"{prefix}_stats.csv"))
        if redis_url is not None:
            outcomes = cache_outcomes(base_url)
    finally:
        service.terminate()
        service.wait(timeout=30)

    print(f"{'endpoint':<16}{'requests':>10}{'fail':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'RPS':>9}")
    for name in ENDPOINTS:
        s = stats.get(name)
        if s:
            print(
                f"{name:<16}{s['requests']:>10.0f}{s['failures']:>6.0f}{s['p50_ms']:>9.0f}"
                f"{s['p95_ms']:>9.0f}{s['p99_ms']:>9.0f}{s['rps']:>9.1f}"
            )

    if outcomes:
        total = sum(outcomes.values())
        print(
            "cache: "
            + ", ".join(f"{k} {v:.0f}" for k, v in sorted(outcomes.items()))
            + f" (hit ratio {outcomes.get('hit', 0) / total:.2f})"
        )

    if args.update_baseline:
        baseline = {
            "description": (
                f"{args.users} locust users, {args.run_time}, {args.count} seeded farms, "
                "one uvicorn worker, 2-core machine"
            ),
            "endpoints": {
                name: {k: round(v, 1) for k, v in s.items() if k in {"p50_ms", "p95_ms", "p99_ms", "rps"}}
                for name, s in stats.items()
            },
        }
        args.baseline.write_text(json.dumps(baseline, indent=2) + "\n")
        print(f"perf: baseline written to {args.baseline}", file=sys.stderr)
        return 0

    baseline = json.loads(args.baseline.read_text())
    problems = compare(stats, baseline, args.max_ratio)
    for problem in problems:
        print(f"perf: REGRESSION {problem}", file=sys.stderr)
    if not problems:
        print(f"perf: within {args.max_ratio:g} x baseline p95 for {', '.join(ENDPOINTS)}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
