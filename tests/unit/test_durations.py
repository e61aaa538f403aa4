"""The one duration grammar (config TTLs, --older-than, --since) and the one age format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deploytool.durations import format_age, parse_duration, parse_point_in_time

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # what the config accepted
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("2w3d4h5m", timedelta(weeks=2, days=3, hours=4, minutes=5)),
        # what --since accepted
        ("30m", timedelta(minutes=30)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("45s", timedelta(seconds=45)),
        ("1w", timedelta(weeks=1)),
        (" 10M ", timedelta(minutes=10)),
        # both, in any order, with spaces, parts adding up
        ("1h1d", timedelta(days=1, hours=1)),
        ("30m1h", timedelta(hours=1, minutes=30)),
        ("7 d", timedelta(days=7)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("1H1h", timedelta(hours=2)),
    ],
)
def test_durations(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value


@pytest.mark.parametrize("text", ["", "  ", "7", "d", "-1d", "1.5d", "soon", "30x", "m30", "1h,30m", "1y", "7d ago"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r"must be a duration such as 7d, 12h, 90m or 1d12h, got"):
        parse_duration(text)


def test_zero_only_where_the_caller_allows_it() -> None:
    for text in ("0d", "0m", "0h0m"):
        with pytest.raises(ValueError, match="must be longer than zero"):
            parse_duration(text)
        assert parse_duration(text, allow_zero=True) == timedelta(0)


def test_a_duration_too_long_for_python_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="shorter than"):
        parse_duration("9999999999999w")


@pytest.mark.parametrize(
    ("text", "back"),
    [("30m", timedelta(minutes=30)), ("1h30m", timedelta(minutes=90)), ("7d", timedelta(days=7)), ("0m", timedelta())],
)
def test_point_in_time_counts_a_duration_back_from_now(text: str, back: timedelta) -> None:
    assert parse_point_in_time(text, now=NOW) == NOW - back


def test_point_in_time_reads_iso_times_naive_is_utc() -> None:
    hour_ago = NOW - timedelta(hours=1)
    assert parse_point_in_time("2024-05-01T11:00:00Z", now=NOW) == hour_ago
    assert parse_point_in_time("2024-05-01T11:00:00", now=NOW) == hour_ago
    with_offset = parse_point_in_time(" 2024-05-01T13:00:00+02:00 ", now=NOW)
    assert with_offset == hour_ago
    assert with_offset.utcoffset() == timedelta(hours=2)


def test_point_in_time_defaults_to_now() -> None:
    before = datetime.now(UTC)
    when = parse_point_in_time("1h")
    assert before - timedelta(hours=1) <= when <= datetime.now(UTC) - timedelta(hours=1)


@pytest.mark.parametrize("text", ["", "soon", "30x", "m30", "yesterday", "2024-13-01T00:00:00Z", "9999999d"])
def test_point_in_time_rejects_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError):
        parse_point_in_time(text, now=NOW)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=3, hours=4, minutes=5), "3d4h"),
        (timedelta(days=1), "1d0h"),
        (timedelta(hours=5, minutes=2), "5h02m"),
        (timedelta(hours=1), "1h00m"),
        (timedelta(minutes=42, seconds=59), "42m"),
        (timedelta(seconds=59), "0m"),
        (timedelta(seconds=-5), "0m"),
        (None, "-"),
    ],
)
def test_age_format(delta: timedelta | None, text: str) -> None:
    assert format_age(delta) == text
