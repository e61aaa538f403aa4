"""DEPLOYTOOL_EMULATOR_URL: one variable that points every environment at the AWS emulator, and says so."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest

from deploytool import emulator as emu
from deploytool.config import load_config
from deploytool.errors import DeployError
from deploytool.stack import resolve_target

REPO = Path(__file__).resolve().parents[2]


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        data = json.dumps({}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def answering_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTOOL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(emu.EMULATOR_URL_ENV, raising=False)


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_variable_points_any_environment_at_the_emulator_and_says_so(
    env: str, answering_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYTOOL_EMULATOR_URL", answering_endpoint)
    progress = io.StringIO()
    target = resolve_target(load_config(REPO / "deploy.toml"), env, progress=progress)
    assert target.endpoint == answering_endpoint and target.local
    assert target.settings.name == env  # its own settings, not the local environment's
    assert f"DEPLOYTOOL_EMULATOR_URL is set: --env {env} runs against the AWS emulator at {answering_endpoint}" in (
        progress.getvalue()
    )


def test_without_the_variable_staging_targets_aws_silently() -> None:
    progress = io.StringIO()
    target = resolve_target(load_config(REPO / "deploy.toml"), "staging", progress=progress)
    assert target.endpoint is None and not target.local
    assert progress.getvalue() == ""


def test_an_emulator_url_that_does_not_answer_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTOOL_EMULATOR_URL", f"http://127.0.0.1:{emu.free_port()}")
    with pytest.raises(DeployError, match="does not answer"):
        resolve_target(load_config(REPO / "deploy.toml"), "staging", progress=io.StringIO())
