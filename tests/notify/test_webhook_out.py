"""Signed outgoing webhooks, over a real socket to a loopback receiver that checks signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from tests.conftest import free_port
from tests.notify.webhook_receiver import WebhookReceiver
from warroom import __version__
from warroom.core.clock import FrozenClock, SystemClock
from warroom.notify.ports import DeliveryError
from warroom.notify.webhook import SignedWebhook, sign, verify
from warroom.notify.webhook_config import EVENTS, OutgoingWebhooks, WebhookConfig

SECRET = "whsec-0123456789abcdef-please-rotate"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DATA = {"number": 42, "ref": "INC-42", "title": "Checkout down", "severity": "SEV-1"}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def receiver(clock: FrozenClock) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET, now=lambda: clock.now().timestamp()) as server:
        yield server


@pytest.fixture
def sender(clock: FrozenClock) -> Iterator[SignedWebhook]:
    with SignedWebhook(clock=clock, timeout=10.0) as webhook:
        yield webhook


def post(sender: SignedWebhook, url: str, key: str = "ob-1", **kw: Any) -> int:
    arguments: dict[str, Any] = {"secret": SECRET, "event": "incident.declared", "body": DATA}
    return sender.post(url=url, key=key, **{**arguments, **kw})


def test_delivers_a_signed_event(receiver: WebhookReceiver, sender: SignedWebhook) -> None:
    assert post(sender, receiver.url, key="ob-17") == 200

    (event,) = receiver.events
    assert (event.event, event.id, event.data) == ("incident.declared", "ob-17", DATA)
    assert event.sent_at == "2026-03-02T09:00:00Z"
    assert event.timestamp == int(NOW.timestamp())
    assert event.headers["content-type"] == "application/json"
    assert event.headers["user-agent"] == f"warroom/{__version__}"
    assert event.headers["x-warroom-event"] == "incident.declared"
    assert event.headers["idempotency-key"] == "ob-17"
    expected = hmac.new(
        SECRET.encode(), f"{event.timestamp}.".encode() + event.body, hashlib.sha256
    ).hexdigest()
    assert event.headers["x-warroom-signature"] == f"v1={expected}"
    assert b" " not in event.body.replace(b"Checkout down", b"")  # compact JSON
    assert list(json.loads(event.body)) == ["event", "id", "sent_at", "data"]
    assert receiver.duplicates == 0 and receiver.rejections == []


def test_datetimes_in_the_body_are_rfc3339(
    receiver: WebhookReceiver, sender: SignedWebhook
) -> None:
    post(sender, receiver.url, body={"detected_at": NOW, "id": 7})
    assert receiver.events[0].data == {"detected_at": "2026-03-02T09:00:00+00:00", "id": 7}


def test_the_same_key_twice_is_a_duplicate(
    receiver: WebhookReceiver, sender: SignedWebhook
) -> None:
    post(sender, receiver.url, key="ob-1")
    post(sender, receiver.url, key="ob-2")
    post(sender, receiver.url, key="ob-1")
    assert receiver.keys() == ["ob-1", "ob-2"]
    assert receiver.duplicates == 1 and receiver.duplicate_keys == ["ob-1"]


def test_a_lost_answer_shows_up_as_a_duplicate(
    receiver: WebhookReceiver, clock: FrozenClock
) -> None:
    receiver.hang(0.4, times=1, process=True)  # the receiver does the work; the answer is late
    with SignedWebhook(clock=clock, timeout=0.1) as sender:
        with pytest.raises(DeliveryError) as caught:
            post(sender, receiver.url, key="ob-9")
        assert not caught.value.permanent
        assert receiver.wait_for(1)
        post(sender, receiver.url, key="ob-9")  # the outbox's retry
    assert receiver.keys() == ["ob-9"] and receiver.duplicates == 1


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (500, False),
        (502, False),
        (503, False),
        (408, False),
        (429, False),
        (400, True),
        (401, True),
        (403, True),
        (404, True),
        (410, True),
        (422, True),
        (302, True),
    ],
)
def test_error_statuses_map_to_delivery_errors(
    receiver: WebhookReceiver, sender: SignedWebhook, status: int, permanent: bool
) -> None:
    receiver.fail(status=status, times=1)
    with pytest.raises(DeliveryError) as caught:
        post(sender, receiver.url)
    assert caught.value.permanent is permanent
    assert f"HTTP {status}" in str(caught.value)
    assert receiver.events == []


def test_retry_after_is_reported_and_the_retry_succeeds(
    receiver: WebhookReceiver, sender: SignedWebhook
) -> None:
    receiver.fail(status=429, times=2, retry_after=30)
    for _ in range(2):
        with pytest.raises(DeliveryError, match="Retry-After 30") as caught:
            post(sender, receiver.url, key="ob-5")
        assert not caught.value.permanent
    assert post(sender, receiver.url, key="ob-5") == 200
    assert receiver.keys() == ["ob-5"] and receiver.duplicates == 0
    assert receiver.attempts == 3


def test_a_receiver_that_hangs_is_a_temporary_timeout(
    receiver: WebhookReceiver, clock: FrozenClock
) -> None:
    url = receiver.url + "?token=t0ps3cr3t"
    endpoint = WebhookConfig(name="slow", url=url, secret=SECRET, timeout=0.2)
    receiver.hang(5.0)
    # The endpoint's own timeout applies, not the sender's default.
    with SignedWebhook([endpoint], clock=clock) as sender, pytest.raises(DeliveryError) as caught:
        post(sender, url)
    receiver.recover()
    assert not caught.value.permanent and "within 0.2 s" in str(caught.value)
    assert "t0ps3cr3t" not in str(caught.value) and SECRET not in str(caught.value)


def test_nothing_listening_is_temporary(sender: SignedWebhook) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook/t0ps3cr3t"
    with pytest.raises(DeliveryError) as caught:
        post(sender, url)
    assert not caught.value.permanent
    assert "could not reach http://127.0.0.1" in str(caught.value)
    assert "t0ps3cr3t" not in str(caught.value) and SECRET not in str(caught.value)


def test_a_url_that_is_not_http_is_permanent(sender: SignedWebhook) -> None:
    with pytest.raises(DeliveryError, match="invalid webhook URL") as caught:
        post(sender, "ftp://127.0.0.1/hook")
    assert caught.value.permanent


def test_the_receiver_refuses_a_wrong_secret(
    receiver: WebhookReceiver, sender: SignedWebhook
) -> None:
    with pytest.raises(DeliveryError) as caught:
        post(sender, receiver.url, secret="another-secret-of-sixteen")
    assert caught.value.permanent and "HTTP 401" in str(caught.value)
    assert "another-secret" not in str(caught.value)
    assert receiver.rejections == [(401, "bad signature")] and receiver.events == []


def test_the_receiver_refuses_a_stale_timestamp(
    receiver: WebhookReceiver, clock: FrozenClock
) -> None:
    late = FrozenClock(NOW - timedelta(minutes=6))  # a replay of an old request looks like this
    with SignedWebhook(clock=late) as sender, pytest.raises(DeliveryError) as caught:
        post(sender, receiver.url)
    assert caught.value.permanent
    assert receiver.rejections == [(401, "timestamp outside the tolerance (replay?)")]


# -- verify() ----------------------------------------------------------------------------------


def test_verify_accepts_a_good_signature() -> None:
    body = b'{"event":"incident.declared","id":"ob-1"}'
    stamp = int(NOW.timestamp())
    signature = sign(SECRET, stamp, body)
    assert verify(SECRET, str(stamp), body, signature, NOW)
    assert verify(SECRET, stamp, body, signature, NOW.timestamp() + 299)


@pytest.mark.parametrize(
    ("secret", "stamp_offset", "body", "now_offset"),
    [
        (SECRET, 0, b'{"event":"incident.declared","id":"ob-2"}', 0),  # tampered body
        ("not-the-secret-at-all", 0, b'{"event":"incident.declared","id":"ob-1"}', 0),
        (SECRET, 0, b'{"event":"incident.declared","id":"ob-1"}', 301),  # too old
        (SECRET, 0, b'{"event":"incident.declared","id":"ob-1"}', -301),  # from the future
    ],
)
def test_verify_refuses(secret: str, stamp_offset: int, body: bytes, now_offset: int) -> None:
    stamp = int(NOW.timestamp())
    signature = sign(secret, stamp, b'{"event":"incident.declared","id":"ob-1"}')
    assert not verify(SECRET, stamp + stamp_offset, body, signature, stamp + now_offset)


def test_verify_refuses_a_signature_moved_to_another_timestamp() -> None:
    body = b"{}"
    stamp = int(NOW.timestamp())
    assert not verify(SECRET, stamp + 1, body, sign(SECRET, stamp, body), NOW)


@pytest.mark.parametrize("signature", ["", "v1=", "garbage", "v0=abc"])
def test_verify_refuses_malformed_signatures(signature: str) -> None:
    assert not verify(SECRET, int(NOW.timestamp()), b"{}", signature, NOW)


def test_verify_refuses_a_malformed_timestamp() -> None:
    assert not verify(SECRET, "yesterday", b"{}", sign(SECRET, 0, b"{}"), NOW)


def test_verify_accepts_any_of_several_signatures_while_rotating() -> None:
    stamp = int(NOW.timestamp())
    both = f"{sign('old-secret-0123456789', stamp, b'{}')},{sign(SECRET, stamp, b'{}')}"
    assert verify(SECRET, stamp, b"{}", both, NOW)


# -- configuration and concurrency ---------------------------------------------------------------


def test_config_defaults_and_event_filter() -> None:
    config = WebhookConfig(name="chatops", url="https://hooks.example.com/x", secret=SECRET)
    assert config.events == list(EVENTS) and config.timeout == 10.0
    assert config.wants("incident.resolved")
    narrow = WebhookConfig.model_validate(
        {"name": "bi", "url": "https://x.example", "secret": SECRET, "events": ["incident.closed"]}
    )
    assert narrow.wants("incident.closed") and not narrow.wants("incident.declared")


def test_config_reads_the_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    config = WebhookConfig(name="a", url="https://x.example", secret="env:HOOK_SECRET")
    assert config.secret.get_secret_value() == SECRET
    assert SECRET not in repr(config)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"events": ["incident.exploded"]}, "events.0"),
        ({"events": []}, "events"),
        ({"url": "ftp://x.example/"}, "http:// or https://"),
        ({"secret": "short-secret"}, "at least 16"),
        ({"timeout": 0}, "timeout"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_config_refuses_bad_input(override: dict[str, Any], message: str) -> None:
    data = {"name": "a", "url": "https://x.example", "secret": SECRET, **override}
    with pytest.raises(ValidationError) as caught:
        WebhookConfig.model_validate(data)
    text = str(caught.value)
    assert message in text
    assert "short-secret" not in text and SECRET not in text


def test_webhook_names_are_unique() -> None:
    entry = {"name": "a", "url": "https://x.example", "secret": SECRET}
    with pytest.raises(ValidationError, match="'a' is used twice"):
        TypeAdapter(OutgoingWebhooks).validate_python([entry, entry])


def test_concurrent_senders_deliver_each_event_once() -> None:
    with WebhookReceiver(SECRET) as receiver, SignedWebhook(clock=SystemClock()) as sender:

        def send(worker: int) -> None:
            for n in range(150):
                post(sender, receiver.url, key=f"w{worker}-{n}")

        threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(receiver.events) == 1200 and len(set(receiver.keys())) == 1200
        assert receiver.duplicates == 0 and receiver.rejections == []
