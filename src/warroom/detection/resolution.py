"""A resolved alert: close its episode, tell its incident, maybe mark the incident mitigated."""

from __future__ import annotations

from sqlalchemy import func, select

from warroom.detection.linking import Linker
from warroom.detection.models import Alert
from warroom.detection.schemas import AlertIn, IngestResult, RouteDecision
from warroom.incidents import service as incidents
from warroom.incidents import timeline
from warroom.incidents.models import Incident


def resolve_alert(
    linker: Linker,
    alert: AlertIn,
    row: Alert | None,
    decision: RouteDecision,
    result: IngestResult,
) -> None:
    """Mark the open episode resolved; when none of its incident's alerts fire any more, say
    so on the timeline and, where the route says auto_mitigate, mark the incident mitigated
    (never resolved or closed: verification is the responders' call)."""
    if row is None:
        result.ignored += 1  # resolved twice, or never seen firing: nothing to do
        return
    session, now, actor = linker.session, linker.now, linker.actor
    row.status = "resolved"
    row.is_open = False
    row.ends_at = alert.ends_at or now
    row.last_seen_at = now
    result.resolved += 1
    if row.incident_id is None:
        return
    incident = session.get(Incident, row.incident_id)
    if incident is None:
        return
    result.touch(incident.number)
    timeline.record(
        session,
        incident=incident,
        kind="alert_resolved",
        at=now,
        actor=actor.name,
        source=actor.source,
        text=f"Alert resolved: {row.title}",
        data={"alert_id": row.id, "fingerprint": row.fingerprint},
    )
    session.flush()
    still_firing = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.incident_id == incident.id, Alert.status == "firing")
    )
    if still_firing:
        return
    timeline.record(
        session,
        incident=incident,
        kind="alerts_resolved",
        at=now,
        actor=actor.name,
        source=actor.source,
        key_event=True,
        text="All alerts of this incident are resolved",
    )
    if decision.auto_mitigate and incident.status in ("detected", "triaged"):
        incidents.transition(
            session,
            config=linker.config,
            incident=incident,
            action="mitigate",
            now=now,
            actor=actor,
            rules=linker.rules,
            note="all alerts resolved (route auto_mitigate)",
        )
