"""Acknowledging from the page itself: a one-click link, an SMS reply, a key press on a call.

Each way names the person it came from (the link is signed for them; a reply or a call is
matched to their verified number) and acknowledges only an incident they were paged for.
What the provider reports back (delivered, failed, no answer, busy) goes on the timeline; a
failure moves that person on to their next rule at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.errors import Conflict
from warroom.escalation import contacts, links, personal
from warroom.escalation.models import ACTIVE, PageRun
from warroom.incidents import service as incidents
from warroom.incidents import timeline
from warroom.incidents.actor import Actor
from warroom.incidents.models import Incident
from warroom.notify.models import Notification

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

# "ack 42", "ACK INC-42", "a42", the page's four-digit code, or "ack" alone.
REPLY = re.compile(
    r"^\s*(?:(?:ack|a|acknowledge)\s*(?:inc-?)?(?P<number>\d{1,9})"
    r"|(?P<code>\d{4})|(?P<bare>ack|a|acknowledge))\s*[.!]?\s*$",
    re.IGNORECASE,
)
# Twilio's final states worth a line on the timeline; the failures move the person on.
SMS_STATES = {"delivered": "delivered", "undelivered": "not delivered", "failed": "failed"}
CALL_STATES = {
    "completed": "answered",
    "busy": "busy",
    "no-answer": "no answer",
    "failed": "failed",
    "canceled": "cancelled",
}
FAILURES = {"undelivered", "failed", "busy", "no-answer"}


@dataclass(frozen=True)
class Acked:
    """What an acknowledgement attempt came to, in words for the person (an SMS reply)."""

    ok: bool
    message: str
    incident: Incident | None = None
    person: str | None = None


@dataclass(frozen=True)
class LinkView:
    """What a one-click link shows: whose page, which incident, and whether it can be used."""

    state: str  # ready | used | acknowledged | expired | invalid
    incident: Incident | None = None
    person: str | None = None
    acknowledged_by: str | None = None


def person_by_number(session: Session, config: WarroomConfig, number: str) -> str | None:
    """Return the person whose verified SMS or voice method has this number, if exactly one."""
    compact = number.replace(" ", "")
    directory = contacts.Directory(session, config)
    owners = {
        person.id
        for person in config.people
        for method in directory.methods(person.id)
        if method.kind in ("sms", "voice") and method.verified and method.address == compact
    }
    return owners.pop() if len(owners) == 1 else None


def by_reply(
    session: Session, *, config: WarroomConfig, number: str, text: str, now: datetime
) -> Acked:
    """Acknowledge what an SMS reply names (`ack 42`, the page's code, or `ack` alone)."""
    person = person_by_number(session, config, number)
    if person is None:
        return Acked(False, "This number is not a verified contact method in warroom.")
    match = REPLY.match(text or "")
    if match is None:
        return Acked(
            False,
            'Not understood. Reply "ack" and the incident number, e.g. "ack 42".',
            None,
            person,
        )
    runs = select(PageRun).where(PageRun.person == person).order_by(PageRun.id.desc())
    run: PageRun | None
    if match.group("number"):
        number_ = int(match.group("number"))
        run = session.scalars(
            runs.join(Incident, Incident.id == PageRun.incident_id).where(
                Incident.number == number_
            )
        ).first()
        if run is None and len(match.group("number")) == 4:  # "ack 4821": the page's code
            run = session.scalars(runs.where(PageRun.reply_code == match.group("number"))).first()
        if run is None:
            return Acked(False, f"You were not paged for INC-{number_}.", None, person)
    elif match.group("code"):
        run = session.scalars(runs.where(PageRun.reply_code == match.group("code"))).first()
        if run is None:
            return Acked(
                False, f"No page of yours has the code {match.group('code')}.", None, person
            )
    else:
        active = list(session.scalars(runs.where(PageRun.state == ACTIVE)))
        open_ = {r.incident_id for r in active}
        if len(open_) != 1:
            return Acked(
                False,
                'Several pages are open: reply "ack" and the incident number, e.g. "ack 42".'
                if open_
                else "You have no open page.",
                None,
                person,
            )
        run = active[0]
    return acknowledge(session, incident_id=run.incident_id, person=person, via="sms", now=now)


def acknowledge(
    session: Session, *, incident_id: int, person: str, via: str, now: datetime
) -> Acked:
    """Acknowledge the incident as the person, through `via` (sms, voice, link)."""
    incident = session.scalar(select(Incident).where(Incident.id == incident_id).with_for_update())
    if incident is None:
        return Acked(False, "That incident no longer exists.")
    if incident.acknowledged_at is not None:
        by = incident.acknowledged_by or "someone"
        return Acked(True, f"{incident.ref} was already acknowledged by {by}.", incident, person)
    try:
        incidents.acknowledge(session, incident=incident, now=now, actor=Actor(person, via))
    except Conflict:
        return Acked(
            False, f"{incident.ref} is {incident.status}: nothing to acknowledge.", incident, person
        )
    return Acked(True, f"{incident.ref} acknowledged. Thank you, {person}.", incident, person)


def view_link(session: Session, *, token: str, now: datetime) -> LinkView:
    """Return what a one-click link stands for (no change is made)."""
    claims = links.read(links.signing_key(session), token)
    if claims is None:
        return LinkView("invalid")
    run = session.scalar(
        select(PageRun).where(
            PageRun.incident_id == claims.incident_id,
            PageRun.person == claims.person,
            PageRun.loop == claims.loop,
            PageRun.step == claims.step,
        )
    )
    incident = session.get(Incident, claims.incident_id)
    if run is None or incident is None:
        return LinkView("invalid")
    if incident.acknowledged_at is not None:
        return LinkView("acknowledged", incident, run.person, incident.acknowledged_by)
    if run.link_used_at is not None:
        return LinkView("used", incident, run.person)
    # It dies with paging: once the incident moved on (or a day after the page at most).
    if incident.status != "detected" or claims.expires <= now:
        return LinkView("expired", incident, run.person)
    return LinkView("ready", incident, run.person)


def by_link(
    session: Session, *, token: str, now: datetime, via: str = "link"
) -> tuple[LinkView, Acked | None]:
    """Acknowledge through a one-click link (a POST); the link is used up."""
    view = view_link(session, token=token, now=now)
    if view.state != "ready" or view.incident is None or view.person is None:
        return view, None
    claims = links.read(links.signing_key(session), token)
    assert claims is not None
    run = session.scalar(
        select(PageRun)
        .where(
            PageRun.incident_id == claims.incident_id,
            PageRun.person == claims.person,
            PageRun.loop == claims.loop,
            PageRun.step == claims.step,
            PageRun.link_used_at.is_(None),
        )
        .with_for_update()
    )
    if run is None:  # used a moment ago, by another request
        return LinkView("used", view.incident, view.person), None
    run.link_used_at = now
    return view, acknowledge(
        session, incident_id=view.incident.id, person=view.person, via=via, now=now
    )


def page_known(session: Session, *, provider_id: str) -> bool:
    """Tell whether a page was recorded as sent under this provider id (Twilio's SID)."""
    found = session.scalar(
        select(Notification.id).where(Notification.provider_id == provider_id).limit(1)
    )
    return found is not None


def record_status(
    session: Session,
    *,
    provider_id: str,
    status: str,
    now: datetime,
    error: str | None = None,
    key: str | None = None,
) -> bool:
    """Put Twilio's report on a page's delivery on the timeline; move on after a failure.

    `key` (the outbox key the status URL carries) finds the page even before the sender has
    recorded Twilio's id, which it does after its whole round of sends. One SMS may carry
    several incidents' pages (a bundle): each gets its line and, after a failure, each
    person's run moves on. Return False when no such page was sent (or the status is not a
    final one).
    """
    found = select(Notification).where(Notification.action == "page")
    head = session.scalar(found.where(Notification.key == key)) if key else None
    if head is not None:
        # The head and what was bundled into it (known once the sender recorded the round).
        found = found.where((Notification.id == head.id) | (Notification.bundled_into == head.id))
    else:
        found = found.where(Notification.provider_id == provider_id)
    rows = session.scalars(found.order_by(Notification.id))
    recorded = False
    for row in rows:
        recorded |= _record_one(session, row, status=status, now=now, error=error)
    return recorded


def _record_one(
    session: Session, row: Notification, *, status: str, now: datetime, error: str | None
) -> bool:
    """Record one page's status on its incident's timeline."""
    if row.incident_id is None:
        return False
    words = (SMS_STATES if row.channel == "sms" else CALL_STATES).get(status)
    if words is None:
        return False
    incident = session.get(Incident, row.incident_id)
    if incident is None:
        return False
    payload: dict[str, Any] = row.payload or {}
    person = payload.get("person") or row.destination.removeprefix("person:")
    what = "SMS" if row.channel == "sms" else "Call"
    text = f"{what} to {person}: {words}" + (f" ({error})" if error else "")
    timeline.record(
        session,
        incident=incident,
        kind="page_status",
        text=text,
        at=now,
        actor=None,
        source="twilio",
        data={"key": row.key, "status": status, "channel": row.channel, "person": person},
    )
    timeline.take_new_events(session)  # a fact about sending: nothing to plan
    if status in FAILURES and payload.get("round") and payload.get("rule") is not None:
        personal.move_on(
            session,
            incident_id=incident.id,
            person=person,
            round_=str(payload["round"]),
            rule=int(payload["rule"]),
            now=now,
        )
    return True
