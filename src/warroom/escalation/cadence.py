"""Communication cadence: remind the IC and the communications liaison to post an update."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.config import WarroomConfig
from warroom.incidents import roles
from warroom.incidents.models import Incident
from warroom.notify.cards import card_of, card_to_json
from warroom.notify.outbox import Message
from warroom.status.service import last_update_at

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
    incidents = session.scalars(
        select(Incident).where(Incident.status.in_(OPEN), Incident.severity.in_(list(cadence)))
    )
    out: list[Message] = []
    for incident in incidents:
        every = cadence[incident.severity]
        since = last_update_at(session, incident.id) or incident.detected_at
        missed = int((now - since) / every) if every.total_seconds() > 0 else 0
        if missed < 1:
            continue
        minutes = int((now - since).total_seconds() // 60)
        people = [incident.commander] if incident.commander else []
        people += [r.person for r in roles.current(session, incident) if r.role == "communications"]
        card = card_to_json(card_of(incident, config, config.notifications.base_url))
        text = (
            f"{incident.ref} ({incident.severity}) has had no status update for {minutes} min; "
            f"the cadence for {incident.severity} is every {int(every.total_seconds() // 60)} min"
        )
        base = f"inc{incident.number}:remind:{int(since.timestamp())}:{missed}"
        links = incident.links or {}
        if "chat" in channels and links.get("chat_channel_id"):
            out.append(
                Message(
                    f"{base}:chat",
                    "chat",
                    "post",
                    "@incident",
                    {"card": card, "text": text},
                    incident.id,
                )
            )
        addresses = [
            str(p.email) for p in (config.person(x) for x in dict.fromkeys(people)) if p and p.email
        ]
        if "email" in channels and addresses:
            payload = {"card": card, "to": addresses, "minutes": minutes, "text": text}
            out.append(
                Message(f"{base}:email", "email", "reminder", "reminders", payload, incident.id)
            )
    return out
