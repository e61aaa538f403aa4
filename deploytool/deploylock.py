"""The deploy lock: one release run per workspace, from its plan to its final verdict.

Terraform's state lock covers one plan or one apply; a release is more (plan, apply, verification,
maybe a rollback that applies again), and a second run that applies while the first is still
verifying would have the first judge, or roll back, a release that is no longer the one it
applied. So a release run holds an S3 object ``<ledger prefix>/<env>/locks/<workspace>`` created
with a conditional write (``If-None-Match: *``: the put fails with 412 when the object exists, as
Terraform's own S3 lock file does), and deletes it when it ends, however it ends.

A ``destroy`` of the app stack holds the same lock for its whole run, so no release judges, rolls
back (re-creating parts of) or starts on an environment that is being deleted; its release of the
lock at the end deletes the object, so no lock outlives the workspace. The janitor keeps an
environment whose lock is held (see ``deploytool.cleanup``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from deploytool.durations import format_age
from deploytool.errors import DeployError, DeployLockedError
from deploytool.ledger import LOCKS, actor


def lock_key(prefix: str, env: str, workspace: str) -> str:
    return f"{prefix.strip('/')}/{env}/{LOCKS}/{workspace}"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _age(created: str) -> str:
    try:
        then = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "unknown age"
    return format_age(datetime.now(UTC) - then)


@contextmanager
def deploy_lock(
    s3: Any, bucket: str, prefix: str, env: str, workspace: str, *, operation: str, release: str = "", unlock: str
) -> Iterator[dict[str, str]]:
    """Hold the deploy lock of ``workspace`` for the body; refuse (exit 5) when another run holds it.

    ``unlock`` is the command that removes a lock its holder left behind (named in the refusal).
    """
    key = lock_key(prefix, env, workspace)
    info = {
        "ID": uuid.uuid4().hex,
        "Who": actor(),
        "Operation": operation,
        "Release": release,
        "Created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(info, sort_keys=True).encode(),
            ContentType="application/json",
            ServerSideEncryption="AES256",
            IfNoneMatch="*",
        )
    except ClientError as exc:
        if _code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict"):
            raise DeployError(f"cannot take the deploy lock s3://{bucket}/{key}: {exc}") from exc
        raise _held(s3, bucket, key, env, workspace, unlock) from exc
    try:
        yield info
    finally:
        release_lock(s3, bucket, key, info["ID"])


def _held(s3: Any, bucket: str, key: str, env: str, workspace: str, unlock: str) -> DeployLockedError:
    try:
        holder: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, ValueError):
        holder = {}
    who = str(holder.get("Who", "unknown"))
    what = " ".join(str(holder.get(k, "")) for k in ("Operation", "Release")).strip() or "unknown operation"
    created = str(holder.get("Created", "?"))
    lock_id = str(holder.get("ID", "")) or None
    return DeployLockedError(
        f"deploy of {env} {workspace} is locked by {who} ({what}) since {created} ({_age(created)} ago), "
        f"lock ID {lock_id or '?'}: another run is planning, applying, verifying, rolling back or destroying "
        f"this workspace; wait for it to finish, or if it died: {unlock} --lock-id {lock_id or 'ID'}",
        lock_id=lock_id,
        holder=who,
    )


def release_lock(s3: Any, bucket: str, key: str, lock_id: str) -> bool:
    """Delete the lock at ``key`` if it is still ``lock_id``'s; False when it was not (or S3 did not
    answer: the lock then stays, and the next run names it and the ``force-unlock`` that removes it)."""
    try:
        holder = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if holder.get("ID") != lock_id:
            return False
        s3.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError, ValueError):
        return False
    return True
