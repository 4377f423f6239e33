"""Hand one outbox row to the adapter its channel names, and say what came of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urlencode

from warroom.notify import messages as m
from warroom.notify.cards import card_to_json
from warroom.notify.messages import INCIDENT_CHANNEL, Payload
from warroom.notify.outbox import Message
from warroom.notify.ports import Adapters, Chat, DeliveryError, PushNote, Ticket, TicketTracker
from warroom.notify.slack import channel_name

if TYPE_CHECKING:
    from warroom.config import WarroomConfig
    from warroom.notify.email_text import Email
    from warroom.notify.models import Notification

M = TypeVar("M", bound=Payload)
A = TypeVar("A")


@dataclass
class Outcome:
    """A successful send: the provider's id, facts to keep on the incident, follow-ups."""

    provider_id: str | None = None
    links: dict[str, str] = field(default_factory=dict)
    follow_ups: list[Message] = field(default_factory=list)
    note: str | None = None  # a line for the incident's timeline
    message: Payload | None = None  # what was sent, for the phases' after-send hooks


@dataclass(frozen=True)
class Delivery(Generic[M]):
    """One outbox row read once: its typed message, where it goes, and what goes with it."""

    message: M
    key: str  # the idempotency key, passed on to the vendor
    destination: str
    incident_id: int | None
    links: dict[str, str]  # the incident's links (its chat channel, status page incident)
    bundle: list[M] = field(default_factory=list)  # more pages to the same person


def send(
    row: Notification,
    *,
    adapters: Adapters,
    config: WarroomConfig,
    links: dict[str, str],
    bundle: list[Notification] | None = None,
) -> Outcome:
    """Send the row (with the pages bundled into it); raise DeliveryError on failure."""
    delivery = read(row, links=links, bundle=bundle or [])
    handler = _HANDLERS[type(delivery.message)]
    outcome = handler(_Senders(adapters, config), delivery)
    outcome.message = delivery.message
    return outcome


def read(row: Notification, *, links: dict[str, str], bundle: list[Notification]) -> Delivery[Any]:
    """Parse a row and its bundled pages; one that cannot be read fails for good."""
    try:
        message = m.parse(row.channel, row.action, row.payload or {})
        others = [m.parse(b.channel, b.action, b.payload or {}) for b in bundle]
    except ValueError as exc:  # retrying would read the same JSON again
        raise DeliveryError(f"cannot read {row.key!r}: {exc}", permanent=True) from exc
    if any(type(other) is not type(message) for other in others):
        raise DeliveryError(f"{row.key!r} bundles messages of other kinds", permanent=True)
    return Delivery(message, row.key, row.destination, row.incident_id, links, others)


def _need(adapter: A | None, what: str, setting: str | None = None) -> A:
    """Return the adapter; fail for good if it is missing (a retry will not configure it)."""
    if adapter is None:
        where = f" ({setting})" if setting else ""
        raise DeliveryError(f"{what} is not configured{where}", permanent=True)
    return adapter


@dataclass(frozen=True)
class _Senders:
    """One handler per kind of message, with the adapters and configuration in force."""

    adapters: Adapters
    config: WarroomConfig

    def create_channel(self, d: Delivery[m.CreateChannel]) -> Outcome:
        chat = self._chat()
        slack = self.config.integrations.slack
        prefix = slack.channel_prefix if slack else "inc"
        if d.message.card.drill:  # #drill-inc-42-…: nobody mistakes it for the real thing
            prefix = f"drill-{prefix}"
        name = channel_name(d.message.card.number, d.message.slug, prefix)
        channel_id = chat.create_channel(name=name, private=d.message.private, key=d.key)
        return Outcome(
            provider_id=channel_id,
            links={"chat_channel_id": channel_id, "chat_channel": f"#{name}"},
            note=f"Incident channel #{name} opened",
        )

    def invite(self, d: Delivery[m.Invite]) -> Outcome:
        self._chat().invite(channel=_room(d), users=list(d.message.users), key=d.key)
        return Outcome()

    def post(self, d: Delivery[m.Post]) -> Outcome:
        chat = self._chat()
        answer = chat.post(channel=_room(d), text=d.message.text, key=d.key, card=d.message.card)
        return Outcome(provider_id=answer)

    def chat_page(self, d: Delivery[m.ChatPage]) -> Outcome:
        chat, page = self._chat(), d.message
        if not d.bundle:
            text = page.text + _ack_line(page.ack_url)
            answer = chat.post(channel=page.address, text=text, key=d.key, card=page.card)
            return Outcome(provider_id=answer)
        others = "\n".join(f"• {b.text}{_ack_line(b.ack_url)}" for b in d.bundle)
        text = (
            f"{len(d.bundle) + 1} pages for you:\n• {page.text}{_ack_line(page.ack_url)}\n{others}"
        )
        # No card: one card would hide the others.
        return Outcome(provider_id=chat.post(channel=page.address, text=text, key=d.key))

    def email_page(self, d: Delivery[m.EmailPage]) -> Outcome:
        from warroom.notify import email_text

        page = d.message
        if not d.bundle:
            render = partial(email_text.page, page.card, page.text, page.ack_url)
            return self._mail(d, [page.address], render)
        items = [(p.card, p.text, p.ack_url) for p in [page, *d.bundle]]
        return self._mail(d, [page.address], partial(email_text.bundle, items))

    def sms_page(self, d: Delivery[m.SmsPage]) -> Outcome:
        phone = _need(self.adapters.phone, "SMS", "integrations.twilio")
        page = d.message
        body = page.text
        if d.bundle:  # several incidents at once: one text, each with its own reply
            body = "\n".join(p.text for p in [page, *d.bundle])
        sid = phone.send_sms(
            to=page.address, body=body, key=d.key, status_callback=self._status_url(d.key)
        )
        return Outcome(provider_id=sid)

    def voice_page(self, d: Delivery[m.VoicePage]) -> Outcome:
        phone = _need(self.adapters.phone, "voice calls", "integrations.twilio")
        page = d.message
        sid = phone.call(
            to=page.address,
            text=page.text,
            gather_url=page.gather_url,
            key=d.key,
            status_callback=self._status_url(d.key),
        )
        return Outcome(provider_id=sid)

    def hang_up(self, d: Delivery[m.HangUp]) -> Outcome:
        phone = _need(self.adapters.phone, "voice calls", "integrations.twilio")
        phone.hang_up(call_id=d.message.call_id)
        return Outcome(provider_id=d.message.call_id)

    def push_page(self, d: Delivery[m.PushPage]) -> Outcome:
        push = _need(self.adapters.push, "push", "integrations.push")
        page, card = d.message, d.message.card
        settings = self.config.integrations.push
        urgency = settings.urgency.get(card.severity, "default") if settings else "default"
        note = PushNote(
            title=f"{card.ref} {card.severity}: {card.title}"[:250],
            body=page.text,
            urgency=urgency,
            click_url=card.url,
            ack_url=page.ack_url if page.ack_url and "://" in page.ack_url else None,
        )
        return Outcome(provider_id=push.push(url=page.address, note=note, key=d.key))

    def _status_url(self, key: str) -> str | None:
        """Return where Twilio reports on a page (None without a base_url).

        The page's outbox key goes with it: a report may come before the sender recorded
        Twilio's id for the page (it records a round of sends together, after the slowest).
        """
        base = self.config.notifications.base_url
        if not base:
            return None
        return f"{base.rstrip('/')}/api/v1/intake/twilio/status?{urlencode({'key': key})}"

    def exec_summary(self, d: Delivery[m.ExecSummary]) -> Outcome:
        from warroom.notify import email_text

        summary = d.message
        render = partial(email_text.executive_summary, summary.card, summary.impact, summary.scope)
        return self._mail(d, summary.to, render)

    def reminder(self, d: Delivery[m.Reminder]) -> Outcome:
        from warroom.notify import email_text

        render = partial(email_text.reminder, d.message.card, d.message.minutes)
        return self._mail(d, d.message.to, render)

    def meeting(self, d: Delivery[m.Meeting]) -> Outcome:
        conference = _need(self.adapters.conference, "conferencing", "integrations.zoom")
        card = d.message.card
        meeting = conference.create_meeting(topic=f"{card.ref} {card.title}"[:200], key=d.key)
        text = f"Conference room for {card.ref}: {meeting.join_url}"
        link = Message(f"{d.key}:link", INCIDENT_CHANNEL, m.Post(text=text), d.incident_id)
        rooms = self.adapters.chat is not None and self.config.notifications.incident_channels
        return Outcome(
            provider_id=meeting.id,
            links={"conference_url": meeting.join_url},
            follow_ups=[link] if rooms else [],
            note=f"Conference room: {meeting.join_url}",
        )

    def pager_event(self, d: Delivery[m.PagerEvent]) -> Outcome:
        pager = _need(self.adapters.pager, "paging", "integrations.pagerduty_events")
        card = d.message.card
        answer = pager.event(
            action=d.message.action,
            dedup_key=d.destination,
            summary=f"{card.ref} {card.title}"[:1024],
            severity=card.severity,
            source="warroom",
            links=[{"href": card.url, "text": card.ref}] if card.url else [],
            details={"status": card.status, "service": card.service, "commander": card.commander},
        )
        return Outcome(provider_id=answer)

    def status_upsert(self, d: Delivery[m.StatusUpsert]) -> Outcome:
        page = _need(self.adapters.status_page, "the status page", "integrations.statuspage")
        update, card = d.message, d.message.card
        incident_id = page.upsert_incident(
            provider_id=d.links.get("status_page_id"),
            # Rows queued before public titles existed named it by the incident's title, as
            # the migration did for its public updates; every newer row has a public title.
            name=f"{update.title or card.title} ({card.ref})",
            status=update.status,
            body=update.body,
            impact=card.severity,
            components=dict(update.components),
            key=d.key,
        )
        return Outcome(provider_id=incident_id, links={"status_page_id": incident_id})

    def webhook(self, d: Delivery[m.WebhookEvent]) -> Outcome:
        what = f"outgoing webhook {d.destination!r}"
        webhook = _need(self.adapters.webhook, what)
        hooks = getattr(self.config.integrations, "outgoing_webhooks", None) or []
        hook = _need(next((h for h in hooks if h.name == d.destination), None), what)
        event = d.message
        body = {
            "incident": card_to_json(event.card) if event.card is not None else {},
            "text": event.text,
            "data": event.data,
        }
        status = webhook.post(
            url=str(hook.url),
            secret=hook.secret.get_secret_value(),
            event=event.event,
            body=body,
            key=d.key,
        )
        return Outcome(provider_id=str(status))

    def issue_create(self, d: Delivery[m.IssueCreate]) -> Outcome:
        item = d.message
        ticket = Ticket(
            ref=m.item_ref(item.item_id),
            summary=item.summary,
            description=item.description,
            due_date=item.due_date,
            owner=item.owner,
            status=item.status,
        )
        issue = self._tracker().create_issue(ticket=ticket, key=d.key)
        # The postmortem phase keeps the key (an after-send hook in the same transaction).
        return Outcome(provider_id=issue)

    def issue_update(self, d: Delivery[m.IssueUpdate]) -> Outcome:
        update = d.message
        issue = self._tracker().update_issue(
            issue=update.issue,
            ref=m.item_ref(update.item_id),
            changes=dict(update.changes),
            key=d.key,
        )
        return Outcome(provider_id=issue)

    def _chat(self) -> Chat:
        return _need(self.adapters.chat, "chat", "integrations.slack.bot_token")

    def _tracker(self) -> TicketTracker:
        return _need(self.adapters.tracker, "Jira", "integrations.jira_issues")

    def _mail(self, d: Delivery[Any], to: list[str], render: Callable[[], Email]) -> Outcome:
        mailer = _need(self.adapters.mailer, "email", "integrations.smtp")
        subject, text, html = render()
        answer = mailer.send(to=list(to), subject=subject, text=text, html=html, key=d.key)
        return Outcome(provider_id=answer)


def _ack_line(ack_url: str | None) -> str:
    """Return the one-click acknowledge link as a line to add to a page (absolute ones)."""
    return f"\nAcknowledge: {ack_url}" if ack_url and "://" in ack_url else ""


def _room(d: Delivery[m.Post] | Delivery[m.Invite]) -> str:
    """Return the chat channel a post or an invitation goes to."""
    if d.destination != INCIDENT_CHANNEL:
        return d.destination
    channel = d.links.get("chat_channel_id")
    if not channel:
        # The create_channel row comes first (rows are sent in order); if it died, so
        # does everything meant for the channel.
        raise DeliveryError("the incident has no chat channel", permanent=True)
    return channel


_HANDLERS: dict[type[Payload], Callable[[_Senders, Delivery[Any]], Outcome]] = {
    m.CreateChannel: _Senders.create_channel,
    m.Invite: _Senders.invite,
    m.Post: _Senders.post,
    m.ChatPage: _Senders.chat_page,
    m.EmailPage: _Senders.email_page,
    m.SmsPage: _Senders.sms_page,
    m.VoicePage: _Senders.voice_page,
    m.PushPage: _Senders.push_page,
    m.HangUp: _Senders.hang_up,
    m.ExecSummary: _Senders.exec_summary,
    m.Reminder: _Senders.reminder,
    m.Meeting: _Senders.meeting,
    m.PagerTrigger: _Senders.pager_event,
    m.PagerAcknowledge: _Senders.pager_event,
    m.PagerResolve: _Senders.pager_event,
    m.StatusUpsert: _Senders.status_upsert,
    m.WebhookEvent: _Senders.webhook,
    m.IssueCreate: _Senders.issue_create,
    m.IssueUpdate: _Senders.issue_update,
}
