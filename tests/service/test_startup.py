"""``python -m geoapi`` as a real process: refuses to start without required settings."""

from __future__ import annotations

import os
import socket
import subprocess  # nosec B404 - the test runs the service's own entry point
import sys
import time
from pathlib import Path

import httpx


def _env(service_dir: Path, **overrides: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "GEOAPI_REQUIRE_DATABASE", "PORT", "HOST", "APP_VERSION"}
    }
    env["PYTHONPATH"] = str(service_dir)
    env.update(overrides)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_missing_required_database_url_fails_start(service_dir: Path) -> None:
    result = subprocess.run(  # nosec B603 - fixed argv
        [sys.executable, "-m", "geoapi"],
        env=_env(service_dir, GEOAPI_REQUIRE_DATABASE="true"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 78, result.stderr
    assert "configuration error, not starting" in result.stderr
    assert "GEOAPI_REQUIRE_DATABASE=true but DATABASE_URL is not set" in result.stderr
    assert "Uvicorn running" not in result.stderr


def test_invalid_port_fails_start(service_dir: Path) -> None:
    result = subprocess.run(  # nosec B603 - fixed argv
        [sys.executable, "-m", "geoapi"],
        env=_env(service_dir, PORT="not-a-port"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "PORT must be an integer" in result.stderr


def test_starts_and_serves_health_on_loopback(service_dir: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(  # nosec B603 - fixed argv
        [sys.executable, "-m", "geoapi"],
        env=_env(service_dir, PORT=str(port), APP_VERSION="sha-test"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert response is not None, "service did not answer /health within 30 s"
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        detailed = httpx.get(f"http://127.0.0.1:{port}/health/detailed", timeout=5)
        assert detailed.status_code == 503
        assert detailed.json()["version"] == "sha-test"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert f"on 127.0.0.1:{port}" in output
