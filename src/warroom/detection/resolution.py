"""A resolved alert: close its episode, tell its incident, maybe mark the incident mitigated."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from warroom.detection.models import Alert
from warroom.detection.schemas import AlertIn, RouteDecision
from warroom.incidents import service as incidents
from warroom.incidents import timeline
from warroom.incidents.models import Incident

if TYPE_CHECKING:
    from warroom.detection.service import Intake


def resolve_alert(
    intake: Intake, alert: AlertIn, row: Alert | None, decision: RouteDecision
) -> None:
    """Mark the open episode resolved; when none of its incident's alerts fire any more, say
    so on the timeline and, where the route says auto_mitigate, mark the incident mitigated
    (never resolved or closed: verification is the responders' call)."""
    if row is None:
        intake.result.ignored += 1  # resolved twice, or never seen firing: nothing to do
        return
    row.status = "resolved"
    row.is_open = False
    row.ends_at = alert.ends_at or intake.now
    row.last_seen_at = intake.now
    intake.result.resolved += 1
    if row.incident_id is None:
        return
    incident = intake.session.get(Incident, row.incident_id)
    if incident is None:
        return
    intake.result.touch(incident.number)
    timeline.record(
        intake.session,
        incident=incident,
        kind="alert_resolved",
        at=intake.now,
        actor=intake.actor.name,
        source=intake.source,
        text=f"Alert resolved: {row.title}",
        data={"alert_id": row.id, "fingerprint": row.fingerprint},
    )
    intake.session.flush()
    still_firing = intake.session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.incident_id == incident.id, Alert.status == "firing")
    )
    if still_firing:
        return
    timeline.record(
        intake.session,
        incident=incident,
        kind="alerts_resolved",
        at=intake.now,
        actor=intake.actor.name,
        source=intake.source,
        key_event=True,
        text="All alerts of this incident are resolved",
    )
    if decision.auto_mitigate and incident.status in ("detected", "triaged"):
        incidents.transition(
            intake.session,
            config=intake.config,
            incident=incident,
            action="mitigate",
            now=intake.now,
            actor=intake.actor,
            note="all alerts resolved (route auto_mitigate)",
        )
