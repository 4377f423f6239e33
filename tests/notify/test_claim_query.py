"""The outbox claim: which rows, in which order, leased how — and read through its indexes.

Rows of every status at once: pending, failed awaiting retry, sending with a lease lost or
live, sent, dead, cancelled; messages waiting behind an earlier unfinished one to the same
place. The claim must take exactly the due, first-in-line rows, earliest first (ties by id),
and must not read the whole due backlog to find the first few.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from warroom.incidents.actor import Actor
from warroom.incidents.models import Incident
from warroom.notify import outbox
from warroom.notify.models import Notification
from warroom.runtime import Runtime

ACTOR = Actor(name="tester", source="api")


def row(key: str, status: str, at: datetime, **extra: Any) -> dict[str, Any]:
    """Return a notifications row: a chat post to #ops, next attempt (and first due) at `at`."""
    return {
        "key": key,
        "incident_id": None,
        "channel": "chat",
        "action": "post",
        "destination": "#ops",
        "payload": {},
        "status": status,
        "attempts": 1,
        "max_attempts": 10,
        "created_at": at,
        "due_at": at,
        "next_attempt_at": at,
        "claimed_until": None,
        "claimed_by": None,
    } | extra


def incidents(runtime: Runtime, count: int) -> list[int]:
    """Declare `count` incidents; return their ids, with an empty outbox."""
    for n in range(count):
        runtime.flows.declare(actor=ACTOR, title=f"i{n}", severity="SEV-3")
    with runtime.db.transaction() as session:
        session.execute(delete(Notification))
        return list(session.scalars(select(Incident.id).order_by(Incident.id)))


def claim(runtime: Runtime, limit: int, owner: str = "engine-a") -> list[str]:
    """Claim up to `limit` rows in a transaction of its own; return their keys in order."""
    with runtime.db.transaction() as session:
        rows = outbox.claim(session, now=runtime.clock.now(), owner=owner, limit=limit)
        return [found.key for found in rows]


def state(runtime: Runtime) -> dict[str, tuple[Any, ...]]:
    """Return each row's status, attempts, owner and lease end, by key."""
    n = Notification
    with runtime.db.session() as session:
        return {
            r.key: (r.status, r.attempts, r.claimed_by, r.claimed_until)
            for r in session.execute(
                select(n.key, n.status, n.attempts, n.claimed_by, n.claimed_until)
            )
        }


def mixed(runtime: Runtime) -> None:
    """Write the rows of the module's docstring (comments: claimable or why not)."""
    now = runtime.clock.now()
    a, b = incidents(runtime, 2)

    def ago(seconds: int) -> datetime:
        return now - timedelta(seconds=seconds)

    rows = [
        row("sent-a", "sent", ago(10), incident_id=a),  # finished: blocks nothing
        row("failed-a", "failed", ago(5), incident_id=a),  # claimable
        row("behind-failed-a", "pending", ago(9), incident_id=a),  # waits for failed-a
        row("pending-1", "pending", ago(8)),  # claimable
        row("lost-lease-b", "sending", ago(7), incident_id=b, claimed_until=ago(1)),  # claimable
        row("live-lease", "sending", ago(20), claimed_until=now + timedelta(seconds=30)),
        row("pending-later", "pending", now + timedelta(seconds=60)),  # not yet
        row("failed-later", "failed", now + timedelta(seconds=5)),  # its retry not yet
        row("dead", "dead", ago(30)),
        row("behind-lost-lease-b", "pending", ago(6), incident_id=b),  # waits for lost-lease-b
        row("pending-b-elsewhere", "pending", ago(8), incident_id=b, destination="#b"),  # yes
        row("failed-tied", "failed", ago(8)),  # claimable: tied with pending-1, a later id
        row("cancelled", "cancelled", ago(40)),
        row("pending-now", "pending", now),  # due at this very instant
        row("lease-ends-now", "sending", ago(50), claimed_until=now),  # not over yet
    ]
    with runtime.db.transaction() as session:
        session.execute(insert(Notification), rows)


def test_a_claim_takes_the_due_first_in_line_rows_of_every_status_earliest_first(
    runtime: Runtime,
) -> None:
    mixed(runtime)
    before = state(runtime)
    now = runtime.clock.now()
    lease = runtime.config().notifications.claim_lease

    first = claim(runtime, 3)
    assert first == ["pending-1", "pending-b-elsewhere", "failed-tied"]  # ties by id
    rest = claim(runtime, 100, owner="engine-b")
    assert rest == ["lost-lease-b", "failed-a", "pending-now"]
    assert claim(runtime, 100) == []  # what is left waits, is leased, or is finished

    after = state(runtime)
    for key, owner in [(k, "engine-a") for k in first] + [(k, "engine-b") for k in rest]:
        status, attempts, claimed_by, claimed_until = after[key]
        assert (status, claimed_by) == ("sending", owner), key
        assert attempts == before[key][1] + 1 and claimed_until == now + lease, key
    untouched = set(before) - set(first) - set(rest)
    assert {key: after[key] for key in untouched} == {key: before[key] for key in untouched}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_a_row_another_claim_holds_is_skipped_and_the_next_in_line_taken(
    runtime: Runtime,
) -> None:
    mixed(runtime)
    with runtime.db.write_engine.connect() as other:
        # Another sender's claim, not yet committed, holds the first in line.
        other.execute(text("SELECT id FROM notifications WHERE key = 'pending-1' FOR UPDATE"))
        with runtime.db.transaction() as session:
            # A claim that took it would wait for it here: fail, not hang.
            session.execute(text("SET LOCAL lock_timeout = '5s'"))
            now = runtime.clock.now()
            rows = outbox.claim(session, now=now, owner="engine-a", limit=3)
            got = [found.key for found in rows]
        assert got == ["pending-b-elsewhere", "failed-tied", "lost-lease-b"]
        other.rollback()
    assert claim(runtime, 100) == ["pending-1", "failed-a", "pending-now"]


def reference(rows: list[dict[str, Any]], now: datetime, limit: int) -> list[str]:
    """Return the keys a claim must take, by the rule written out plainly."""
    unfinished = {"pending", "sending", "failed"}

    def due(r: dict[str, Any]) -> bool:
        if r["status"] in ("pending", "failed"):
            return bool(r["next_attempt_at"] <= now)
        return r["status"] == "sending" and r["claimed_until"] < now

    def first_in_line(r: dict[str, Any]) -> bool:
        return r["incident_id"] is None or not any(
            e["id"] < r["id"]
            and e["status"] in unfinished
            and (e["incident_id"], e["channel"], e["destination"])
            == (r["incident_id"], r["channel"], r["destination"])
            for e in rows
        )

    ready = [r for r in rows if due(r) and first_in_line(r)]
    return [r["key"] for r in sorted(ready, key=lambda r: (r["next_attempt_at"], r["id"]))][:limit]


def test_claims_match_the_rule_on_a_random_outbox(runtime: Runtime) -> None:
    chance = random.Random(20261205)
    now = runtime.clock.now()
    ids = incidents(runtime, 3)
    statuses = ["pending"] * 4 + ["failed", "sending", "sent", "dead", "cancelled"]
    rows = []
    for n in range(400):
        status = chance.choice(statuses)
        rows.append(
            row(
                f"m{n}",
                status,
                now + timedelta(seconds=chance.randint(-300, 30)),  # many ties
                incident_id=chance.choice([None, *ids]),
                destination=chance.choice(["#a", "#b", "#c"]),
                claimed_until=now + timedelta(seconds=chance.randint(-60, 60))
                if status == "sending"
                else None,
            )
        )
    with runtime.db.transaction() as session:
        session.execute(insert(Notification), rows)
    claimed = 0
    for limit in [1, 5, 2, 40, 7, 1000]:
        with runtime.db.session() as session:
            current = [dict(r._mapping) for r in session.execute(select(Notification.__table__))]
        expected = reference(current, now, limit)
        assert claim(runtime, limit) == expected, limit
        claimed += len(expected)
    assert claimed > 50  # the rounds took a good share, not a trivial few


@contextmanager
def rows_read(session: Session) -> Iterator[list[int]]:
    """Count the work the database does inside: SQLite VM steps, PostgreSQL tuples read."""
    counted = [0]
    if session.get_bind().dialect.name == "sqlite":
        raw = session.connection().connection.dbapi_connection
        assert raw is not None

        def step() -> int:
            counted[0] += 1
            return 0

        raw.set_progress_handler(step, 1)
        try:
            yield counted
        finally:
            raw.set_progress_handler(None, 1)
        return
    tuples = text(
        "SELECT coalesce(sum(idx_tup_fetch + seq_tup_read), 0) FROM pg_stat_xact_user_tables "
        "WHERE relname = 'notifications'"
    )
    start = session.scalar(tuples) or 0
    yield counted
    counted[0] = (session.scalar(tuples) or 0) - start


def test_finding_the_next_rows_does_not_read_the_whole_due_backlog(runtime: Runtime) -> None:
    now = runtime.clock.now()
    work = []
    for backlog in (100, 2000):
        with runtime.db.transaction() as session:
            session.execute(delete(Notification))
            session.execute(
                insert(Notification),
                [
                    row(
                        f"b{backlog}-{n}",
                        ("pending", "failed", "sending")[n % 3],
                        now - timedelta(seconds=backlog - n),
                        claimed_until=now - timedelta(seconds=1),
                    )
                    for n in range(backlog)
                ],
            )
        if not runtime.db.is_sqlite:  # the statistics autovacuum keeps: the planner's costs
            with runtime.db.write_engine.connect() as connection:
                connection.execute(text("ANALYZE notifications"))
                connection.commit()
        with runtime.db.transaction() as session, rows_read(session) as counted:
            assert len(outbox.due_ids(session, now=now, limit=16)) == 16
        work.append(counted[0])
    # 20 times the backlog: reading (and sorting) all of it costs about 20 times as much.
    assert work[1] < 2 * work[0], work
