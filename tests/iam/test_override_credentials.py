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


def test_override_of_a_caller_in_the_environment_names_no_key(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(ROOT_TF)
    text = emu.override_text(tmp_path, "http://127.0.0.1:1", "us-east-1", from_environment=True)
    assert "access_key" not in text and "secret_key" not in text and "token" not in text
    assert text.count("http://127.0.0.1:1") >= 3  # still pointed at the emulator everywhere


def test_caller_credentials_are_the_environments_unless_fake() -> None:
    assert emu.caller_credentials({}) is None
    assert emu.caller_credentials(dict(emu.FAKE_CREDENTIALS)) is None
    assert emu.caller_credentials({"AWS_ACCESS_KEY_ID": "AKIAX"}) is None  # no secret: not a key
    session = {"AWS_ACCESS_KEY_ID": "ASIAX", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"}
    assert emu.caller_credentials(session) == emu.Credentials("ASIAX", "s", "t")
    assert emu.caller_credentials({**session, "AWS_SESSION_TOKEN": ""}) == emu.Credentials("ASIAX", "s")
