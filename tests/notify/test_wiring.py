"""End to end with no fakes inside warroom: every adapter built from warroom.yaml, over sockets.

The vendors are our loopback stand-ins (Slack, Zoom, PagerDuty Events, Statuspage, a webhook
receiver) and a real SMTP server (aiosmtpd); the runtime's adapters come from
`build_adapters`, so this checks the wiring the recording-fake tests cannot: config → adapter
→ wire format → what the vendor keeps → links back on the incident.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers import make_slack_users, verify
from tests.notify.pagerduty_events_server import ROUTING_KEY, PagerDutyEventsServer
from tests.notify.slack_server import SlackServer
from tests.notify.statuspage_server import API_KEY, PAGE_ID, StatuspageServer
from tests.notify.vendors import Vendors, running_vendors
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.notify import webhook
from warroom.notify.models import Notification
from warroom.notify.slack_blocks import ACKNOWLEDGE, RESOLVE, STATUS_UPDATE
from warroom.runtime import Runtime

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
HOOK_SECRET = "whsec-0123456789abcdef0123456789"
ZOOM = {"account_id": "acct-wire", "client_id": "cid-wire", "client_secret": "csecret-wire"}
STATUSPAGE_COMPONENT = "cmpcheckout01"


@pytest.fixture
def vendors() -> Iterator[Vendors]:
    """Start the loopback vendors (and a real SMTP server); stop them after the test."""
    with running_vendors(
        zoom=ZOOM,
        hook_secret=HOOK_SECRET,
        slack=SlackServer(),
        pager=PagerDutyEventsServer(),
        statuspage=StatuspageServer(),
    ) as started:
        yield started


@pytest.fixture
def config(vendors: Vendors) -> WarroomConfig:
    """Every integration configured, each pointed at its loopback vendor."""
    return WarroomConfig.model_validate(
        {
            "people": [
                {"id": "alice", "name": "Alice", "email": "alice@example.com", "slack": "UALICE1"},
                {"id": "bob", "name": "Bob", "email": "bob@example.com", "slack": "UBOB1"},
                {"id": "carol", "name": "Carol", "email": "carol@example.com", "slack": "UCAROL1"},
            ],
            "teams": [{"id": "payments", "members": ["alice", "bob"], "leads": ["carol"]}],
            "schedules": [
                {
                    "id": "payments",
                    "timezone": "UTC",
                    "layers": [
                        {"name": "primary", "rotation": {"every": "1w", "participants": ["alice"]}},
                        {"name": "secondary", "rotation": {"every": "1w", "participants": ["bob"]}},
                    ],
                }
            ],
            "services": [{"id": "checkout", "team": "payments", "schedule": "payments"}],
            "integrations": {
                "slack": {
                    "signing_secret": SIGNING_SECRET,
                    "bot_token": vendors.slack.token,
                    "base_url": vendors.slack.url,
                    "timeout": 30,
                },
                "smtp": {
                    "host": "127.0.0.1",
                    "port": vendors.smtp_port,
                    "from": "warroom@example.com",
                    "timeout": 30,
                },
                "zoom": {
                    **ZOOM,
                    "oauth_url": vendors.zoom.url,
                    "api_url": vendors.zoom.url,
                    "timeout": 30,
                },
                "pagerduty_events": {
                    "routing_key": ROUTING_KEY,
                    "url": vendors.pager.url,
                    "timeout": 30,
                },
                "statuspage": {
                    "api_key": API_KEY,
                    "page_id": PAGE_ID,
                    "base_url": vendors.statuspage.url,
                    "components": {"checkout": STATUSPAGE_COMPONENT},
                    "timeout": 30,
                },
                "outgoing_webhooks": [
                    {"name": "ops", "url": vendors.hooks.url, "secret": HOOK_SECRET, "timeout": 30}
                ],
            },
            "notifications": {
                "announce_channel": "#incident-response",
                "executives": ["cto@example.com"],
            },
            "status_page": {
                "components": [{"id": "checkout", "name": "Checkout", "services": ["checkout"]}]
            },
        }
    )


@pytest.fixture(autouse=True)
def slack_users(runtime: Runtime) -> list[str]:
    """The people linked to Slack ids are responders in warroom (buttons act as them)."""
    return make_slack_users(runtime)


def declare(api: TestClient, **fields: Any) -> int:
    """Declare an incident through the API; return its number."""
    answer = api.post("/api/v1/incidents", json={"service": "checkout", **fields})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["number"])


def press(
    client: TestClient,
    clock: FrozenClock,
    slack: SlackServer,
    user: str,
    action_id: str,
    value: str,
) -> str:
    """Click a card button as Slack would (signed form post); return the ephemeral reply."""
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
        "response_url": slack.response_url(),
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(clock.now().timestamp()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    answer = client.post(
        "/api/v1/intake/slack/interactions",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest.hexdigest()}",
        },
    )
    assert (answer.status_code, answer.content) == (200, b"")  # the reply goes to response_url
    (reply,) = slack.take_replies()
    return reply


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """Return action_id -> value of the buttons in a posted message's blocks."""
    return {
        element["action_id"]: element["value"]
        for block in message.get("blocks", [])
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    }


def pages(vendors: Vendors, person: str, slack_id: str) -> tuple[int, int]:
    """Return how many Slack DMs and emails paged `person` so far."""
    dms = [m for m in vendors.slack.messages(f"D{slack_id}") if "paged" in m["text"]]
    mails = [m for m in vendors.mail.to(f"{person}@example.com") if "paged" in m["subject"]]
    return len(dms), len(mails)


def test_public_sev1_reaches_every_vendor_over_the_wire(
    runtime: Runtime,
    vendors: Vendors,
    api: TestClient,
    client: TestClient,
    clock: FrozenClock,
) -> None:
    n = declare(api, title="Checkout down", severity="SEV-1", commander="carol")
    assert runtime.adapters_override is None  # the adapters are the real clients
    runtime.engine.run_once()

    # Slack: the announcement, the incident's channel with the IC in it, the card, the room.
    announce = vendors.slack.messages("#incident-response")
    assert len(announce) == 1 and f"INC-{n} declared: Checkout down" in announce[0]["text"]
    channel = vendors.slack.channel(f"inc-{n}-checkout-down")
    assert channel is not None and not channel.is_private
    assert "UCAROL1" in channel.members
    posted = vendors.slack.messages(channel.id)
    cards = [m for m in posted if buttons(m)]
    assert cards and buttons(cards[0]) == {
        ACKNOWLEDGE: str(n),
        STATUS_UPDATE: str(n),
        RESOLVE: str(n),
    }
    creates = [c for c in vendors.slack.calls if c.method == "conversations.create"]
    invite = [c for c in vendors.slack.calls if c.method == "conversations.invite"]
    assert [c.outcome for c in creates] == ["ok"] and invite[0].params["channel"] == channel.id
    # Everything Slack got came with the bot token and was accepted.
    assert {c.outcome for c in vendors.slack.calls} == {"ok"}

    # The primary (alice) is paged by DM and by a text + HTML email; the secondary is not.
    assert pages(vendors, "alice", "UALICE1") == (1, 1)
    assert pages(vendors, "bob", "UBOB1") == (0, 0)
    page_mail = next(m for m in vendors.mail.to("alice@example.com") if "paged" in m["subject"])
    assert page_mail.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in page_mail.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert f"INC-{n}" in parts["text/plain"] and f"INC-{n}" in parts["text/html"]
    assert page_mail["From"].addresses[0].addr_spec == "warroom@example.com"

    # The executives' summary (SEV-1).
    summary = vendors.mail.to("cto@example.com")
    assert len(summary) == 1 and f"INC-{n}" in str(summary[0]["Subject"])
    assert summary[0].get_content_type() == "multipart/alternative"

    # Zoom: a token, one meeting, its join URL in the channel and on the incident.
    assert len(vendors.zoom.token_requests()) == 1
    assert len(vendors.zoom.meetings) == 1
    join_url = vendors.zoom.meetings[0]["join_url"]
    assert f"INC-{n}" in vendors.zoom.meetings[0]["topic"]
    assert any(join_url in m["text"] for m in posted)
    links = api.get(f"/api/v1/incidents/{n}").json()["links"]
    assert links["conference_url"] == join_url
    assert links["chat_channel"] == f"#inc-{n}-checkout-down"
    assert links["chat_channel_id"] == channel.id

    # PagerDuty: one trigger, deduplicated by the incident's reference.
    assert [(e["event_action"], e["dedup_key"]) for e in vendors.pager.events] == [
        ("trigger", str(n))
    ]
    assert vendors.pager.state(str(n)) == "triggered"

    # Statuspage: nothing yet; the public hears what the communications liaison publishes.
    assert vendors.statuspage.incidents == {}

    # The signed webhook verifies with the receiver (and with warroom's own verify()).
    assert vendors.hooks.wait_for(1)
    declared = vendors.hooks.events[0]
    assert declared.event == "incident.declared" and not vendors.hooks.rejections
    assert webhook.verify(
        HOOK_SECRET,
        declared.timestamp,
        declared.body,
        declared.headers["x-warroom-signature"],
        now=time.time(),
    )

    # Alice clicks Acknowledge on the card: PagerDuty hears it and paging stops.
    clock.advance(timedelta(minutes=1))
    answer = press(
        client, clock, vendors.slack, "UALICE1", ACKNOWLEDGE, buttons(cards[0])[ACKNOWLEDGE]
    )
    assert answer.startswith(f"You acknowledged INC-{n}")
    runtime.engine.run_once()
    assert [e["event_action"] for e in vendors.pager.events] == ["trigger", "acknowledge"]
    assert vendors.pager.state(str(n)) == "acknowledged"
    clock.advance(timedelta(minutes=30))  # long past the step to the secondary
    runtime.engine.run_once()
    assert pages(vendors, "bob", "UBOB1") == (0, 0)
    assert pages(vendors, "alice", "UALICE1") == (1, 1)

    # A public status update goes to Statuspage (body and component) and to the channel.
    body = "Payments fail for EU cards; a fix is rolling out"
    update = api.post(
        f"/api/v1/incidents/{n}/status-updates",
        json={
            "status": "identified",
            "body": body,
            "components": {"checkout": "partial_outage"},
            "public_title": "Card payments failing in the EU",
        },
    )
    assert update.status_code == 201, update.text
    runtime.engine.run_once()
    (sp_incident,) = vendors.statuspage.incidents.values()
    assert sp_incident["status"] == "identified"
    assert sp_incident["name"] == f"Card payments failing in the EU (INC-{n})"
    assert vendors.statuspage.updates(sp_incident["id"])[-1]["body"] == body
    detail = api.get(f"/api/v1/incidents/{n}").json()
    assert detail["links"]["status_page_id"] == sp_incident["id"]
    assert vendors.statuspage.component_status[STATUSPAGE_COMPONENT] == "partial_outage"
    assert any(body in m["text"] for m in vendors.slack.messages(channel.id))
    public = client.get("/api/v1/status").json()
    assert [i["id"] for i in public["incidents"]] == [f"INC-{n}"]

    # Resolve: PagerDuty resolves the alert, Statuspage the incident (component back to normal).
    verify(api, str(n))
    resolved = api.post(f"/api/v1/incidents/{n}/resolve", json={"note": "rolled back"})
    assert resolved.status_code == 200, resolved.text
    runtime.engine.run_once()
    assert [e["event_action"] for e in vendors.pager.events][-1] == "resolve"
    assert vendors.pager.state(str(n)) == "resolved"
    assert sp_incident["status"] == "resolved" and sp_incident["resolved_at"]
    final = vendors.statuspage.updates(sp_incident["id"])[-1]["body"]
    assert final == "This incident has been resolved."  # not the internal note
    assert vendors.statuspage.component_status[STATUSPAGE_COMPONENT] == "operational"
    assert len(vendors.statuspage.incidents) == 1  # updated, never created twice
    assert vendors.hooks.wait_for(5)
    kinds = [e.event for e in vendors.hooks.events]
    assert kinds == [
        "incident.declared",
        "incident.commander_changed",  # naming the IC when declaring is an event of its own
        "incident.acknowledged",
        "incident.status_update",
        "incident.resolved",
    ]
    assert vendors.hooks.duplicates == 0 and not vendors.hooks.rejections

    # Nothing is left waiting or failed in the outbox.
    depth = api.get("/api/v1/notifications").json()["depth"]
    assert {status for status, count in depth.items() if count} <= {"sent", "cancelled"}, depth
    with runtime.db.session() as session:  # each went out at the first try: nothing waited
        attempts = set(session.scalars(select(Notification.attempts).distinct()))
    assert attempts == {1}, attempts


def test_restricted_sev1_gets_a_private_channel_and_stays_off_the_status_page(
    runtime: Runtime, vendors: Vendors, api: TestClient
) -> None:
    n = declare(
        api, title="Card data exposed", severity="SEV-1", commander="carol", visibility="restricted"
    )
    runtime.engine.run_once()
    channel = vendors.slack.channel(f"inc-{n}")  # no words of the title
    assert channel is not None and channel.is_private
    assert "UCAROL1" in channel.members
    assert any(buttons(m) for m in vendors.slack.messages(channel.id))
    assert vendors.slack.messages("#incident-response") == []  # never announced
    assert vendors.statuspage.requests == []  # nothing on the public status page
    assert pages(vendors, "alice", "UALICE1") == (1, 1)  # paging is unaffected
    # Executives and webhooks hear of it under its codename: never its title.
    (summary,) = vendors.mail.to("cto@example.com")
    assert f"INC-{n} (restricted)" in str(summary["Subject"])
    texts = [part.get_content() for part in summary.walk() if part.get_content_maintype() == "text"]
    assert texts and not any("Card data" in text for text in texts)
    assert vendors.hooks.wait_for(1)
    for event in vendors.hooks.events:
        assert b"Card data" not in event.body and b"card-data" not in event.body
        assert f"INC-{n} (restricted)".encode() in event.body
    verify(api, str(n))
    resolved = api.post(f"/api/v1/incidents/{n}/resolve")
    assert resolved.status_code == 200, resolved.text
    runtime.engine.run_once()
    assert vendors.statuspage.requests == []
    assert vendors.pager.state(str(n)) == "resolved"


def test_resolving_puts_statuspage_components_back_to_operational(
    runtime: Runtime, vendors: Vendors, api: TestClient
) -> None:
    n = declare(api, title="Checkout slow", severity="SEV-1")
    update = api.post(
        f"/api/v1/incidents/{n}/status-updates",
        json={
            "status": "identified",
            "body": "Slow",
            "components": {"checkout": "major_outage"},
            "public_title": "Checkout is slow",
        },
    )
    assert update.status_code == 201, update.text
    runtime.engine.run_once()
    assert vendors.statuspage.component_status[STATUSPAGE_COMPONENT] == "major_outage"
    verify(api, str(n))
    assert api.post(f"/api/v1/incidents/{n}/resolve").status_code == 200
    runtime.engine.run_once()
    (sp_incident,) = vendors.statuspage.incidents.values()
    assert sp_incident["status"] == "resolved"
    assert vendors.statuspage.component_status[STATUSPAGE_COMPONENT] == "operational"
