"""Reading stored alerts."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from warroom.core.errors import Invalid
from warroom.detection.models import Alert
from warroom.incidents.models import Incident


def list_alerts(
    session: Session,
    *,
    status: str | None = None,
    source: str | None = None,
    incident_id: int | None = None,
    limit: int = 50,
    before_id: int | None = None,
    visible: ColumnElement[bool],
) -> tuple[list[tuple[Alert, int | None]], str | None]:
    """Return (alert, incident number) pairs, newest first, and the next cursor.

    Alerts of an incident the caller may not see (`visible`, incidents.visibility) are left
    out: their titles and labels say what the restricted incident is about.
    """
    if status not in (None, "firing", "resolved"):
        raise Invalid(f"unknown status {status!r}; use firing or resolved", {"field": "status"})
    stmt = (
        select(Alert, Incident.number)
        .outerjoin(Incident, Incident.id == Alert.incident_id)
        .where(or_(Alert.incident_id.is_(None), visible))
        .order_by(Alert.id.desc())
        .limit(limit + 1)
    )
    if status:
        stmt = stmt.where(Alert.status == status)
    if source:
        stmt = stmt.where(Alert.source == source)
    if incident_id is not None:
        stmt = stmt.where(Alert.incident_id == incident_id)
    if before_id is not None:
        stmt = stmt.where(Alert.id < before_id)
    rows: list[tuple[Alert, int | None]] = [(a, n) for a, n in session.execute(stmt)]
    next_cursor = str(rows[limit - 1][0].id) if len(rows) > limit else None
    return rows[:limit], next_cursor
