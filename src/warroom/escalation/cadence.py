"""Communication cadence: remind the IC and the communications liaison to post an update."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, func, literal, or_, select
from sqlalchemy.orm import Session

from warroom.incidents.models import Incident, IncidentRole
from warroom.notify.cards import card_of
from warroom.notify.messages import INCIDENT_CHANNEL, Post, Reminder
from warroom.notify.outbox import Message
from warroom.status.models import StatusUpdate
from warroom.status.service import last_updates
from warroom.storage.base import UTCDateTime

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

OPEN = ("detected", "triaged", "mitigated")
ZERO = timedelta(0)


def reminders(
    session: Session, *, config: WarroomConfig, channels: set[str], now: datetime
) -> list[Message]:
    """Return a reminder per open incident whose last status update is older than its cadence.

    The key names the missed window, so each window reminds once however often this runs.
    """
    cadence = {s: every for s, every in config.notifications.cadence.items() if every > ZERO}
    if not cadence or not channels & {"chat", "email"}:
        return []
    # Only the overdue ones are loaded: this runs every 15 s, and loading every open incident
    # made its memory and time grow with them (issue 17's soak: RSS up with each incident).
    incidents = list(
        session.scalars(select(Incident).where(Incident.status.in_(OPEN), _overdue(cadence, now)))
    )
    latest = last_updates(session, [i.id for i in incidents])
    overdue = []
    for incident in incidents:
        every = cadence[incident.severity]
        since = latest.get(incident.id) or incident.detected_at
        missed = int((now - since) / every)
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


def _overdue(cadence: dict[str, timedelta], now: datetime) -> ColumnElement[bool]:
    """Return the condition of an incident whose last update (or detection) is a cadence ago."""
    latest = (
        select(func.max(StatusUpdate.at))
        .where(StatusUpdate.incident_id == Incident.id)
        .correlate(Incident)
        .scalar_subquery()
    )
    since = func.coalesce(latest, Incident.detected_at)
    return or_(
        *(
            and_(Incident.severity == severity, since <= literal(now - every, UTCDateTime()))
            for severity, every in cadence.items()
        )
    )


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
