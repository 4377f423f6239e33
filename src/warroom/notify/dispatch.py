"""Hand one outbox row to the adapter its channel names, and say what came of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from warroom.notify.cards import card_from_json
from warroom.notify.models import Notification
from warroom.notify.outbox import Message
from warroom.notify.planner import INCIDENT_CHANNEL
from warroom.notify.ports import Adapters, DeliveryError, IncidentCard, Ticket
from warroom.notify.slack import channel_name

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from warroom.config import WarroomConfig


@dataclass
class Outcome:
    """A successful send: the provider's id, facts to keep on the incident, follow-ups."""

    provider_id: str | None = None
    links: dict[str, str] = field(default_factory=dict)
    follow_ups: list[Message] = field(default_factory=list)
    note: str | None = None  # a line for the incident's timeline
    # Database work the send calls for (a Jira key onto its action item), run in the
    # transaction that records the send.
    apply: Callable[[Session, datetime], None] | None = None


def send(
    row: Notification,
    *,
    adapters: Adapters,
    config: WarroomConfig,
    links: dict[str, str],
    bundle: list[Notification] | None = None,
) -> Outcome:
    """Send the row (with the pages bundled into it); raise DeliveryError on failure."""
    payload = row.payload or {}
    card = card_from_json(payload["card"]) if "card" in payload else None
    sender = _SENDERS.get(row.channel)
    if sender is None:
        raise DeliveryError(f"unknown channel {row.channel!r}", permanent=True)
    return sender(row, payload, card, adapters, config, links, bundle or [])


def _chat(
    row: Notification,
    payload: dict[str, Any],
    card: IncidentCard | None,
    adapters: Adapters,
    config: WarroomConfig,
    links: dict[str, str],
    bundle: list[Notification],
) -> Outcome:
    chat = adapters.chat
    if chat is None:
        raise DeliveryError("chat is not configured (integrations.slack.bot_token)", permanent=True)
    if row.action == "create_channel":
        slack = config.integrations.slack
        assert card is not None
        name = channel_name(
            card.number, str(payload.get("slug", "")), slack.channel_prefix if slack else "inc"
        )
        channel_id = chat.create_channel(
            name=name, private=bool(payload.get("private")), key=row.key
        )
        return Outcome(
            provider_id=channel_id,
            links={"chat_channel_id": channel_id, "chat_channel": f"#{name}"},
            note=f"Incident channel #{name} opened",
        )
    channel = _where(row, payload, links)
    if row.action == "invite":
        chat.invite(channel=channel, users=list(payload.get("users", [])), key=row.key)
        return Outcome()
    text = str(payload.get("text", ""))
    if bundle:
        others = "\n".join(f"• {b.payload.get('text', '')}" for b in bundle)
        text = f"{len(bundle) + 1} pages for you:\n• {text}\n{others}"
        card = None  # one card would hide the others
    message_id = chat.post(channel=channel, text=text, key=row.key, card=card)
    return Outcome(provider_id=message_id)


def _where(row: Notification, payload: dict[str, Any], links: dict[str, str]) -> str:
    """Return the chat channel (or user) a row goes to."""
    if row.action == "page":
        return str(payload["address"])
    if row.destination == INCIDENT_CHANNEL:
        channel = links.get("chat_channel_id")
        if not channel:
            # The create_channel row comes first (rows are sent in order); if it died, so
            # does everything meant for the channel.
            raise DeliveryError("the incident has no chat channel", permanent=True)
        return channel
    return row.destination


def _email(
    row: Notification,
    payload: dict[str, Any],
    card: IncidentCard | None,
    adapters: Adapters,
    config: WarroomConfig,
    links: dict[str, str],
    bundle: list[Notification],
) -> Outcome:
    from warroom.notify import email_text

    mailer = adapters.mailer
    if mailer is None:
        raise DeliveryError("email is not configured (integrations.smtp)", permanent=True)
    assert card is not None
    if row.action == "exec_summary":
        to = [str(a) for a in payload.get("to", [])]
        subject, text, html = email_text.executive_summary(
            card, payload.get("impact"), payload.get("scope")
        )
    elif row.action == "reminder":
        to = [str(a) for a in payload.get("to", [])]
        subject, text, html = email_text.reminder(card, int(payload.get("minutes", 0)))
    elif bundle:
        to = [str(payload["address"])]
        items = [(card, str(payload.get("text", "")))] + [
            (card_from_json(b.payload["card"]), str(b.payload.get("text", ""))) for b in bundle
        ]
        subject, text, html = email_text.bundle(items)
    else:
        to = [str(payload["address"])]
        subject, text, html = email_text.page(card, str(payload.get("text", "")))
    return Outcome(
        provider_id=mailer.send(to=to, subject=subject, text=text, html=html, key=row.key)
    )


def _conference(
    row: Notification,
    payload: dict[str, Any],
    card: IncidentCard | None,
    adapters: Adapters,
    config: WarroomConfig,
    links: dict[str, str],
    bundle: list[Notification],
) -> Outcome:
    conference = adapters.conference
    if conference is None:
        raise DeliveryError("conferencing is not configured (integrations.zoom)", permanent=True)
    assert card is not None
    meeting = conference.create_meeting(topic=f"{card.ref} {card.title}"[:200], key=row.key)
    follow = [
        Message(
            f"{row.key}:link",
            "chat",
            "post",
            INCIDENT_CHANNEL,
            {"text": f"Conference room for {card.ref}: {meeting.join_url}"},
            row.incident_id,
        )
    ]
    return Outcome(
        provider_id=meeting.id,
        links={"conference_url": meeting.join_url},
        follow_ups=follow
        if adapters.chat is not None and config.notifications.incident_channels
        else [],
        note=f"Conference room: {meeting.join_url}",
    )


def _pager(
    row: Notification,
    payload: dict[str, Any],
    card: IncidentCard | None,
    adapters: Adapters,
    config: WarroomConfig,
    links: dict[str, str],
    bundle: list[Notification],
) -> Outcome:
    pager = adapters.pager
    if pager is None:
        raise DeliveryError(
            "paging is not configured (integrations.pagerduty_events)", permanent=True
        )
    assert card is not None
    answer = pager.event(
        action=row.action,  # type: ignore[arg-type]
        dedup_key=row.destination,
        summary=f"{card.ref} {card.title}"[:1024],
        severity=card.severity,
        source="warroom",
        links=[{"href": card.url, "text": card.ref}] if card.url else [],
        details={"status": card.status, "service": card.service, "commander": card.commander},
    )
    return Outcome(provider_id=answer)


def _status_page(
    row: Notification,
    payload: dict[str, Any],
    card: IncidentCard | None,
    adapters: Adapters,
    config: WarroomConfig,
    links: dict[str, str],
    bundle: list[Notification],
) -> Outcome:
    page = adapters.status_page
    if page is None:
        raise DeliveryError(
            "no status page is configured (integrations.statuspage)", permanent=True
        )
    assert card is not None
    incident_id = page.upsert_incident(
        provider_id=links.get("status_page_id"),
        name=f"{card.title} ({card.ref})",
        status=str(payload.get("status", "investigating")),
        body=str(payload.get("body", "")),
        impact=card.severity,
        components={str(k): str(v) for k, v in (payload.get("components") or {}).items()},
        key=row.key,
    )
    return Outcome(provider_id=incident_id, links={"status_page_id": incident_id})


def _webhook(
    row: Notification,
    payload: dict[str, Any],
    card: IncidentCard | None,
    adapters: Adapters,
    config: WarroomConfig,
    links: dict[str, str],
    bundle: list[Notification],
) -> Outcome:
    webhook = adapters.webhook
    hooks = getattr(config.integrations, "outgoing_webhooks", None) or []
    hook = next((h for h in hooks if h.name == row.destination), None)
    if webhook is None or hook is None:
        raise DeliveryError(
            f"outgoing webhook {row.destination!r} is not configured", permanent=True
        )
    body = {
        "incident": payload.get("card", {}),
        "text": payload.get("text"),
        "data": payload.get("data", {}),
    }
    status = webhook.post(
        url=str(hook.url),
        secret=hook.secret.get_secret_value(),
        event=str(payload.get("event", "incident.updated")),
        body=body,
        key=row.key,
    )
    return Outcome(provider_id=str(status))


def _tracker(
    row: Notification,
    payload: dict[str, Any],
    card: IncidentCard | None,
    adapters: Adapters,
    config: WarroomConfig,
    links: dict[str, str],
    bundle: list[Notification],
) -> Outcome:
    from warroom.notify import tracking

    tracker = adapters.tracker
    if tracker is None:
        raise DeliveryError("Jira is not configured (integrations.jira_issues)", permanent=True)
    item_id = int(payload["item_id"])
    ref = tracking.ref(item_id)
    if row.action == "create":
        due = payload.get("due_date")
        ticket = Ticket(
            ref=ref,
            summary=str(payload["summary"]),
            description=str(payload.get("description", "")),
            due_date=date.fromisoformat(due) if due else None,
            owner=payload.get("owner"),
            status=str(payload.get("status", "open")),
        )
        issue = tracker.create_issue(ticket=ticket, key=row.key)
        return Outcome(
            provider_id=issue,
            apply=partial(
                tracking.record_issue,
                item_id=item_id,
                issue=issue,
                sent=payload,
                retry=config.notifications.retry,
            ),
        )
    issue = tracker.update_issue(
        issue=payload.get("issue"), ref=ref, changes=dict(payload["changes"]), key=row.key
    )
    return Outcome(provider_id=issue)


_SENDERS = {
    "chat": _chat,
    "email": _email,
    "conference": _conference,
    "pager": _pager,
    "status_page": _status_page,
    "webhook": _webhook,
    "tracker": _tracker,
}
