"""Communication cadence: remind the IC and the communications liaison to post an update."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.incidents.models import Incident, IncidentRole
from warroom.notify.cards import card_of
from warroom.notify.messages import INCIDENT_CHANNEL, Post, Reminder
from warroom.notify.outbox import Message
from warroom.status.service import last_updates

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

OPEN = ("detected", "triaged", "mitigated")


def reminders(
    session: Session, *, config: WarroomConfig, channels: set[str], now: datetime
) -> list[Message]:
    """Return a reminder per open incident whose last status update is older than its cadence.

    The key names the missed window, so each window reminds once however often this runs.
    """
    cadence = config.notifications.cadence
    if not cadence or not channels & {"chat", "email"}:
        return []
    incidents = list(
        session.scalars(
            select(Incident).where(Incident.status.in_(OPEN), Incident.severity.in_(list(cadence)))
        )
    )
    latest = last_updates(session, [i.id for i in incidents])
    overdue = []
    for incident in incidents:
        every = cadence[incident.severity]
        since = latest.get(incident.id) or incident.detected_at
        missed = int((now - since) / every) if every.total_seconds() > 0 else 0
        if missed >= 1:
            overdue.append((incident, every, since, missed))
    liaisons = _liaisons(session, [incident.id for incident, *_ in overdue])
    out: list[Message] = []
    for incident, every, since, missed in overdue:
        minutes = int((now - since).total_seconds() // 60)
        people = [incident.commander] if incident.commander else []
        people += liaisons.get(incident.id, [])
        card = card_of(incident, config, config.notifications.base_url)
        text = (
            f"{incident.ref} ({incident.severity}) has had no status update for {minutes} min; "
            f"the cadence for {incident.severity} is every {int(every.total_seconds() // 60)} min"
        )
        base = f"inc{incident.number}:remind:{int(since.timestamp())}:{missed}"
        links = incident.links or {}
        if "chat" in channels and links.get("chat_channel_id"):
            post = Post(text=text, card=card)
            out.append(Message(f"{base}:chat", INCIDENT_CHANNEL, post, incident.id))
        addresses = [
            str(p.email) for p in (config.person(x) for x in dict.fromkeys(people)) if p and p.email
        ]
        if "email" in channels and addresses:
            reminder = Reminder(card=card, to=addresses, minutes=minutes, text=text)
            out.append(Message(f"{base}:email", "reminders", reminder, incident.id))
    return out


def _liaisons(session: Session, incident_ids: list[int]) -> dict[int, list[str]]:
    """Return incident id -> its communications liaisons now, in one query."""
    found: dict[int, list[str]] = {}
    if not incident_ids:
        return found
    rows = session.execute(
        select(IncidentRole.incident_id, IncidentRole.person).where(
            IncidentRole.incident_id.in_(incident_ids),
            IncidentRole.role == "communications",
            IncidentRole.until.is_(None),
        )
    )
    for incident_id, person in rows:
        found.setdefault(incident_id, []).append(person)
    return found
