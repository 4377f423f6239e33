"""The postmortem as people read it: fields plus the timeline, responders and action items."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.incidents import timeline
from warroom.incidents.models import Incident, IncidentRole, TimelineEvent
from warroom.incidents.schemas import durations
from warroom.postmortem import action_items
from warroom.postmortem.models import Postmortem
from warroom.postmortem.schemas import (
    ActionItemOut,
    Milestones,
    PostmortemOut,
    Spans,
    TimelineEntry,
    TimelineSection,
    Why,
)

EVENTS_MAX = 300  # beyond this (alert storms) only key events are kept


def build(session: Session, *, incident: Incident, postmortem: Postmortem) -> PostmortemOut:
    """Return the full postmortem document of an incident."""
    events = timeline.events(session, incident=incident)
    return PostmortemOut(
        incident=incident.ref,
        title=incident.title,
        severity=incident.severity,
        service=incident.service,
        commander=incident.commander,
        status=postmortem.status,
        required=postmortem.required,
        due_at=postmortem.due_at,
        created_at=postmortem.created_at,
        updated_at=postmortem.updated_at,
        updated_by=postmortem.updated_by,
        version=postmortem.version or 0,
        summary=postmortem.summary,
        impact=postmortem.impact,
        root_cause=postmortem.root_cause,
        five_whys=[Why.model_validate(w) for w in postmortem.five_whys],
        fishbone={name: list(causes) for name, causes in postmortem.fishbone.items()},
        contributing_factors=list(postmortem.contributing_factors),
        went_well=list(postmortem.went_well),
        went_poorly=list(postmortem.went_poorly),
        got_lucky=list(postmortem.got_lucky),
        responders=responders(session, incident, events),
        timeline=timeline_section(incident, events),
        action_items=[
            ActionItemOut.of(item, incident.ref) for item in action_items.items(session, postmortem)
        ],
    )


def responders(session: Session, incident: Incident, events: list[TimelineEvent]) -> list[str]:
    """Return who responded: the commander, anyone who held a role, anyone on the timeline."""
    people: list[str | None] = [incident.commander]
    people += session.scalars(
        select(IncidentRole.person)
        .where(IncidentRole.incident_id == incident.id)
        .order_by(IncidentRole.id)
    )
    # Integrations and warroom itself act as "source/name" (alertmanager/prod,
    # warroom/verification): machines, not responders.
    people += [event.actor for event in events if event.actor and "/" not in event.actor]
    return list(dict.fromkeys(p for p in people if p))


def _span(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def timeline_section(incident: Incident, events: list[TimelineEvent]) -> TimelineSection:
    """Return the milestones, the spans between them and the events (key ones starred)."""
    if len(events) > EVENTS_MAX:
        events = [e for e in events if e.key_event or e.kind in ("note", "postmortem")]
    spans = durations(incident)
    return TimelineSection(
        milestones=Milestones(
            started=incident.started_at,
            detected=incident.detected_at,
            acknowledged=incident.acknowledged_at,
            triaged=incident.triaged_at,
            mitigated=incident.mitigated_at,
            resolved=incident.resolved_at,
        ),
        durations=Spans(
            detection_to_triage=_span(incident.detected_at, incident.triaged_at),
            triage_to_mitigation=_span(incident.triaged_at, incident.mitigated_at),
            mitigation_to_resolution=_span(incident.mitigated_at, incident.resolved_at),
            **spans.model_dump(),
        ),
        events=[
            TimelineEntry(at=e.at, kind=e.kind, actor=e.actor, text=e.text, key_event=e.key_event)
            for e in events
        ],
    )
