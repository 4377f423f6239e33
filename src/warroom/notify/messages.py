"""What each outbox message carries: one pydantic model per channel and action.

A model is stored as the row's JSON `payload` (its `channel` and `action` go into their own
columns), and read back by `parse` when the row is sent. Rows an older version queued carry
the same keys, so they parse too; keys this version does not know are ignored.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
)

from warroom.notify.cards import card_from_json, card_to_json
from warroom.notify.ports import IncidentCard, PagerAction

INCIDENT_CHANNEL = "@incident"  # resolved to the incident's own chat channel when sent


def _card(value: object) -> IncidentCard:
    """Take a card as written (an IncidentCard) or as stored (its JSON)."""
    if isinstance(value, IncidentCard):
        return value
    if isinstance(value, dict):
        return card_from_json(value)
    raise ValueError(f"an incident card is a JSON object, not {type(value).__name__}")


# Stored as the JSON of cards.card_to_json (the shape webhooks receive as "incident").
Card = Annotated[IncidentCard, PlainValidator(_card), PlainSerializer(card_to_json)]


def _absent(value: object) -> bool:
    return value is None


def _blank(value: object) -> bool:
    return value == ""


class Payload(BaseModel):
    """The payload of one outbox message; subclasses name their channel and action."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    channel: ClassVar[str]
    action: ClassVar[str]


class CreateChannel(Payload):
    """Open the incident's own chat channel."""

    channel = "chat"
    action = "create_channel"

    card: Card
    slug: str = ""
    private: bool = False


class Invite(Payload):
    """Invite chat users to the incident's channel."""

    channel = "chat"
    action = "invite"

    users: list[str] = Field(default_factory=list)


class Post(Payload):
    """Post a message (with the incident's card, if any) to a chat channel."""

    channel = "chat"
    action = "post"

    text: str = ""
    card: Card | None = Field(default=None, exclude_if=_absent)


class PersonalPage(Payload):
    """Page one person through one contact method (the base of every page payload).

    `round` ("loop:step" of the escalation) and `rule` name the person's page run and the
    rule that sent this page, so that a failure moves that person on to their next rule at
    once; `ack_url` is the one-click acknowledge link for this person and incident.
    """

    action = "page"

    card: Card
    text: str = ""
    person: str | None = None
    address: str  # chat user id, e-mail address, +E.164 number or push URL
    round: str | None = Field(default=None, exclude_if=_absent)
    rule: int | None = Field(default=None, exclude_if=_absent)
    ack_url: str | None = Field(default=None, exclude_if=_absent)


class ChatPage(PersonalPage):
    """Page one person by a direct chat message."""

    channel = "chat"


class EmailPage(PersonalPage):
    """Page one person by email."""

    channel = "email"


class SmsPage(PersonalPage):
    """Page one person by text message; a reply with `reply_code` acknowledges."""

    channel = "sms"

    reply_code: str | None = Field(default=None, exclude_if=_absent)


class VoicePage(PersonalPage):
    """Page one person by a voice call that asks them to press 1 to acknowledge."""

    channel = "voice"

    gather_url: str | None = Field(default=None, exclude_if=_absent)  # where key presses go


class HangUp(Payload):
    """End a page call that still rings or plays: paging ended while it was placed."""

    channel = "voice"
    action = "hang_up"

    call_id: str


class PushPage(PersonalPage):
    """Page one person by push notification (an apprise URL is the address)."""

    channel = "push"


class ExecSummary(Payload):
    """Tell executives about a severe incident by email."""

    channel = "email"
    action = "exec_summary"

    card: Card
    to: list[str] = Field(default_factory=list)
    impact: str | None = None
    scope: str | None = None


class Reminder(Payload):
    """Remind the IC and the communications liaison by email that an update is due."""

    channel = "email"
    action = "reminder"

    card: Card
    to: list[str] = Field(default_factory=list)
    minutes: int = 0
    text: str = ""


class Meeting(Payload):
    """Open a conference room for the incident."""

    channel = "conference"
    action = "meeting"

    card: Card


class PagerEvent(Payload):
    """Tell the paging service about the incident (base of its three actions)."""

    channel = "pager"
    action: ClassVar[PagerAction]

    card: Card


class PagerTrigger(PagerEvent):
    """Open (or reopen) the incident in the paging service."""

    action = "trigger"


class PagerAcknowledge(PagerEvent):
    """Acknowledge the incident in the paging service."""

    action = "acknowledge"


class PagerResolve(PagerEvent):
    """Resolve the incident in the paging service."""

    action = "resolve"


class StatusUpsert(Payload):
    """Create the incident on the hosted status page, or add an update to it."""

    channel = "status_page"
    action = "upsert"

    card: Card
    # The incident's public title (the card's title is internal); "" on rows queued before it.
    title: str = Field(default="", exclude_if=_blank)
    status: str = "investigating"
    body: str = ""
    components: dict[str, str] = Field(default_factory=dict)


class WebhookEvent(Payload):
    """POST an event about the incident to an outgoing webhook."""

    channel = "webhook"
    action = "event"

    event: str = "incident.updated"
    card: Card | None = Field(default=None, exclude_if=_absent)
    text: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


def item_ref(item_id: int) -> str:
    """Return the reference an item's issue carries (as the label warroom-action-<id>)."""
    return f"action-{item_id}"


class IssueCreate(Payload):
    """Create the issue tracker's issue for a postmortem action item."""

    channel = "tracker"
    action = "create"

    item_id: int
    summary: str
    description: str = ""
    due_date: date | None = None
    owner: str | None = None
    status: str = "open"


class IssueUpdate(Payload):
    """Copy changes of an action item to its issue (`issue` None: not known when queued)."""

    channel = "tracker"
    action = "update"

    item_id: int
    issue: str | None = None
    changes: dict[str, Any] = Field(default_factory=dict)


PAYLOADS: dict[tuple[str, str], type[Payload]] = {
    (kind.channel, kind.action): kind
    for kind in (
        CreateChannel,
        Invite,
        Post,
        ChatPage,
        EmailPage,
        SmsPage,
        VoicePage,
        PushPage,
        HangUp,
        ExecSummary,
        Reminder,
        Meeting,
        PagerTrigger,
        PagerAcknowledge,
        PagerResolve,
        StatusUpsert,
        WebhookEvent,
        IssueCreate,
        IssueUpdate,
    )
}
Page = ChatPage | EmailPage | SmsPage | VoicePage | PushPage


_CARD_ONLY = {"card"}


def dump(payload: Payload) -> dict[str, Any]:
    """Return the JSON the outbox row stores for a payload."""
    card = getattr(payload, "card", None)
    if not isinstance(card, IncidentCard):
        return payload.model_dump(mode="json")
    # The card straight to JSON: through its serializer, pydantic walks the card's dict a
    # second time, and a tick of 10,000 pages paid 40 ms for it under the write lock.
    data = payload.model_dump(mode="json", exclude=_CARD_ONLY)
    data["card"] = card_to_json(card)
    return data


def parse(channel: str, action: str, data: object) -> Payload:
    """Read a stored payload back as its model; raise ValueError if it is unknown or broken."""
    kind = PAYLOADS.get((channel, action))
    if kind is None:
        raise ValueError(f"no message is known as {channel}/{action}")
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        # One line per row (it is kept as the row's last_error): each field and what is wrong.
        wrong = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'payload'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ValueError(f"{channel}/{action}: {wrong}") from exc
