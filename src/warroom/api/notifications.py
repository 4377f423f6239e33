"""Outbox routes: see what was sent, what is waiting, what died; resend (admins)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from warroom.api.deps import DB_INT_MAX, Admin, RuntimeDep, Viewer, VisibleIncident, access_of
from warroom.api.errors import ERROR_RESPONSES
from warroom.core.errors import NotFound
from warroom.escalation.models import Escalation
from warroom.escalation.schemas import EscalationOut
from warroom.incidents import service as incidents
from warroom.incidents.models import Incident
from warroom.incidents.service import parse_ref
from warroom.incidents.visibility import visible
from warroom.notify import outbox, queries
from warroom.notify.schemas import NotificationOut, NotificationPage

router = APIRouter(
    prefix="/api/v1/notifications", tags=["notifications"], responses=ERROR_RESPONSES
)
escalations = APIRouter(
    prefix="/api/v1/incidents",
    tags=["escalation"],
    responses=ERROR_RESPONSES,
    dependencies=[VisibleIncident],
)
Status = Literal["pending", "sending", "sent", "failed", "dead", "cancelled"]
Channel = Literal["chat", "email", "conference", "pager", "status_page", "webhook", "tracker"]


@router.get("", response_model=NotificationPage)
def list_notifications(
    runtime: RuntimeDep,
    principal: Viewer,
    status: Annotated[Status | None, Query()] = None,
    incident: Annotated[str | None, Query(max_length=20, description="INC-42 or 42")] = None,
    channel: Annotated[Channel | None, Query()] = None,
    cursor: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> NotificationPage:
    """List outbox rows newest first (filter by status, incident, channel)."""
    number = parse_ref(incident) if incident else None
    with runtime.db.session() as session:
        return queries.list_notifications(
            session,
            status=status,
            incident_number=number,
            channel=channel,
            before_id=cursor,
            limit=limit,
            visible=visible(runtime.config(), access_of(principal, runtime)),
        )


@router.post("/{notification_id}/resend", response_model=NotificationOut)
def resend(
    notification_id: Annotated[int, Path(ge=1, le=DB_INT_MAX)],
    runtime: RuntimeDep,
    _principal: Admin,
) -> NotificationOut:
    """Queue a dead or failed notification again with a fresh set of attempts."""
    with runtime.db.transaction() as session:
        row = outbox.resend(session, notification_id=notification_id, now=runtime.clock.now())
        incident = session.get(Incident, row.incident_id) if row.incident_id else None
        number = incident.number if incident else None
        out = NotificationOut.of(row, number)
    runtime.engine.wake()
    return out


@escalations.get("/{ref}/escalation", response_model=EscalationOut)
def show_escalation(ref: str, runtime: RuntimeDep, _principal: Viewer) -> EscalationOut:
    """Show where paging stands for an incident and the policy version pinned on it."""
    with runtime.db.session() as session:
        incident = incidents.get(session, ref)
        row = session.scalar(select(Escalation).where(Escalation.incident_id == incident.id))
        if row is None:
            raise NotFound(
                f"{incident.ref} has no escalation: its severity ({incident.severity}) does "
                "not page, or it was acknowledged before it was declared"
            )
        return EscalationOut.of(row, incident.number)
