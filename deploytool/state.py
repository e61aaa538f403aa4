"""Where Terraform keeps each stack's state, and the one reader of the outputs in it.

Layout (the S3 backend with ``workspace_key_prefix = "workspaces"``)::

    s3://<state bucket>/<env>/<stack>/terraform.tfstate                          default workspace
    s3://<state bucket>/workspaces/<workspace>/<env>/<stack>/terraform.tfstate   any other workspace
    s3://<state bucket>/<env>/platform/outputs.json                              the platform's published outputs

``StateLayout`` is the only place that knows it: the backend settings the runner initialises
with, and the keys the readers below GET. Outputs are read straight from the state object (what
``terraform output`` reads), so no Terraform process is needed; sensitive outputs are left out.

The platform's state holds the database master password, so nothing that deploys an app reads
it: after every platform apply the tool publishes the platform's non-sensitive outputs as a small
JSON document (``publish_platform_outputs``), which ``platform_outputs`` reads and the app
templates are rendered from (``app_platform``: the attributes the app compositions' ``platform``
variable declares).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from deploytool.errors import DeployError

if TYPE_CHECKING:
    from deploytool.stack import Target

WORKSPACE_KEY_PREFIX = "workspaces"
DEFAULT_WORKSPACE = "default"
OUTPUTS_DOCUMENT = "outputs.json"
APP_PLATFORM_ATTRIBUTES = (
    "cluster_name",
    "cluster_arn",
    "vpc_id",
    "private_subnet_ids",
    "alb_security_group_id",
    "alb_dns_name",
    "alb_zone_id",
    "listener_arn",
    "url_scheme",
    "task_execution_role_arn",
    "log_group_name",
    "db_address",
    "db_port",
    "db_username",
    "db_name",
    "db_secret_arn",
    "db_app_username",
    "db_app_secret_arn",
    "db_security_group_id",
    "alb_arn_suffix",
    "sns_topic_arn",
    "cache_url",
    "cache_port",
    "cache_security_group_id",
    "cache_auth_token_secret_arn",
)
"""The platform outputs an app stack is given: the attributes of the app compositions' typed
``platform`` variable (``modules/app-rolling``, ``modules/app-blue-green``; a test holds them equal)."""


@dataclass(frozen=True)
class StateLayout:
    """The state objects of one environment in one bucket."""

    bucket: str
    region: str
    env: str

    def key(self, stack: str) -> str:
        """The backend ``key`` of ``stack`` (the default workspace's object)."""
        return f"{self.env}/{stack}/terraform.tfstate"

    def object_key(self, stack: str, workspace: str = DEFAULT_WORKSPACE) -> str:
        """The S3 key of ``stack``'s state in ``workspace``."""
        key = self.key(stack)
        return key if workspace == DEFAULT_WORKSPACE else f"{WORKSPACE_KEY_PREFIX}/{workspace}/{key}"

    def workspace_of(self, stack: str, object_key: str) -> str | None:
        """The (non-default) workspace whose state of ``stack`` is at ``object_key``, else None."""
        prefix = f"{WORKSPACE_KEY_PREFIX}/"
        if not object_key.startswith(prefix):
            return None
        workspace, sep, rest = object_key[len(prefix) :].partition("/")
        return workspace if sep and workspace and rest == self.key(stack) else None

    def workspaces_prefix(self) -> str:
        return f"{WORKSPACE_KEY_PREFIX}/"

    def backend_settings(self, stack: str) -> dict[str, str | bool]:
        """``-backend-config`` of ``stack``: encrypted, natively locked S3 state."""
        return {
            "bucket": self.bucket,
            "key": self.key(stack),
            "region": self.region,
            "encrypt": True,
            "use_lockfile": True,
            "workspace_key_prefix": WORKSPACE_KEY_PREFIX,
        }

    def outputs_key(self, stack: str = "platform") -> str:
        """The S3 key of the outputs document published for ``stack`` (the platform's, read by app deploys)."""
        return f"{self.env}/{stack}/{OUTPUTS_DOCUMENT}"

    def url(self, stack: str, workspace: str = DEFAULT_WORKSPACE) -> str:
        return f"s3://{self.bucket}/{self.object_key(stack, workspace)}"

    def outputs_url(self, stack: str = "platform") -> str:
        return f"s3://{self.bucket}/{self.outputs_key(stack)}"


def _code(exc: ClientError | BotoCoreError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error")) if isinstance(exc, ClientError) else str(exc)


@dataclass(frozen=True)
class StateObject:
    """What the tool reads from one state object: the managed resources it records and its outputs
    (sensitive ones left out). Its existence is the workspace's: the S3 backend lists a workspace
    exactly when its state object exists (``workspace new`` writes an empty one)."""

    resources: tuple[str, ...]
    outputs: dict[str, Any]


def read_state(s3: Any, layout: StateLayout, stack: str, workspace: str = DEFAULT_WORKSPACE) -> StateObject | None:
    """The state of ``stack`` in ``workspace`` (one GET, no Terraform process); None when it has none."""
    key = layout.object_key(stack, workspace)
    try:
        body = s3.get_object(Bucket=layout.bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if _code(exc) in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise DeployError(f"cannot read {layout.url(stack, workspace)}: {_code(exc)}") from exc
    except BotoCoreError as exc:
        raise DeployError(f"cannot read {layout.url(stack, workspace)}: {exc}") from exc
    try:
        state = json.loads(body or b"{}")
        raw = state.get("outputs", {})
        resources = tuple(
            f"{r.get('module') + '.' if r.get('module') else ''}{r.get('type')}.{r.get('name')}"
            for r in state.get("resources") or ()
            if r.get("mode", "managed") == "managed" and r.get("instances")
        )
    except (ValueError, AttributeError) as exc:
        raise DeployError(f"{layout.url(stack, workspace)} is not a Terraform state file") from exc
    return StateObject(resources, output_values(raw, include_sensitive=False))


def read_outputs(s3: Any, layout: StateLayout, stack: str, workspace: str = DEFAULT_WORKSPACE) -> dict[str, Any] | None:
    """The outputs of ``stack`` in ``workspace`` (sensitive ones left out, see ``output_values``);
    None when it has no state."""
    state = read_state(s3, layout, stack, workspace)
    return None if state is None else state.outputs


STACK_OUTPUTS = ("platform", "app")
"""Each root exposes its composition module's outputs as one object output named for its stack."""


def output_values(outputs: Mapping[str, Any], *, include_sensitive: bool = True) -> dict[str, Any]:
    """Values by name from Terraform's ``outputs`` JSON (``terraform output -json``, or a state
    object's ``outputs``). The attributes of a ``platform``/``app`` object output come back as
    top-level names (``listener_arn``, ``service_name``, ...), so consumers read the same names
    whatever the root's layout."""
    values: dict[str, Any] = {}
    for name, item in outputs.items():
        if not isinstance(item, Mapping) or (item.get("sensitive") and not include_sensitive):
            continue
        value = item.get("value")
        if name in STACK_OUTPUTS and isinstance(value, Mapping):
            values.update(value)
        else:
            values[name] = value
    return values


class Outputs(Mapping[str, Any]):
    """A stack's outputs by name (read-only), with typed accessors for what the tool uses."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def text(self, key: str) -> str | None:
        """The output ``key`` as a string, None when absent or null."""
        value = self._values.get(key)
        return None if value is None else str(value)

    def require(self, key: str) -> str:
        value = self.text(key)
        if not value:
            raise DeployError(f"the stack has no output {key!r}; apply it again with this version of the tool")
        return value

    def to_dict(self) -> dict[str, Any]:
        return dict(self._values)


_NULL_WHEN_ABSENT = frozenset(
    {
        "cache_url",
        "cache_port",
        "cache_security_group_id",
        "cache_auth_token_secret_arn",
        "db_app_username",
        "db_app_secret_arn",
    }
)
"""Outputs a platform applied before they existed lacks and means as null (it has no cache; its
service connects as the master user)."""


class PlatformOutputs(Outputs):
    """The platform stack's outputs (cluster, network, load balancer, database, monitoring)."""

    @property
    def cluster_name(self) -> str | None:
        return self.text("cluster_name")

    @property
    def listener_arn(self) -> str:
        return self.require("listener_arn")

    @property
    def vpc_cidr_block(self) -> str | None:
        return self.text("vpc_cidr_block")

    def for_app(self) -> dict[str, Any]:
        """What an app stack is given of the platform: the attributes its composition declares."""
        missing = [name for name in APP_PLATFORM_ATTRIBUTES if name not in self and name not in _NULL_WHEN_ABSENT]
        if missing:
            raise DeployError(
                f"the platform's outputs lack {', '.join(missing)}; apply the platform stack again "
                "with this version of the tool"
            )
        return {name: self.get(name) for name in APP_PLATFORM_ATTRIBUTES}


@dataclass(frozen=True)
class ServiceOutputs:
    """One ECS service of a release: what verification and the runtimes look at."""

    cluster_name: str
    service_name: str
    task_definition_arn: str
    target_group_arn: str
    image_tag: str | None = None


class AppOutputs(Outputs):
    """The app stack's outputs: one service (rolling) or one per colour (blue-green)."""

    @property
    def url(self) -> str | None:
        return self.text("url")

    @property
    def image_tag(self) -> str | None:
        """The tag serving users: the service's, or the active colour's."""
        return self.text("image_tag") or self.text("active_image_tag")

    @property
    def active_color(self) -> str | None:
        return self.text("active_color")

    @property
    def test_route_header(self) -> dict[str, str]:
        """The header that routes a request to the idle colour (blue-green), {} when there is none."""
        header = self._values.get("test_route_header") or {}
        return {str(header["name"]): str(header["value"])} if header.get("name") else {}

    def service(self, color: str | None = None) -> ServiceOutputs:
        """The service of the stack (``color`` None) or of one blue-green colour."""
        prefix = f"{color}_" if color else ""
        return ServiceOutputs(
            cluster_name=self.require("cluster_name"),
            service_name=self.require(f"{prefix}service_name"),
            task_definition_arn=self.require(f"{prefix}task_definition_arn"),
            target_group_arn=self.require(f"{prefix}target_group_arn"),
            image_tag=self.text(f"{prefix}image_tag"),
        )


# -- the platform's published outputs ------------------------------------------------------------------
def publish_platform_outputs(s3: Any, layout: StateLayout) -> dict[str, Any]:
    """Publish the platform's non-sensitive outputs (read from its state) as the outputs document,
    encrypted at rest; returns what was published."""
    values = read_outputs(s3, layout, "platform")
    if values is None:
        raise DeployError(f"cannot publish the platform's outputs: no state at {layout.url('platform')}")
    body = json.dumps({"outputs": values}, indent=2, sort_keys=True).encode()
    try:
        s3.put_object(
            Bucket=layout.bucket,
            Key=layout.outputs_key("platform"),
            Body=body,
            ContentType="application/json",
            ServerSideEncryption="AES256",
        )
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(f"cannot write {layout.outputs_url('platform')}: {_code(exc)}") from exc
    return values


def delete_platform_outputs(s3: Any, layout: StateLayout) -> None:
    """Remove the platform's outputs document (after the platform is destroyed). Idempotent."""
    try:
        s3.delete_object(Bucket=layout.bucket, Key=layout.outputs_key("platform"))
    except ClientError as exc:
        if _code(exc) not in ("NoSuchKey", "404", "NoSuchBucket"):
            raise DeployError(f"cannot delete {layout.outputs_url('platform')}: {_code(exc)}") from exc
    except BotoCoreError as exc:
        raise DeployError(f"cannot delete {layout.outputs_url('platform')}: {exc}") from exc


def read_platform_outputs(s3: Any, layout: StateLayout) -> dict[str, Any] | None:
    """The platform's published outputs; None when there is no document (never reads the state)."""
    url = layout.outputs_url("platform")
    try:
        body = s3.get_object(Bucket=layout.bucket, Key=layout.outputs_key("platform"))["Body"].read()
    except ClientError as exc:
        if _code(exc) in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise DeployError(f"cannot read {url}: {_code(exc)}") from exc
    except BotoCoreError as exc:
        raise DeployError(f"cannot read {url}: {exc}") from exc
    try:
        outputs = json.loads(body or b"{}").get("outputs")
    except (ValueError, AttributeError) as exc:
        raise DeployError(f"{url} is not a platform outputs document; apply the platform again") from exc
    if not isinstance(outputs, dict):
        raise DeployError(f"{url} is not a platform outputs document; apply the platform again")
    return outputs


# -- a target's stacks ---------------------------------------------------------------------------------
def platform_outputs(target: Target) -> PlatformOutputs:
    """The platform's outputs from its published document; a one-line error when there is none."""
    layout = target.layout
    outputs = read_platform_outputs(target.clients()("s3"), layout)
    if outputs is None:
        raise DeployError(
            f"the {target.env} platform has no published outputs (no {layout.outputs_key('platform')} "
            f"in s3://{layout.bucket}); apply the platform: `deploytool apply --env {target.env} --stack platform`"
        )
    if not outputs:
        raise DeployError(f"the {target.env} platform published no outputs; apply the platform stack again")
    return PlatformOutputs(outputs)


def app_outputs(target: Target, workspace: str) -> AppOutputs | None:
    """The app stack's outputs in ``workspace``; None when the workspace has no state."""
    outputs = read_outputs(target.clients()("s3"), target.layout, "app", workspace)
    return None if outputs is None else AppOutputs(outputs)
