"""Where Terraform keeps each stack's state, and the one reader of the outputs in it.

Layout (the S3 backend with ``workspace_key_prefix = "workspaces"``)::

    s3://<state bucket>/<env>/<stack>/terraform.tfstate                          default workspace
    s3://<state bucket>/workspaces/<workspace>/<env>/<stack>/terraform.tfstate   any other workspace

``StateLayout`` is the only place that knows it: the backend settings the runner initialises
with, the ``terraform_remote_state`` config the app roots read the platform through, and the keys
the readers below GET. Outputs are read straight from the state object (what ``terraform output``
reads), so no Terraform process is needed; sensitive outputs are left out.
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

    def remote_state(self, stack: str = "platform") -> dict[str, str]:
        """The ``terraform_remote_state`` config that reads ``stack`` (what app roots read the platform with)."""
        return {"bucket": self.bucket, "key": self.key(stack), "region": self.region}

    def url(self, stack: str, workspace: str = DEFAULT_WORKSPACE) -> str:
        return f"s3://{self.bucket}/{self.object_key(stack, workspace)}"


def _code(exc: ClientError | BotoCoreError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error")) if isinstance(exc, ClientError) else str(exc)


def read_outputs(s3: Any, layout: StateLayout, stack: str, workspace: str = DEFAULT_WORKSPACE) -> dict[str, Any] | None:
    """The outputs of ``stack`` in ``workspace`` (sensitive ones left out, see ``output_values``);
    None when it has no state."""
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
        raw = json.loads(body or b"{}").get("outputs", {})
    except ValueError as exc:
        raise DeployError(f"{layout.url(stack, workspace)} is not a Terraform state file") from exc
    return output_values(raw, include_sensitive=False)


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


# -- a target's stacks ---------------------------------------------------------------------------------
def platform_outputs(target: Target) -> PlatformOutputs:
    """The platform stack's outputs; a one-line error when the platform is not deployed."""
    layout = target.layout
    outputs = read_outputs(target.clients()("s3"), layout, "platform")
    if outputs is None:
        raise DeployError(
            f"the {target.env} platform is not deployed (no state at {layout.url('platform')}); "
            f"run `deploytool apply --env {target.env} --stack platform` first"
        )
    if not outputs:
        raise DeployError(f"the {target.env} platform state has no outputs; apply the platform stack again")
    return PlatformOutputs(outputs)


def app_outputs(target: Target, workspace: str) -> AppOutputs | None:
    """The app stack's outputs in ``workspace``; None when the workspace has no state."""
    outputs = read_outputs(target.clients()("s3"), target.layout, "app", workspace)
    return None if outputs is None else AppOutputs(outputs)
