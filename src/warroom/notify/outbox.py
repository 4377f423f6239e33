"""The outbox: enqueue in the caller's transaction, claim with a lease, record the outcome."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import NamedTuple, cast

from sqlalchemy import (
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    case,
    false,
    func,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased

from warroom.core.clock import ensure_utc
from warroom.core.errors import Conflict, NotFound
from warroom.notify.config import RetryConfig
from warroom.notify.messages import Payload, dump
from warroom.notify.models import Notification
from warroom.storage import bulk
from warroom.storage.base import UTCDateTime

UNFINISHED = ("pending", "sending", "failed")
NOTIFICATIONS = cast(Table, Notification.__table__)
LEASE = timedelta(seconds=60)  # a claim older than this was lost with its process
# A claim's candidates and the unfinished messages ahead of them (made once: not cheap).
_ROW, _EARLIER = aliased(Notification, name="candidate"), aliased(Notification, name="earlier")


@dataclass(frozen=True)
class Message:
    """A notification to write: a payload (it names its channel), to whom, under which key."""

    key: str
    destination: str
    payload: Payload
    incident_id: int | None = None
    due_at: datetime | None = None
    attempts: int | None = None  # None: notifications.retry.attempts

    @property
    def channel(self) -> str:
        """Return the channel the payload goes through (chat, email, …)."""
        return self.payload.channel

    @property
    def action(self) -> str:
        """Return what the payload asks the channel to do (post, page, …)."""
        return self.payload.action


def enqueue(session: Session, messages: list[Message], *, now: datetime, retry: RetryConfig) -> int:
    """Insert the messages; a key already in the outbox is skipped (sent at most once)."""
    if not messages:
        return 0
    rows = [
        {
            "key": m.key[:200],
            "incident_id": m.incident_id,
            "channel": m.payload.channel,
            "action": m.payload.action,
            "destination": m.destination[:200],
            "payload": dump(m.payload),
            "status": "pending",
            "attempts": 0,
            "max_attempts": m.attempts or retry.attempts,
            "created_at": now,
            "due_at": m.due_at or now,
            "next_attempt_at": m.due_at or now,
        }
        for m in messages
    ]
    # One statement of arrays on PostgreSQL, executemany on SQLite (storage/bulk.py).
    count = bulk.insert(session.connection(), NOTIFICATIONS, rows, skip_conflicts_on=["key"])
    return count if count >= 0 else len(rows)  # some drivers cannot count: assume all


def claim(
    session: Session, *, now: datetime, owner: str, limit: int, lease: timedelta = LEASE
) -> list[Notification]:
    """Lease due messages that are first in line for their incident, channel and destination.

    A message waits while an earlier one to the same place is unfinished, so updates arrive
    in order; a lease lost with a crashed process expires and the message is claimed again.
    """
    ids = due_ids(session, now=now, limit=limit)
    if not ids:
        return []
    # One UPDATE … RETURNING for the lot: the rows come back already leased, without the
    # unit of work's per-row bookkeeping (a claim is most of a round's database work).
    leased = session.scalars(
        update(Notification)
        .where(Notification.id.in_(ids))
        .values(
            status="sending",
            attempts=Notification.attempts + 1,
            claimed_until=now + lease,
            claimed_by=owner,
        )
        .returning(Notification),
        execution_options={"synchronize_session": False},
    )
    return sorted(leased, key=lambda found: (found.next_attempt_at, found.id))


def due_ids(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Return the ids of up to `limit` claimable messages, the earliest due first.

    Locked on PostgreSQL (skipping rows another claim holds), for the UPDATE that follows.
    """
    query = _claim_queries()
    ids = list(session.scalars(query.first_due, {"now": now, "limit": limit}))
    if not ids or session.get_bind().dialect.name != "postgresql":
        return ids
    # PostgreSQL refuses FOR UPDATE on a UNION: lock the rows found, re-checked (another
    # sender may have claimed some since). All locked: exactly what the one query over the
    # whole backlog would have returned. Else another claim holds some: that query, which
    # skips them and takes the next in line.
    if len(set(session.scalars(query.lock, {"now": now, "ids": ids}))) == len(ids):
        return ids
    return list(session.scalars(query.whole_backlog, {"now": now, "limit": limit}))


class _ClaimQueries(NamedTuple):
    first_due: Select[int]  # the first `limit` of each status (own index each), merged
    lock: Select[int]  # the rows of `ids` still claimable, locked, skipping others' locks
    whole_backlog: Select[int]  # one OR over the statuses, sorted: what the claim once was


@cache
def _claim_queries() -> _ClaimQueries:
    """Build the claim's queries once, `now`, `limit` and `ids` bound when run.

    Building them costs more than running them (0.7 ms against 0.2).
    One OR across the statuses made both backends sort the whole due backlog each round
    (3 ms at 10,000 due); a branch per status reads its (status, next_attempt_at) index
    in order and stops at `limit` rows.
    """
    row, earlier = _ROW, _EARLIER
    now, limit = bindparam("now", type_=UTCDateTime()), bindparam("limit", type_=Integer)
    due = [
        (row.status == "pending", row.next_attempt_at <= now),
        (row.status == "failed", row.next_attempt_at <= now),
        (row.status == "sending", row.claimed_until < now),  # a lease lost with its process
    ]
    blocked = (
        select(earlier.id)
        .where(
            earlier.incident_id == row.incident_id,
            earlier.channel == row.channel,
            earlier.destination == row.destination,
            earlier.id < row.id,
            earlier.status.in_(UNFINISHED),
        )
        .exists()
    )
    first_in_line = or_(row.incident_id.is_(None), ~blocked)
    branches = [
        select(row.id, row.next_attempt_at)
        .where(status, when, first_in_line)
        .order_by(row.next_attempt_at, row.id)
        .limit(limit)
        .subquery()
        for status, when in due
    ]
    merged = union_all(*(select(b.c.id, b.c.next_attempt_at) for b in branches)).subquery()
    return _ClaimQueries(
        first_due=select(merged.c.id).order_by(merged.c.next_attempt_at, merged.c.id).limit(limit),
        # A CASE, which no index serves: else PostgreSQL's planner ANDs the ids with the
        # status index's whole due backlog (0.4 ms).
        lock=select(row.id)
        .where(
            row.id.in_(bindparam("ids", expanding=True)),
            case(*due, else_=false()),
            first_in_line,
        )
        .with_for_update(skip_locked=True, of=row),
        whole_backlog=select(row.id)
        .where(or_(*(and_(status, when) for status, when in due)), first_in_line)
        .order_by(row.next_attempt_at, row.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=row),
    )


def still_claimed(session: Session, *, ids: list[int], owner: str) -> set[int]:
    """Return which of these messages are still leased to `owner` (locked on PostgreSQL)."""
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        statement = select(NOTIFICATIONS.c.id).where(
            NOTIFICATIONS.c.id.in_(ids[start : start + 500]),
            NOTIFICATIONS.c.status == "sending",
            NOTIFICATIONS.c.claimed_by == owner,
        )
        if session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update()  # no one takes them over while we record
        found.update(session.scalars(statement))
    return found


@dataclass(frozen=True)
class Sent:
    """A delivery to record: the message, when, the provider's id, the message it went in."""

    id: int
    at: datetime
    provider_id: str | None
    bundled_into: int | None = None


def record_sent(session: Session, sent: list[Sent]) -> None:
    """Record deliveries in one executemany (what `mark_sent` does, without the ORM)."""
    statement = (
        update(NOTIFICATIONS)
        .where(NOTIFICATIONS.c.id == bindparam("b_id"))
        .values(
            status="sent",
            sent_at=bindparam("b_at"),
            provider_id=bindparam("b_provider_id"),
            claimed_until=None,
            last_error=None,
            bundled_into=bindparam("b_into"),
        )
    )
    rows = [
        {"b_id": s.id, "b_at": s.at, "b_provider_id": s.provider_id, "b_into": s.bundled_into}
        for s in sent
    ]
    bulk.executemany(session.connection(), statement, rows)


def mark_sent(row: Notification, *, now: datetime, provider_id: str | None) -> None:
    """Record a delivery."""
    row.status = "sent"
    row.sent_at = now
    row.provider_id = provider_id
    row.claimed_until = None
    row.last_error = None


def mark_failed(
    row: Notification,
    *,
    now: datetime,
    error: str,
    permanent: bool,
    retry: RetryConfig,
    retry_after: float | None = None,
) -> None:
    """Record a failure: retry later with backoff and jitter, or give up (`dead`)."""
    row.last_error = error[:2000]
    row.claimed_until = None
    if permanent or row.attempts >= row.max_attempts:
        row.status = "dead"
        return
    row.status = "failed"
    wait = backoff(row.attempts, retry)
    if retry_after is not None:  # the vendor said when; never sooner, capped by retry.max
        wait = max(wait, min(timedelta(seconds=retry_after), retry.max))
    row.next_attempt_at = now + wait


def cancel(row: Notification, *, reason: str) -> None:
    """Drop a claimed message that is no longer wanted (a page after acknowledgement)."""
    row.status = "cancelled"
    row.claimed_until = None
    row.last_error = reason


def backoff(attempts: int, retry: RetryConfig) -> timedelta:
    """Return the wait before the next attempt: doubling from `base`, capped, with jitter."""
    ceiling = min(retry.max.total_seconds(), retry.base.total_seconds() * 2 ** (attempts - 1))
    # "Equal jitter": at least half the delay, so retries of many rows spread out but none
    # comes back at once.
    return timedelta(seconds=max(0.5, ceiling * random.uniform(0.5, 1.0)))


def defer(row: Notification, *, until: datetime) -> None:
    """Put a claimed message back unsent (rate limit), without counting an attempt."""
    row.status = "pending"
    row.attempts = max(0, row.attempts - 1)
    row.claimed_until = None
    row.claimed_by = None
    row.next_attempt_at = until


def sent_since(
    session: Session, *, destinations: list[str], since: datetime
) -> list[tuple[str, str, datetime]]:
    """Return (channel, destination, sent at) of messages sent since a time (rate limits)."""
    found: list[tuple[str, str, datetime]] = []
    for start in range(0, len(destinations), 500):
        rows = session.execute(
            select(Notification.channel, Notification.destination, Notification.sent_at).where(
                Notification.destination.in_(destinations[start : start + 500]),
                Notification.sent_at >= since,
                Notification.bundled_into.is_(None),
            )
        )
        found += [(channel, destination, at) for channel, destination, at in rows if at]
    return found


def sent_on_channel(
    session: Session, *, channel: str, since: datetime
) -> tuple[int, datetime | None]:
    """Return how many messages went out on a channel since a time, and the oldest's time."""
    count, oldest = session.execute(
        select(func.count(), func.min(Notification.sent_at)).where(
            Notification.channel == channel,
            Notification.sent_at >= since,
            Notification.bundled_into.is_(None),
        )
    ).one()
    return int(count), ensure_utc(oldest) if oldest is not None else None


def bundle_candidates(
    session: Session, *, head: Notification, now: datetime, limit: int = 20
) -> list[Notification]:
    """Return other due pages to the same person and channel, to send in one message."""
    statement = (
        select(Notification)
        .where(
            Notification.id != head.id,
            Notification.action == "page",
            Notification.channel == head.channel,
            Notification.destination == head.destination,
            Notification.status.in_(("pending", "failed")),
            Notification.next_attempt_at <= now,
        )
        .order_by(Notification.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return list(session.scalars(statement))


def resend(session: Session, *, notification_id: int, now: datetime) -> Notification:
    """Queue a dead (or failed) message again with a fresh set of attempts (admins)."""
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotFound(f"notification {notification_id} does not exist")
    if row.status not in ("dead", "failed"):
        raise Conflict(
            f"notification {notification_id} is {row.status}; only dead or failed ones are resent"
        )
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = now
    row.last_error = None
    if row.action == "create_channel" and row.incident_id is not None:
        # Messages for the channel died because it did not exist: they go again behind it.
        behind = session.scalars(
            select(Notification).where(
                Notification.incident_id == row.incident_id,
                Notification.channel == row.channel,
                Notification.destination == row.destination,
                Notification.id > row.id,
                Notification.status == "dead",
            )
        )
        for other in behind:
            other.status, other.attempts, other.next_attempt_at = "pending", 0, now
            other.last_error = None
    return row


def depth(session: Session) -> dict[str, int]:
    """Return how many messages are in each status."""
    rows = session.execute(
        select(Notification.status, func.count()).group_by(Notification.status)
    ).all()
    return {status: int(count) for status, count in rows}


def release_claims(session: Session, *, owner: str) -> int:
    """Give back this process's unsent claims at shutdown (others may send them at once)."""
    result = session.execute(
        update(Notification)
        .where(Notification.status == "sending", Notification.claimed_by == owner)
        .values(status="pending", claimed_until=None, claimed_by=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)
