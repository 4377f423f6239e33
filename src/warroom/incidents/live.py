"""Committed timeline events to the live bus, and the reads the live streams make."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.incidents.actor import Access
from warroom.incidents.models import Incident, TimelineEvent
from warroom.incidents.timeline import LIVE_EVENTS, LIVE_UNPLANNED
from warroom.incidents.visibility import visible
from warroom.storage import savepoints
from warroom.storage.bus import Bus, LiveEvent
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

LIVE_BULK = "live.timeline_bulk"  # events written without the ORM, found by id


def install(db: Database, bus: Bus) -> None:
    """Publish the timeline events of every committed write transaction of `db` on `bus`."""
    if db.is_sqlite:

        def published(session: Session) -> None:
            # SQLAlchemy also calls this as a savepoint is released (the intake's group commit
            # runs each delivery in one): its events are out only when the root commits, or a
            # stream would look for an incident that no other connection can read yet.
            if session.in_nested_transaction():
                return
            events = _written(session)
            if events:
                bus.publish(events)

        db.listen_writes("after_commit", published)
    else:

        def notified(session: Session) -> None:
            # Before the root commit only (SQLAlchemy also calls this as a savepoint is
            # released); NOTIFY inside the transaction is delivered when, and if, it commits.
            if session.in_nested_transaction():
                return
            if not any(session.info.get(k) for k in (LIVE_EVENTS, LIVE_BULK, LIVE_UNPLANNED)):
                return
            session.flush()  # the events need their ids
            events = _written(session)
            if events:
                Bus.notify(session.connection(), events)

        db.listen_writes("before_commit", notified)

    def forget(session: Session, transaction: Any) -> None:
        # A rolled-back transaction publishes nothing: drop what it wrote.
        if transaction.parent is None:
            session.info.pop(LIVE_EVENTS, None)
            session.info.pop(LIVE_BULK, None)
            session.info.pop(LIVE_UNPLANNED, None)

    def rolled_back(session: Session, transaction: Any) -> None:
        # A savepoint rolled back takes back the events written in it, however deep.
        written = session.info.get(LIVE_UNPLANNED)
        if written:
            session.info[LIVE_UNPLANNED] = [
                (where, events)
                for where, events in written
                if not savepoints.within(where, transaction)
            ]

    db.listen_writes("after_transaction_end", forget)
    db.listen_writes("after_soft_rollback", rolled_back)


def bulk_written(session: Session, *, after: int, incident_ids: Collection[int]) -> None:
    """Count for the live bus the timeline events of `incident_ids` a bulk insert (no ORM)
    just wrote in this transaction: those with an id above `after`."""
    stmt = _EVENTS.where(TimelineEvent.id > after, TimelineEvent.incident_id.in_(incident_ids))
    # On PostgreSQL another transaction's events may show too (committed meanwhile, ids from
    # one sequence): they are real, and the bus drops an event it has already delivered.
    found = [LiveEvent(number, id_, kind) for id_, number, kind in session.execute(stmt)]
    session.info.setdefault(LIVE_BULK, []).extend(found)


def bulk_known(session: Session, events: list[LiveEvent]) -> None:
    """Count for the live bus timeline events a bulk insert wrote and returned the ids of."""
    session.info.setdefault(LIVE_BULK, []).extend(events)


def _written(session: Session) -> list[LiveEvent]:
    """Take the events this transaction wrote, less those of savepoints rolled back."""
    pending = session.info.pop(LIVE_EVENTS, [])
    # A rolled-back savepoint expunges what it added: such an event is no longer in the session.
    events = [
        LiveEvent(incident.number, event.id, event.kind)
        for incident, event in pending
        if event in session and event.id is not None
    ]
    # Bulk inserts (the escalation tick) run in no savepoint of their own.
    events += session.info.pop(LIVE_BULK, [])
    for _, written in session.info.pop(LIVE_UNPLANNED, []):
        events += [LiveEvent(*event) for event in written]
    return sorted(events, key=lambda e: e.id)


_EVENTS = select(TimelineEvent.id, Incident.number, TimelineEvent.kind).join(
    Incident, Incident.id == TimelineEvent.incident_id
)


def head(db: Database) -> int:
    """Return the newest timeline event id (0 for none)."""
    with db.reading() as connection:
        return int(connection.scalar(select(func.max(TimelineEvent.id))) or 0)


def since(db: Database, after: int, limit: int) -> list[LiveEvent]:
    """Return up to `limit` committed events with an id above `after`, oldest first."""
    stmt = _EVENTS.where(TimelineEvent.id > after).order_by(TimelineEvent.id).limit(limit)
    with db.reading() as connection:
        return [LiveEvent(number, id_, kind) for id_, number, kind in connection.execute(stmt)]


def replay(
    db: Database,
    config: WarroomConfig,
    access: Access,
    *,
    after: int,
    number: int | None,
    limit: int,
) -> list[LiveEvent]:
    """Return up to `limit` events after id `after` that `access` may see (of one incident)."""
    stmt = _EVENTS.where(TimelineEvent.id > after, visible(config, access))
    if number is not None:
        stmt = stmt.where(Incident.number == number)
    stmt = stmt.order_by(TimelineEvent.id).limit(limit)
    with db.reading() as connection:
        return [LiveEvent(number_, id_, kind) for id_, number_, kind in connection.execute(stmt)]


def public_numbers(db: Database, numbers: Collection[int]) -> set[int]:
    """Return which of the incidents `numbers` are public (visible to every user)."""
    stmt = select(Incident.number).where(
        Incident.number.in_(numbers), Incident.visibility == "public"
    )
    with db.reading() as connection:
        return set(connection.scalars(stmt))


def visible_numbers(
    db: Database, config: WarroomConfig, access: Access, numbers: Collection[int]
) -> set[int]:
    """Return which of the incidents `numbers` `access` may see (one query)."""
    if access.sees_everything:
        return set(numbers)
    stmt = select(Incident.number).where(Incident.number.in_(numbers), visible(config, access))
    with db.reading() as connection:
        return set(connection.scalars(stmt))
