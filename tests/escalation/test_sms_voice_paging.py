"""Paging by SMS and voice end to end: the engine, the real Twilio SDK over a socket to a
loopback Twilio, and Twilio's signed replies, key presses and status callbacks coming back
over HTTP to a live warroom.

alice's rules: SMS at once, a call at 2 minutes. The clock is frozen; the engine is ticked
by hand.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from xml.etree import ElementTree

import httpx
import pytest
from sqlalchemy import select

from tests.notify.twilio_server import ALICE, AUTH_TOKEN, TwilioServer, paging_config
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents.actor import Actor
from warroom.notify.models import Notification
from warroom.runtime import Runtime

ACTOR = Actor(name="tester", source="api")


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    """A loopback Twilio."""
    with TwilioServer() as server:
        yield server


@pytest.fixture
def base(runtime: Runtime, live_server: str, twilio: TwilioServer) -> str:
    """warroom served on a socket, public (notifications.base_url) at that address."""
    runtime.config_value = WarroomConfig.model_validate(paging_config(twilio, live_server))
    return live_server


def declare(runtime: Runtime, title: str = "Checkout down", **fields: str) -> int:
    """Declare a SEV-1 incident on checkout (alice is on call); return its number."""
    incident = runtime.flows.declare(
        actor=ACTOR, title=title, severity="SEV-1", service="checkout", **fields
    )
    return incident.number


def sms_row(runtime: Runtime) -> Notification:
    """Return alice's SMS page row."""
    with runtime.db.session() as session:
        row = session.scalar(select(Notification).where(Notification.channel == "sms"))
        assert row is not None
        session.expunge(row)
        return row


def test_the_sms_reply_acknowledges_and_the_call_never_comes(
    runtime: Runtime, twilio: TwilioServer, base: str, clock: FrozenClock
) -> None:
    number = declare(runtime)
    runtime.engine.run_once()
    [sms] = twilio.messages
    assert sms["To"] == ALICE
    # Twilio reports on the page at the URL it was given, which names the page's outbox key.
    assert sms["StatusCallback"] == (
        f"{base}/api/v1/intake/twilio/status?key=inc{number}%3Apage%3A0%3A0%3Aalice%3Amobile"
    )
    body = sms["Body"]
    assert body.startswith(f"INC-{number} SEV-1: Checkout down.")
    code = re.search(rf'Reply "ack {number}" or "(\d{{4}})"', body)
    assert code is not None
    assert f"{base}/ack/" in body
    answer = twilio.reply(f"{base}/api/v1/intake/twilio/sms", ALICE, code.group(1))
    assert answer.status_code == 200
    assert f"INC-{number} acknowledged" in answer.text
    assert runtime.flows.get(str(number)).acknowledged_by == "alice"
    clock.advance(timedelta(minutes=3))
    runtime.engine.run_once()
    assert twilio.calls == []  # the 2-minute rule stopped with the acknowledgement
    delivered = twilio.status(sms["StatusCallback"], sms["sid"], "delivered")
    assert delivered.json()["recorded"] is True
    texts = [e.text for e in runtime.flows.get(str(number)).timeline]
    assert "SMS to alice: delivered" in texts


def test_a_restricted_incident_goes_by_its_codename(
    runtime: Runtime, twilio: TwilioServer, base: str, clock: FrozenClock
) -> None:
    number = declare(runtime, title="Card data exposed", visibility="restricted")
    runtime.engine.run_once()
    [sms] = twilio.messages
    # The severity stays (it says how fast to move); the title is the codename's.
    assert sms["Body"].startswith(f'INC-{number} SEV-1: (restricted). Reply "ack {number}"')
    assert "Card data" not in sms["Body"]
    clock.advance(timedelta(minutes=2))
    runtime.engine.run_once()
    [call] = twilio.calls
    assert "Card data" not in call["Twiml"] and "(restricted)" in call["Twiml"]


def test_no_reply_brings_the_call_and_pressing_1_acknowledges(
    runtime: Runtime, twilio: TwilioServer, base: str, clock: FrozenClock
) -> None:
    number = declare(runtime)
    runtime.engine.run_once()
    clock.advance(timedelta(minutes=1, seconds=59))
    runtime.engine.run_once()
    assert twilio.calls == []
    clock.advance(timedelta(seconds=1))
    runtime.engine.run_once()
    [call] = twilio.calls
    assert call["To"] == ALICE
    twiml = ElementTree.fromstring(call["Twiml"])
    gather = twiml.find("Gather")
    assert gather is not None
    action = gather.get("action")
    assert action is not None and action.startswith(f"{base}/api/v1/intake/twilio/voice?link=")
    say = gather.find("Say")
    assert say is not None and f"incident {number}" in (say.text or "")
    assert "Checkout down" in (say.text or "")
    pressed = twilio.press(action, "1", call["sid"])
    assert pressed.status_code == 200
    assert f"Incident {number} is acknowledged" in pressed.text
    detail = runtime.flows.get(str(number))
    assert detail.acknowledged_by == "alice"
    assert next(e for e in detail.timeline if e.kind == "acknowledged").source == "voice"
    ended = twilio.status(call["StatusCallback"], call["sid"], "completed", "call")
    assert ended.json()["recorded"] is True
    assert "Call to alice: answered" in [e.text for e in runtime.flows.get(str(number)).timeline]


def test_twilio_500_is_retried_with_backoff(
    runtime: Runtime, twilio: TwilioServer, base: str, clock: FrozenClock
) -> None:
    twilio.fail(500, times=1)
    declare(runtime)
    runtime.engine.run_once()
    assert twilio.messages == []
    first = sms_row(runtime)
    assert first.status == "failed" and first.attempts == 1
    assert "500" in (first.last_error or "")
    assert first.next_attempt_at is not None and first.next_attempt_at > clock.now()
    runtime.engine.run_once()  # not yet: the backoff holds it
    assert twilio.messages == []
    clock.advance(timedelta(seconds=3))  # past the first backoff (2 s at most)
    runtime.engine.run_once()
    assert len(twilio.messages) == 1
    assert sms_row(runtime).status == "sent"
    assert twilio.calls == []  # the SMS got through: the call waits for its 2 minutes


def test_twilio_failing_every_retry_moves_on_to_the_call(
    runtime: Runtime, twilio: TwilioServer, base: str, clock: FrozenClock
) -> None:
    twilio.fail(500, times=3, method="POST")
    number = declare(runtime)
    for _ in range(3):
        runtime.engine.run_once()
        clock.advance(timedelta(seconds=5))  # past each backoff (2 s, then 4 s at most)
    assert sms_row(runtime).status == "dead"
    runtime.engine.run_once()
    [call] = twilio.calls  # long before its 2 minutes
    assert call["To"] == ALICE
    assert clock.now() - runtime.flows.get(str(number)).detected_at < timedelta(minutes=1)


def test_an_undelivered_sms_brings_the_call_at_once(
    runtime: Runtime, twilio: TwilioServer, base: str
) -> None:
    number = declare(runtime)
    runtime.engine.run_once()
    [sms] = twilio.messages
    answer = twilio.status(sms["StatusCallback"], sms["sid"], "undelivered", error_code="30003")
    assert answer.json() == {"recorded": True, "duplicate": False}
    runtime.engine.run_once()
    [call] = twilio.calls
    assert call["To"] == ALICE
    texts = [e.text for e in runtime.flows.get(str(number)).timeline]
    assert "SMS to alice: not delivered (Twilio error 30003)" in texts


def test_a_failure_reported_before_the_sender_recorded_the_sid_still_counts(
    runtime: Runtime, twilio: TwilioServer, base: str
) -> None:
    # Twilio takes the SMS at once but its answer is a second late; meanwhile the carrier's
    # refusal comes back through the status callback.
    twilio.hang(1.0, times=1, process=True)
    number = declare(runtime)
    answers: list[httpx.Response] = []

    def report() -> None:
        deadline = time.monotonic() + 10
        while not twilio.messages and time.monotonic() < deadline:
            time.sleep(0.01)
        sent = twilio.messages[0]  # the SID is not in warroom yet: the key finds the page
        answers.append(twilio.status(sent["StatusCallback"], sent["sid"], "undelivered"))

    reporter = threading.Thread(target=report)
    reporter.start()
    runtime.engine.run_once()
    reporter.join(timeout=15)
    assert answers and answers[0].json() == {"recorded": True, "duplicate": False}
    runtime.engine.run_once()
    assert len(twilio.calls) == 1
    assert "SMS to alice: not delivered" in [
        e.text for e in runtime.flows.get(str(number)).timeline
    ]


def test_no_log_line_shows_the_auth_token_or_a_whole_number(
    runtime: Runtime,
    twilio: TwilioServer,
    base: str,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    twilio.refuse(21610, f"Attempt to send to unsubscribed recipient {ALICE}")
    number = declare(runtime)
    runtime.engine.run_once()  # refused for good: dead, and the call comes at once
    runtime.engine.run_once()
    [call] = twilio.calls
    twilio.status(call["StatusCallback"], call["sid"], "no-answer", "call")
    twilio.reply(f"{base}/api/v1/intake/twilio/sms", "+15559999999", f"ack {number}")
    twilio.reply(f"{base}/api/v1/intake/twilio/sms", ALICE, f"ack {number}", signature="bad")
    assert runtime.flows.get(str(number)).acknowledged_by is None
    assert sms_row(runtime).status == "dead"
    assert "…0001" in (sms_row(runtime).last_error or "")
    for secret in (AUTH_TOKEN, ALICE, ALICE.removeprefix("+"), "+15559999999"):
        assert secret not in caplog.text
        assert secret not in (sms_row(runtime).last_error or "")
