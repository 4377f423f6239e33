"""The phases' rules on an incident, checked inside `service` (ADR 005).

`incidents` owns the one place every move passes (`service.transition`) and every field
change (`service.update`); the rules themselves belong to the phases — triage (the initial
assessment, who leads), mitigation (the Verification checklist), postmortem (closing needs it
done). They implement the protocols below; the composition root bundles them into `Rules`,
the incident flows hold it, and every caller of `transition` and `update` must pass it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from warroom.incidents.actor import Actor
from warroom.incidents.models import Incident

if TYPE_CHECKING:
    from warroom.config import WarroomConfig


@dataclass(frozen=True)
class Move:
    """One lifecycle move: an action taking an incident from one status to another."""

    incident: Incident
    action: str
    previous: str
    target: str
    now: datetime
    actor: Actor
    skip_verification: str | None = None
    # Ending it as a false alarm: the reason (verification is skipped, no postmortem owed).
    false_alarm: str | None = None
    # An admin's reason to close without the required postmortem.
    waive_postmortem: str | None = None


class LifecycleRule(Protocol):
    """A phase's rule on every lifecycle move and severity change of an incident."""

    def check(self, session: Session, *, config: WarroomConfig, move: Move) -> None:
        """Raise Conflict when the move may not happen yet (before the status changes)."""
        ...

    def moved(self, session: Session, *, config: WarroomConfig, move: Move) -> None:
        """Do what follows the move, after its timeline event is written."""
        ...

    def severity_changed(
        self, session: Session, *, config: WarroomConfig, incident: Incident
    ) -> None:
        """Follow a new severity of the incident."""
        ...


class CommandRule(Protocol):
    """Who leads an incident and who reported it: triage's rules, as incidents need them."""

    def first_commander(
        self, config: WarroomConfig, *, service: str | None, reporter: str | None, at: datetime
    ) -> tuple[str | None, str]:
        """Return (person, reason): who commands a new incident."""
        ...

    def reporter(self, session: Session, *, incident: Incident, person: str, now: datetime) -> None:
        """Record who reported a new incident."""
        ...

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
        """Name a new Incident Commander (a handoff when one is in charge)."""
        ...


@dataclass(frozen=True)
class Rules:
    """The phases' rules in force, in the order they are checked."""

    lifecycle: Sequence[LifecycleRule]
    command: CommandRule
