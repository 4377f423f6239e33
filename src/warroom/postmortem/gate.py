"""Postmortem's lifecycle rule: closing needs a required postmortem done (ADR 005).

It also keeps an existing postmortem's requirement in step with the incident's severity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from warroom.core.errors import Conflict
from warroom.incidents.lifecycle import Move
from warroom.incidents.models import Incident
from warroom.postmortem.config import required_for
from warroom.postmortem.service import add_business_days, find

if TYPE_CHECKING:
    from warroom.config import WarroomConfig


class PostmortemNotDone(Conflict):
    """Closing while a required postmortem is not done (each client words what to do)."""

    code = "postmortem_not_done"


def check_close(session: Session, *, config: WarroomConfig, incident: Incident) -> None:
    """Raise Conflict when the incident's postmortem is required and not done yet."""
    postmortem = find(session, incident)
    required = (
        postmortem.required if postmortem is not None else required_for(config, incident.severity)
    )
    if not required or (postmortem is not None and postmortem.status == "done"):
        return
    if postmortem is None:
        raise PostmortemNotDone(
            f"{incident.ref} ({incident.severity}) needs a postmortem before it closes: resolve "
            "it first, write the postmortem, then close it",
            {"ref": incident.ref, "postmortem_status": None},
        )
    due = f", due {postmortem.due_at:%Y-%m-%d}" if postmortem.due_at else ""
    raise PostmortemNotDone(
        f"{incident.ref} ({incident.severity}) needs its postmortem done before it closes; the "
        f"postmortem is {postmortem.status.replace('_', ' ')}{due}. Finish it and set its "
        f"status to done (PUT /api/v1/incidents/{incident.ref}/postmortem)",
        {
            "ref": incident.ref,
            "postmortem_status": postmortem.status,
            "due_at": postmortem.due_at.isoformat() if postmortem.due_at else None,
        },
    )


def follow_severity(session: Session, *, config: WarroomConfig, incident: Incident) -> None:
    """Keep an existing postmortem's requirement and due date in step with a new severity.

    A SEV-3 found to be a SEV-1 after it resolved needs its postmortem like any SEV-1 (due
    counted from the resolve); a SEV-1 downgraded as misclassified no longer does.
    """
    postmortem = find(session, incident)
    if postmortem is None:
        return
    required = required_for(config, incident.severity)
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
        """Refuse a close while a required postmortem is not done."""
        if move.target == "closed":
            check_close(session, config=config, incident=move.incident)

    def moved(self, session: Session, *, config: WarroomConfig, move: Move) -> None:
        """Nothing follows a move: the postmortem starts after the resolve commits (flows)."""

    def severity_changed(
        self, session: Session, *, config: WarroomConfig, incident: Incident
    ) -> None:
        """Keep the postmortem's requirement and due date in step with the new severity."""
        follow_severity(session, config=config, incident=incident)
