"""Triage's rules on an incident: the initial assessment, and who leads and reported it.

Both are handed to `incidents.service` through `incidents.lifecycle.Rules` by the
composition root (ADR 005): incidents never imports triage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from warroom.core.errors import Conflict
from warroom.incidents.actor import Actor
from warroom.incidents.lifecycle import Move
from warroom.incidents.models import Incident
from warroom.triage import handoff, roles
from warroom.triage.commander import OnCallLookup, choose_commander

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

# The initial assessment: who leads, how bad, impact, scope, priority.
ASSESSMENT_FIELDS = ("commander", "severity", "impact", "scope", "priority")


class Assessment:
    """Triaging needs the initial assessment written (a lifecycle rule)."""

    def check(self, session: Session, *, config: WarroomConfig, move: Move) -> None:
        """Raise Conflict naming the assessment fields still missing when triaging."""
        if move.action != "triage" or move.target != "triaged":
            return
        incident = move.incident
        missing = [name for name in ASSESSMENT_FIELDS if not getattr(incident, name)]
        if missing:
            raise Conflict(
                f"{incident.ref} cannot be triaged yet: set {', '.join(missing)} "
                "(the initial assessment: who leads, how bad, impact, scope, priority)",
                details={"missing": missing},
            )

    def moved(self, session: Session, *, config: WarroomConfig, move: Move) -> None:
        """Nothing follows a move for triage."""

    def severity_changed(
        self, session: Session, *, config: WarroomConfig, incident: Incident
    ) -> None:
        """Nothing follows a new severity for triage."""


@dataclass(frozen=True)
class Command:
    """Who leads an incident: the first IC from on-call, handoffs, the reporter's role."""

    oncall: OnCallLookup | None = None  # who is on call, for choosing the first IC

    def first_commander(
        self, config: WarroomConfig, *, service: str | None, reporter: str | None, at: datetime
    ) -> tuple[str | None, str]:
        """Return (person, reason): who commands a new incident."""
        return choose_commander(
            config, service=service, reporter=reporter, at=at, lookup=self.oncall
        )

    def reporter(self, session: Session, *, incident: Incident, person: str, now: datetime) -> None:
        """Record who reported a new incident."""
        roles.record_reporter(session, incident=incident, person=person, now=now)

    def propose(
        self,
        session: Session,
        *,
        incident: Incident,
        person: str,
        now: datetime,
        actor: Actor,
        reason: str | None = None,
    ) -> None:
        """Name a new Incident Commander (pending their acceptance if one is in charge)."""
        handoff.propose_commander(
            session, incident=incident, person=person, now=now, actor=actor, reason=reason
        )
