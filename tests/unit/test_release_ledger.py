"""A deploy history that cannot be written never changes what happens to the service.

The rolling strategy runs here with Terraform and the checks replaced (``apply_app``, ``verify``)
and a real :class:`~deploytool.ledger.Ledger` over an S3 client that refuses ``PutObject``, as S3
does for a role that lacks it on the history prefix: a release that fails verification is still
rolled back and the run still exits 3; a healthy release still succeeds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tenacity import wait_none

from deploytool import naming
from deploytool.errors import RolledBackError
from deploytool.health import CheckResult, Verdict
from deploytool.ledger import Ledger, Record
from deploytool.release import rolling
from deploytool.release.rolling import Rolling

GOOD, BAD = "good-1", "bad-2"


class RefusingS3:
    """An S3 client with no history to list whose ``PutObject`` is refused (all of them, or once
    the record is no longer ``in_progress``)."""

    def __init__(self, *, refuse_starts: bool) -> None:
        self.refuse_starts = refuse_starts
        self.attempts: list[dict[str, Any]] = []
        self.stored: list[dict[str, Any]] = []

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        body = json.loads(kwargs["Body"])
        self.attempts.append(body)
        if self.refuse_starts or body["outcome"] != "in_progress":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObject")
        self.stored.append(body)
        return {}

    def get_paginator(self, _name: str) -> Any:
        class Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                return [{"Contents": []}]

        return Pages()


@dataclass
class FakeTarget:
    s3: RefusingS3
    env: str = "staging"
    warnings: list[str] = field(default_factory=list)

    def names(self, branch: str | None) -> naming.Names:
        return naming.names_for(self.env, branch, "example.test")

    def ledger(self) -> Ledger:
        ledger = Ledger(self.s3, "state-bucket")
        ledger.write_wait = wait_none()
        return ledger


class App:
    def service(self) -> object:
        return object()


@pytest.fixture()
def applied(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Image tags applied, in order; ``GOOD`` runs before the test and verifies, ``BAD`` does not."""
    running = [GOOD]

    def apply_app(_target: Any, _names: Any, image_tag: str, **_: Any) -> tuple[Any, App]:
        running.append(image_tag)
        return SimpleNamespace(summary=None), App()

    def verify(*_: Any, image_tag: str, **__: Any) -> tuple[str, Verdict]:
        status = "pass" if image_tag == GOOD else "fail"
        return "http://svc.example.test", Verdict((CheckResult("http.basic", status, f"{image_tag}: {status}"),))

    monkeypatch.setattr(rolling, "apply_app", apply_app)
    monkeypatch.setattr(rolling, "verify", verify)
    monkeypatch.setattr(rolling, "counts", lambda _summary: {})
    monkeypatch.setattr(rolling.migration, "command", lambda _target: [])  # no database, no migration here
    monkeypatch.setattr(rolling.inputs, "require_image", lambda *_a, **_k: None)  # no registry here
    monkeypatch.setattr(rolling, "deployed_image", lambda _target, _workspace: running[-1])
    return running


@pytest.mark.parametrize("refuse_starts", [False, True], ids=["failure-record-refused", "every-write-refused"])
def test_a_failed_release_is_rolled_back_when_the_history_cannot_be_written(
    applied: list[str], refuse_starts: bool
) -> None:
    s3 = RefusingS3(refuse_starts=refuse_starts)
    strategy = Rolling(FakeTarget(s3), "feature/x")  # type: ignore[arg-type]

    with pytest.raises(RolledBackError) as caught:
        strategy.deploy(BAD)

    assert applied == [GOOD, BAD, GOOD], "the last good release is applied again"
    assert caught.value.exit_code == 3
    assert f"rolled back to {GOOD}" in caught.value.message
    assert "deploy history" in caught.value.message  # says the record is missing
    refused = [a for a in s3.attempts if refuse_starts or a["outcome"] != "in_progress"]
    assert {a["outcome"] for a in refused} >= {"rolled_back", "success"}
    assert len(refused) >= 2 * Ledger.write_attempts, "each refused write was retried"


def test_a_healthy_release_succeeds_when_the_history_cannot_be_written(applied: list[str]) -> None:
    strategy = Rolling(FakeTarget(RefusingS3(refuse_starts=True)), "feature/x")  # type: ignore[arg-type]
    outcome = strategy.deploy(GOOD)
    assert outcome.outcome == "success"
    assert applied == [GOOD, GOOD]


class FlakyLedger(Ledger):
    """Refuses the first ``failures`` puts, then stores."""

    def __init__(self, failures: int) -> None:
        super().__init__(None, "state-bucket")
        self.failures = failures
        self.stored: list[str] = []
        self.write_wait = wait_none()

    def _put(self, key: str, body: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "Put")
        self.stored.append(key)


def test_a_ledger_write_is_retried_until_it_goes_through() -> None:
    ledger = FlakyLedger(failures=Ledger.write_attempts - 1)
    record = Record(env="staging", workspace="staging-x", stack="app", action="deploy", image_after="v2")
    assert ledger.write(record) in ledger.stored


def test_recording_keeps_the_body_s_error_when_the_end_record_cannot_be_written() -> None:
    ledger = FlakyLedger(failures=10**6)
    warnings: list[str] = []
    record = Record(env="production", workspace="default", stack="app", action="deploy", image_after="v2")
    with pytest.raises(RolledBackError) as caught, ledger.recording(record, warn=warnings.append) as rec:
        rec.outcome = "rolled_back"
        raise RolledBackError("production: v2 failed; switched back to blue")
    assert caught.value.exit_code == 3
    assert "switched back to blue" in caught.value.message
    assert "deploy history" in caught.value.message
    assert warnings and all("deploy history" in w for w in warnings)
