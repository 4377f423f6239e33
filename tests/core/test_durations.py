"""Durations as written in warroom.yaml: a unit is required, except for a bare 0."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from warroom.core.durations import format_duration, parse


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d", timedelta(days=1)),
        (" 2 h ", timedelta(hours=2)),
        (0, timedelta(0)),
        (0.0, timedelta(0)),
        ("0", timedelta(0)),
        (timedelta(minutes=3), timedelta(minutes=3)),
    ],
)
def test_written_durations(value: object, expected: timedelta) -> None:
    assert parse(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, "5 is not a duration: write 5m (or 5s)"),
        (300, "300 is not a duration: write 300m (or 300s)"),
        ("5", "5 is not a duration: write 5m (or 5s)"),  # quoted in YAML: just as unclear
        (5.0, "5 is not a duration: write 5m (or 5s)"),
        (1.5, "1.5 is not a duration: write it with a unit, e.g. 30s, 10m, 2h or 1h30m"),
        (-5, "-5 is not a duration: a duration cannot be negative"),
        (float("inf"), "inf is not a duration: write it with a unit"),
        (True, "True is not a duration; use e.g. 30s"),
        ("5 minutes", "'5 minutes' is not a duration; use e.g. 30s, 10m"),
        ("99999999999d", "'99999999999d' is too long a duration"),
    ],
)
def test_bare_numbers_and_nonsense_are_refused(value: object, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        parse(value)


def test_written_back_with_units() -> None:
    assert format_duration(timedelta(hours=1, minutes=30)) == "1h30m"
    assert format_duration(timedelta(0)) == "0s"
    assert parse(format_duration(timedelta(days=2, seconds=5))) == timedelta(days=2, seconds=5)
