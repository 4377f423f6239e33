"""What a token may do (scopes) and until when (expiry): parsing and the rule per request."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from warroom.core.errors import Forbidden, Invalid

SCOPES = ("read", "write", "calendar")
DEFAULT_SCOPES = ("read", "write")  # what every token could do before scopes existed
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DURATION = re.compile(r"^(\d{1,5})([hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
EXPIRES_HELP = "a duration like 12h, 30d or 2w, or an ISO date/time like 2027-01-31T18:00Z"


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Return `scopes` in canonical order, or raise Invalid naming what is wrong."""
    wanted = set(scopes) or set(DEFAULT_SCOPES)
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise Invalid(
            f"unknown scope {unknown[0]!r}; use read, write or calendar", {"field": "scopes"}
        )
    # A calendar URL is pasted into calendar apps and shared: it must not also open the API.
    if "calendar" in wanted and len(wanted) > 1:
        raise Invalid(
            "a calendar token has the calendar scope alone: give --scope calendar by itself",
            {"field": "scopes"},
        )
    return tuple(s for s in SCOPES if s in wanted)


def parse_scopes(stored: str) -> frozenset[str]:
    """Return the scopes of a token as stored ("read write")."""
    return frozenset(stored.split())


def parse_expiry(text: str, *, now: datetime) -> datetime:
    """Return the expiry `text` names (30d, 12h, 2w or an ISO date/time); it must be ahead."""
    value = text.strip()
    match = _DURATION.match(value)
    if match:
        when = now + int(match.group(1)) * _UNITS[match.group(2)]
    else:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise Invalid(
                f"--expires {text!r} is not {EXPIRES_HELP}", {"field": "expires"}
            ) from None
        if when.tzinfo is None:  # a bare date or time is read as UTC, as everything here is
            when = when.replace(tzinfo=UTC)
    if when <= now:
        raise Invalid(
            f"--expires {text!r} is not in the future (now is {stamp(now)})", {"field": "expires"}
        )
    return when


def stamp(when: datetime) -> str:
    """Return a time as messages and tables show it: `2026-03-02 09:00 UTC`."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe(scopes: Iterable[str]) -> str:
    """Return scopes as words: `read` or `read and write`."""
    return " and ".join(s for s in SCOPES if s in set(scopes)) or "none"


def check_request(scopes: frozenset[str], *, method: str, path: str) -> None:
    """Raise Forbidden unless a token with `scopes` may make this API request."""
    if "calendar" in scopes:
        raise Forbidden(
            "this is a calendar token: it reads only the iCal feeds "
            "(/api/v1/schedules/{name}/ical, /api/v1/people/{id}/ical)"
        )
    needed = "read" if method.upper() in READ_METHODS else "write"
    if needed not in scopes:
        raise Forbidden(
            f"this token has scope {describe(scopes)}; {method.upper()} {path} needs {needed}"
        )
