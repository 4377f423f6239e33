"""A vendor's Retry-After: read as seconds, bounded, and honoured by the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warroom.notify import outbox
from warroom.notify.config import RetryConfig
from warroom.notify.models import Notification
from warroom.notify.ports import retry_seconds


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("30", 30.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("1e15", 86_400.0),  # at most a day
        ("inf", None),  # would overflow a timedelta
        ("nan", None),
        ("Wed, 21 Oct 2026 07:28:00 GMT", None),  # a date: the outbox's own backoff decides
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_bounded_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_seconds(header) == seconds


def test_the_longest_wish_is_capped_by_the_retry_maximum() -> None:
    now = datetime(2026, 12, 5, tzinfo=UTC)
    retry = RetryConfig()
    row = Notification(attempts=1, max_attempts=10, status="sending")
    outbox.mark_failed(
        row,
        now=now,
        error="ratelimited",
        permanent=False,
        retry=retry,
        retry_after=retry_seconds("1e15"),
    )
    assert row.status == "failed"
    assert row.next_attempt_at is not None and row.next_attempt_at - now <= retry.max
    assert row.next_attempt_at - now >= min(timedelta(days=1), retry.max) - timedelta(seconds=1)
