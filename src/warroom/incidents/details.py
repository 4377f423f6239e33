"""An incident's detail (checklist, roles, timeline, storm members) read for the API and files."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from warroom.incidents import timeline
from warroom.incidents.models import ChecklistItem, Incident, IncidentRole, TimelineEvent
from warroom.incidents.queries import current_roles
from warroom.incidents.schemas import (
    ChecklistItemOut,
    IncidentDetail,
    IncidentOut,
    RoleOut,
    TimelineEventOut,
)

CHUNK = 500  # incidents per IN (...) list: well under SQLite's bound-parameter limit
_ITEMS = cast(Table, ChecklistItem.__table__)
_EVENTS = cast(Table, TimelineEvent.__table__)


def load_detail(
    session: Session, incident: Incident, *, newest: int | None = None
) -> IncidentDetail:
    """Read an incident's checklist and timeline (or its `newest` events) into the API's
    detail shape."""
    session.flush()
    items = session.scalars(
        select(ChecklistItem)
        .where(ChecklistItem.incident_id == incident.id)
        .order_by(ChecklistItem.section_position, ChecklistItem.position)
    )
    if newest is None:
        events = timeline.events(session, incident=incident)
    else:
        events = timeline.newest(session, incident=incident, limit=newest)
    # Only an alert storm's parent (detection/storms.py) has members: no query for the rest.
    members: Iterable[int] = (
        session.scalars(
            select(Incident.number)
            .where(Incident.parent_number == incident.number)
            .order_by(Incident.number)
        )
        if incident.source == "storm"
        else []
    )
    return _detail(incident, list(items), list(events), current_roles(session, incident), members)


def load_details(session: Session, numbers: Sequence[int]) -> list[IncidentDetail]:
    """Read several incidents' details in a few statements, in the order of `numbers`.

    After an intake drain that opened a hundred incidents, one statement per kind of row for
    all of them costs a fraction of `load_detail` a hundred times. Unknown numbers are left out.
    """
    found: dict[int, Incident] = {}
    items: dict[int, list[Any]] = {}  # rows with the columns of ChecklistItem
    events: dict[int, list[Any]] = {}  # and of TimelineEvent
    roles: dict[int, list[IncidentRole]] = {}
    members: dict[int, list[int]] = {}
    session.flush()
    for start in range(0, len(numbers), CHUNK):
        chunk = list(numbers[start : start + CHUNK])
        incidents = list(session.scalars(select(Incident).where(Incident.number.in_(chunk))))
        found.update((incident.number, incident) for incident in incidents)
        ids = [incident.id for incident in incidents]
        # Rows, not objects: the ORM's identity map and instance state are most of the cost
        # of reading a storm's hundreds of items and events, and only their values are shown.
        for item in session.execute(
            select(_ITEMS)
            .where(_ITEMS.c.incident_id.in_(ids))
            .order_by(_ITEMS.c.section_position, _ITEMS.c.position)
        ):
            items.setdefault(item.incident_id, []).append(item)
        for event in session.execute(
            select(_EVENTS).where(_EVENTS.c.incident_id.in_(ids)).order_by(_EVENTS.c.id)
        ):
            events.setdefault(event.incident_id, []).append(event)
        for role in session.scalars(
            select(IncidentRole)
            .where(IncidentRole.incident_id.in_(ids), IncidentRole.until.is_(None))
            .order_by(IncidentRole.id)
        ):
            roles.setdefault(role.incident_id, []).append(role)
        parents = [incident.number for incident in incidents if incident.source == "storm"]
        if parents:
            for number, parent in session.execute(
                select(Incident.number, Incident.parent_number)
                .where(Incident.parent_number.in_(parents))
                .order_by(Incident.number)
            ):
                if parent is not None:  # always, by the WHERE; the column may be NULL
                    members.setdefault(parent, []).append(number)
    return [
        _detail(
            incident,
            items.get(incident.id, []),
            events.get(incident.id, []),
            roles.get(incident.id, []),
            members.get(incident.number, []),
        )
        for incident in (found.get(number) for number in numbers)
        if incident is not None
    ]


def _detail(
    incident: Incident,
    items: Sequence[ChecklistItem | Any],
    events: Sequence[TimelineEvent | Any],
    roles: list[IncidentRole],
    members: Iterable[int],
) -> IncidentDetail:
    """Put an incident's rows together in the API's detail shape."""
    # One validation of the whole: building an IncidentOut first and dumping it into the
    # detail validated the incident's fields twice.
    return IncidentDetail.model_validate(
        IncidentOut.values_of(incident)
        | {
            "roles": [
                RoleOut(role=r.role, person=r.person, since=r.since, assigned_by=r.assigned_by)
                for r in roles
            ],
            "checklist": [ChecklistItemOut.of(i) for i in items],
            "timeline": [TimelineEventOut.of(e) for e in events],
            "members": [f"INC-{number}" for number in members],
        }
    )
