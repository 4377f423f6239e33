"""Durations as people write them in warroom.yaml: `30s`, `10m`, `2h`, `1d`, `1h30m`."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from warroom.core.clock import ensure_utc
from warroom.core.errors import Invalid

_PART = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse(value: Any) -> timedelta:
    """Return the timedelta of `10m`, `1h30m`, a bare `0`, or a timedelta.

    Any other bare number is refused: `after: 5` may mean 5 seconds or 5 minutes, and
    guessing seconds pages people minutes early.
    """
    if isinstance(value, timedelta):
        return value
    text = str(value).strip().lower().replace(" ", "")
    if isinstance(value, str) and text.isdigit():  # a quoted "5" is as unclear as a bare 5
        value = int(text)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value == 0:  # zero is zero in any unit
            return timedelta(0)
        raise ValueError(_bare_number(value))
    parts = _PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{value!r} is not a duration; use e.g. 30s, 10m, 2h, 1d or 1h30m")
    try:
        return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))
    except OverflowError:  # beyond timedelta's 999,999,999 days
        raise ValueError(f"{value!r} is too long a duration") from None


def _bare_number(value: float) -> str:
    """Say how to write a number as a duration, with the unit it lacks."""
    if value < 0:
        return f"{value!r} is not a duration: a duration cannot be negative"
    if math.isfinite(value) and value == int(value):
        whole = int(value)
        return f"{whole} is not a duration: write {whole}m (or {whole}s)"
    return f"{value!r} is not a duration: write it with a unit, e.g. 30s, 10m, 2h or 1h30m"


def format_duration(value: timedelta) -> str:
    """Write a duration back the way it is written in YAML (`1h30m`; `0s` for none or less)."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out)


Duration = Annotated[
    timedelta, BeforeValidator(parse), PlainSerializer(format_duration, return_type=str)
]


def moment(value: str, *, field: str, now: datetime) -> datetime:
    """Read `30d` (that long before `now`) or an ISO 8601 time (naive means UTC)."""
    text = value.strip()
    try:
        span = parse(text)
    except ValueError as exc:
        if "too long" in str(exc):
            raise Invalid(f"{field}: {exc}", {"field": field}) from None
    else:
        try:
            return now - span
        except OverflowError:
            raise Invalid(
                f"{field} {value!r} reaches back before the year 1", {"field": field}
            ) from None
    try:
        return ensure_utc(datetime.fromisoformat(text))
    except ValueError:
        raise Invalid(
            f"{field} {value!r} is neither a duration (30d, 12h) nor an ISO 8601 time",
            {"field": field},
        ) from None
