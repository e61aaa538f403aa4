"""Durations and ages: one grammar for every duration the tool reads, one way to print an age.

A duration (``parse_duration``) is one or more ``<whole number><unit>`` parts:

- units ``w`` (weeks), ``d`` (days), ``h`` (hours), ``m`` (minutes), ``s`` (seconds), in either case;
- parts in any order, added up: ``7d``, ``12h``, ``90m``, ``2w``, ``45s``, ``1d12h``, ``1h30m``,
  ``30m1h`` (= ``1h30m``), ``10M``;
- spaces allowed around parts and between a number and its unit: ``1h 30m``, ``7 d``;
- no signs, no fractions, nothing else: ``-1d``, ``1.5d``, ``7``, ``d`` are refused;
- zero (``0m``) only where the caller allows it (a TTL of zero is a mistake, ``--since 0m`` is now).

A point in time (``parse_point_in_time``, what ``--since`` reads) is such a duration counted back
from now, or an ISO 8601 time (``2024-05-01T12:00:00Z``, ``2024-05-01T14:00:00+02:00``; a time
without an offset is UTC).

An age (``format_age``) prints with two units at most, rounded down to the minute: ``3d4h``,
``5h02m``, ``42m``, ``0m``; ``-`` when unknown.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, *, allow_zero: bool = False) -> timedelta:
    """The duration ``text`` names (grammar in the module docstring); ``ValueError`` when it names none."""
    value = text.strip().lower()
    if not value or _PART.sub("", value).strip():
        raise ValueError(f"must be a duration such as 7d, 12h, 90m or 1d12h, got {text!r}")
    seconds = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(value))
    try:
        duration = timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"must be a duration shorter than {timedelta.max.days} days, got {text!r}") from None
    if duration <= timedelta(0) and not allow_zero:
        raise ValueError("must be longer than zero")
    return duration


def parse_point_in_time(text: str, *, now: datetime | None = None) -> datetime:
    """The UTC time ``text`` names: a duration back from ``now`` (``30m``, ``1h30m``, ``0m``) or an
    ISO 8601 time (naive times are UTC); ``ValueError`` when it is neither."""
    now = now or datetime.now(UTC)
    try:
        duration: timedelta | None = parse_duration(text, allow_zero=True)
    except ValueError:
        duration = None
    if duration is not None:
        try:
            return now - duration
        except OverflowError:
            raise ValueError(f"reaches back before the year 1, got {text!r}") from None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"neither a duration (30m, 2h, 1d, 1h30m) nor an ISO time, got {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def format_age(delta: timedelta | None) -> str:
    """``3d4h``, ``5h12m``, ``42m``, ``0m`` (negative ages are ``0m``); ``-`` when unknown."""
    if delta is None:
        return "-"
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{mins:02d}m"
    return f"{mins}m"
