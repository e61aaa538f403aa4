"""The service's test-only fault injection (``GEOAPI_FAULT``), which the deployment tests use."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from geoapi import Settings, create_app
from geoapi.settings import SettingsError


def test_no_fault_by_default() -> None:
    settings = Settings.from_env({})
    assert settings.fault == "" and settings.exit_after_s is None and settings.reported_version == "dev"


@pytest.mark.parametrize(
    "fault", ["crash", "exit-after:soon", "unhealthy-ish", "production-unhealthy", "production-unhealthy:X Bad"]
)
def test_an_unknown_fault_is_a_configuration_error(fault: str) -> None:
    with pytest.raises(SettingsError, match="GEOAPI_FAULT"):
        Settings.from_env({"GEOAPI_FAULT": fault})


def test_unhealthy_answers_503_on_the_liveness_path() -> None:
    app = create_app(Settings(app_version="v2", fault="unhealthy"))
    with TestClient(app) as client:
        assert client.get("/health").status_code == 503


def test_production_unhealthy_fails_only_production_traffic_through_the_load_balancer() -> None:
    """503 on every path for forwarded requests without the test route's header; the load balancer's
    own health checks (no X-Forwarded-For) and the test route (the header, any case) see it healthy."""
    settings = Settings.from_env({"APP_VERSION": "v2", "GEOAPI_FAULT": "production-unhealthy:X-Deploy-Target"})
    assert settings.production_unhealthy_header == "X-Deploy-Target"
    forwarded = {"X-Forwarded-For": "127.0.0.1"}
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200  # a health check of the load balancer
        assert client.get("/health", headers={**forwarded, "x-deploy-target": "token"}).status_code == 200
        detailed = client.get("/health/detailed", headers={**forwarded, "X-Deploy-Target": "token"})
        assert detailed.json()["version"] == "v2"
        for path in ("/health", "/health/detailed", "/farms/nearby?lat=0&lon=0"):
            response = client.get(path, headers=forwarded)
            assert response.status_code == 503, path
            assert "production-unhealthy" in response.json()["detail"]
        assert client.get("/health", headers={**forwarded, "X-Other": "token"}).status_code == 503


def test_other_faults_leave_forwarded_requests_alone() -> None:
    assert Settings(fault="version:v1").production_unhealthy_header is None
    with TestClient(create_app(Settings(app_version="v2"))) as client:
        assert client.get("/health", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200


def test_version_reports_another_version() -> None:
    app = create_app(Settings(app_version="v2", fault="version:v1"))
    with TestClient(app) as client:
        assert client.get("/health/detailed").json()["version"] == "v1"


def test_exit_after_ends_the_process_with_status_1(service_dir: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(service_dir), "GEOAPI_FAULT": "exit-after:1"}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        env["PORT"] = str(sock.getsockname()[1])
    started = time.monotonic()
    command = [sys.executable, "-m", "geoapi"]
    done = subprocess.run(command, env=env, cwd=service_dir, capture_output=True, timeout=30, check=False)
    assert done.returncode == 1, done.stderr
    assert 1.0 <= time.monotonic() - started < 20
    assert b"GEOAPI_FAULT" in done.stderr
