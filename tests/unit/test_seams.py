"""What every release strategy stands on: the ledger helper, the state reader, the URL a release is checked at."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from deploytool.config import load_config
from deploytool.errors import DeployError, RolledBackError
from deploytool.ledger import Ledger, Record
from deploytool.runtime import AwsRuntime, check_url
from deploytool.stack import Target
from deploytool.state import AppOutputs, StateLayout, read_outputs

REPO = Path(__file__).resolve().parents[2]


class MemoryLedger(Ledger):
    def __init__(self) -> None:
        self.snapshots: list[dict[str, Any]] = []

    def write(self, record: Record) -> str:
        self.snapshots.append(dict(record.to_dict()))
        return record.id


def record() -> Record:
    return Record(env="staging", workspace="staging-x", stack="app", action="deploy", image_after="v2")


# -- Ledger.recording ----------------------------------------------------------------------------------
def test_recording_writes_start_and_success() -> None:
    ledger = MemoryLedger()
    with ledger.recording(record()):
        pass
    assert [s["outcome"] for s in ledger.snapshots] == ["in_progress", "success"]


def test_recording_keeps_an_outcome_the_body_set() -> None:
    ledger = MemoryLedger()
    with pytest.raises(RolledBackError), ledger.recording(record()) as rec:
        rec.outcome = "rolled_back"
        raise RolledBackError("v2 failed; v1 restored")
    assert ledger.snapshots[-1]["outcome"] == "rolled_back"
    assert ledger.snapshots[-1]["message"] == ""


@pytest.mark.parametrize(
    ("error", "outcome"), [(DeployError("apply failed"), "error"), (KeyboardInterrupt(), "interrupted")]
)
def test_recording_an_error_keeps_its_message(error: BaseException, outcome: str) -> None:
    ledger = MemoryLedger()
    with pytest.raises(type(error)), ledger.recording(record()) as rec:
        rec.message = "rollback requested"
        raise error
    last = ledger.snapshots[-1]
    assert last["outcome"] == outcome
    assert last["message"] == f"rollback requested; error: {error}"
    assert len(ledger.snapshots) == 2


# -- the state reader -----------------------------------------------------------------------------------
class FakeS3:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.keys: list[str] = []

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.keys.append(Key)
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "nope"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[Key])}


LAYOUT = StateLayout("bucket", "us-east-1", "staging")


def state(outputs: dict[str, Any]) -> bytes:
    return json.dumps({"version": 4, "outputs": outputs}).encode()


def test_layout_keys_follow_the_backend() -> None:
    assert LAYOUT.object_key("app") == "staging/app/terraform.tfstate"
    assert LAYOUT.object_key("app", "staging-x") == "workspaces/staging-x/staging/app/terraform.tfstate"
    assert LAYOUT.workspace_of("app", "workspaces/staging-x/staging/app/terraform.tfstate") == "staging-x"
    assert LAYOUT.workspace_of("app", "workspaces/staging-x/staging/platform/terraform.tfstate") is None
    assert LAYOUT.backend_settings("app")["workspace_key_prefix"] == "workspaces"
    platform = {"bucket": "bucket", "key": "staging/platform/terraform.tfstate", "region": "us-east-1"}
    assert LAYOUT.remote_state() == platform


def test_outputs_leave_sensitive_values_out_and_unwrap_a_composition_object() -> None:
    s3 = FakeS3(
        {
            LAYOUT.object_key("platform"): state(
                {"listener_arn": {"value": "arn:l"}, "db_password": {"value": "hunter2", "sensitive": True}}
            ),
            LAYOUT.object_key("app", "staging-x"): state({"app": {"value": {"url": "http://x", "image_tag": "v1"}}}),
        }
    )
    assert read_outputs(s3, LAYOUT, "platform") == {"listener_arn": "arn:l"}
    assert read_outputs(s3, LAYOUT, "app", "staging-x") == {"url": "http://x", "image_tag": "v1"}
    assert read_outputs(s3, LAYOUT, "app", "staging-gone") is None


def test_app_outputs_typed_by_colour() -> None:
    app = AppOutputs(
        {
            "cluster_name": "c",
            "active_color": "green",
            "green_service_name": "svc-green",
            "green_task_definition_arn": "td",
            "green_target_group_arn": "tg",
            "active_image_tag": "v3",
            "test_route_header": {"name": "X-Deploy-Target", "value": "idle"},
        }
    )
    assert app.image_tag == "v3"
    assert app.service("green").service_name == "svc-green"
    assert app.test_route_header == {"X-Deploy-Target": "idle"}
    with pytest.raises(DeployError, match="no output 'blue_service_name'"):
        app.service("blue")


# -- where a release is checked -------------------------------------------------------------------------
@pytest.fixture()
def staging() -> Target:
    config = load_config(REPO / "deploy.toml")
    return Target(config=config, settings=config.environment("staging"))


def test_check_url_order(staging: Target) -> None:
    names = staging.names("feature/x")
    bare = AppOutputs({})
    with_url = AppOutputs({"url": "https://from-state.example", "test_route_header": {"name": "H", "value": "1"}})
    assert isinstance(staging.runtime, AwsRuntime)
    # No URL anywhere: the public URL of the host (no certificate in staging: plain HTTP).
    assert check_url(staging, names, bare, names.service) == (f"http://{names.host}", {})
    # The stack's url output, with the test-route header only when the idle colour is meant.
    assert check_url(staging, names, with_url, names.service) == ("https://from-state.example", {})
    assert check_url(staging, names, with_url, names.service, test_route=True) == (
        "https://from-state.example",
        {"H": "1"},
    )
    # The configured base URL wins over the runtime; an explicit one wins over everything.
    configured = Target(
        config=staging.config,
        settings=staging.settings.model_copy(
            update={"health": staging.settings.health.model_copy(update={"base_url": "https://configured.example"})}
        ),
    )
    assert check_url(configured, names, with_url, names.service)[0] == "https://configured.example"
    assert check_url(configured, names, with_url, names.service, override="http://127.0.0.1:9/")[0] == (
        "http://127.0.0.1:9"
    )
