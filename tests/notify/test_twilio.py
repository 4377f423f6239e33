"""TwilioPhone against a loopback Twilio: the real SDK over a socket, and each failure mapped."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from xml.etree import ElementTree

import pytest

from tests.notify.twilio_server import AUTH_TOKEN, FROM, TwilioServer
from warroom.notify.ports import DeliveryError
from warroom.notify.twilio import MAX_SMS, TwilioPhone, mask, scrub
from warroom.notify.twilio_config import TwilioConfig

TO = "+4915112345678"
GATHER = "https://warroom.example.com/api/v1/intake/twilio/voice?link=abc.def"
STATUS = "https://warroom.example.com/api/v1/intake/twilio/status"


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    """A loopback Twilio."""
    with TwilioServer() as server:
        yield server


@pytest.fixture
def phone(twilio: TwilioServer) -> Iterator[TwilioPhone]:
    """The adapter, pointed at the loopback Twilio with a short timeout."""
    adapter = TwilioPhone(TwilioConfig.model_validate(twilio.config(timeout=0.5)))
    yield adapter
    adapter.close()


def test_an_sms_goes_out_as_twilio_expects(twilio: TwilioServer, phone: TwilioPhone) -> None:
    sid = phone.send_sms(to=TO, body="INC-7 SEV-1: Checkout down", key="k1", status_callback=STATUS)
    assert sid.startswith("SM") and len(sid) == 34
    [message] = twilio.messages
    assert message["sid"] == sid
    assert message["To"] == TO and message["From"] == FROM
    assert message["Body"] == "INC-7 SEV-1: Checkout down"
    assert message["StatusCallback"] == STATUS
    method, path, headers, _ = twilio.requests[0]
    assert (method, path) == ("POST", f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json")
    assert headers["content-type"].startswith("application/x-www-form-urlencoded")


def test_a_messaging_service_sends_instead_of_a_number(twilio: TwilioServer) -> None:
    service = "MG" + "ab" * 16
    config = twilio.config(messaging_service_sid=service)
    del config["from"]
    phone = TwilioPhone(TwilioConfig.model_validate(config))
    phone.send_sms(to=TO, body="hello", key="k", status_callback=None)
    [message] = twilio.messages
    assert message["MessagingServiceSid"] == service and "From" not in message
    assert "StatusCallback" not in message
    with pytest.raises(DeliveryError) as refused:  # calls need a number to call from
        phone.call(to=TO, text="x", gather_url=GATHER, key="k", status_callback=None)
    assert refused.value.permanent and "integrations.twilio.from" in str(refused.value)
    assert twilio.calls == []
    phone.close()


def test_a_call_reads_the_page_and_gathers_one_digit(
    twilio: TwilioServer, phone: TwilioPhone
) -> None:
    text = "This is warroom. You are paged for incident 7, Critical severity: Checkout down."
    sid = phone.call(to=TO, text=text, gather_url=GATHER, key="k2", status_callback=STATUS)
    assert sid.startswith("CA") and len(sid) == 34
    [call] = twilio.calls
    assert call["To"] == TO and call["From"] == FROM
    assert call["StatusCallback"] == STATUS and call["StatusCallbackEvent"] == ["completed"]
    root = ElementTree.fromstring(call["Twiml"])
    gathers = root.findall("Gather")
    assert len(gathers) == 2  # read twice when nobody presses a key
    for gather in gathers:
        assert gather.get("action") == GATHER
        assert gather.get("numDigits") == "1" and gather.get("method") == "POST"
        say = gather.find("Say")
        assert say is not None and say.text == text + " Press 1 to acknowledge."
        assert say.get("voice") == "Polly.Joanna" and say.get("language") == "en-US"
    assert [child.tag for child in root] == ["Gather", "Gather", "Say"]
    assert root[-1].text == "Goodbye."


def test_hang_up_ends_the_call_and_an_ended_call_is_fine(
    twilio: TwilioServer, phone: TwilioPhone
) -> None:
    sid = phone.call(to=TO, text="x", gather_url=GATHER, key="k", status_callback=None)
    phone.hang_up(call_id=sid)
    assert twilio.hung_up == [sid]
    phone.hang_up(call_id=sid)  # Twilio answers 21220: it has ended; nothing to do
    assert twilio.requests[-1][3]["Status"] == ["completed"]
    with pytest.raises(DeliveryError) as unknown:
        phone.hang_up(call_id="CA" + "0" * 32)
    assert "20404" in str(unknown.value)


def test_a_bad_number_is_a_permanent_refusal_naming_twilio_code(
    twilio: TwilioServer, phone: TwilioPhone, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DeliveryError) as refused:
        phone.send_sms(to="+1555", body="x", key="k", status_callback=None)
    assert refused.value.permanent
    message = str(refused.value)
    assert "error 21211" in message and "Invalid 'To' Phone Number" in message
    assert AUTH_TOKEN not in message
    twilio.refuse(
        21608, "The number is unverified. Trial accounts can only send to verified numbers"
    )
    with pytest.raises(DeliveryError) as unverified:
        phone.send_sms(to=TO, body="x", key="k", status_callback=None)
    assert unverified.value.permanent and "21608" in str(unverified.value)
    assert "…5678" in str(unverified.value) and TO not in str(unverified.value)
    assert TO not in caplog.text and AUTH_TOKEN not in caplog.text


def test_wrong_credentials_are_permanent(twilio: TwilioServer) -> None:
    config = twilio.config(auth_token="not-the-token-0123456789")
    phone = TwilioPhone(TwilioConfig.model_validate(config))
    with pytest.raises(DeliveryError) as refused:
        phone.send_sms(to=TO, body="x", key="k", status_callback=None)
    assert refused.value.permanent and "20003" in str(refused.value)
    assert "not-the-token" not in str(refused.value)
    phone.close()


def test_a_server_error_is_retried(twilio: TwilioServer, phone: TwilioPhone) -> None:
    twilio.fail(500, times=1)
    with pytest.raises(DeliveryError) as failed:
        phone.send_sms(to=TO, body="x", key="k", status_callback=None)
    assert not failed.value.permanent and "500" in str(failed.value)
    assert phone.send_sms(to=TO, body="x", key="k", status_callback=None).startswith("SM")


def test_throttling_passes_on_retry_after(twilio: TwilioServer, phone: TwilioPhone) -> None:
    twilio.fail(429, times=1, retry_after=7)
    with pytest.raises(DeliveryError) as throttled:
        phone.call(to=TO, text="x", gather_url=GATHER, key="k", status_callback=None)
    assert not throttled.value.permanent
    assert throttled.value.retry_after == 7.0 and "20429" in str(throttled.value)


def test_a_timeout_is_retried(twilio: TwilioServer, phone: TwilioPhone) -> None:
    twilio.hang(5, times=1)
    started = time.monotonic()
    with pytest.raises(DeliveryError) as late:
        phone.send_sms(to=TO, body="x", key="k", status_callback=None)
    assert time.monotonic() - started < 3  # the configured 0.5 s, not the server's 5 s
    assert not late.value.permanent and "did not answer" in str(late.value)
    twilio.recover()


def test_an_unreachable_twilio_is_retried(twilio: TwilioServer) -> None:
    config = twilio.config()
    twilio.stop()
    phone = TwilioPhone(TwilioConfig.model_validate(config))
    with pytest.raises(DeliveryError) as down:
        phone.send_sms(to=TO, body="x", key="k", status_callback=None)
    assert not down.value.permanent and "could not reach Twilio" in str(down.value)
    assert "127.0.0.1" not in str(down.value)
    phone.close()


def test_numbers_are_masked() -> None:
    assert mask(TO) == "…5678"
    assert mask("123") == "…"


def test_numbers_in_twilio_messages_are_masked(twilio: TwilioServer, phone: TwilioPhone) -> None:
    twilio.refuse(21610, f"Attempt to send to unsubscribed recipient {TO}")
    with pytest.raises(DeliveryError) as refused:
        phone.send_sms(to=TO, body="x", key="k", status_callback=None)
    assert TO not in str(refused.value) and "…5678" in str(refused.value)
    assert "21610" in str(refused.value)
    assert scrub("call +1 (555) 123-4567 now, error 21211") == "call …4567 now, error 21211"


def test_a_long_bundle_is_cut_to_what_twilio_takes(
    twilio: TwilioServer, phone: TwilioPhone
) -> None:
    phone.send_sms(to=TO, body="x" * 5000, key="k", status_callback=None)
    body = twilio.messages[0]["Body"]
    assert len(body) == MAX_SMS and body.endswith("…")


def test_without_a_public_address_the_call_only_reads_the_page(
    twilio: TwilioServer, phone: TwilioPhone
) -> None:
    relative = "/api/v1/intake/twilio/voice?link=abc.def"
    phone.call(to=TO, text="Paged.", gather_url=relative, key="k", status_callback=None)
    root = ElementTree.fromstring(twilio.calls[0]["Twiml"])
    assert root.find("Gather") is None
    assert [say.text for say in root.findall("Say")] == ["Paged.", "Paged.", "Goodbye."]
