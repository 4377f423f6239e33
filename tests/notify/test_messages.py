"""Typed outbox messages: what rows hold, how dispatch reads them, and what it refuses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from warroom.config import WarroomConfig
from warroom.notify import dispatch
from warroom.notify import messages as m
from warroom.notify.cards import card_to_json
from warroom.notify.fakes import FakeChat, FakeMailer, FakePager
from warroom.notify.models import Notification
from warroom.notify.ports import Adapters, DeliveryError, IncidentCard

CARD = IncidentCard(
    number=42,
    title="Checkout down",
    severity="SEV-1",
    severity_name="Critical",
    status="detected",
    service="checkout",
    commander="ada",
    url="https://warroom.example/incidents/42",
    detected_at=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
)
# The card as the previous version stored it (cards.card_json): every field, ISO time.
CARD_JSON: dict[str, Any] = {
    "number": 42,
    "title": "Checkout down",
    "severity": "SEV-1",
    "severity_name": "Critical",
    "status": "detected",
    "summary": "",
    "service": "checkout",
    "commander": "ada",
    "commander_name": None,
    "url": "https://warroom.example/incidents/42",
    "conference_url": None,
    "chat_channel": None,
    "visibility": "public",
    "detected_at": "2025-03-01T09:30:00+00:00",
}
# (channel, action, payload as the previous version wrote it, the message it reads as)
WRITTEN_BEFORE: list[tuple[str, str, dict[str, Any], m.Payload]] = [
    (
        "chat",
        "create_channel",
        {"slug": "checkout-down", "private": False, "card": CARD_JSON},
        m.CreateChannel(card=CARD, slug="checkout-down", private=False),
    ),
    ("chat", "invite", {"users": ["U1"]}, m.Invite(users=["U1"])),
    ("chat", "post", {"text": "hi", "card": CARD_JSON}, m.Post(text="hi", card=CARD)),
    ("chat", "post", {"text": "room: https://z"}, m.Post(text="room: https://z")),
    (
        "chat",
        "page",
        {"card": CARD_JSON, "text": "paged", "person": "ada", "address": "U1"},
        m.ChatPage(card=CARD, text="paged", person="ada", address="U1"),
    ),
    (
        "email",
        "page",
        {"card": CARD_JSON, "text": "paged", "person": "ada", "address": "ada@example.com"},
        m.EmailPage(card=CARD, text="paged", person="ada", address="ada@example.com"),
    ),
    (
        "sms",
        "page",
        {
            "card": CARD_JSON,
            "text": "INC-1",
            "person": "ada",
            "address": "+4915112345678",
            "round": "0:0",
            "rule": 1,
            "ack_url": "https://w/ack/t",
            "reply_code": "4821",
        },
        m.SmsPage(
            card=CARD,
            text="INC-1",
            person="ada",
            address="+4915112345678",
            round="0:0",
            rule=1,
            ack_url="https://w/ack/t",
            reply_code="4821",
        ),
    ),
    (
        "voice",
        "page",
        {
            "card": CARD_JSON,
            "text": "paged",
            "person": "ada",
            "address": "+4915112345678",
            "gather_url": "https://w/api/v1/intake/twilio/voice?link=t",
        },
        m.VoicePage(
            card=CARD,
            text="paged",
            person="ada",
            address="+4915112345678",
            gather_url="https://w/api/v1/intake/twilio/voice?link=t",
        ),
    ),
    ("voice", "hang_up", {"call_id": "CA1"}, m.HangUp(call_id="CA1")),
    (
        "push",
        "page",
        {"card": CARD_JSON, "text": "paged", "person": "ada", "address": "ntfys://n/t"},
        m.PushPage(card=CARD, text="paged", person="ada", address="ntfys://n/t"),
    ),
    (
        "email",
        "exec_summary",
        {"card": CARD_JSON, "to": ["ceo@example.com"], "impact": None, "scope": "EU"},
        m.ExecSummary(card=CARD, to=["ceo@example.com"], scope="EU"),
    ),
    (
        "email",
        "reminder",
        {"card": CARD_JSON, "to": ["ada@example.com"], "minutes": 25, "text": "update"},
        m.Reminder(card=CARD, to=["ada@example.com"], minutes=25, text="update"),
    ),
    ("conference", "meeting", {"card": CARD_JSON}, m.Meeting(card=CARD)),
    ("pager", "trigger", {"card": CARD_JSON}, m.PagerTrigger(card=CARD)),
    ("pager", "acknowledge", {"card": CARD_JSON}, m.PagerAcknowledge(card=CARD)),
    ("pager", "resolve", {"card": CARD_JSON}, m.PagerResolve(card=CARD)),
    (
        "status_page",
        "upsert",
        {"card": CARD_JSON, "status": "identified", "body": "b", "components": {"api": "outage"}},
        m.StatusUpsert(card=CARD, status="identified", body="b", components={"api": "outage"}),
    ),
    (
        "webhook",
        "event",
        {"event": "incident.declared", "card": CARD_JSON, "text": "t", "data": {"a": 1}},
        m.WebhookEvent(event="incident.declared", card=CARD, text="t", data={"a": 1}),
    ),
    (
        "tracker",
        "create",
        {
            "item_id": 7,
            "summary": "Add a canary",
            "description": "d",
            "due_date": "2025-04-01",
            "owner": None,
            "status": "open",
        },
        m.IssueCreate(
            item_id=7, summary="Add a canary", description="d", due_date=date(2025, 4, 1)
        ),
    ),
    (
        "tracker",
        "update",
        {"item_id": 7, "issue": None, "changes": {"status": "done"}},
        m.IssueUpdate(item_id=7, changes={"status": "done"}),
    ),
]


def _row(channel: str, action: str, payload: Any, destination: str = "#ops") -> Notification:
    return Notification(
        key="k1", channel=channel, action=action, destination=destination, payload=payload
    )


@pytest.mark.parametrize(("channel", "action", "stored", "expected"), WRITTEN_BEFORE)
def test_rows_the_previous_version_queued_read_as_typed_messages(
    channel: str, action: str, stored: dict[str, Any], expected: m.Payload
) -> None:
    delivery = dispatch.read(_row(channel, action, stored), links={}, bundle=[])

    assert delivery.message == expected
    assert (delivery.message.channel, delivery.message.action) == (channel, action)


@pytest.mark.parametrize(("channel", "action", "stored", "expected"), WRITTEN_BEFORE)
def test_a_message_is_stored_as_the_previous_version_stored_it(
    channel: str, action: str, stored: dict[str, Any], expected: m.Payload
) -> None:
    assert m.dump(expected) == stored


def test_a_status_upsert_keeps_its_public_title() -> None:
    upsert = m.StatusUpsert(card=CARD, title="Checkout is slow", status="identified", body="b")
    stored = m.dump(upsert)
    assert stored["title"] == "Checkout is slow"
    assert dispatch.read(_row("status_page", "upsert", stored), links={}, bundle=[]).message == (
        upsert
    )


def test_the_card_is_stored_as_cards_writes_it() -> None:
    assert card_to_json(CARD) == CARD_JSON
    assert m.dump(m.Meeting(card=CARD))["card"] == CARD_JSON


def test_every_kind_of_message_has_a_handler() -> None:
    assert set(m.PAYLOADS.values()) == set(dispatch._HANDLERS)
    assert len(m.PAYLOADS) == len(WRITTEN_BEFORE) - 1  # two rows above are chat posts


def test_an_unknown_channel_or_action_is_a_permanent_error() -> None:
    adapters = Adapters(chat=FakeChat())

    with pytest.raises(DeliveryError, match=r"no message is known as chat/shout") as failure:
        dispatch.send(
            _row("chat", "shout", {}), adapters=adapters, config=WarroomConfig(), links={}
        )
    assert failure.value.permanent
    with pytest.raises(DeliveryError, match=r"no message is known as fax/post") as failure:
        dispatch.send(_row("fax", "post", {}), adapters=adapters, config=WarroomConfig(), links={})
    assert failure.value.permanent


def test_a_payload_that_does_not_parse_is_a_permanent_error_that_names_the_field() -> None:
    chat = FakeChat()
    row = _row("chat", "page", {"card": CARD_JSON, "text": ["not", "text"]}, "person:ada")

    with pytest.raises(DeliveryError) as failure:
        dispatch.send(row, adapters=Adapters(chat=chat), config=WarroomConfig(), links={})

    assert failure.value.permanent
    message = str(failure.value)
    assert message.startswith("cannot read 'k1': chat/page: ")
    assert "text: Input should be a valid string" in message
    assert "address: Field required" in message
    assert "\n" not in message  # one line, for the outbox's last_error and the timeline
    assert chat.calls == []


def test_a_card_that_is_not_an_object_is_a_permanent_error() -> None:
    row = _row("conference", "meeting", {"card": "INC-42"})

    with pytest.raises(DeliveryError, match=r"card: .*JSON object, not str") as failure:
        dispatch.send(row, adapters=Adapters(), config=WarroomConfig(), links={})
    assert failure.value.permanent


@pytest.mark.parametrize(
    ("channel", "action", "stored", "setting"),
    [
        ("chat", "post", {"text": "hi"}, "integrations.slack.bot_token"),
        ("email", "reminder", {"card": CARD_JSON, "to": ["a@b.c"]}, "integrations.smtp"),
        ("conference", "meeting", {"card": CARD_JSON}, "integrations.zoom"),
        ("pager", "trigger", {"card": CARD_JSON}, "integrations.pagerduty_events"),
        ("status_page", "upsert", {"card": CARD_JSON}, "integrations.statuspage"),
        ("tracker", "update", {"item_id": 7}, "integrations.jira_issues"),
        ("webhook", "event", {"card": CARD_JSON}, "outgoing webhook '#ops'"),
    ],
)
def test_a_missing_adapter_is_a_permanent_error_that_names_its_setting(
    channel: str, action: str, stored: dict[str, Any], setting: str
) -> None:
    row = _row(channel, action, stored)

    with pytest.raises(DeliveryError, match="is not configured") as failure:
        dispatch.send(row, adapters=Adapters(), config=WarroomConfig(), links={})

    assert failure.value.permanent
    assert setting in str(failure.value)


def test_bundled_pages_go_out_as_one_message() -> None:
    chat, mailer = FakeChat(), FakeMailer()
    adapters = Adapters(chat=chat, mailer=mailer)
    page = {"card": CARD_JSON, "person": "ada", "address": "U1"}
    head = _row("chat", "page", page | {"text": "first"}, "person:ada")
    more = [_row("chat", "page", page | {"text": t}, "person:ada") for t in ("second", "third")]

    dispatch.send(head, adapters=adapters, config=WarroomConfig(), links={}, bundle=more)

    [(method, call)] = chat.calls
    assert (method, call["channel"], call["card"]) == ("post", "U1", None)
    assert call["text"] == "3 pages for you:\n• first\n• second\n• third"


def test_a_bundle_of_another_kind_is_refused() -> None:
    head = _row("chat", "page", {"card": CARD_JSON, "address": "U1"}, "person:ada")
    other = _row("chat", "post", {"text": "x"}, "person:ada")

    with pytest.raises(DeliveryError, match="bundles messages of other kinds") as failure:
        dispatch.read(head, links={}, bundle=[other])
    assert failure.value.permanent


def test_pager_actions_reach_the_pager_as_their_row_names_them() -> None:
    pager = FakePager()
    for action in ("trigger", "acknowledge", "resolve"):
        row = _row("pager", action, {"card": CARD_JSON}, "42")
        dispatch.send(row, adapters=Adapters(pager=pager), config=WarroomConfig(), links={})

    assert [call["action"] for _, call in pager.calls] == ["trigger", "acknowledge", "resolve"]
    assert {call["dedup_key"] for _, call in pager.calls} == {"42"}
