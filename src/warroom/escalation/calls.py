"""Calls that ring on after paging ended: hang them up.

An acknowledgement (by SMS, the link, Slack…) or a later status stops every person's rules,
and pages still queued are cancelled by the sender. A call Twilio already placed keeps
ringing, though, and would wake someone for nothing: it is hung up. Two moments: the
acknowledgement finds the calls recorded as placed in the last minutes, and a call recorded
only after it (it was being placed at that instant) is hung up as soon as it is recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.incidents.models import Incident
from warroom.notify import outbox
from warroom.notify.messages import HangUp, Payload, VoicePage
from warroom.notify.models import Notification
from warroom.notify.outbox import Message

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

RINGING = timedelta(minutes=10)  # longer than any call rings, or a callee listens to a page


def hang_ups(session: Session, *, incident_id: int, now: datetime) -> list[Message]:
    """Return a hang-up for each page call of the incident placed in the last minutes."""
    rows = session.execute(
        select(Notification.key, Notification.destination, Notification.provider_id).where(
            Notification.incident_id == incident_id,
            Notification.channel == "voice",
            Notification.action == "page",
            Notification.status == "sent",
            Notification.provider_id.is_not(None),
            Notification.sent_at >= now - RINGING,
        )
    )
    return [
        Message(f"{key}:hangup", destination, HangUp(call_id=call), incident_id)
        for key, destination, call in rows
        if call
    ]


def placed_after_paging_ended(
    session: Session,
    message: Payload,
    provider_id: str | None,
    now: datetime,
    config: WarroomConfig,
) -> None:
    """Hang up a page call recorded after its incident was acknowledged (an after-send hook)."""
    if not isinstance(message, VoicePage) or not provider_id:
        return
    incident = session.scalar(select(Incident).where(Incident.number == message.card.number))
    if incident is None or (incident.acknowledged_at is None and incident.status == "detected"):
        return
    key = f"inc{incident.number}:call:{provider_id}:hangup"
    hang_up = Message(key, f"person:{message.person}", HangUp(call_id=provider_id), incident.id)
    outbox.enqueue(session, [hang_up], now=now, retry=config.notifications.retry)
