"""Twilio calling warroom: signed SMS replies, key presses and status callbacks.

Pages go out through the real adapter to a loopback Twilio; Twilio's side (replies, key
presses, status) comes back signed with the SDK's RequestValidator, to the routes under test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from xml.etree import ElementTree

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.notify.twilio_server import ALICE, BOB, TwilioServer, paging_config
from warroom.audit import service as audit
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.escalation.models import PageRun
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

BASE = "https://warroom.example.com"
SMS = f"{BASE}/api/v1/intake/twilio/sms"
STATUS = f"{BASE}/api/v1/intake/twilio/status"
ACTOR = Actor(name="tester", source="api")


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    """A loopback Twilio."""
    with TwilioServer() as server:
        yield server


@pytest.fixture
def config(twilio: TwilioServer) -> WarroomConfig:
    """alice: SMS at once, a call at 2 minutes; bob: SMS (secondary); public at BASE."""
    return WarroomConfig.model_validate(paging_config(twilio, BASE))


def paged(runtime: Runtime, title: str = "Checkout down", **fields: str) -> int:
    """Declare a SEV-1 incident on checkout and run the engine; return its number."""
    incident = runtime.flows.declare(
        actor=ACTOR, title=title, severity="SEV-1", service="checkout", **fields
    )
    runtime.engine.run_once()
    return incident.number


def said(answer: httpx.Response) -> str:
    """Return the text of a TwiML answer's Message or Say."""
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(answer.text)
    assert root.tag == "Response"
    return " ".join(node.text or "" for node in root.iter() if node.tag in ("Message", "Say"))


def acknowledged_by(runtime: Runtime, number: int) -> str | None:
    """Return who acknowledged the incident (None: nobody yet)."""
    return runtime.flows.get(str(number)).acknowledged_by


def test_a_signed_reply_acknowledges_and_is_audited(
    runtime: Runtime, twilio: TwilioServer, client: TestClient
) -> None:
    number = paged(runtime)
    [sms] = twilio.messages
    assert sms["To"] == ALICE and f"INC-{number}" in sms["Body"]
    assert sms["StatusCallback"] == f"{STATUS}?key=inc1%3Apage%3A0%3A0%3Aalice%3Amobile"
    answer = twilio.reply(SMS, ALICE, f"ack {number}", client=client)
    assert said(answer) == f"INC-{number} acknowledged. Thank you, alice."
    detail = runtime.flows.get(str(number))
    assert detail.acknowledged_by == "alice"
    event = next(e for e in detail.timeline if e.kind == "acknowledged")
    assert event.source == "sms"
    with runtime.db.session() as session:
        [entry] = audit.entries(session, action="incident.acknowledge")
        assert (entry.actor, entry.target) == ("alice", f"INC-{number}")
        assert entry.details == {"via": "sms"}
        runs = list(session.scalars(select(PageRun)))
        assert runs and {r.state for r in runs} == {"stopped"}
    again = twilio.reply(SMS, ALICE, f"ack {number}", client=client)
    assert said(again) == f"INC-{number} was already acknowledged by alice."


@pytest.mark.parametrize(
    "signature",
    [None, "bm90IGEgc2lnbmF0dXJl", "host-built"],
    ids=["missing", "wrong", "signed-for-the-host-header"],
)
def test_an_unsigned_reply_is_refused_and_changes_nothing(
    runtime: Runtime, twilio: TwilioServer, client: TestClient, signature: str | None
) -> None:
    number = paged(runtime)
    if signature == "host-built":  # what a route trusting the Host header would check
        params = {"From": ALICE, "Body": f"ack {number}", "To": "+15005550006"}
        signature = twilio.signature("http://testserver/api/v1/intake/twilio/sms", params)
    answer = twilio.reply(SMS, ALICE, f"ack {number}", signature=signature, client=client)
    assert answer.status_code == 403
    assert "X-Twilio-Signature" in answer.json()["error"]["message"]
    assert acknowledged_by(runtime, number) is None
    with runtime.db.session() as session:
        [denied] = audit.entries(session, action="access.denied")
        assert denied.details["request"] == "POST /api/v1/intake/twilio/sms"
        assert not audit.entries(session, action="incident.acknowledge")


def test_an_unknown_number_gets_a_polite_answer(
    runtime: Runtime, twilio: TwilioServer, client: TestClient
) -> None:
    number = paged(runtime)
    answer = twilio.reply(SMS, "+15559999999", f"ack {number}", client=client)
    assert said(answer) == "This number is not a verified contact method in warroom."
    assert acknowledged_by(runtime, number) is None


def test_only_an_incident_you_were_paged_for_can_be_acknowledged(
    runtime: Runtime, twilio: TwilioServer, client: TestClient
) -> None:
    number = paged(runtime)
    refused = twilio.reply(SMS, BOB, f"ack {number}", client=client)  # bob: not paged yet
    assert said(refused) == f"You were not paged for INC-{number}."
    unknown = twilio.reply(SMS, ALICE, "ack 4242", client=client)
    assert "No page of yours" in said(unknown) or "not paged for" in said(unknown)
    garbled = twilio.reply(SMS, ALICE, "please stop", client=client)
    assert said(garbled).startswith("Not understood.")
    assert acknowledged_by(runtime, number) is None


def test_the_reply_code_of_the_sms_acknowledges(
    runtime: Runtime, twilio: TwilioServer, client: TestClient
) -> None:
    number = paged(runtime)
    code = re.search(r'or "(\d{4})"', twilio.messages[0]["Body"])
    assert code is not None
    answer = twilio.reply(SMS, ALICE, code.group(1), client=client)
    assert said(answer) == f"INC-{number} acknowledged. Thank you, alice."
    assert acknowledged_by(runtime, number) == "alice"


def test_a_replayed_status_callback_is_recorded_once(
    runtime: Runtime, twilio: TwilioServer, client: TestClient
) -> None:
    number = paged(runtime)
    sid = twilio.messages[0]["sid"]
    first = twilio.status(STATUS, sid, "delivered", client=client)
    assert first.json() == {"recorded": True, "duplicate": False}
    second = twilio.status(STATUS, sid, "delivered", client=client)
    assert second.json() == {"recorded": False, "duplicate": True}
    lines = [e for e in runtime.flows.get(str(number)).timeline if e.kind == "page_status"]
    assert [e.text for e in lines] == ["SMS to alice: delivered"]
    # Progress on the way (queued, sent) is not a final state: nothing to record.
    assert twilio.status(STATUS, sid, "sent", client=client).json()["recorded"] is False


def test_a_failed_sms_moves_alice_to_her_call_at_once(
    runtime: Runtime, twilio: TwilioServer, client: TestClient
) -> None:
    number = paged(runtime)
    assert twilio.calls == []
    failed = twilio.status(
        STATUS, twilio.messages[0]["sid"], "failed", error_code="30006", client=client
    )
    assert failed.json()["recorded"] is True
    timeline = runtime.flows.get(str(number)).timeline
    assert "SMS to alice: failed (Twilio error 30006)" in [e.text for e in timeline]
    runtime.engine.run_once()  # no time has passed: the 2-minute rule runs now
    [call] = twilio.calls
    assert call["To"] == ALICE


def test_pressing_1_on_the_call_acknowledges_and_2_does_not(
    runtime: Runtime, twilio: TwilioServer, client: TestClient, clock: FrozenClock
) -> None:
    number = paged(runtime)
    clock.advance(timedelta(minutes=2))
    runtime.engine.run_once()
    [call] = twilio.calls
    gather = ElementTree.fromstring(call["Twiml"]).find("Gather")
    assert gather is not None
    action = gather.get("action")
    assert action is not None and action.startswith(f"{BASE}/api/v1/intake/twilio/voice?link=")
    no = twilio.press(action, "2", call["sid"], client=client)
    assert said(no) == "Not acknowledged. Paging goes on. Goodbye."
    assert acknowledged_by(runtime, number) is None
    yes = twilio.press(action, "1", call["sid"], client=client)
    assert said(yes) == f"Incident {number} is acknowledged. Thank you. Goodbye."
    assert acknowledged_by(runtime, number) == "alice"
    with runtime.db.session() as session:
        [entry] = audit.entries(session, action="incident.acknowledge")
        assert entry.details == {"via": "voice"}
    again = twilio.press(action, "1", call["sid"], client=client)
    assert said(again) == f"Incident {number} was already acknowledged by alice. Goodbye."


def test_a_tampered_or_expired_link_is_refused(
    runtime: Runtime, twilio: TwilioServer, client: TestClient, clock: FrozenClock
) -> None:
    number = paged(runtime)
    clock.advance(timedelta(minutes=2))
    runtime.engine.run_once()
    action = ElementTree.fromstring(twilio.calls[0]["Twiml"]).find("Gather").get("action")  # type: ignore[union-attr]
    tampered = action[:-3] + ("AAA" if not action.endswith("AAA") else "BBB")
    answer = twilio.press(tampered, "1", twilio.calls[0]["sid"], client=client)
    assert said(answer) == "This page is no longer valid. Goodbye."
    clock.advance(timedelta(hours=25))  # past the link's lifetime
    late = twilio.press(action, "1", twilio.calls[0]["sid"], client=client)
    assert said(late) == f"Paging for incident {number} is over: nothing to acknowledge. Goodbye."
    assert acknowledged_by(runtime, number) is None


def test_a_link_whose_paging_is_over_is_refused(
    runtime: Runtime, twilio: TwilioServer, client: TestClient, clock: FrozenClock
) -> None:
    number = paged(runtime)
    clock.advance(timedelta(minutes=2))
    runtime.engine.run_once()
    action = ElementTree.fromstring(twilio.calls[0]["Twiml"]).find("Gather").get("action")  # type: ignore[union-attr]
    runtime.flows.acknowledge(str(number), actor=Actor(name="bob", source="api"))
    answer = twilio.press(action, "1", twilio.calls[0]["sid"], client=client)
    assert said(answer) == f"Incident {number} was already acknowledged by bob. Goodbye."
    assert acknowledged_by(runtime, number) == "bob"


def test_a_malformed_status_callback_is_a_clear_422(
    twilio: TwilioServer, client: TestClient
) -> None:
    answer = twilio.post_signed(STATUS, {"AccountSid": twilio.account_sid}, client=client)
    assert answer.status_code == 422
    assert "MessageSid and MessageStatus" in answer.json()["error"]["message"]


def test_without_base_url_the_routes_say_what_is_missing(
    runtime: Runtime, twilio: TwilioServer, client: TestClient
) -> None:
    runtime.config_value = WarroomConfig.model_validate(paging_config(twilio, ""))
    answer = twilio.reply(SMS, ALICE, "ack 1", client=client)
    assert answer.status_code == 404
    assert "notifications.base_url" in answer.json()["error"]["message"]
    config = paging_config(twilio, BASE)
    del config["integrations"]["twilio"]
    runtime.config_value = WarroomConfig.model_validate(config)
    answer = twilio.status(STATUS, "SM" + "0" * 32, "delivered", client=client)
    assert answer.status_code == 404
    assert "integrations.twilio" in answer.json()["error"]["message"]


def test_a_bundled_sms_that_failed_moves_on_for_every_incident_in_it(
    runtime: Runtime, twilio: TwilioServer, client: TestClient
) -> None:
    first = paged(runtime, "Checkout down")
    second = paged(runtime, "Payments slow")
    runtime.engine.run_once()
    bodies = [m["Body"] for m in twilio.messages]
    assert sum(f"INC-{first} " in b for b in bodies) == 1
    assert sum(f"INC-{second} " in b for b in bodies) == 1
    bare = twilio.reply(SMS, ALICE, "ack", client=client)
    assert said(bare).startswith("Several pages are open")
    for message in twilio.messages:
        twilio.status(STATUS, message["sid"], "failed", client=client)
    for number in (first, second):
        texts = [e.text for e in runtime.flows.get(str(number)).timeline]
        assert texts.count("SMS to alice: failed") == 1
    runtime.engine.run_once()
    assert len(twilio.calls) == 2  # one call per incident, at once
