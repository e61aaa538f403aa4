"""The deploy history: one JSON record per apply, deploy, rollback and destroy, kept in the state bucket.

Each record is its own S3 object under ``<prefix>/<env>/<workspace>/`` (keys sort by time), so two
runs never overwrite each other and nothing needs a read-modify-write. ``history`` prints them as
JSON lines. The newest successful, verified record of a workspace is its *last known good* release.

Next to a branch environment's records, ``<prefix>/<env>/<workspace>.branch.json`` names the branch
the workspace belongs to (written once, by the first deploy, with a conditional put; deleted by the
destroy). Two branches can share a workspace (``feature/x`` and ``feature-x``, see
``deploytool.naming``); this record lets the second one be refused instead of replacing the first.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from tenacity import Retrying, stop_after_attempt, wait_exponential
from tenacity.wait import wait_base

from deploytool.errors import DeployError

Warn = Callable[[str], None]
LOCKS = "locks"  # <prefix>/<env>/locks/<workspace>: the deploy locks, next to the records

OUTCOMES = (
    "in_progress",
    "success",
    "failed",
    "rolled_back",
    "rollback_failed",
    "migration_failed",  # the release's migration failed before the service moved: the old release serves
    "interrupted",
    "error",
)


def actor() -> str:
    """Who runs this: the GitHub actor in Actions, else the OS user."""
    return os.environ.get("GITHUB_ACTOR") or getpass.getuser()


def git_sha() -> str | None:
    """The commit being deployed: ``GITHUB_SHA`` in Actions, else the checkout's HEAD (None outside git)."""
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Record:
    """One entry of the deploy history."""

    env: str
    workspace: str
    stack: str
    action: str  # apply | deploy | rollback | destroy | cutover | finalize
    image_before: str | None = None
    image_after: str | None = None
    outcome: str = "in_progress"
    plan: dict[str, int] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    duration_s: float = 0.0
    git_sha: str | None = field(default_factory=git_sha)
    actor: str = field(default_factory=actor)
    time: str = field(default_factory=now)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        """Checks ran and none failed (``unavailable`` checks do not count as failures)."""
        return bool(self.checks) and all(c.get("status") != "fail" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class Ledger:
    """Deploy records in S3 (``s3`` is a boto3 S3 client)."""

    write_attempts = 4  # each one a boto3 call with its own retries of throttling and 5xx
    write_wait: wait_base = wait_exponential(multiplier=0.5, max=4)

    def __init__(
        self, s3: Any, bucket: str, prefix: str = "deploy-history", *, redact: Callable[[str], str] | None = None
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.redact = redact or (lambda text: text)  # applied to every record before it is stored

    def _key(self, record: Record) -> str:
        stamp = record.time.replace("-", "").replace(":", "").replace(".", "")
        return f"{self.prefix}/{record.env}/{record.workspace}/{stamp}-{record.id}.json"

    def _put(self, key: str, body: bytes) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            ServerSideEncryption="AES256",
        )

    def write(self, record: Record) -> str:
        """Store ``record`` (a later write of the same record replaces the earlier one), retried with backoff."""
        key = self._key(record)
        body = self.redact(json.dumps(record.to_dict(), sort_keys=True)).encode()
        try:
            for attempt in Retrying(stop=stop_after_attempt(self.write_attempts), wait=self.write_wait, reraise=True):
                with attempt:
                    self._put(key, body)
        except Exception as exc:
            raise DeployError(f"cannot write the deploy history to s3://{self.bucket}/{key}: {exc}") from exc
        return key

    def try_write(self, record: Record, warn: Warn | None = None) -> str | None:
        """``write``, but a failure is a warning: the key, or None when the record could not be stored."""
        try:
            return self.write(record)
        except DeployError as exc:
            (warn or _stderr)(f"warning: {exc.message} (the {record.action} goes on regardless)")
            return None

    @contextmanager
    def recording(self, record: Record, *, warn: Warn | None = None) -> Iterator[Record]:
        """Record one run: written when it starts, and again when it ends, however it ends.

        The body sets ``record.outcome`` (and checks, message) as it learns them; a body that ends
        normally without setting it is a success. On an exception an outcome the body already set
        (``failed``, ``rolled_back``, ...) stands; otherwise the run was an ``error`` (or
        ``interrupted`` by Ctrl-C) and the exception's message is added to the record's.

        Writing the history never decides what happens to the service: a write that fails after
        its retries is a warning (``warn``, default stderr), the run goes on, and a user-facing
        error the body raises keeps its exit code, its message saying that the record is missing.
        """
        started = time.monotonic()
        self.try_write(record, warn)
        try:
            yield record
        except BaseException as exc:
            if record.outcome == "in_progress":
                record.outcome = "interrupted" if isinstance(exc, KeyboardInterrupt) else "error"
                record.message = (f"{record.message}; error: {exc}" if record.message else str(exc))[:500]
            record.duration_s = round(time.monotonic() - started, 2)
            if self.try_write(record, warn) is None and isinstance(exc, DeployError):
                exc.message = f"{exc.message} (the deploy history could not be written: this run is not recorded)"
            raise
        if record.outcome == "in_progress":
            record.outcome = "success"
        record.duration_s = round(time.monotonic() - started, 2)
        self.try_write(record, warn)

    def _keys(self, env: str, workspace: str | None) -> Iterator[str]:
        base = f"{self.prefix}/{env}/"
        prefix = base + (f"{workspace}/" if workspace else "")
        paginator = self.s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    rest = obj["Key"][len(base) :]
                    if "/" not in rest:
                        continue  # the branch records beside the workspaces, not records
                    if not workspace and rest.startswith(f"{LOCKS}/"):
                        continue  # the deploy locks (deploytool.deploylock), not records
                    yield obj["Key"]
        except self.s3.exceptions.NoSuchBucket as exc:
            raise DeployError(
                f"state bucket {self.bucket} does not exist; run `deploytool bootstrap` for this environment"
            ) from exc

    def records(self, env: str, workspace: str | None = None) -> list[Record]:
        """All records of ``env`` (one workspace or all), oldest first."""
        out = []
        for key in self._keys(env, workspace):
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            out.append(Record.from_dict(json.loads(body)))
        return sorted(out, key=lambda r: r.time)

    def last(self, env: str, workspace: str) -> Record | None:
        records = self.records(env, workspace)
        return records[-1] if records else None

    def last_known_good(self, env: str, workspace: str, *, exclude: str | None = None) -> Record | None:
        """The newest verified, successful deploy/rollback of ``workspace`` (optionally not of tag ``exclude``)."""
        for record in reversed(self.records(env, workspace)):
            if record.action not in ("deploy", "rollback", "cutover") or not record.image_after:
                continue
            if record.outcome == "success" and record.verified and record.image_after != exclude:
                return record
        return None

    def current_image(self, env: str, workspace: str) -> str | None:
        """The image tag the newest finished record left running (None when nothing is recorded)."""
        for record in reversed(self.records(env, workspace)):
            if record.outcome == "in_progress":
                continue
            if record.action == "destroy":
                return None
            if record.outcome in ("success", "rolled_back", "failed") and record.image_after is not None:
                if record.outcome == "rolled_back":
                    return record.extra.get("restored_image") or record.image_before
                return record.image_after
        return None

    # -- which branch a workspace belongs to ---------------------------------------------------------------
    def _branch_key(self, env: str, workspace: str) -> str:
        return f"{self.prefix}/{env}/{workspace}{BRANCH_SUFFIX}"

    def branch_of(self, env: str, workspace: str) -> str | None:
        """The branch recorded as the owner of ``workspace`` (None: none recorded)."""
        key = self._branch_key(env, workspace)
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise DeployError(f"cannot read s3://{self.bucket}/{key}: {_error_code(exc)}") from exc
        branch = json.loads(body).get("branch")
        return str(branch) if branch else None

    def claim_branch(self, env: str, workspace: str, branch: str) -> str:
        """Record ``branch`` as the owner of ``workspace`` unless one is recorded; the owner either way.

        The write is conditional (``If-None-Match: *``), so of two first deploys racing for one
        workspace exactly one becomes its owner.
        """
        key = self._branch_key(env, workspace)
        body = {"env": env, "workspace": workspace, "branch": branch, "time": now(), "actor": actor()}
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=json.dumps(body, sort_keys=True).encode(),
                ContentType="application/json",
                ServerSideEncryption="AES256",
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if _error_code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise DeployError(f"cannot write s3://{self.bucket}/{key}: {_error_code(exc)}") from exc
            owner = self.branch_of(env, workspace)
            if owner is None:
                raise DeployError(
                    f"another run is recording the branch of {workspace} (s3://{self.bucket}/{key}); try again"
                ) from exc
            return owner
        return branch

    def forget_branch(self, env: str, workspace: str) -> None:
        """Delete the branch record of ``workspace`` (no error when there is none)."""
        key = self._branch_key(env, workspace)
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            raise DeployError(f"cannot delete s3://{self.bucket}/{key}: {_error_code(exc)}") from exc


BRANCH_SUFFIX = ".branch.json"
"""Suffix of the object, beside a workspace's records, that names the branch the workspace belongs to."""


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error"))
