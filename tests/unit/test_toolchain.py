"""Toolchain and emulator errors: one line that says what to do, exit 1, no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from deploytool import toolchain
from deploytool.cli import main
from deploytool.errors import DeployError


def test_install_lays_out_a_verified_mirror_and_is_idempotent(tmp_path: Path) -> None:
    tc = toolchain.install(toolchain.Toolchain(tmp_path))
    assert toolchain.sha256_file(tc.provider_zip) == toolchain.PROVIDER_SHA256
    assert tc.provider_zip.parent.parts[-3:] == ("registry.terraform.io", "hashicorp", "aws")
    config = tc.cli_config.read_text()
    assert 'include = ["registry.terraform.io/hashicorp/*"]' in config
    assert 'exclude = ["registry.terraform.io/hashicorp/*"]' in config
    again = toolchain.install(toolchain.Toolchain(tmp_path))
    assert again.mirror_installed()


def test_a_tampered_provider_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / toolchain.PROVIDER_ZIP
    fake.write_bytes(b"not the provider")
    with pytest.raises(DeployError, match="refusing to install"):
        toolchain.install(toolchain.Toolchain(tmp_path / "home"), source=fake)


def test_missing_mirror_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tc = toolchain.install(toolchain.Toolchain(tmp_path))
    tc.provider_zip.unlink()
    with pytest.raises(DeployError, match="toolchain install"):
        tc.terraform_env()
    monkeypatch.setenv("DEPLOYTOOL_HOME", str(tmp_path))
    monkeypatch.setenv("DEPLOYTOOL_CONFIG", str(Path(__file__).resolve().parents[2] / "deploy.toml"))
    result = CliRunner().invoke(main, ["plan", "--env", "staging", "--branch", "x", "--image-tag", "v1"])
    assert result.exit_code == 1
    assert "provider mirror is missing" in result.output
    assert "Traceback" not in result.output


def test_no_mirror_means_the_registry(tmp_path: Path) -> None:
    assert toolchain.Toolchain(tmp_path / "empty").terraform_env() == {}


def test_emulator_port_in_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTOOL_HOME", str(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["emulator", "start", "--port", str(port)])
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is in use" in result.output
    assert "Traceback" not in result.output


def test_embedded_engine_is_terraform_1_15() -> None:
    assert toolchain.engine_version(toolchain.resolve_engine()).startswith("Terraform v1.15.")


def test_user_binary_through_the_same_interface(tmp_path: Path) -> None:
    fake = tmp_path / "tofu"
    fake.write_text("#!/bin/sh\necho 'OpenTofu v1.8.0'\n")
    fake.chmod(0o755)
    engine = toolchain.resolve_engine(str(fake))
    assert not engine.embedded
    assert toolchain.engine_version(engine) == "OpenTofu v1.8.0"
