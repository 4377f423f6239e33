"""Reading incidents: filtered, cursor-paginated lists; the roles held now."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from warroom.core.errors import Invalid
from warroom.core.ids import incident_number
from warroom.incidents.models import Incident, IncidentRole


@dataclass(frozen=True)
class ListFilters:
    """Filters for listing incidents; None means any."""

    status: list[str] | None = None
    severity: list[str] | None = None
    service: str | None = None
    incident_type: str | None = None
    since: datetime | None = None
    commander: str | None = None
    text: str | None = None  # words in the title (search proper is the search package's)
    parent: int | None = None  # the members of this alert storm (its parent's number)
    top_level: bool = False  # leave out alert storms' members (the board shows their parent)


def parent_filter(ref: str | None) -> int | None:
    """Return the alert storm a list is limited to (`?parent=INC-5`), or refuse the value."""
    if not ref:
        return None
    number = incident_number(ref)
    if number is None:
        raise Invalid(f"parent {ref!r} is not an incident: use INC-42 or 42", {"field": "parent"})
    return number


def storm_sizes(session: Session, numbers: list[int]) -> dict[int, int]:
    """Return parent number -> how many incidents its alert storm holds, for these parents."""
    if not numbers:
        return {}
    stmt = (
        select(Incident.parent_number, func.count())
        .where(Incident.parent_number.in_(numbers))
        .group_by(Incident.parent_number)
    )
    return {parent: count for parent, count in session.execute(stmt) if parent is not None}


def encode_cursor(number: int) -> str:
    """Return the opaque cursor for "after incident `number`"."""
    return base64.urlsafe_b64encode(f"n:{number}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Return the incident number a cursor points after, or raise Invalid."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "n" or not value.isdigit():
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid(
            "cursor is not valid; pass next_cursor from a previous page", {"field": "cursor"}
        ) from exc


def list_incidents(
    session: Session,
    *,
    filters: ListFilters,
    visible: ColumnElement[bool],
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Incident], str | None]:
    """Return a page of the incidents `visible` lets the caller see, newest first, and the
    cursor for the next page."""
    stmt = select(Incident).where(visible).order_by(Incident.number.desc()).limit(limit + 1)
    if cursor:
        stmt = stmt.where(Incident.number < decode_cursor(cursor))
    if filters.status:
        stmt = stmt.where(Incident.status.in_(filters.status))
    if filters.severity:
        stmt = stmt.where(Incident.severity.in_(filters.severity))
    if filters.service:
        stmt = stmt.where(Incident.service == filters.service)
    if filters.incident_type:
        stmt = stmt.where(Incident.incident_type == filters.incident_type)
    if filters.since:
        stmt = stmt.where(Incident.detected_at >= filters.since)
    if filters.commander:
        stmt = stmt.where(Incident.commander == filters.commander)
    if filters.parent is not None:
        stmt = stmt.where(Incident.parent_number == filters.parent)
    if filters.top_level:
        stmt = stmt.where(Incident.parent_number.is_(None))
    if filters.text:
        # Escaped so that % and _ typed in the box match themselves.
        pattern = filters.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Incident.title.ilike(f"%{pattern}%", escape="\\"))
    rows = list(session.scalars(stmt))
    next_cursor = encode_cursor(rows[limit - 1].number) if len(rows) > limit else None
    return rows[:limit], next_cursor


def all_numbers(session: Session) -> list[int]:
    """Return every incident number, oldest first."""
    return list(session.scalars(select(Incident.number).order_by(Incident.number)))


def current_roles(session: Session, incident: Incident) -> list[IncidentRole]:
    """Return the roles held now, in the order they were given."""
    stmt = (
        select(IncidentRole)
        .where(IncidentRole.incident_id == incident.id, IncidentRole.until.is_(None))
        .order_by(IncidentRole.id)
    )
    return list(session.scalars(stmt))
