"""Writing and reading the append-only timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from warroom.incidents.models import Incident, TimelineEvent

# Built once: constructing a statement costs more than a new incident's insert takes to run.
_INSERT_MANY = insert(TimelineEvent).returning(TimelineEvent)
NEW_EVENTS = "warroom.timeline.new_events"
# The live bus's own list (incidents/live.py): the planner pops NEW_EVENTS before the commit,
# and this is read at the commit. No "warroom." prefix: no before-commit listener takes it.
LIVE_EVENTS = "live.timeline_events"

# Kinds that make up the postmortem's skeleton; starred on the timeline.
KEY_KINDS = frozenset(
    {
        "declared",
        "acknowledged",
        "triaged",
        "mitigated",
        "resolved",
        "closed",
        "reopened",
        "severity_changed",
        "commander_changed",
        "runbook_changed",
    }
)


def record(
    session: Session,
    *,
    incident: Incident,
    kind: str,
    text: str,
    at: datetime,
    actor: str | None,
    source: str,
    data: dict[str, Any] | None = None,
    key_event: bool | None = None,
) -> TimelineEvent:
    """Append an event to the incident's timeline (in the caller's transaction)."""
    event = TimelineEvent(
        incident_id=incident.id,
        at=at,
        kind=kind,
        actor=actor,
        source=source,
        text=text,
        data=data or {},
        key_event=kind in KEY_KINDS if key_event is None else key_event,
    )
    session.add(event)
    # Listeners (the notification planner) read the events written in this transaction.
    session.info.setdefault(NEW_EVENTS, []).append((incident, event))
    session.info.setdefault(LIVE_EVENTS, []).append((incident, event))
    return event


def record_many(
    session: Session,
    *,
    incident: Incident,
    events: list[tuple[str, str, dict[str, Any]]],
    at: datetime,
    actor: str | None,
    source: str,
) -> list[TimelineEvent]:
    """Append several (kind, text, data) events to one incident's timeline in one statement.

    The ORM would insert them one statement each on SQLite (it cannot match a batch's new ids
    to its objects); an INSERT … RETURNING of the rows gives the objects back, ids in order.
    """
    if not events:
        return []
    rows = [
        {
            "incident_id": incident.id,
            "at": at,
            "kind": kind,
            "actor": actor,
            "source": source,
            "text": text,
            "data": data,
            "key_event": kind in KEY_KINDS,
        }
        for kind, text, data in events
    ]
    written = sorted(
        session.scalars(_INSERT_MANY, rows),
        key=lambda event: event.id,
    )
    for event in written:
        session.info.setdefault(NEW_EVENTS, []).append((incident, event))
        session.info.setdefault(LIVE_EVENTS, []).append((incident, event))
    return written


def take_new_events(session: Session) -> list[tuple[Incident, TimelineEvent]]:
    """Return (and forget) the events recorded since the last call that are still to commit."""
    written = session.info.pop(NEW_EVENTS, [])
    # An event added inside a savepoint that rolled back has left the session: skip it.
    return [(incident, event) for incident, event in written if event in session]


def events(
    session: Session, *, incident: Incident, after_id: int = 0, limit: int | None = None
) -> list[TimelineEvent]:
    """Return the incident's events in the order they were written."""
    stmt = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id, TimelineEvent.id > after_id)
        .order_by(TimelineEvent.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def newest(session: Session, *, incident: Incident, limit: int) -> list[TimelineEvent]:
    """Return the incident's `limit` newest events, in the order they were written."""
    stmt = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id)
        .order_by(TimelineEvent.id.desc())
        .limit(limit)
    )
    return list(reversed(list(session.scalars(stmt))))


def count(session: Session, *, incident: Incident) -> int:
    """Return how many events the incident's timeline holds."""
    stmt = select(func.count()).where(TimelineEvent.incident_id == incident.id)
    return int(session.scalar(stmt) or 0)
