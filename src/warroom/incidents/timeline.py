"""Writing and reading the append-only timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from warroom.incidents.models import Incident, TimelineEvent
from warroom.storage import savepoints

# Built once: constructing a statement costs more than a new incident's insert takes to run.
_INSERT_MANY = insert(TimelineEvent).returning(TimelineEvent)
NEW_EVENTS = "warroom.timeline.new_events"
# The live bus's own list (incidents/live.py): the planner pops NEW_EVENTS before the commit,
# and this is read at the commit. No "warroom." prefix: no before-commit listener takes it.
LIVE_EVENTS = "live.timeline_events"
# Events written without the ORM (`record_unplanned`): (the savepoint they were written in,
# (incident number, event id, kind)). The live bus drops those of a savepoint rolled back.
LIVE_UNPLANNED = "live.timeline_unplanned"
_EVENTS = cast(Table, TimelineEvent.__table__)
_INSERT_IDS = insert(_EVENTS).returning(_EVENTS.c.id, _EVENTS.c.incident_id, _EVENTS.c.kind)

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


def record_all(
    session: Session,
    events: list[tuple[Incident, str, str, dict[str, Any]]],
    *,
    at: datetime,
    actor: str | list[str | None] | None,
    source: str | list[str],
) -> list[TimelineEvent]:
    """Append (incident, kind, text, data) events, of one or many incidents, in one statement.

    `actor` and `source` are one for all, or one per event. The ORM would insert them one
    statement each on SQLite (it cannot match a batch's new ids to its objects); an INSERT …
    RETURNING of the rows gives the objects back, ids in order.
    """
    if not events:
        return []
    actors = actor if isinstance(actor, list) else [actor] * len(events)
    sources = source if isinstance(source, list) else [source] * len(events)
    rows = [
        {
            "incident_id": incident.id,
            "at": at,
            "kind": kind,
            "actor": actors[index],
            "source": sources[index],
            "text": text,
            "data": data,
            "key_event": kind in KEY_KINDS,
        }
        for index, (incident, kind, text, data) in enumerate(events)
    ]
    # render_nulls: rows with and without an actor stay one statement.
    loaded = session.scalars(_INSERT_MANY, rows, execution_options={"render_nulls": True})
    written = sorted(loaded, key=lambda event: event.id)
    savepoints.returned(session, written)  # a savepoint rolled back takes them with it
    incidents = {incident.id: incident for incident, *_ in events}
    new = session.info.setdefault(NEW_EVENTS, [])
    live = session.info.setdefault(LIVE_EVENTS, [])
    for event in written:
        new.append((incidents[event.incident_id], event))
        live.append((incidents[event.incident_id], event))
    return written


def record_unplanned(
    session: Session,
    events: list[tuple[Incident, str, str, dict[str, Any]]],
    *,
    at: datetime,
    actor: str | None,
    source: str,
) -> None:
    """Append events no before-commit listener plans (alerts joining an incident), without
    making objects of them: a storm writes thousands, and the ORM's objects cost more than
    the rows. The live bus hears of them by id.
    """
    if not events:
        return
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
        for incident, kind, text, data in events
    ]
    numbers = {incident.id: incident.number for incident, *_ in events}
    found = session.execute(_INSERT_IDS, rows)
    written = [(numbers[incident_id], event_id, kind) for event_id, incident_id, kind in found]
    where = session.get_nested_transaction()
    session.info.setdefault(LIVE_UNPLANNED, []).append((where, written))


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
