"""Reading the outbox for the API and the CLI."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from warroom.incidents.models import Incident
from warroom.notify import outbox
from warroom.notify.models import Notification
from warroom.notify.schemas import NotificationOut, NotificationPage


def list_notifications(
    session: Session,
    *,
    status: str | None,
    incident_number: int | None,
    channel: str | None,
    before_id: int | None,
    limit: int,
    visible: ColumnElement[bool],
) -> NotificationPage:
    """Return notifications newest first, filtered, with a cursor for the next page; those
    of an incident the caller may not see (`visible`, incidents.visibility) are left out."""
    statement = (
        select(Notification, Incident.number)
        .outerjoin(Incident, Incident.id == Notification.incident_id)
        .where(or_(Notification.incident_id.is_(None), visible))
        .order_by(Notification.id.desc())
        .limit(limit + 1)
    )
    if status:
        statement = statement.where(Notification.status == status)
    if channel:
        statement = statement.where(Notification.channel == channel)
    if incident_number is not None:
        statement = statement.where(Incident.number == incident_number)
    if before_id is not None:
        statement = statement.where(Notification.id < before_id)
    rows = session.execute(statement).all()
    items = [NotificationOut.of(row, number) for row, number in rows[:limit]]
    more = len(rows) > limit
    return NotificationPage(
        items=items,
        next_cursor=items[-1].id if more and items else None,
        depth=outbox.depth(session),
    )
