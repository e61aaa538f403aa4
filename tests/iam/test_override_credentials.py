"""The emulator override signs with the credentials it is given (an enforcing emulator refuses the
fake ones), in the provider, the S3 backend and S3 remote state alike."""

from __future__ import annotations

from pathlib import Path

from deploytool import emulator as emu

ROOT_TF = """
terraform {
  backend "s3" {}
}

data "terraform_remote_state" "platform" {
  backend = "s3"
  config = {
    bucket = "state"
    key    = "platform.tfstate"
  }
}
"""


def test_override_signs_with_the_given_session(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(ROOT_TF)
    session = emu.Credentials("ASIAEXAMPLE", "secret", "token-123")
    text = emu.override_text(tmp_path, "http://127.0.0.1:1", "us-east-1", session)
    assert text.count("access_key") == 3
    assert text.count('"ASIAEXAMPLE"') == 3
    assert text.count('"token-123"') == 3
    assert '"testing"' not in text


def test_override_without_credentials_keeps_the_fake_ones(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(ROOT_TF)
    text = emu.override_text(tmp_path, "http://127.0.0.1:1", "us-east-1")
    assert text.count('"testing"') == 6
    assert "token" not in text
