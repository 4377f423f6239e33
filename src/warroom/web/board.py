"""The war board (home page): open incidents by severity, who is on call, my work, alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from warroom.detection.api_schemas import AlertOut
from warroom.detection.queries import list_alerts
from warroom.incidents import live
from warroom.incidents.models import ChecklistItem, Incident
from warroom.incidents.queries import ListFilters, storm_sizes
from warroom.incidents.schemas import IncidentOut
from warroom.incidents.states import OPEN_STATUSES
from warroom.incidents.visibility import visible
from warroom.oncall import service as oncall
from warroom.postmortem.models import ActionItem, Postmortem
from warroom.runtime import Runtime
from warroom.web.page import PageRoute, SignedIn, Viewer, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
HANDOFF_HORIZON = timedelta(days=14)


@dataclass(frozen=True)
class OnCallNow:
    """Who holds a schedule now, and when and to whom it passes next."""

    schedule: str
    zone: str
    people: list[str]
    next_at: datetime | None
    next_people: list[str]


@dataclass(frozen=True)
class MyItem:
    """A checklist step the signed-in person owns in an open incident."""

    ref: str
    title: str
    section: str
    text: str


def _on_call(runtime: Runtime, now: datetime) -> list[OnCallNow]:
    config = runtime.config()
    rows: list[OnCallNow] = []
    with runtime.db.session() as session:
        for schedule, layers in oncall.now_on_call(session, config=config, at=now):
            people = sorted({person for names in layers.values() for person in names})
            shifts = oncall.schedule_shifts(
                session,
                config=config,
                schedule_id=schedule.id,
                start=now,
                end=now + HANDOFF_HORIZON,
                layer=None,
            )
            upcoming = [shift for shift in shifts if shift.start > now]
            next_at = min((shift.start for shift in upcoming), default=None)
            following = sorted({s.person for s in upcoming if s.start == next_at})
            rows.append(OnCallNow(schedule.id, schedule.timezone, people, next_at, following))
    return rows


def _my_items(runtime: Runtime, viewer: Viewer) -> list[MyItem]:
    condition = visible(runtime.config(), viewer.access)
    stmt = (
        select(ChecklistItem, Incident.number, Incident.title)
        .join(Incident, Incident.id == ChecklistItem.incident_id)
        .where(
            ChecklistItem.owner == viewer.name,
            ChecklistItem.done_at.is_(None),
            ChecklistItem.skipped_reason.is_(None),
            Incident.status.in_(OPEN_STATUSES),
            condition,
        )
        .order_by(Incident.number.desc(), ChecklistItem.section_position, ChecklistItem.position)
        .limit(20)
    )
    with runtime.db.session() as session:
        return [
            MyItem(f"INC-{number}", title, item.section, item.text)
            for item, number, title in session.execute(stmt)
        ]


@dataclass(frozen=True)
class MyActionItem:
    """A postmortem action item the signed-in person owns that is still open."""

    id: int
    ref: str
    title: str
    kind: str
    due: date | None
    overdue: bool


def _my_action_items(runtime: Runtime, viewer: Viewer, today: date) -> list[MyActionItem]:
    """Return my open action items, soonest due first (undated last), of incidents I may see."""
    condition = visible(runtime.config(), viewer.access)
    stmt = (
        select(ActionItem, Incident.number)
        .join(Postmortem, Postmortem.id == ActionItem.postmortem_id)
        .join(Incident, Incident.id == Postmortem.incident_id)
        .where(ActionItem.owner == viewer.name, ActionItem.status == "open", condition)
        .order_by(ActionItem.due_date.is_(None), ActionItem.due_date, ActionItem.id)
        .limit(20)
    )
    with runtime.db.session() as session:
        return [
            MyActionItem(
                item.id,
                f"INC-{number}",
                item.title,
                item.kind,
                item.due_date,
                item.due_date is not None and item.due_date < today,
            )
            for item, number in session.execute(stmt)
        ]


def _recent_alerts(runtime: Runtime, viewer: Viewer) -> list[AlertOut]:
    with runtime.db.session() as session:
        rows, _ = list_alerts(
            session,
            status="firing",
            source=None,
            incident_id=None,
            limit=10,
            before_id=None,
            visible=visible(runtime.config(), viewer.access),
        )
        return [AlertOut.of(alert, number) for alert, number in rows]


def open_by_severity(runtime: Runtime, viewer: Viewer) -> list[tuple[str, list[IncidentOut]]]:
    """Return the open incidents the viewer may see, grouped by severity, worst first.

    An alert storm's members are left out: its parent stands for them (`storm_sizes`).
    """
    items, _ = runtime.flows.page(
        access=viewer.access,
        filters=ListFilters(status=list(OPEN_STATUSES), top_level=True),
        limit=200,
        cursor=None,
    )
    groups: dict[str, list[IncidentOut]] = {name: [] for name in runtime.config().severities}
    for item in items:
        groups.setdefault(item.severity, []).append(item)
    return [(name, found) for name, found in groups.items() if found]


def _storm_sizes(runtime: Runtime, groups: list[tuple[str, list[IncidentOut]]]) -> dict[str, int]:
    """Return ref -> members for the alert storms' parents on the board."""
    parents = [item.number for _, items in groups for item in items if item.source == "storm"]
    with runtime.db.session() as session:
        return {f"INC-{n}": size for n, size in storm_sizes(session, parents).items()}


@router.get("/")
def war_board(request: Request, viewer: SignedIn) -> HTMLResponse:
    """Show the war board."""
    runtime = viewer.runtime
    now = runtime.clock.now()
    # Read first: the stream replays whatever commits while the panels are read and until the
    # browser has subscribed, so an incident opened in that gap still reaches the board.
    live_after = live.head(runtime.db)
    groups = open_by_severity(runtime, viewer)
    return render(
        request,
        "board.html",
        viewer,
        live_after=live_after,
        groups=groups,
        storms=_storm_sizes(runtime, groups),
        on_call=_on_call(runtime, now),
        my_items=_my_items(runtime, viewer),
        # "Overdue" by the viewer's own calendar: a day ends at their midnight.
        my_action_items=_my_action_items(runtime, viewer, now.astimezone(viewer.zone).date()),
        alerts=_recent_alerts(runtime, viewer),
    )
