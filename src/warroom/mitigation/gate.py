"""What must hold before an incident resolves: the Verification checklist settled.

`VerificationGate` is mitigation's lifecycle rule (incidents.lifecycle, ADR 005): checked on
every resolve (or close of an open incident), and after a reopen it opens the settled
Verification items again. Closing needs a finished postmortem: that rule is postmortem's.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from warroom.core.errors import Conflict
from warroom.incidents import timeline
from warroom.incidents.lifecycle import Move
from warroom.incidents.models import ChecklistItem, Incident
from warroom.incidents.states import OPEN_STATUSES
from warroom.mitigation.checklist import items, state_of

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

LISTED_MAX = 10  # open items named in the 409's message; details list all of them


class VerificationOpen(Conflict):
    """Resolving while Verification items are neither done nor skipped (each client words it)."""

    code = "verification_open"


def unsettled(
    session: Session, *, config: WarroomConfig, incident: Incident
) -> list[tuple[int, ChecklistItem]]:
    """Return (number, item) for items of gated sections neither done nor skipped."""
    gate = config.verification
    return [
        (number, item)
        for number, item in enumerate(items(session, incident=incident), start=1)
        if gate.gates(item.section) and state_of(item) == "open"
    ]


def check_resolve(
    session: Session,
    *,
    config: WarroomConfig,
    incident: Incident,
    now: datetime,
    actor: str | None,
    source: str,
    skip_reason: str | None = None,
) -> None:
    """Raise Conflict listing open Verification items, or skip them all with `skip_reason`."""
    pending = unsettled(session, config=config, incident=incident)
    if not pending:
        return
    if skip_reason is None:
        details = {"ref": incident.ref, "open_items": _describe(pending)}
        raise VerificationOpen(_open_message(incident, pending), details)
    for _, item in pending:
        item.done_at = item.done_by = None
        item.skipped_reason = skip_reason
    sections = sorted({item.section for _, item in pending})
    timeline.record(
        session,
        incident=incident,
        kind="checklist",
        at=now,
        actor=actor,
        source=source,
        text=f"{len(pending)} open {' and '.join(sections)} item(s) skipped on resolve: "
        f"{skip_reason}",
        data={
            "change": "skipped",
            "changes": ["skipped"],
            "reason": skip_reason,
            "item_ids": [item.id for _, item in pending],
        },
    )


def reopen_settled(
    session: Session,
    *,
    config: WarroomConfig,
    incident: Incident,
    now: datetime,
    actor: str | None,
    source: str,
) -> int:
    """Open the gated items again after a reopen: what was verified did not hold.

    Return how many were reopened; one `checklist` event says so (none when nothing was).
    """
    settled = [
        item
        for item in items(session, incident=incident)
        if config.verification.gates(item.section) and state_of(item) != "open"
    ]
    for item in settled:
        item.done_at = item.done_by = item.skipped_reason = None
    if settled:
        sections = sorted({item.section for item in settled})
        timeline.record(
            session,
            incident=incident,
            kind="checklist",
            at=now,
            actor=actor,
            source=source,
            text=f"{len(settled)} {' and '.join(sections)} item(s) open again: the incident "
            "was reopened, so verification starts over",
            data={
                "change": "undone",
                "changes": ["undone"],
                "item_ids": [item.id for item in settled],
            },
        )
    return len(settled)


def _open_message(incident: Incident, pending: list[tuple[int, ChecklistItem]]) -> str:
    shown = "; ".join(f"#{number} {item.text.rstrip('.')}" for number, item in pending[:LISTED_MAX])
    more = f"; and {len(pending) - LISTED_MAX} more" if len(pending) > LISTED_MAX else ""
    return (
        f"{incident.ref} cannot resolve: {len(pending)} verification checklist item(s) are "
        f"neither done nor skipped: {shown}{more}. Mark each done, or skip it with a reason "
        f"(`warroom incident check|skip {incident.ref} N`), or resolve with "
        "skip_verification set to the reason they all do not apply."
    )


def _describe(pending: list[tuple[int, ChecklistItem]]) -> list[dict[str, Any]]:
    return [
        {"id": item.id, "number": number, "section": item.section, "text": item.text}
        for number, item in pending
    ]


class VerificationGate:
    """Mitigation's lifecycle rule: resolving needs the Verification items settled."""

    def check(self, session: Session, *, config: WarroomConfig, move: Move) -> None:
        """Refuse a resolve (or close of an open incident) with Verification items open."""
        if move.target in ("resolved", "closed") and move.previous in OPEN_STATUSES:
            check_resolve(
                session,
                config=config,
                incident=move.incident,
                now=move.now,
                actor=move.actor.name,
                source=move.actor.source,
                skip_reason=move.skip_verification,
            )

    def moved(self, session: Session, *, config: WarroomConfig, move: Move) -> None:
        """After a reopen, open the settled Verification items again."""
        if move.action == "reopen":
            reopen_settled(
                session,
                config=config,
                incident=move.incident,
                now=move.now,
                actor=move.actor.name,
                source=move.actor.source,
            )

    def severity_changed(
        self, session: Session, *, config: WarroomConfig, incident: Incident
    ) -> None:
        """Nothing follows a new severity for the Verification checklist."""
