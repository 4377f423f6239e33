"""Changing the Incident Commander: a proposal the new IC accepts (or declines)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from warroom.core.errors import Conflict, Forbidden
from warroom.incidents import timeline
from warroom.incidents.actor import Actor
from warroom.incidents.models import Incident
from warroom.incidents.states import check_not_closed


def propose_commander(
    session: Session,
    *,
    incident: Incident,
    person: str,
    now: datetime,
    actor: Actor,
    reason: str | None = None,
) -> None:
    """Name a new Incident Commander: immediate when there is none, else pending acceptance."""
    actor.require("responder", f"hand {incident.ref} over")
    check_not_closed(incident.ref, incident.status, "its command no longer changes hands")
    if incident.commander is None:
        incident.commander = person
        incident.updated_at = now
        text = f"{person} is Incident Commander" + (f" — {reason}" if reason else "")
        timeline.record(
            session,
            incident=incident,
            kind="commander_changed",
            at=now,
            actor=actor.name,
            source=actor.source,
            text=text,
            data={"field": "commander", "from": None, "to": person, "reason": reason},
        )
        return
    if person == incident.commander:
        raise Conflict(f"{person} is already the Incident Commander of {incident.ref}")
    incident.pending_commander = person
    incident.updated_at = now
    text = (
        f"{person} proposed as Incident Commander by {actor.name or actor.source}; "
        f"{incident.commander} stays in charge until {person} accepts"
    )
    timeline.record(
        session,
        incident=incident,
        kind="commander_proposed",
        at=now,
        actor=actor.name,
        source=actor.source,
        text=text + (f" — {reason}" if reason else ""),
        data={"from": incident.commander, "to": person, "reason": reason},
    )


def answer_handoff(
    session: Session,
    *,
    incident: Incident,
    accept: bool,
    now: datetime,
    actor: Actor,
    on_behalf: bool = False,
) -> None:
    """Accept or decline a pending IC handoff (the proposed person, or an admin on behalf)."""
    actor.require("responder", f"answer the handoff of {incident.ref}")
    pending = incident.pending_commander
    if pending is None:
        raise Conflict(f"{incident.ref} has no pending Incident Commander handoff")
    if actor.name != pending and not on_behalf:
        raise Forbidden(f"only {pending} (or an admin) can answer this handoff")
    previous = incident.commander
    incident.pending_commander = None
    incident.updated_at = now
    by = "" if actor.name == pending else f" ({actor.name} on their behalf)"
    if accept:
        incident.commander = pending
        text = f"{pending} accepted command from {previous}{by}"
        kind = "commander_changed"
    else:
        text = f"{pending} declined command{by}; {previous} stays Incident Commander"
        kind = "commander_declined"
    timeline.record(
        session,
        incident=incident,
        kind=kind,
        at=now,
        actor=actor.name,
        source=actor.source,
        text=text,
        data={"from": previous, "to": pending if accept else previous},
    )
