"""The heartbeats page: `GET /api/v1/heartbeats` as a table, for every signed-in user.

The same service call with the same visibility condition as the API, so the incident of a
heartbeat whose incident the viewer may not see (a restricted type's) is left out here too:
no number, no title.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from warroom.core.durations import format_duration
from warroom.detection.heartbeats import HeartbeatStatus
from warroom.incidents.models import Incident
from warroom.incidents.visibility import visible
from warroom.web.page import PageRoute, SignedIn, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
# The word and the badge class each state shows; the word carries the meaning, not the colour.
STATE_WORDS = {
    "waiting": ("Never pinged", "waiting"),
    "up": ("Healthy", "up"),
    "down": ("Silent", "down"),
    "recovering": ("Recovering", "recovering"),
}


@dataclass(frozen=True)
class HeartbeatRow:
    """A heartbeat as the page shows it, with its incident's title when the viewer may see it."""

    beat: HeartbeatStatus
    interval: str
    grace: str
    state_word: str
    state_class: str
    incident_title: str | None


@router.get("/heartbeats")
def heartbeat_list(request: Request, viewer: SignedIn) -> HTMLResponse:
    """List every configured heartbeat, its last ping, its state and the incident it opened."""
    runtime = viewer.runtime
    condition = visible(runtime.config(), viewer.access)
    found = runtime.intake.heartbeats(viewer.access)
    numbers = [beat.incident for beat in found if beat.incident is not None]
    titles: dict[int, str] = {}
    if numbers:
        with runtime.db.session() as session:
            # The same condition again: a title is read only for an incident the viewer sees.
            stmt = select(Incident.number, Incident.title).where(
                Incident.number.in_(numbers), condition
            )
            titles = {row.number: row.title for row in session.execute(stmt)}
    rows = []
    for beat in found:
        word, css = STATE_WORDS.get(beat.state, (beat.state.title(), "waiting"))
        rows.append(
            HeartbeatRow(
                beat=beat,
                interval=format_duration(beat.interval),
                grace=format_duration(beat.grace),
                state_word=word,
                state_class=css,
                incident_title=titles.get(beat.incident) if beat.incident else None,
            )
        )
    return render(request, "alerts/heartbeats.html", viewer, rows=rows)
