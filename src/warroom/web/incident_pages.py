"""Incident pages: the list with its filters, the declare form, the incident room."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import true

from warroom.core.errors import Invalid
from warroom.detection.api_schemas import AlertOut
from warroom.detection.queries import list_alerts
from warroom.drills.scenario import SHIPPED
from warroom.escalation import personal
from warroom.incidents import service as incidents
from warroom.incidents.queries import ListFilters, parent_filter
from warroom.incidents.schemas import IncidentOut
from warroom.incidents.states import OPEN_STATUSES, STATUSES
from warroom.mitigation import checklist
from warroom.mitigation.action_service import recent_runs
from warroom.mitigation.schemas import ActionOut, ActionRunRecord
from warroom.notify.queries import list_notifications
from warroom.organisation import KIND_NAMES
from warroom.postmortem import service as postmortems
from warroom.postmortem.gate import owes_postmortem
from warroom.status import service as status_service
from warroom.status.schemas import StatusUpdateOut
from warroom.triage.roles import ROLES as ROLE_NAMES
from warroom.web.page import PageRoute, Responder, SignedIn, Viewer, render, render_fragment

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Query(max_length=200)]
ROOM = "incidents/room.html"
TIMELINE_SHOWN = 500  # the newest events on the page; the API pages through the rest
RUNS_SHOWN = 20  # the newest action runs in the room's run log; the timeline keeps them all


@router.get("/incidents")
def incident_list(
    request: Request,
    viewer: SignedIn,
    status: Text = "open",
    severity: Text = "",
    service: Text = "",
    type: Text = "",
    commander: Text = "",
    q: Text = "",
    parent: Text = "",
    cursor: Text = "",
) -> HTMLResponse:
    """List incidents, filters kept in the URL so a view can be shared and reloaded."""
    runtime = viewer.runtime
    statuses: list[str] | None
    if status == "open":
        statuses = list(OPEN_STATUSES)
    elif status in STATUSES:
        statuses = [status]
    elif status in ("", "any"):
        statuses = None
    else:
        raise Invalid(f"unknown status {status!r}; use open, any or {', '.join(STATUSES)}")
    severities = list(runtime.config().severities)
    if severity and severity not in severities:
        raise Invalid(f"unknown severity {severity!r}; use one of {', '.join(severities)}")
    filters = ListFilters(
        status=statuses,
        severity=[severity] if severity else None,
        service=service or None,
        incident_type=type or None,
        commander=commander or None,
        text=q.strip() or None,
        parent=parent_filter(parent),
    )
    items, next_cursor = runtime.flows.page(
        access=viewer.access, filters=filters, limit=50, cursor=cursor or None
    )
    chosen = {
        "status": status,
        "severity": severity,
        "service": service,
        "type": type,
        "commander": commander,
        "q": q,
        "parent": f"INC-{filters.parent}" if filters.parent else "",
    }
    kept = {key: value for key, value in chosen.items() if value}
    return render(
        request,
        "incidents/list.html",
        viewer,
        items=items,
        chosen=chosen,
        statuses=STATUSES,
        types=[kind.id for kind in runtime.config().incident_types],
        next_url=f"/incidents?{urlencode({**kept, 'cursor': next_cursor})}"
        if next_cursor
        else None,
        first_url=_url(kept) if cursor else None,
        csv_url="/api/v1/metrics/incidents.csv",
    )


def _url(query: dict[str, str]) -> str:
    return f"/incidents?{urlencode(query)}" if query else "/incidents"


@router.get("/incidents/new")
def declare_form(request: Request, viewer: Responder) -> HTMLResponse:
    """Show the declare form, with what each severity means."""
    config = viewer.runtime.config()
    return render(
        request,
        "incidents/declare.html",
        viewer,
        types=config.incident_types,
        services=[service.id for service in config.services],
        values={},
        error=None,
        drill_scenarios=SHIPPED,
    )


def room(
    request: Request,
    viewer: Viewer,
    ref: str,
    *,
    error: str | None = None,
    status: int = 200,
    **shown: Any,
) -> HTMLResponse:
    """Render the incident room (also after a refused form, with what was wrong; `shown`
    holds what a form shows once: an action's run, a status update's preview)."""
    runtime = viewer.runtime
    config = runtime.config()
    detail, events = runtime.flows.recent(ref, events=TIMELINE_SHOWN)
    with runtime.db.session() as session:
        row = incidents.get(session, ref)
        items = checklist.view(session, incident=row)
        runs = [
            ActionRunRecord.of(event)
            for event in recent_runs(session, incident=row, limit=RUNS_SHOWN)
        ]
        updates = [
            StatusUpdateOut.of(update, row.ref)
            for update in status_service.updates(session, incident=row)
        ]
        alert_rows, _ = list_alerts(
            session,
            status=None,
            source=None,
            incident_id=row.id,
            limit=20,
            before_id=None,
            visible=true(),  # the incident is visible: its dependency checked
        )
        alerts = [AlertOut.of(alert, number) for alert, number in alert_rows]
        paged = list_notifications(
            session,
            status=None,
            incident_number=row.number,
            channel=None,
            before_id=None,
            limit=50,
            visible=true(),
        ).items
        next_pages = personal.upcoming(session, incident_id=row.id)
        # What the Close form says first: closing waits for the postmortem (postmortem/gate).
        owed = None
        if "close" in detail.allowed_actions:
            postmortem = postmortems.find(session, row)
            if owes_postmortem(config, row, postmortem):
                owed = {
                    "status": postmortem.status if postmortem else None,
                    "due_at": postmortem.due_at if postmortem else None,
                }
    return render(
        request,
        ROOM,
        viewer,
        status=status,
        incident=detail,
        checklist=items,
        timeline=detail.timeline,
        hidden_events=events - len(detail.timeline),
        error=error,
        # A closed incident is frozen (notes, checklist, actions, roles): no form to refuse.
        can_respond=viewer.can("responder") and detail.status != "closed",
        actions=[ActionOut.of(action) for action in config.actions],
        runs=runs,
        runs_shown=RUNS_SHOWN,
        updates=updates,
        alerts=alerts,
        paged=paged,
        next_pages=next_pages,
        kind_names=KIND_NAMES,
        people=config.people,
        role_names=ROLE_NAMES,
        postmortem_owed=owed,
        incident_types=config.incident_types,
        notices=room_notices(detail),
        evidence=runtime.evidence.items(ref),
        evidence_limit=runtime.evidence.limit(),
        # Past incidents like this one, through the viewer's visibility (search/related_flows).
        related=runtime.related.for_reader(ref, viewer.access),
        **shown,
    )


def room_notices(incident: IncidentOut) -> list[str]:
    """Say what the API's notices say, in the room's words (its buttons, not CLI or API)."""
    found = []
    if incident.drill:
        found.append(
            "DRILL: a practice incident. It pages the drill's participants only, and its "
            "review (time to each phase, steps missed) is in its postmortem."
        )
    if incident.pending_commander and incident.status != "closed":
        found.append(
            f"{incident.pending_commander} is proposed as Incident Commander; "
            f"{incident.commander or 'nobody'} stays in charge until "
            f"{incident.pending_commander} accepts or declines under People."
        )
    if incident.outcome == "false_alarm":
        found.append(f"Ended as a false alarm: {incident.outcome_reason}")
    if incident.parent and incident.status in ("detected", "triaged"):
        found.append(
            f"Part of alert storm {incident.parent}: paged there, and acknowledged when "
            f"{incident.parent} is."
        )
    if incident.paging_held and incident.status == "detected":
        suggested = (
            f", suggested {incident.suggested_severity}" if incident.suggested_severity else ""
        )
        found.append(
            f"Reported by a viewer ({incident.severity}, the type's default{suggested}): "
            "nobody is paged until a responder triages it (Triage, under Next steps)."
        )
    return found


@router.get("/incidents/{ref}")
def incident_room(ref: str, request: Request, viewer: SignedIn) -> HTMLResponse:
    """Show the incident room: header, phase, lifecycle, checklist, timeline."""
    return room(request, viewer, ref)


@router.get("/incidents/{ref}/timeline")
def timeline_fragment(
    ref: str,
    request: Request,
    viewer: SignedIn,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> HTMLResponse:
    """Return the timeline entries after `after`: the page's own block, for live updates."""
    incident = viewer.runtime.flows.summary(ref)
    events = viewer.runtime.flows.timeline(ref, after_id=after, limit=TIMELINE_SHOWN)
    return render_fragment(
        request, ROOM, "timeline_entries", viewer, incident=incident, timeline=events
    )
