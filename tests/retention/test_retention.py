"""Retention on both backends: old rows go, recent ones and the record stay, in batches."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError
from sqlalchemy import func, insert, select, update

from warroom.audit.models import AuditEntry
from warroom.auth import service as auth
from warroom.auth.oidc_models import OidcLogin
from warroom.auth.sessions import BrowserSession
from warroom.config import WarroomConfig
from warroom.config.retention import RetentionConfig
from warroom.core.clock import FrozenClock
from warroom.detection.models import Alert, SeenDelivery, Silence
from warroom.escalation.models import PageRun
from warroom.incidents.actor import Actor
from warroom.incidents.models import Incident, TimelineEvent
from warroom.notify.models import Notification
from warroom.retention import service
from warroom.retention.jobs import CATCH_UP_EVERY, PRUNE_EVERY, Pruning
from warroom.runtime import Runtime

ACTOR = Actor(name="tester", source="api")
DAY = timedelta(days=1)
RETENTION = RetentionConfig()  # 30d sessions, 90d for the rest


def declare(runtime: Runtime, title: str, *, resolved: datetime | None = None) -> int:
    """Declare an incident; mark it resolved at `resolved` (the rows, not the lifecycle)."""
    incident = runtime.flows.declare(actor=ACTOR, title=title, severity="SEV-3")
    with runtime.db.transaction() as session:
        row = session.scalars(select(Incident).where(Incident.number == incident.number)).one()
        if resolved is not None:
            row.status, row.resolved_at, row.mitigated_at = "resolved", resolved, resolved
        return row.id


def add(runtime: Runtime, model: type, rows: list[dict[str, Any]]) -> None:
    """Insert rows as they are (setup: the table's own columns, no flows)."""
    with runtime.db.transaction() as session:
        session.execute(insert(model), rows)


def count(runtime: Runtime, model: type, *where: Any) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def names(runtime: Runtime, column: Any) -> set[Any]:
    with runtime.db.session() as session:
        return set(session.scalars(select(column)))


def message(key: str, at: datetime, status: str, incident_id: int | None = None) -> dict[str, Any]:
    return {
        "key": key,
        "incident_id": incident_id,
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
    }


def session_row(user_id: int, digest: str, created: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "digest": digest,
        "created_at": created,
        "last_seen_at": created,
        "expires_at": created + timedelta(hours=12),
        "sso": False,
    } | extra


def alert(fingerprint: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "source": "alertmanager",
        "integration": "prod",
        "kind": "alert",
        "fingerprint": fingerprint,
        "status": "resolved",
        "is_open": False,
        "title": fingerprint,
        "labels": {},
        "annotations": {},
        "received_at": at,
        "last_seen_at": at,
        "seen_count": 1,
        "raw": "{}",
    } | extra


def silence(ends: datetime, comment: str) -> dict[str, Any]:
    return {
        "matchers": ['alertname="X"'],
        "starts_at": ends - DAY,
        "ends_at": ends,
        "comment": comment,
        "created_at": ends - DAY,
    }


def page_run(incident_id: int, person: str, at: datetime, state: str) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "person": person,
        "loop": 0,
        "step": 0,
        "rules": [],
        "position": 0,
        "state": state,
        "started_at": at,
        "next_at": at if state == "active" else None,
        "updated_at": at,
        "reply_code": "1234",
    }


def test_old_rows_go_recent_rows_and_the_record_stay(runtime: Runtime, clock: FrozenClock) -> None:
    long_ago = clock.now()
    with runtime.db.transaction() as session:
        user = auth.create_user(session, name="alice", role="responder", now=long_ago).id
    finished = declare(runtime, "finished long ago", resolved=long_ago)
    still_open = declare(runtime, "still open")
    clock.advance(timedelta(days=200))
    now = clock.now()
    recent = now - DAY
    add(
        runtime,
        BrowserSession,
        [
            session_row(user, "a" * 64, long_ago),
            session_row(user, "b" * 64, recent),
            # Signed out 40 days ago though it would have expired later: it ended then.
            session_row(
                user,
                "c" * 64,
                now - timedelta(days=41),
                ended_at=now - timedelta(days=40),
                expires_at=now + DAY,
            ),
        ],
    )
    add(
        runtime,
        OidcLogin,
        [
            {
                "digest": d * 64,
                "state": d,
                "nonce": d,
                "code_verifier": d,
                "next_path": "/",
                "created_at": at - timedelta(minutes=10),
                "expires_at": at,
            }
            for d, at in (("e", now - timedelta(minutes=1)), ("f", now + timedelta(minutes=5)))
        ],
    )
    add(
        runtime,
        SeenDelivery,
        [
            {"source": "jira", "delivery_id": name, "received_at": at}
            for name, at in (("old", now - timedelta(days=8)), ("new", recent))
        ],
    )
    add(
        runtime,
        Notification,
        [
            message("old-sent", long_ago, "sent"),
            message("old-dead", long_ago, "dead"),
            message("old-cancelled", long_ago, "cancelled"),
            message("old-pending", long_ago, "pending"),  # in flight: never pruned
            message("old-sending", long_ago, "sending"),
            message("old-failed", long_ago, "failed"),  # retried later: in flight too
            message("new-sent", recent, "sent"),
            message("finished-incident", long_ago, "sent", finished),
            message("open-incident", long_ago, "sent", still_open),  # still read: was it paged?
        ],
    )
    add(
        runtime,
        PageRun,
        [
            page_run(finished, "alice", long_ago, "done"),
            page_run(still_open, "alice", long_ago, "stopped"),
            page_run(still_open, "bob", long_ago, "active"),
        ],
    )
    add(
        runtime,
        Alert,
        [
            alert("noise-old", long_ago),
            alert("noise-new", recent),
            alert(
                "noise-still-firing", long_ago, is_open=True, status="firing", last_seen_at=recent
            ),
            alert("incident-old", long_ago, incident_id=finished),  # the record
        ],
    )
    add(runtime, Silence, [silence(long_ago, "ended long ago"), silence(recent, "ended recently")])
    record = (
        count(runtime, Incident),
        count(runtime, TimelineEvent),
        count(runtime, AuditEntry),
    )

    done = service.prune(runtime.db, retention=RETENTION, now=now)

    assert {p.kind: p.rows for p in done} == {
        "sessions": 2,
        "sign_in_flows": 1,
        "delivery_ids": 1,
        "notifications": 4,
        "page_runs": 1,
        "alerts": 1,
        "silences": 1,
    }
    assert names(runtime, BrowserSession.digest) == {"b" * 64}
    assert names(runtime, OidcLogin.digest) == {"f" * 64}
    assert names(runtime, SeenDelivery.delivery_id) == {"new"}
    assert names(runtime, Notification.key) >= {
        "old-pending",
        "old-sending",
        "old-failed",
        "new-sent",
        "open-incident",
    }
    assert not names(runtime, Notification.key) & {
        "old-sent",
        "old-dead",
        "old-cancelled",
        "finished-incident",
    }
    assert names(runtime, PageRun.person) == {"alice", "bob"}
    assert count(runtime, PageRun, PageRun.incident_id == finished) == 0
    assert names(runtime, Alert.fingerprint) == {"noise-new", "noise-still-firing", "incident-old"}
    assert names(runtime, Silence.comment) == {"ended recently"}
    # The record: incidents and timelines are untouched; the audit chain only grew by the
    # end of the session that timed out unused (the signed-out one's end is recorded).
    assert (count(runtime, Incident), count(runtime, TimelineEvent)) == record[:2]
    assert count(runtime, AuditEntry) == record[2] + 1
    assert [e.details["count"] for e in audited(runtime, "session.pruned")] == [1]
    # Nothing more is due: a second run (another engine's) deletes nothing and fails nothing.
    assert all(p.rows == 0 for p in service.prune(runtime.db, retention=RETENTION, now=now))


def test_an_incident_reopened_keeps_its_rows(runtime: Runtime, clock: FrozenClock) -> None:
    long_ago = clock.now()
    reopened = declare(runtime, "back again", resolved=long_ago)
    add(runtime, Notification, [message("meeting", long_ago, "sent", reopened)])
    add(runtime, PageRun, [page_run(reopened, "alice", long_ago, "done")])
    with runtime.db.transaction() as session:
        session.execute(
            update(Incident)
            .where(Incident.id == reopened)
            .values(status="triaged", resolved_at=None)
        )
    clock.advance(timedelta(days=200))
    service.prune(runtime.db, retention=RETENTION, now=clock.now())
    assert count(runtime, Notification) == 1
    assert count(runtime, PageRun) == 1


def test_a_silence_an_incident_alert_names_is_kept(runtime: Runtime, clock: FrozenClock) -> None:
    long_ago = clock.now()
    incident = declare(runtime, "held then declared", resolved=long_ago)
    add(runtime, Silence, [silence(long_ago, "named"), silence(long_ago, "unnamed")])
    named = min(names(runtime, Silence.id))
    add(
        runtime,
        Alert,
        [
            alert("of-incident", long_ago, incident_id=incident, silence_id=named),
            alert("noise", long_ago, silence_id=max(names(runtime, Silence.id))),
        ],
    )
    clock.advance(timedelta(days=200))
    service.prune(runtime.db, retention=RETENTION, now=clock.now())
    assert names(runtime, Silence.comment) == {"named"}
    assert names(runtime, Alert.fingerprint) == {"of-incident"}


def test_a_dry_run_counts_and_deletes_nothing(runtime: Runtime, clock: FrozenClock) -> None:
    long_ago = clock.now()
    add(runtime, Notification, [message(f"m{i}", long_ago, "sent") for i in range(3)])
    clock.advance(timedelta(days=91))
    done = service.prune(runtime.db, retention=RETENTION, now=clock.now(), dry_run=True)
    assert {p.kind: p.rows for p in done}["notifications"] == 3
    assert count(runtime, Notification) == 3


def test_batches_go_past_the_batch_size(runtime: Runtime, clock: FrozenClock) -> None:
    long_ago = clock.now()
    add(runtime, Notification, [message(f"m{i}", long_ago, "sent") for i in range(7)])
    add(runtime, Notification, [message("recent", long_ago + timedelta(days=100), "sent")])
    now = long_ago + timedelta(days=101)
    limited = service.prune(runtime.db, retention=RETENTION, now=now, batch=3, max_batches=2)
    pruned = {p.kind: p for p in limited}["notifications"]
    assert (pruned.rows, pruned.more) == (6, True)  # two batches of three, one row left
    assert count(runtime, Notification) == 2
    done = service.prune(runtime.db, retention=RETENTION, now=now, batch=3)
    assert {p.kind: p.rows for p in done}["notifications"] == 1
    assert names(runtime, Notification.key) == {"recent"}


def test_two_engines_pruning_at_once_delete_each_row_once(
    runtime: Runtime, clock: FrozenClock
) -> None:
    long_ago = clock.now()
    add(runtime, Notification, [message(f"m{i}", long_ago, "sent") for i in range(120)])
    now = long_ago + timedelta(days=91)

    def one_engine(_: int) -> int:
        done = service.prune(runtime.db, retention=RETENTION, now=now, batch=7)
        return {p.kind: p.rows for p in done}["notifications"]

    with ThreadPoolExecutor(2) as pool:
        deleted = list(pool.map(one_engine, range(2)))
    assert sum(deleted) == 120
    assert count(runtime, Notification) == 0


def audited(runtime: Runtime, action: str) -> list[Any]:
    """Return the entries of `action` (actor, target, at, details), oldest first."""
    e = AuditEntry
    with runtime.db.session() as session:
        return list(
            session.execute(
                select(e.actor, e.target, e.at, e.details).where(e.action == action).order_by(e.seq)
            )
        )


def test_sessions_that_ended_unrecorded_get_one_audit_entry_a_batch(
    runtime: Runtime, clock: FrozenClock
) -> None:
    long_ago = clock.now()
    with runtime.db.transaction() as session:
        user = auth.create_user(session, name="alice", role="responder", now=long_ago).id
    # Three timed out unused (no request saw them end), two ended in a way already recorded
    # (signed out, or ended by `session.expired` or a user change: `ended_at` is set).
    add(
        runtime,
        BrowserSession,
        [session_row(user, f"{n}" * 64, long_ago) for n in range(3)]
        + [
            session_row(user, f"{n}" * 64, long_ago, ended_at=long_ago + timedelta(hours=1))
            for n in range(3, 5)
        ],
    )
    with runtime.db.session() as session:
        unended = list(
            session.scalars(
                select(BrowserSession.id)
                .where(BrowserSession.ended_at.is_(None))
                .order_by(BrowserSession.id)
            )
        )
    clock.advance(timedelta(days=31))
    now = clock.now()

    done = service.prune(runtime.db, retention=RETENTION, now=now, batch=2)

    assert {p.kind: p.rows for p in done}["sessions"] == 5
    assert count(runtime, BrowserSession) == 0
    entries = audited(runtime, "session.pruned")
    # Batches of two by row number: the unrecorded three are in the first two batches; the
    # third batch holds only an ended one, and records nothing.
    assert [e.details["sessions"] for e in entries] == [unended[:2], unended[2:]]
    cutoff = (now - RETENTION.sessions).isoformat(timespec="microseconds").replace("+00:00", "Z")
    for entry in entries:
        assert entry.actor == "system:retention" and entry.target == "sessions"
        assert entry.details["count"] == len(entry.details["sessions"])
        assert entry.details["expired_before"] == cutoff
        assert entry.at == now
    # Nothing left: another pass records nothing more; a dry run never records.
    service.prune(runtime.db, retention=RETENTION, now=now)
    service.prune(runtime.db, retention=RETENTION, now=now, dry_run=True)
    assert len(audited(runtime, "session.pruned")) == 2


def test_a_dry_run_records_no_session_end(runtime: Runtime, clock: FrozenClock) -> None:
    long_ago = clock.now()
    with runtime.db.transaction() as session:
        user = auth.create_user(session, name="alice", role="responder", now=long_ago).id
    add(runtime, BrowserSession, [session_row(user, "a" * 64, long_ago)])
    clock.advance(timedelta(days=31))
    done = service.prune(runtime.db, retention=RETENTION, now=clock.now(), dry_run=True)
    assert {p.kind: p.rows for p in done}["sessions"] == 1
    assert audited(runtime, "session.pruned") == [] and count(runtime, BrowserSession) == 1


def deleted_metric(kind: str) -> float:
    return REGISTRY.get_sample_value("warroom_retention_deleted_total", {"kind": kind}) or 0.0


def test_the_engine_prunes_logs_counts_and_catches_up(
    runtime: Runtime, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    long_ago = clock.now()
    add(runtime, Notification, [message(f"m{i}", long_ago, "sent") for i in range(5)])
    clock.advance(timedelta(days=91))
    module = next(m for m in runtime.engine.modules if isinstance(m, Pruning))
    module.batch, module.max_batches = 2, 1  # a backlog: two rows a round
    before = deleted_metric("notifications")
    assert module.interval == PRUNE_EVERY
    lines = []
    for _ in range(4):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="warroom.retention"):
            runtime.engine.tick()
        lines.append([r.getMessage() for r in caplog.records])
        if module.interval == CATCH_UP_EVERY:  # behind: the next round prunes again soon
            clock.advance(CATCH_UP_EVERY)
        else:
            clock.advance(PRUNE_EVERY)
    assert lines == [
        ["retention deleted notifications=2 (more to come)"],
        ["retention deleted notifications=2 (more to come)"],
        ["retention deleted notifications=1"],
        [],  # nothing deleted: no line
    ]
    assert module.interval == PRUNE_EVERY  # caught up
    assert count(runtime, Notification) == 0
    assert deleted_metric("notifications") - before == 5


@pytest.mark.parametrize("value", ["12h", "0", "0s"])
def test_a_retention_under_a_day_is_refused_by_name(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WarroomConfig.model_validate({"retention": {"notifications": value}})
    assert "retention.notifications" in str(caught.value).replace("\n", ".")
    assert "must be at least 1d" in str(caught.value)


def test_retention_defaults_and_unknown_kinds() -> None:
    config = WarroomConfig.model_validate({"retention": {"sessions": "7d"}})
    assert config.retention.sessions == timedelta(days=7)
    assert config.retention.notifications == timedelta(days=90)
    with pytest.raises(ValidationError, match="incidents"):
        WarroomConfig.model_validate({"retention": {"incidents": "30d"}})


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_rows_another_transaction_holds_end_the_pass_not_loop_on_it(
    runtime: Runtime, clock: FrozenClock
) -> None:
    """Without a batch limit (`warroom db prune`), a full batch of rows locked elsewhere
    (PostgreSQL's SKIP LOCKED skips them all) must end the pass, not pick them for ever."""
    long_ago = clock.now()
    add(runtime, Notification, [message(f"m{i}", long_ago, "sent") for i in range(4)])
    now = long_ago + timedelta(days=101)
    pool = ThreadPoolExecutor(1)
    with runtime.db.write_engine.connect() as other:
        other.execute(select(Notification.id).with_for_update()).all()  # holds all four
        pruning = pool.submit(service.prune, runtime.db, retention=RETENTION, now=now, batch=3)
        try:
            done = pruning.result(timeout=30)  # looping on them, it would never answer
        finally:
            other.rollback()
            pool.shutdown(wait=True)
    pruned = {p.kind: p for p in done}["notifications"]
    assert (pruned.rows, pruned.more) == (0, True)  # nothing taken; tried again later
    assert count(runtime, Notification) == 4
