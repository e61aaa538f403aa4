"""What every release strategy stands on: the ledger helper, the state reader, the URL a release is checked at."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from deploytool import state as state_module
from deploytool.config import load_config
from deploytool.errors import DeployError, RolledBackError
from deploytool.ledger import Ledger, Record
from deploytool.runtime import AwsRuntime, check_url, public_url
from deploytool.stack import Target
from deploytool.state import (
    APP_PLATFORM_ATTRIBUTES,
    AppOutputs,
    PlatformOutputs,
    StateLayout,
    delete_platform_outputs,
    platform_outputs,
    publish_platform_outputs,
    read_outputs,
)

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
        self.puts: dict[str, dict[str, Any]] = {}

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.keys.append(Key)
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "nope"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[Key])}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **extra: Any) -> dict[str, Any]:
        self.objects[Key] = Body
        self.puts[Key] = extra
        return {}

    def delete_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.objects.pop(Key, None)
        return {}


LAYOUT = StateLayout("bucket", "us-east-1", "staging")


def state(outputs: dict[str, Any]) -> bytes:
    return json.dumps({"version": 4, "outputs": outputs}).encode()


def test_layout_keys_follow_the_backend() -> None:
    assert LAYOUT.object_key("app") == "staging/app/terraform.tfstate"
    assert LAYOUT.object_key("app", "staging-x") == "workspaces/staging-x/staging/app/terraform.tfstate"
    assert LAYOUT.workspace_of("app", "workspaces/staging-x/staging/app/terraform.tfstate") == "staging-x"
    assert LAYOUT.workspace_of("app", "workspaces/staging-x/staging/platform/terraform.tfstate") is None
    assert LAYOUT.backend_settings("app")["workspace_key_prefix"] == "workspaces"
    assert LAYOUT.outputs_key("platform") == "staging/platform/outputs.json"
    assert LAYOUT.outputs_key("platform") != LAYOUT.object_key("platform")


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


# -- the platform's published outputs ------------------------------------------------------------------
PASSWORD = "Cacao-Pod-Published-Never"


def platform_state() -> bytes:
    """A platform state whose root output is the ``platform`` object, plus sensitive outputs of both shapes."""
    platform = {name: f"value-of-{name}" for name in APP_PLATFORM_ATTRIBUTES} | {"vpc_cidr_block": "10.20.0.0/16"}
    return state(
        {
            "platform": {"value": platform},
            "db_master_password": {"value": PASSWORD, "sensitive": True},
            "secrets": {"value": {"password": PASSWORD}, "sensitive": True},
        }
    )


def test_published_document_holds_no_sensitive_output() -> None:
    s3 = FakeS3({LAYOUT.object_key("platform"): platform_state()})
    published = publish_platform_outputs(s3, LAYOUT)
    key = LAYOUT.outputs_key("platform")
    body = s3.objects[key]
    assert PASSWORD not in body.decode()
    document = json.loads(body)
    assert document["outputs"] == published
    assert "db_master_password" not in published and "secrets" not in published
    assert published["listener_arn"] == "value-of-listener_arn"
    assert published["vpc_cidr_block"] == "10.20.0.0/16"
    assert s3.puts[key]["ServerSideEncryption"] == "AES256"


def test_platform_outputs_read_the_document_never_the_state(monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = FakeS3({LAYOUT.object_key("platform"): platform_state()})
    config = load_config(REPO / "deploy.toml")
    target = Target(config=config, settings=config.environment("staging"))
    monkeypatch.setattr(Target, "layout", property(lambda self: LAYOUT))
    monkeypatch.setattr(Target, "clients", lambda self: lambda service: s3)
    with pytest.raises(DeployError) as missing:
        platform_outputs(target)
    message = str(missing.value)
    assert "\n" not in message
    assert LAYOUT.outputs_key("platform") in message and "apply the platform" in message
    publish_platform_outputs(s3, LAYOUT)
    s3.keys.clear()
    outputs = platform_outputs(target)
    assert s3.keys == [LAYOUT.outputs_key("platform")]
    assert outputs.listener_arn == "value-of-listener_arn"
    assert list(outputs.for_app()) == list(APP_PLATFORM_ATTRIBUTES)
    delete_platform_outputs(s3, LAYOUT)
    delete_platform_outputs(s3, LAYOUT)  # idempotent
    assert LAYOUT.outputs_key("platform") not in s3.objects


def test_app_is_given_only_the_declared_platform_attributes() -> None:
    full = {name: name for name in APP_PLATFORM_ATTRIBUTES} | {"vpc_cidr_block": "x", "db_instance_identifier": "y"}
    assert PlatformOutputs(full).for_app() == {name: name for name in APP_PLATFORM_ATTRIBUTES}
    partial = {k: v for k, v in full.items() if k != "db_secret_arn"}
    with pytest.raises(DeployError, match="lack db_secret_arn; apply the platform stack again"):
        PlatformOutputs(partial).for_app()
    assert state_module.OUTPUTS_DOCUMENT == "outputs.json"


def test_a_platform_published_before_the_cache_outputs_has_no_cache() -> None:
    cache = ("cache_url", "cache_port", "cache_security_group_id", "cache_auth_token_secret_arn")
    older = {name: name for name in APP_PLATFORM_ATTRIBUTES if name not in cache}
    given = PlatformOutputs(older).for_app()
    assert list(given) == list(APP_PLATFORM_ATTRIBUTES)
    assert {name: given[name] for name in cache} == dict.fromkeys(cache)


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


@pytest.mark.parametrize(
    ("platform", "scheme"),
    [
        ({}, "http"),
        ({"certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d"}, "https"),
        ({"create_certificate": True, "hosted_zone_id": "Z0123456789ABC"}, "https"),
    ],
)
def test_public_url_is_https_with_a_given_or_created_certificate(
    staging: Target, platform: dict[str, object], scheme: str
) -> None:
    """The URL plan comments and the demo show: HTTPS whenever the platform serves a certificate."""
    settings = staging.settings.model_copy(update={"platform": staging.settings.platform.model_copy(update=platform)})
    target = Target(config=staging.config, settings=settings)
    names = target.names("feature/x")
    assert public_url(target, names) == f"{scheme}://{names.host}"
