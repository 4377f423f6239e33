"""Turns what happened to an incident into outbox rows, in the same transaction.

The runbook's rules: every incident is announced in the incident channel and gets its own
channel with the IC invited; SEV-1/SEV-2 get a conference room and an executive email;
public incidents of chosen severities go to the status page; PagerDuty and outgoing
webhooks hear about every change. Paging itself is the escalation engine's job; the
planner only starts (and stops) an incident's escalation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from warroom.escalation import calls
from warroom.escalation import service as escalation
from warroom.escalation.destinations import (
    drill_allows,
    mirrored_to_status_page,
    on_status_page,
    outgoing_webhooks,
    outside,
    pagerduty_hears,
    pagerduty_triggered,
    published_components,
    reaches,
    smtp_executives,
)
from warroom.incidents import timeline
from warroom.incidents.models import Incident, TimelineEvent
from warroom.notify import messages as m
from warroom.notify import outbox
from warroom.notify.cards import card_of, codename
from warroom.notify.messages import INCIDENT_CHANNEL, Payload
from warroom.notify.outbox import Message
from warroom.notify.ports import IncidentCard
from warroom.postmortem import tracking
from warroom.status import service as status_updates

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.notify")

# (session, incident) -> lines on related past incidents, each safe for a public channel.
Related = Callable[[Session, Incident], list[str]]

WEBHOOK_EVENTS = frozenset(
    {
        "declared",
        "acknowledged",
        "triaged",
        "severity_changed",
        "commander_changed",
        "mitigated",
        "resolved",
        "closed",
        "reopened",
        "status_update",
    }
)
UPDATE_EVENTS = WEBHOOK_EVENTS - {"declared"}
# The kinds the planner acts on (declared included; postmortem: action items to Jira;
# storm_joined: an incident bundled under an alert storm stops paging on its own).
PLANNED = WEBHOOK_EVENTS | {"postmortem", "storm_joined"}


@dataclass
class Planner:
    """Installed as a before-commit listener: plans messages for new timeline events.

    It runs inside the transaction that wrote the events, so a message that does not
    validate fails that write: every value a message takes here comes from columns that
    cannot be empty (event text, titles, slugs), and a new message kind must keep it so.
    """

    config: Callable[[], WarroomConfig]
    channels: Callable[[], set[str]]  # adapters configured now: chat, email, conference, …
    now: Callable[[], datetime]
    wake: Callable[[], None] = lambda: None
    # Lines on past incidents a public channel may show (search/related_flows.py, wired in
    # runtime.py): escalation may not import search.
    related: Related | None = None

    def __call__(self, session: Session) -> None:
        """Plan for every incident that got events in this transaction."""
        # Alert storms write many timeline events that call for no message: skip them cheaply.
        written = [(i, e) for i, e in timeline.take_new_events(session) if e.kind in PLANNED]
        if not written:
            return
        by_incident: dict[int, tuple[Incident, list[TimelineEvent]]] = {}
        for incident, event in written:
            by_incident.setdefault(id(incident), (incident, []))[1].append(event)
        config, channels, now = self.config(), self.channels(), self.now()
        session.flush()  # the events need their ids for idempotency keys
        messages: list[Message] = []
        for incident, events in by_incident.values():
            messages += plan(
                session,
                incident,
                events,
                config=config,
                channels=channels,
                now=now,
                related=self.related,
            )
        if messages:
            outbox.enqueue(session, messages, now=now, retry=config.notifications.retry)
            session.info["wake_engine"] = True

    def after_commit(self, session: Session) -> None:
        """Wake the engine when the commit queued work for it."""
        if session.info.pop("wake_engine", False):
            self.wake()


def plan(
    session: Session,
    incident: Incident,
    events: list[TimelineEvent],
    *,
    config: WarroomConfig,
    channels: set[str],
    now: datetime,
    related: Related | None = None,
) -> list[Message]:
    """Return the messages the runbook's rules call for after these events."""
    rules = config.notifications
    card = card_of(incident, config, rules.base_url)
    pager_card = outside(incident, card)
    n = incident.number
    out: list[Message] = []
    # A drill reaches outside warroom only where its scenario says so (drills/scenario.py).
    allowed = drill_allows(session, incident)

    def add(key: str, destination: str, payload: Payload) -> None:
        if payload.channel in channels and reaches(allowed, payload):
            out.append(Message(key, destination, payload, incident_id=incident.id))

    kinds = [e.kind for e in events]
    # A member of an alert storm is announced and paged by the storm's parent
    # (detection/storms.py); one that opened before the storm keeps its own channel.
    member = incident.parent_number is not None
    own_room = not member or bool((incident.links or {}).get("chat_channel_id"))
    # A viewer's report paged nobody; its triage (in these events) pages as a declaration would.
    released = any((e.data or {}).get("released") for e in events)
    for event in events:
        kind, k = event.kind, f"inc{n}:ev{event.id}"
        if kind == "declared" and not member:
            out += _declared(session, incident, config, channels, card, now, allowed, related)
        elif kind == "storm_joined" and "declared" in kinds:
            pass  # born in the storm: it never started paging (the common case, kept cheap)
        elif kind in ("acknowledged", "triaged", "mitigated", "resolved", "closed", "storm_joined"):
            escalation.stop(session, incident=incident, now=now, reason=kind)
            # Not the call the acknowledgement came from: it says thank you, then ends.
            if event.source != "voice" and "voice" in channels:
                out += calls.hang_ups(session, incident_id=incident.id, now=now)
        rooms = config.notifications.incident_channels and own_room
        if kind in UPDATE_EVENTS and "declared" not in kinds and rooms:
            add(f"{k}:chat", INCIDENT_CHANNEL, m.Post(text=event.text, card=card))
        if kind == "commander_changed" and incident.commander and "declared" not in kinds and rooms:
            person = config.person(incident.commander)
            if person and person.slack:
                add(f"{k}:invite", INCIDENT_CHANNEL, m.Invite(users=[person.slack]))
        # Held, nothing has paged (nor been triggered at PagerDuty); released, it pages below.
        quiet = incident.paging_held or released or member
        raised = kind == "severity_changed" and "declared" not in kinds and _raised(config, event)
        if raised and not quiet:
            out += _severity_raised(session, incident, config, channels, card, now, allowed)
        if (event.data or {}).get("released"):
            out += _severity_raised(session, incident, config, channels, card, now, allowed)
            if pagerduty_hears(config, incident.severity):
                add(f"inc{n}:pager:trigger", str(n), m.PagerTrigger(card=pager_card))
        pages = pagerduty_hears(config, incident.severity) and not incident.paging_held
        if (
            kind in ("acknowledged", "resolved")
            and pages
            and (not member or pagerduty_triggered(session, incident))
        ):
            # A storm's member born in the storm was never triggered at PagerDuty: nothing to end.
            pager = m.PagerAcknowledge if kind == "acknowledged" else m.PagerResolve
            # Keyed by the event: after a reopen, the next resolve must go out too.
            add(f"{k}:pager", str(incident.number), pager(card=pager_card))
        if kind == "reopened" and pages and not released:
            add(f"{k}:pager", str(incident.number), m.PagerTrigger(card=pager_card))
        data = event.data or {}
        if kind == "status_update" and data.get("public") and on_status_page(incident, config):
            # The hosted page mirrors what the communications liaison chose to publish.
            update = m.StatusUpsert(
                card=card,
                title=str(data.get("public_title") or ""),
                status=data.get("status", "investigating"),
                body=str(data.get("body") or event.text),
                components=data.get("components") or {},
            )
            add(f"{k}:status", incident.ref, update)
        if kind == "resolved" and mirrored_to_status_page(session, incident, config):
            # Public words only (the timeline text is internal), components back to normal.
            update = m.StatusUpsert(
                card=card,
                title=status_updates.public_title(session, incident_id=incident.id) or "",
                status="resolved",
                body="This incident has been resolved.",
                components=dict.fromkeys(published_components(session, incident), "operational"),
            )
            add(f"{k}:status", incident.ref, update)
        if kind == "postmortem" and tracking.CHANNEL in channels and reaches(allowed, "jira"):
            out += tracking.plan(session, incident, event, config=config, url=card.url)
        if kind in WEBHOOK_EVENTS:
            # A restricted incident leaves warroom under its codename: no title, no words.
            hidden = incident.visibility == "restricted"
            text = f"{incident.ref} (restricted): {kind}" if hidden else event.text
            for hook in outgoing_webhooks(config):
                if hook["events"] and f"incident.{kind}" not in hook["events"]:
                    continue
                hooked = m.WebhookEvent(
                    event=f"incident.{kind}",
                    card=codename(card) if hidden else card,
                    text=text,
                    data={} if hidden else event.data or {},
                )
                add(f"{k}:webhook:{hook['name']}", hook["name"], hooked)
    return out


def _declared(
    session: Session,
    incident: Incident,
    config: WarroomConfig,
    channels: set[str],
    card: IncidentCard,
    now: datetime,
    allowed: frozenset[str] | None = None,
    related: Related | None = None,
) -> list[Message]:
    """Announce, open the incident's channel and room, inform executives, start paging."""
    rules = config.notifications
    n, out = incident.number, []

    def add(key: str, destination: str, payload: Payload) -> None:
        if payload.channel in channels and reaches(allowed, payload):
            out.append(Message(key, destination, payload, incident.id))

    slack = config.integrations.slack
    announce = rules.announce_channel or (slack.channel if slack else None)
    # Past incidents like this one, for a public incident only and only public ones.
    # Read only when a message will carry it: one bounded query in the declaring transaction.
    posts = bool(announce) or rules.incident_channels
    shown = incident.visibility == "public" and "chat" in channels and posts
    past = related(session, incident) if related is not None and shown else []
    if announce and incident.visibility == "public":
        text = f"{incident.ref} declared: {incident.title} ({incident.severity})"
        add(f"inc{n}:announce", announce, m.Post(text="\n".join([text, *past]), card=card))
    if rules.incident_channels:
        private = incident.visibility != "public"
        # A restricted incident's channel is #inc-42: its name would show the title's words.
        slug = incident.slug if incident.visibility == "public" else ""
        room = m.CreateChannel(card=card, slug=slug, private=private)
        add(f"inc{n}:channel", INCIDENT_CHANNEL, room)
        commander = config.person(incident.commander) if incident.commander else None
        if commander and commander.slack:
            invite = m.Invite(users=[commander.slack])
            add(f"inc{n}:invite:{commander.id}", INCIDENT_CHANNEL, invite)
        first = "\n".join([card.title, *past])
        add(f"inc{n}:card", INCIDENT_CHANNEL, m.Post(text=first, card=card))
    if incident.paging_held:  # a viewer's report: its triage pages (incidents/held.py)
        return out
    out += _severity_raised(session, incident, config, channels, card, now, allowed)
    if pagerduty_hears(config, incident.severity):
        add(f"inc{n}:pager:trigger", str(n), m.PagerTrigger(card=outside(incident, card)))
    return out


def _severity_raised(
    session: Session,
    incident: Incident,
    config: WarroomConfig,
    channels: set[str],
    card: IncidentCard,
    now: datetime,
    allowed: frozenset[str] | None = None,
) -> list[Message]:
    """What a severity calls for, once per incident: room, executive email, paging."""
    rules, n, out = config.notifications, incident.number, []
    severity = config.severities.get(incident.severity)
    zoom = config.integrations.zoom
    if zoom is not None and zoom.wants_meeting(incident.severity) and "conference" in channels:
        meeting = m.Meeting(card=outside(incident, card))
        out.append(Message(f"inc{n}:meeting", INCIDENT_CHANNEL, meeting, incident.id))
    executives = rules.executives or smtp_executives(config)
    to_executives = reaches(allowed, "executives")
    if severity and severity.exec_email and executives and "email" in channels and to_executives:
        if incident.visibility == "restricted":  # executives hear of it under its codename
            summary = m.ExecSummary(card=codename(card), to=executives, impact=None, scope=None)
        else:
            summary = m.ExecSummary(
                card=card, to=executives, impact=incident.impact, scope=incident.scope
            )
        key = f"inc{n}:exec:{incident.severity}"
        out.append(Message(key, "executives", summary, incident.id))
    escalation.start(session, incident=incident, config=config, now=now)
    return out


def _raised(config: WarroomConfig, event: TimelineEvent) -> bool:
    """Tell whether a severity change made the incident more severe (SEV-2 → SEV-1)."""
    order = list(config.severities)
    data = event.data or {}
    old, new = data.get("from"), data.get("to")
    if old not in order or new not in order:
        return True
    return order.index(new) < order.index(old)
