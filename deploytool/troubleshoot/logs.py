"""The service's CloudWatch logs: the platform's log group, the streams under the branch's prefix.

``read_logs`` reads from a time on, ``follow_logs`` keeps polling for newer events, ``parse_since``
reads the ``--since`` option.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from deploytool.durations import parse_point_in_time
from deploytool.errors import DeployError
from deploytool.troubleshoot.locate import Where, app_outputs, aws_error, error_code


class LogGroupMissingError(DeployError):
    """The log group does not exist (yet)."""


@dataclass(frozen=True)
class LogEvent:
    """One CloudWatch log event of the service."""

    timestamp_ms: int
    stream: str
    message: str
    event_id: str

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)

    def line(self, prefix: str = "") -> str:
        """``<UTC time>  <stream without the prefix>  <message>``."""
        stamp = self.time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.timestamp_ms % 1000:03d}Z"
        stream = self.stream[len(prefix) :] if prefix and self.stream.startswith(prefix) else self.stream
        return f"{stamp}  {stream}  {self.message.rstrip()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "timestamp_ms": self.timestamp_ms,
            "stream": self.stream,
            "message": self.message,
            "event_id": self.event_id,
        }


@dataclass(frozen=True)
class LogSource:
    """A log group and the stream prefix of one service (awslogs: ``<prefix>/<container>/<task id>``)."""

    group: str
    prefix: str

    @property
    def stream_prefix(self) -> str:
        return self.prefix.rstrip("/") + "/"


def log_source(where: Where) -> LogSource:
    """The platform's log group and the branch's stream prefix (the app stack's, else the naming rule)."""
    outputs = app_outputs(where.target, where.names.workspace)
    group = str(outputs.get("log_group_name") or where.platform.get("log_group_name") or "")
    if not group:
        raise DeployError(f"the {where.env} platform has no log_group_name output; apply the platform stack again")
    return LogSource(group, str(outputs.get("log_prefix") or where.names.log_prefix))


def parse_since(text: str, *, now: datetime | None = None) -> int:
    """Epoch milliseconds for ``--since``: a duration back from now (``30m``, ``2h``, ``1h30m``, ``7d``)
    or an ISO 8601 time (``2024-05-01T12:00:00Z``; naive times are UTC). The grammar: ``deploytool.durations``."""
    try:
        when = parse_point_in_time(text, now=now)
    except ValueError:
        raise DeployError(
            f"--since {text!r} is neither a duration (30m, 2h, 1d, 1h30m) nor an ISO time (2024-05-01T12:00:00Z)"
        ) from None
    return int(when.timestamp() * 1000)


def check_log_source(logs: Any, source: LogSource) -> str | None:
    """Raise ``LogGroupMissingError`` when the group does not exist; a notice when no stream exists yet."""
    try:
        streams = logs.describe_log_streams(
            logGroupName=source.group, logStreamNamePrefix=source.stream_prefix, limit=1
        ).get("logStreams", [])
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise LogGroupMissingError(
                f"log group {source.group} does not exist yet: the platform stack creates it "
                "(`deploytool apply --stack platform` for this environment)"
            ) from None
        raise DeployError(f"cannot read log group {source.group}: {aws_error(exc)}") from exc
    if not streams:
        return (
            f"no log streams under {source.stream_prefix} in {source.group} yet: no task of this service has "
            "started and logged (see `deploytool events`)"
        )
    return None


def open_logs(where: Where) -> tuple[Any, LogSource, str | None]:
    """The Logs client, the service's log source and a notice when it has no streams yet.

    Raises ``LogGroupMissingError`` when the log group does not exist. In local mode the notice
    names the file the local stand-in writes its output to (it does not log to the emulator).
    """
    source = log_source(where)
    client = where.target.clients()("logs")
    notice = check_log_source(client, source)
    output = where.runtime.log_path(where.service)
    if notice and output is not None:
        notice += f"; the local stand-in of the task writes its output to {output}, not to the emulator"
    return client, source, notice


def read_logs(
    logs: Any,
    source: LogSource,
    *,
    start_ms: int,
    end_ms: int | None = None,
    pattern: str | None = None,
) -> list[LogEvent]:
    """Every event of the service's streams from ``start_ms`` on, oldest first (newest last).

    ``pattern`` is a CloudWatch Logs filter pattern: plain words match events containing all of
    them, a double-quoted phrase matches it exactly, ``{ $.level = "error" }`` matches JSON events.
    """
    request: dict[str, Any] = {
        "logGroupName": source.group,
        "logStreamNamePrefix": source.stream_prefix,
        "startTime": start_ms,
        "interleaved": True,
    }
    if end_ms is not None:
        request["endTime"] = end_ms
    if pattern:
        request["filterPattern"] = pattern
    events: list[LogEvent] = []
    token: str | None = None
    for _ in range(10000):
        try:
            page = logs.filter_log_events(**request, **({"nextToken": token} if token else {}))
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise LogGroupMissingError(f"log group {source.group} does not exist yet") from None
            raise DeployError(f"cannot read log group {source.group}: {aws_error(exc)}") from exc
        for item in page.get("events", []):
            if not str(item.get("logStreamName", "")).startswith(source.stream_prefix):
                continue  # only this service's streams, whatever the backend does with the prefix
            events.append(
                LogEvent(
                    timestamp_ms=int(item.get("timestamp", 0)),
                    stream=str(item.get("logStreamName", "")),
                    message=str(item.get("message", "")),
                    event_id=str(item.get("eventId") or f"{item.get('logStreamName')}/{item.get('timestamp')}"),
                )
            )
        next_token = page.get("nextToken")
        if not next_token or next_token == token:
            break
        token = next_token
    events.sort(key=lambda e: (e.timestamp_ms, e.stream, e.event_id))
    return events


def follow_logs(
    logs: Any,
    source: LogSource,
    on_event: Callable[[LogEvent], None],
    *,
    start_ms: int,
    pattern: str | None = None,
    poll_s: float = 2.0,
    max_polls: int | None = None,
    timeout_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print-as-they-come: read from ``start_ms``, then poll every ``poll_s`` for newer events.

    Each event is passed to ``on_event`` once, in time order within a poll. Stops after
    ``max_polls`` reads or ``timeout_s`` seconds (None: until interrupted). Returns the number of
    events passed on.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    cursor = start_ms
    seen: dict[str, int] = {}  # event id -> timestamp, for events at or after the cursor
    passed = 0
    polls = 0
    while True:
        for event in read_logs(logs, source, start_ms=cursor, pattern=pattern):
            if event.event_id in seen:
                continue
            seen[event.event_id] = event.timestamp_ms
            on_event(event)
            passed += 1
        if seen:
            cursor = max(cursor, *seen.values())
            seen = {key: ts for key, ts in seen.items() if ts >= cursor}
        polls += 1
        if max_polls is not None and polls >= max_polls:
            return passed
        if deadline is not None and time.monotonic() + poll_s > deadline:
            return passed
        sleep(poll_s)
