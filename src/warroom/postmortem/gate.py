"""Postmortem's lifecycle rule: closing needs a required postmortem done (ADR 005).

What is required follows the highest severity the incident ever had; a false alarm owes no
postmortem; only an admin may waive a required one, with a reason on the timeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from warroom.core.errors import Conflict, Forbidden
from warroom.incidents import timeline
from warroom.incidents.lifecycle import Move
from warroom.incidents.models import Incident
from warroom.postmortem.models import Postmortem
from warroom.postmortem.service import add_business_days, draft, find, is_required

if TYPE_CHECKING:
    from warroom.config import WarroomConfig


class PostmortemNotDone(Conflict):
    """Closing while a required postmortem is not done (each client words what to do)."""

    code = "postmortem_not_done"


def owes_postmortem(
    config: WarroomConfig, incident: Incident, postmortem: Postmortem | None
) -> bool:
    """Tell whether the incident still owes a postmortem that is not done."""
    if postmortem is not None and (postmortem.waived_reason or postmortem.status == "done"):
        return False
    return is_required(config, incident)


def check_close(session: Session, *, config: WarroomConfig, incident: Incident) -> None:
    """Raise Conflict when the incident's postmortem is required and not done yet."""
    postmortem = find(session, incident)
    if not owes_postmortem(config, incident, postmortem):
        return
    severity = incident.peak_severity
    if severity != incident.severity:
        severity = f"{incident.severity}, {severity} at its worst"
    if postmortem is None:
        raise PostmortemNotDone(
            f"{incident.ref} ({severity}) needs a postmortem before it closes: resolve "
            "it first, write the postmortem, then close it",
            {"ref": incident.ref, "postmortem_status": None},
        )
    due = f", due {postmortem.due_at:%Y-%m-%d}" if postmortem.due_at else ""
    raise PostmortemNotDone(
        f"{incident.ref} ({severity}) needs its postmortem done before it closes; the "
        f"postmortem is {postmortem.status.replace('_', ' ')}{due}. Finish it and set its "
        f"status to done (PUT /api/v1/incidents/{incident.ref}/postmortem)",
        {
            "ref": incident.ref,
            "severity": incident.severity,
            "peak_severity": incident.peak_severity,
            "postmortem_status": postmortem.status,
            "due_at": postmortem.due_at.isoformat() if postmortem.due_at else None,
        },
    )


def check_waiver(session: Session, *, config: WarroomConfig, move: Move) -> None:
    """Refuse a waiver from anyone but an admin, or of a postmortem that is not owed."""
    incident = move.incident
    if move.actor.role != "admin":
        raise Forbidden(
            f"only an admin can waive {incident.ref}'s postmortem; write it instead",
            {"ref": incident.ref},
        )
    if not owes_postmortem(config, incident, find(session, incident)):
        raise Conflict(
            f"{incident.ref} owes no postmortem (done or not required): close it without a waiver",
            {"ref": incident.ref},
        )


def waive(session: Session, *, config: WarroomConfig, move: Move) -> None:
    """Record an admin's waiver on the postmortem (created if need be) and the timeline."""
    incident, reason = move.incident, move.waive_postmortem
    postmortem = find(session, incident)
    if postmortem is None:
        postmortem = draft(config=config, incident=incident, now=move.now)
        session.add(postmortem)
    postmortem.required, postmortem.due_at = False, None
    postmortem.waived_by, postmortem.waived_reason = move.actor.name, reason
    postmortem.updated_at, postmortem.updated_by = move.now, move.actor.name
    timeline.record(
        session,
        incident=incident,
        kind="postmortem_waived",
        at=move.now,
        actor=move.actor.name,
        source=move.actor.source,
        text=f"Postmortem waived by {move.actor.name or 'an admin'}: {reason}",
        data={"reason": reason},
        key_event=True,
    )


def follow_incident(session: Session, *, config: WarroomConfig, incident: Incident) -> None:
    """Keep an existing postmortem's requirement and due date in step with the incident.

    A SEV-3 found to be a SEV-1 after it resolved needs its postmortem like any SEV-1 (due
    counted from the resolve); lowering the severity again does not undo that, while a
    false alarm owes none and a reopened one owes it again. A waiver stays.
    """
    postmortem = find(session, incident)
    if postmortem is None or postmortem.waived_reason:
        return
    required = is_required(config, incident)
    if required == postmortem.required:
        return
    postmortem.required = required
    start = incident.resolved_at or postmortem.created_at
    postmortem.due_at = (
        add_business_days(start, config.postmortem.due_business_days) if required else None
    )


class PostmortemGate:
    """Postmortem's lifecycle rule: no close before the postmortem; follow the severity."""

    def check(self, session: Session, *, config: WarroomConfig, move: Move) -> None:
        """Refuse a close while a required postmortem is not done (or an invalid waiver)."""
        if move.waive_postmortem is not None:
            check_waiver(session, config=config, move=move)
        elif move.target == "closed":
            check_close(session, config=config, incident=move.incident)

    def moved(self, session: Session, *, config: WarroomConfig, move: Move) -> None:
        """Record a waiver; keep an existing postmortem in step with a false alarm or reopen."""
        if move.waive_postmortem is not None:
            waive(session, config=config, move=move)
        else:
            follow_incident(session, config=config, incident=move.incident)

    def severity_changed(
        self, session: Session, *, config: WarroomConfig, incident: Incident
    ) -> None:
        """Keep the postmortem's requirement and due date in step with the new severity."""
        follow_incident(session, config=config, incident=incident)
