"""Parsing scopes and expiry, and redacting tokens from log lines (no database)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from warroom import logs
from warroom.auth.scopes import check_request, check_scopes, parse_expiry
from warroom.core.errors import Forbidden, Invalid

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOKEN = "wr_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0u_-"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", NOW + timedelta(days=30)),
        ("12h", NOW + timedelta(hours=12)),
        ("2w", NOW + timedelta(weeks=2)),
        ("2027-01-31", datetime(2027, 1, 31, tzinfo=UTC)),
        ("2026-03-02T18:00Z", datetime(2026, 3, 2, 18, 0, tzinfo=UTC)),
        ("2026-03-02T18:00+02:00", datetime(2026, 3, 2, 16, 0, tzinfo=UTC)),
    ],
)
def test_expiry_forms(text: str, expected: datetime) -> None:
    assert parse_expiry(text, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("30", "is not a duration like 12h, 30d or 2w, or an ISO date/time"),
        ("1y", "is not a duration like"),
        ("next week", "is not a duration like"),
        ("0d", "is not in the future (now is 2026-03-02 09:00 UTC)"),
        ("2026-03-01", "is not in the future"),
    ],
)
def test_bad_expiry_is_named(text: str, error: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_expiry(text, now=NOW)
    assert caught.value.message.startswith(f"--expires {text!r} ")
    assert error in caught.value.message


def test_scopes_are_checked_and_ordered() -> None:
    assert check_scopes([]) == ("read", "write")
    assert check_scopes(["write", "read", "write"]) == ("read", "write")
    assert check_scopes(["calendar"]) == ("calendar",)
    with pytest.raises(Invalid, match="unknown scope 'rw'; use read, write or calendar"):
        check_scopes(["read", "rw"])
    with pytest.raises(Invalid, match="give --scope calendar by itself"):
        check_scopes(["calendar", "write"])


def test_the_method_decides_the_scope() -> None:
    check_request(frozenset({"read"}), method="GET", path="/api/v1/incidents")
    check_request(frozenset({"read"}), method="HEAD", path="/api/v1/incidents")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        with pytest.raises(Forbidden, match=f"scope read; {method} /x needs write"):
            check_request(frozenset({"read"}), method=method, path="/x")
        check_request(frozenset({"write"}), method=method, path="/x")
    with pytest.raises(Forbidden, match="calendar token"):
        check_request(frozenset({"calendar"}), method="GET", path="/api/v1/oncall")


def access_record(path: str) -> logging.LogRecord:
    """A record shaped as uvicorn's access logger makes it."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )


def test_access_lines_lose_their_tokens_in_both_formats() -> None:
    path = f"/api/v1/schedules/x/ical?token={TOKEN}&days=3"
    record = access_record(path)
    assert logs.RedactTokens().filter(record)
    text = logs.TextFormatter().format(record)
    assert text.endswith('"GET /api/v1/schedules/x/ical?token=[redacted]&days=3 HTTP/1.1" 200')
    as_json = orjson.loads(logs.JsonFormatter().format(record))
    assert TOKEN not in as_json["message"] and "token=[redacted]&days=3" in as_json["message"]


def test_redaction_reaches_every_token_and_only_tokens() -> None:
    assert logs.redact("GET /feed?a=1&Token=s3cret#x") == "GET /feed?a=1&Token=[redacted]#x"
    assert logs.redact(f"sent Bearer {TOKEN} upstream") == "sent Bearer [redacted] upstream"
    assert logs.redact("/x?mytoken=keep&tokens=keep") == "/x?mytoken=keep&tokens=keep"
    assert logs.redact("revoked token wr_A1b2C3d… of vic") == "revoked token wr_A1b2C3d… of vic"


def test_the_uvicorn_access_logger_carries_the_filter() -> None:
    logs.redact_access_log()
    logs.redact_access_log()  # twice: still one filter
    access = logging.getLogger("uvicorn.access")
    assert sum(isinstance(f, logs.RedactTokens) for f in access.filters) == 1
