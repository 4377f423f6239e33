"""Push through apprise, over a real socket to a loopback ntfy server (tests/notify/ntfy_server)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import free_port
from tests.notify.ntfy_server import NtfyServer
from warroom.config import WarroomConfig
from warroom.notify import dispatch
from warroom.notify.cards import codename
from warroom.notify.messages import PushPage
from warroom.notify.models import Notification
from warroom.notify.ports import Adapters, DeliveryError, IncidentCard, PushNote
from warroom.notify.push import ApprisePush, masked, scrub
from warroom.notify.push_config import PushConfig

TOPIC = "warroom-alice-8fK2xQpL0v"
ACK = "https://warroom.example.com/ack/eyJpIjo0Mn0.c2ln,with;odd=chars"
CLICK = "https://warroom.example.com/incidents/42"
CARD = IncidentCard(
    number=42,
    title="Checkout down",
    severity="SEV-1",
    severity_name="Critical",
    status="detected",
    url=CLICK,
)


@pytest.fixture
def server() -> Iterator[NtfyServer]:
    with NtfyServer() as fake:
        yield fake


@pytest.fixture
def push() -> ApprisePush:
    return ApprisePush(PushConfig(timeout=2))


def page(
    server: NtfyServer, card: IncidentCard = CARD, config: WarroomConfig | None = None, **kw: Any
) -> str:
    """Send a push page through the outbox's handler (dispatch.send), as the sender does."""
    config = config or WarroomConfig.model_validate({"integrations": {"push": {}}})
    payload = PushPage(
        card=card,
        text=f"{card.severity} ({card.severity_name}) — primary on call",
        address=server.url(TOPIC),
        ack_url=kw.pop("ack_url", ACK),
        person="alice",
    )
    row = Notification(
        key="inc42:page:0:0:alice:phone",
        channel="push",
        action="page",
        destination="person:alice",
        payload=payload.model_dump(mode="json"),
    )
    assert config.integrations.push is not None
    adapters = Adapters(push=ApprisePush(config.integrations.push))
    outcome = dispatch.send(row, adapters=adapters, config=config, links={})
    assert outcome.provider_id is not None
    return outcome.provider_id


@pytest.mark.parametrize(
    ("severity", "priority"), [("SEV-1", 5), ("SEV-2", 4), ("SEV-3", 3), ("SEV-4", 3)]
)
def test_a_page_carries_title_body_and_the_priority_of_its_severity(
    server: NtfyServer, severity: str, priority: int
) -> None:
    card = IncidentCard(42, "Checkout down", severity, "Critical", "detected", url=CLICK)
    assert page(server, card) == "inc42:page:0:0:alice:phone"
    (message,) = server.on(TOPIC)
    assert message["title"] == f"INC-42 {severity}: Checkout down"
    assert message["message"] == f"{severity} (Critical) — primary on call"
    assert message["priority"] == priority
    ((method, path, headers, _),) = server.requests
    assert (method, path) == ("POST", "/")  # ntfy's JSON publish; priority rides a header
    assert "x-icon" not in headers  # no picture fetched from github.com by every phone


def test_urgency_follows_integrations_push_urgency(server: NtfyServer) -> None:
    config = WarroomConfig.model_validate({"integrations": {"push": {"urgency": {"SEV-1": "low"}}}})
    page(server, config=config)
    assert server.on(TOPIC)[0]["priority"] == 2


def test_acknowledge_is_an_http_post_action_and_the_incident_a_view_and_click(
    server: NtfyServer,
) -> None:
    page(server)
    (message,) = server.on(TOPIC)
    acknowledge, view = message["actions"]
    assert acknowledge["action"] == "http"
    assert acknowledge["label"] == "Acknowledge"
    assert acknowledge["url"] == ACK  # commas and semicolons intact: sent as a JSON array
    assert acknowledge["method"] == "POST"
    assert acknowledge["clear"] is True
    assert (view["action"], view["label"], view["url"]) == ("view", "Open incident", CLICK)
    assert message["click"] == CLICK


def test_a_note_without_links_has_no_buttons(server: NtfyServer, push: ApprisePush) -> None:
    push.push(url=server.url(TOPIC), note=PushNote(title="t", body="b"), key="k")
    (message,) = server.on(TOPIC)
    assert "actions" not in message and "click" not in message
    assert message["priority"] == 3


def test_a_restricted_incident_goes_out_under_its_codename(server: NtfyServer) -> None:
    card = IncidentCard(7, "Customer card data exposed", "SEV-1", "Critical", "detected")
    page(server, codename(card))
    (message,) = server.on(TOPIC)
    assert message["title"] == "INC-7 SEV-1: (restricted)"
    assert b"card data" not in b"".join(body for *_, body in server.requests)


@pytest.mark.parametrize("url", ["json://127.0.0.1/hook", "form://10.0.0.1/x", "https://x.io/y"])
def test_a_scheme_off_the_allow_list_is_refused_for_good(
    server: NtfyServer, push: ApprisePush, url: str
) -> None:
    with pytest.raises(DeliveryError) as refused:
        push.push(url=url, note=PushNote(title="t", body="b"), key="k")
    scheme = url.split(":")[0]
    assert str(refused.value) == (
        f"push URLs of type {scheme}:// are not allowed (integrations.push.schemes)"
    )
    assert refused.value.permanent
    assert url not in str(refused.value)


def test_the_allow_list_is_the_configured_one(server: NtfyServer) -> None:
    only_tls = ApprisePush(PushConfig(schemes=["ntfys"], timeout=2))
    with pytest.raises(DeliveryError, match=r"type ntfy:// are not allowed") as refused:
        only_tls.push(url=server.url(TOPIC), note=PushNote(title="t", body="b"), key="k")
    assert refused.value.permanent
    assert server.attempts == 0


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("ntfy://", "this ntfy URL names no valid topic"),
        ("ntfy://[::1/alerts", "apprise cannot read this ntfy:// URL"),
        ("pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG", "apprise cannot use this pover:// URL: An"),
        ("gotify://push.example.com", "apprise cannot use this gotify:// URL: An invalid Gotify"),
        ("no scheme at all", "a push address is an apprise URL (ntfys://…)"),
    ],
)
def test_a_url_apprise_cannot_use_is_refused_for_good(
    push: ApprisePush, url: str, said: str
) -> None:
    with pytest.raises(DeliveryError) as refused:
        push.push(url=url, note=PushNote(title="t", body="b"), key="k")
    assert str(refused.value).startswith(said)
    assert refused.value.permanent
    assert "uQiRzpo4DXghDmr9QzzfQu27cmVRsG" not in str(refused.value)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_a_server_error_or_throttling_is_retryable_with_ntfys_reason(
    server: NtfyServer, push: ApprisePush, status: int
) -> None:
    server.fail(status)
    with pytest.raises(DeliveryError) as failed:
        push.push(url=server.url(TOPIC), note=PushNote(title="t", body="b"), key="k")
    assert not failed.value.permanent
    assert f"error={status}" in str(failed.value)
    assert "Failed to send ntfy notification to topic '•••'" in str(failed.value)
    assert TOPIC not in str(failed.value)
    server.recover()
    push.push(url=server.url(TOPIC), note=PushNote(title="t", body="b"), key="k")
    assert len(server.on(TOPIC)) == 1


def test_access_tokens_are_sent_and_a_refusal_is_permanent() -> None:
    token = "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2"
    with NtfyServer(tokens=(token,)) as server:
        push = ApprisePush(PushConfig(timeout=2))
        push.push(url=server.url(TOPIC, token=token), note=PushNote(title="t", body="b"), key="k")
        assert server.requests[-1][2]["authorization"] == f"Bearer {token}"
        assert len(server.on(TOPIC)) == 1
        with pytest.raises(DeliveryError) as refused:
            push.push(url=server.url(TOPIC), note=PushNote(title="t", body="b"), key="k")
        assert refused.value.permanent
        assert "unauthorized, error=401" in str(refused.value)
        wrong = server.url(TOPIC, token="tk_wrongwrongwrongwrongwrongwr")
        with pytest.raises(DeliveryError) as refused:
            push.push(url=wrong, note=PushNote(title="t", body="b"), key="k")
        assert refused.value.permanent
        assert "tk_wrong" not in str(refused.value)


def test_a_silent_server_is_a_retryable_timeout(server: NtfyServer) -> None:
    push = ApprisePush(PushConfig(timeout=0.5))
    server.hang(10)
    started = time.monotonic()
    with pytest.raises(DeliveryError) as failed:
        push.push(url=server.url(TOPIC), note=PushNote(title="t", body="b"), key="k")
    assert time.monotonic() - started < 3
    assert str(failed.value) == "no answer within 0.5s (integrations.push.timeout)"
    assert not failed.value.permanent


def test_nobody_listening_is_retryable(push: ApprisePush) -> None:
    url = f"ntfy://127.0.0.1:{free_port()}/{TOPIC}"
    with pytest.raises(DeliveryError) as failed:
        push.push(url=url, note=PushNote(title="t", body="b"), key="k")
    assert not failed.value.permanent
    assert "Connection error" in str(failed.value)
    assert TOPIC not in str(failed.value)


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


def test_the_push_url_never_reaches_the_log(server: NtfyServer, push: ApprisePush) -> None:
    kept = Kept()
    root = logging.getLogger()
    root.addHandler(kept)
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        push.push(url=server.url(TOPIC), note=PushNote(title="t", body="b"), key="k1")
        server.fail(500)
        with pytest.raises(DeliveryError):
            push.push(url=server.url(TOPIC), note=PushNote(title="t", body="b"), key="k2")
    finally:
        root.removeHandler(kept)
        root.setLevel(level)
    text = "\n".join(kept.lines)
    assert f"push sent to ntfy://127.0.0.1:{server.url('x').split(':')[2].split('/')[0]}/•••" in (
        text
    )
    assert "failed" in text
    assert TOPIC not in text


def test_pushover_and_gotify_get_their_own_priorities(push: ApprisePush) -> None:
    note = PushNote(title="t", body="b", urgency="max", ack_url=ACK, click_url=CLICK)
    # Built, not sent: Pushover's and Gotify's servers are not ours to answer.
    url = "pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi"
    pover = push._service(url, "pover", note)
    assert pover.priority == 2  # emergency: repeats until acknowledged in the app
    assert (pover.supplemental_url, pover.supplemental_url_title) == (ACK, "Acknowledge")
    low = PushNote(title="t", body="b", urgency="low")
    gotify = push._service("gotifys://push.example.com/AbCdEfGhIjKlMnO", "gotifys", low)
    assert gotify.priority == 3  # Gotify's "moderate"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("ntfys://ntfy.sh/warroom-alice-8fK2", "ntfys://ntfy.sh/•••"),
        ("ntfys://tk_abc@ntfy.example.com/alerts", "ntfys://•••"),
        ("ntfy://127.0.0.1:8080/alerts", "ntfy://127.0.0.1:8080/•••"),
        ("pover://userkey@apptoken", "pover://•••"),
        ("tgram://123456789:AAHfoo/-100123", "tgram://•••"),
        ("msteams://TokenA/TokenB/TokenC", "msteams://•••"),
        ("matrixs://user:pass@matrix.org/#ops", "matrixs://•••"),
        ("ntfys://ntfy.sh", "ntfys://ntfy.sh"),
        ("nonsense", "•••"),
    ],
)
def test_masked_shows_a_scheme_and_a_public_host_only(url: str, shown: str) -> None:
    assert masked(url) == shown


def test_scrub_takes_every_part_of_the_url_out_of_a_reason() -> None:
    url = "ntfys://tk_secret123@ntfy.example.com/alerts-alice"
    reason = (
        "topic 'alerts-alice' refused for tk_secret123 at ntfys://tk_secret123@ntfy.example.com/x"
    )
    said = scrub(reason, url)
    assert "alerts-alice" not in said and "tk_secret123" not in said
    assert said == "topic '•••' refused for ••• at ntfys://•••"


def test_scrub_takes_a_topic_out_even_when_the_host_contains_it() -> None:
    said = scrub("topic 'alerts' refused", "ntfys://alerts.example.com/alerts")
    assert said == "topic '•••' refused"
