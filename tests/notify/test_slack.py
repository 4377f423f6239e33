"""SlackChat through slack_sdk over a real socket to the loopback Slack, and its config."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.notify.slack_server import BOT_USER, TOKEN, SlackServer
from warroom.notify.ports import Chat, DeliveryError, IncidentCard
from warroom.notify.slack import SlackChat, channel_name, reply
from warroom.notify.slack_blocks import ACKNOWLEDGE, RESOLVE, STATUS_UPDATE, card_blocks, escape
from warroom.notify.slack_config import SlackConfig

SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
CARD = IncidentCard(
    number=42,
    title="Checkout returns 502 for EU customers",
    severity="SEV-1",
    severity_name="Critical",
    status="detected",
    summary="Error rate <50%> & rising",
    service="checkout",
    commander="alice",
    commander_name="Alice Ng",
    url="https://warroom.example.com/incidents/42",
    conference_url="https://zoom.us/j/123?pwd=a|b",
    chat_channel="C00000001",
)


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    """The loopback Slack."""
    with SlackServer() as server:
        yield server


def make_chat(slack: SlackServer, **overrides: object) -> SlackChat:
    """A SlackChat pointed at the loopback Slack."""
    fields: dict[str, object] = {
        "signing_secret": SIGNING,
        "bot_token": slack.token,
        "base_url": slack.url,
        # Generous: a loaded CI machine is slow; the timeout tests ask for a short one.
        "timeout": 10.0,
    }
    return SlackChat(SlackConfig.model_validate(fields | overrides))


@pytest.fixture
def chat(slack: SlackServer) -> Iterator[SlackChat]:
    """A SlackChat on the loopback Slack."""
    adapter = make_chat(slack)
    yield adapter
    adapter.close()


def test_is_a_chat_port(chat: SlackChat) -> None:
    port: Chat = chat
    assert port is chat


# -- channel names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "slug", "prefix", "expected"),
    [
        (42, "checkout-down", "inc", "inc-42-checkout-down"),
        (7, "Café DOWN!! (EU)", "inc", "inc-7-cafe-down-eu"),
        (7, "db_primary  lag", "inc", "inc-7-db_primary-lag"),
        (3, "!!!", "inc", "inc-3"),
        (3, "", "Sev", "sev-3"),
        (3, "日本語", "inc", "inc-3"),
    ],
)
def test_channel_name(number: int, slug: str, prefix: str, expected: str) -> None:
    assert channel_name(number, slug, prefix) == expected


def test_channel_name_is_cut_to_80_without_a_trailing_dash() -> None:
    name = channel_name(123456, "word " * 40)
    assert len(name) <= 80
    assert name.startswith("inc-123456-word-word")
    assert not name.endswith(("-", "_"))


# -- configuration ---------------------------------------------------------------------------


def test_config_defaults_and_env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    config = SlackConfig.model_validate(
        {"signing_secret": SIGNING, "bot_token": "env:SLACK_BOT_TOKEN", "base_url": "http://x/api"}
    )
    assert config.bot_token is not None
    assert config.bot_token.get_secret_value() == TOKEN
    assert config.base_url == "http://x/api/"
    assert (config.channel, config.timeout, config.channel_prefix) == (
        "#incident-response",
        10,
        "inc",
    )
    assert TOKEN not in repr(config)
    assert SlackConfig.model_validate({"signing_secret": SIGNING}).bot_token is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bot_token", "xoxp-a-user-token"),
        ("bot_token", SIGNING),
        ("channel", "incident-response"),
        ("channel", "#Incident Response"),
        ("base_url", "ftp://slack.com/api/"),
        ("timeout", 0),
        ("channel_prefix", "INC!"),
        ("unknown", "x"),
    ],
)
def test_config_refuses(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        SlackConfig.model_validate({"signing_secret": SIGNING, field: value})
    assert SIGNING not in str(info.value)  # a mistyped secret is not echoed back


def test_config_unset_env_secret_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_SLACK_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="NO_SUCH_SLACK_TOKEN is not set"):
        SlackConfig.model_validate(
            {"signing_secret": SIGNING, "bot_token": "env:NO_SUCH_SLACK_TOKEN"}
        )


def test_chat_needs_a_bot_token() -> None:
    with pytest.raises(ValueError, match="bot_token is needed"):
        SlackChat(SlackConfig.model_validate({"signing_secret": SIGNING}))


# -- channels --------------------------------------------------------------------------------


def test_create_public_and_private_channels(slack: SlackServer, chat: SlackChat) -> None:
    public = chat.create_channel(name="inc-1-checkout", private=False, key="k1")
    private = chat.create_channel(name="#inc-2-breach", private=True, key="k2")
    assert slack.channels[public].name == "inc-1-checkout"
    assert not slack.channels[public].is_private
    assert slack.channels[private].is_private
    assert slack.channels[private].name == "inc-2-breach"
    create = [c for c in slack.calls if c.method == "conversations.create"]
    assert [c.params["is_private"] for c in create] == ["0", "1"]
    assert all(c.content_type == "application/x-www-form-urlencoded" for c in create)


def test_retried_create_finds_the_existing_channel_across_pages(slack: SlackServer) -> None:
    for index in range(450):  # three pages of 200 before the one we want
        slack.add_channel(f"other-{index}")
    existing = slack.add_channel("inc-9-db-down", private=True)
    chat = make_chat(slack)
    assert chat.create_channel(name="inc-9-db-down", private=True, key="k") == existing
    listings = [c for c in slack.calls if c.method == "conversations.list"]
    assert len(listings) == 3
    assert listings[0].params["types"] == "public_channel,private_channel"
    assert "cursor" not in listings[0].params
    assert listings[1].params["cursor"]


def test_created_twice_is_idempotent(slack: SlackServer, chat: SlackChat) -> None:
    first = chat.create_channel(name="inc-3-x", private=False, key="k")
    assert chat.create_channel(name="inc-3-x", private=False, key="k") == first
    assert len(slack.channels) == 1


def test_existing_archived_invisible_or_public_channel_is_permanent(slack: SlackServer) -> None:
    slack.add_channel("inc-4-archived", archived=True)
    slack.add_channel("inc-5-hidden", private=True, bot_member=False)
    slack.add_channel("inc-6-public")
    chat = make_chat(slack)
    for name, private, reason in [
        ("inc-4-archived", False, "archived"),
        ("inc-5-hidden", False, "cannot see"),
        ("inc-6-public", True, "restricted"),
    ]:
        with pytest.raises(DeliveryError, match=reason) as info:
            chat.create_channel(name=name, private=private, key="k")
        assert info.value.permanent


@pytest.mark.parametrize("name", ["Inc 1", "inc-1-" + "x" * 80, "", "inc-1-ü"])
def test_invalid_channel_name_is_permanent_without_a_call(
    slack: SlackServer, chat: SlackChat, name: str
) -> None:
    with pytest.raises(DeliveryError, match="not valid") as info:
        chat.create_channel(name=name, private=False, key="k")
    assert info.value.permanent
    assert slack.calls == []


# -- invitations -----------------------------------------------------------------------------


def test_invite_by_id_and_by_name(slack: SlackServer, chat: SlackChat) -> None:
    channel = chat.create_channel(name="inc-7-x", private=False, key="k")
    chat.invite(channel=channel, users=["U111", "U222", "U111"], key="k")
    chat.invite(channel="#inc-7-x", users=["W333"], key="k")
    assert slack.channels[channel].members == [BOT_USER, "U111", "U222", "W333"]
    invite = next(c for c in slack.calls if c.method == "conversations.invite")
    assert invite.params["users"] == "U111,U222"


def test_invite_members_already_in_and_the_bot_itself(slack: SlackServer, chat: SlackChat) -> None:
    channel = chat.create_channel(name="inc-8-x", private=False, key="k")
    chat.invite(channel=channel, users=["U111"], key="k")
    chat.invite(channel=channel, users=["U111"], key="k")  # a retry: already_in_channel
    chat.invite(channel=channel, users=[BOT_USER], key="k")  # cant_invite_self
    chat.invite(channel=channel, users=["U111", "U222", BOT_USER], key="k")
    chat.invite(channel=channel, users=[], key="k")
    assert slack.channels[channel].members == [BOT_USER, "U111", "U222"]


def test_invite_falls_back_to_one_by_one_when_slack_fails_the_whole_call(
    slack: SlackServer, chat: SlackChat
) -> None:
    slack.honour_force = False  # any member already in the channel fails the whole call
    channel = chat.create_channel(name="inc-8-x", private=False, key="k")
    chat.invite(channel=channel, users=["U111"], key="k")
    chat.invite(channel=channel, users=["U111", "U222", "U333"], key="k")
    assert slack.channels[channel].members == [BOT_USER, "U111", "U222", "U333"]
    outcomes = [c.outcome for c in slack.calls if c.method == "conversations.invite"]
    assert outcomes == ["ok", "already_in_channel", "already_in_channel", "ok", "ok"]


def test_invite_with_force_keeps_the_valid_ones(
    slack: SlackServer, chat: SlackChat, caplog: pytest.LogCaptureFixture
) -> None:
    channel = chat.create_channel(name="inc-9-x", private=False, key="k")
    with caplog.at_level(logging.WARNING, "warroom.notify.slack"):
        chat.invite(channel=channel, users=["U111", "bogus"], key="k")
    assert slack.channels[channel].members == [BOT_USER, "U111"]
    assert "bogus" in caplog.text
    assert "user_not_found" in caplog.text


def test_invite_to_unknown_channel_is_permanent(slack: SlackServer, chat: SlackChat) -> None:
    for channel in ("C99999999", "#nowhere"):
        with pytest.raises(DeliveryError, match=r"not.found") as info:
            chat.invite(channel=channel, users=["U111"], key="k")
        assert info.value.permanent


# -- messages --------------------------------------------------------------------------------


def test_post_with_card(slack: SlackServer, chat: SlackChat) -> None:
    slack.add_channel("incident-response")
    ts = chat.post(channel="#incident-response", text="INC-42 declared", key="out-7", card=CARD)
    [message] = slack.messages("#incident-response")
    assert message["ts"] == ts
    assert message["text"] == "INC-42 declared"
    assert message["metadata"] == {
        "event_type": "warroom_notification",
        "event_payload": {"idempotency_key": "out-7"},
    }
    assert slack.keys() == ["out-7"]
    assert slack.calls[-1].content_type.startswith("application/json")
    blocks = message["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "INC-42: Checkout returns 502 for EU customers"},
    }
    facts = " ".join(f["text"] for f in blocks[1]["fields"])
    for fact in ("SEV-1 (Critical)", "detected", "Alice Ng", "checkout"):
        assert fact in facts
    assert blocks[2]["text"]["text"] == "Error rate &lt;50%&gt; &amp; rising"
    links = blocks[3]["elements"][0]["text"]
    assert "<https://warroom.example.com/incidents/42|Open INC-42 in warroom>" in links
    assert "<https://zoom.us/j/123?pwd=a%7Cb|Join the conference call>" in links
    assert "<#C00000001>" in links
    actions = blocks[-1]
    assert actions["type"] == "actions"
    buttons = {b["action_id"]: b for b in actions["elements"]}
    assert [b["action_id"] for b in actions["elements"]] == [ACKNOWLEDGE, STATUS_UPDATE, RESOLVE]
    assert all(b["value"] == "42" and b["type"] == "button" for b in buttons.values())
    assert "confirm" in buttons[RESOLVE]
    # The form it opens asks before posting; a confirmation dialog first would be one too many.
    assert buttons[STATUS_UPDATE]["text"]["text"] == "Status update"
    assert "confirm" not in buttons[STATUS_UPDATE]


HOSTILE = "<!channel> <https://evil.example|Open> & <@U024BE7LH>"


def test_fallback_text_is_escaped_on_the_wire(slack: SlackServer, chat: SlackChat) -> None:
    # A title is user text: on the wire it must not ping the channel, link or mention.
    slack.add_channel("incident-response")
    card = dataclasses.replace(CARD, title=HOSTILE, summary=HOSTILE)
    chat.post(channel="#incident-response", text=f"INC-42 declared: {HOSTILE}", key="k", card=card)
    [message] = slack.messages("#incident-response")
    assert message["text"] == (
        "INC-42 declared: &lt;!channel&gt; &lt;https://evil.example|Open&gt; &amp; "
        "&lt;@U024BE7LH&gt;"
    )
    blocks = message["blocks"]
    assert blocks[0]["text"]["type"] == "plain_text"  # Slack shows plain_text as written
    assert blocks[2]["text"]["text"].startswith("&lt;!channel&gt; &lt;https://evil.example|")
    mrkdwn = [f["text"] for b in blocks for f in b.get("fields", [])]
    mrkdwn += [b["text"]["text"] for b in blocks if b.get("text", {}).get("type") == "mrkdwn"]
    assert all("<!" not in text and "<https://evil" not in text for text in mrkdwn)


def test_bundled_page_text_is_escaped(slack: SlackServer, chat: SlackChat) -> None:
    channel = slack.add_channel("pages")
    chat.post(channel=channel, text=f"2 pages for you:\n• {HOSTILE}\n• INC-2", key="k3")
    [message] = slack.messages(channel)
    assert "<" not in message["text"] and ">" not in message["text"]
    assert "&lt;!channel&gt;" in message["text"]


def test_reply_text_is_escaped(slack: SlackServer) -> None:
    config = SlackConfig.model_validate(
        {"signing_secret": SIGNING, "bot_token": slack.token, "base_url": slack.url}
    )
    reply(slack.response_url(), f"Acknowledged {HOSTILE}", config=config)
    assert slack.take_replies() == [
        "Acknowledged &lt;!channel&gt; &lt;https://evil.example|Open&gt; &amp; &lt;@U024BE7LH&gt;"
    ]


def test_post_plain_text_to_a_channel_id(slack: SlackServer, chat: SlackChat) -> None:
    channel = slack.add_channel("inc-1-x")
    chat.post(channel=channel, text="Severity raised to SEV-1", key="k2")
    [message] = slack.messages(channel)
    assert message["blocks"] == []
    assert message["metadata"]["event_payload"] == {"idempotency_key": "k2"}


def test_post_is_on_the_wire_what_slack_sdks_chat_post_message_sends(
    slack: SlackServer, chat: SlackChat
) -> None:
    # SlackChat.post goes below WebClient.api_call (for CPU): it must still be the same call.
    channel = slack.add_channel("incident-response")
    text = "INC-42 déclaré: café ☕ 日本語 <b> & ok"
    ts = chat.post(channel=channel, text=text, key="out-7", card=CARD)
    stock = WebClient(token=slack.token, base_url=slack.url, retry_handlers=[])
    stock.chat_postMessage(
        channel=channel,
        text=escape(text),
        blocks=card_blocks(CARD),
        unfurl_links=False,
        metadata={
            "event_type": "warroom_notification",
            "event_payload": {"idempotency_key": "out-7"},
        },
    )
    ours, theirs = slack.calls
    assert ours.method == theirs.method == "chat.postMessage"
    assert ours.params == theirs.params
    assert ours.content_type == theirs.content_type == "application/json;charset=utf-8"
    for header in ("authorization", "user-agent"):
        assert ours.headers[header] == theirs.headers[header]
    assert ours.headers["authorization"] == f"Bearer {slack.token}"
    first, second = slack.messages(channel)
    assert first["ts"] == ts
    assert first["text"] == second["text"] == "INC-42 déclaré: café ☕ 日本語 &lt;b&gt; &amp; ok"


def test_post_without_a_card_sends_no_blocks(slack: SlackServer, chat: SlackChat) -> None:
    channel = slack.add_channel("inc-1-x")
    chat.post(channel=channel, text="Severity raised to SEV-1", key="k2")
    assert "blocks" not in slack.calls[-1].params  # as slack_sdk leaves out None values
    assert slack.calls[-1].params["unfurl_links"] is False


def test_post_429_is_temporary_and_names_retry_after(slack: SlackServer, chat: SlackChat) -> None:
    channel = slack.add_channel("incident-response")
    slack.fail(429, times=1, retry_after=30)
    with pytest.raises(DeliveryError, match=r"ratelimited \(Retry-After 30 s\)") as info:
        chat.post(channel=channel, text="hello", key="k")
    assert not info.value.permanent and info.value.retry_after == 30.0  # the outbox waits
    assert isinstance(info.value.__context__, SlackApiError)  # slack_sdk judged the answer
    chat.post(channel=channel, text="hello", key="k")
    assert [c.outcome for c in slack.calls] == ["http 429", "ok"]


def test_post_answered_with_a_page_not_json_fails_as_slack_sdk_says(
    slack: SlackServer, chat: SlackChat
) -> None:
    # A proxy's HTML page with HTTP 200: slack_sdk makes it ok=false; nothing to retry.
    channel = slack.add_channel("incident-response")
    slack.fail(200, times=1)
    with pytest.raises(DeliveryError, match=r"chat.postMessage failed: HTTP 200$") as info:
        chat.post(channel=channel, text="hello", key="k")
    assert info.value.permanent
    context = info.value.__context__
    assert isinstance(context, SlackApiError)
    assert context.response["error"].startswith("Received a response in a non-JSON format")


def test_card_of_a_resolved_incident_has_no_buttons() -> None:
    from dataclasses import replace

    blocks = card_blocks(
        replace(
            CARD, status="resolved", summary="", url=None, conference_url=None, chat_channel=None
        )
    )
    assert [b["type"] for b in blocks] == ["header", "section"]


def test_card_cuts_a_long_title_to_slacks_header_limit() -> None:
    from dataclasses import replace

    header = card_blocks(replace(CARD, title="x" * 400))[0]["text"]["text"]
    assert len(header) == 150
    assert header.endswith("…")


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda s: None, "channel_not_found"),
        (lambda s: s.add_channel("inc-1-x", bot_member=False), "not_in_channel"),
        (lambda s: s.add_channel("inc-1-x", archived=True), "is_archived"),
    ],
)
def test_channel_refusals_are_permanent(
    slack: SlackServer, chat: SlackChat, setup: object, error: str
) -> None:
    setup(slack)  # type: ignore[operator]
    with pytest.raises(DeliveryError, match=error) as info:
        chat.post(channel="#inc-1-x", text="hello", key="k")
    assert info.value.permanent
    assert slack.messages() == []


def test_invalid_auth_is_permanent_and_never_shows_the_token(slack: SlackServer) -> None:
    wrong = "xoxb-0000-wrong-token-value"
    chat = make_chat(slack, bot_token=wrong)
    with pytest.raises(DeliveryError, match="invalid_auth") as info:
        chat.post(channel="#incident-response", text="hello", key="k")
    assert info.value.permanent
    assert wrong not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is not None  # `from None`


def test_http_500_is_temporary_then_delivered(slack: SlackServer, chat: SlackChat) -> None:
    slack.add_channel("incident-response")
    slack.fail(500, times=2)
    for _ in range(2):
        with pytest.raises(DeliveryError, match="HTTP 500") as info:
            chat.post(channel="#incident-response", text="hello", key="k")
        assert not info.value.permanent
    chat.post(channel="#incident-response", text="hello", key="k")
    assert [c.outcome for c in slack.calls] == ["http 500", "http 500", "ok"]
    assert len(slack.messages("#incident-response")) == 1


def test_429_is_temporary_and_names_retry_after(slack: SlackServer, chat: SlackChat) -> None:
    slack.fail(429, times=1, retry_after=7)
    with pytest.raises(DeliveryError, match=r"ratelimited \(Retry-After 7 s\)") as info:
        chat.create_channel(name="inc-1-x", private=False, key="k")
    assert not info.value.permanent and info.value.retry_after == 7.0
    assert chat.create_channel(name="inc-1-x", private=False, key="k")


def test_timeout_is_temporary(slack: SlackServer) -> None:
    slack.add_channel("incident-response")
    chat = make_chat(slack, timeout=0.3)
    slack.hang(times=1, sleep=5)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="cannot reach Slack") as info:
        chat.post(channel="#incident-response", text="hello", key="k")
    assert time.monotonic() - started < 3
    assert not info.value.permanent
    slack.recover()
    chat.post(channel="#incident-response", text="hello", key="k")
    assert len(slack.messages("#incident-response")) == 1


def test_hang_that_delivers_shows_the_duplicate_key(slack: SlackServer) -> None:
    slack.add_channel("incident-response")
    chat = make_chat(slack, timeout=0.3)
    slack.hang(times=1, sleep=5, deliver=True)
    with pytest.raises(DeliveryError):
        chat.post(channel="#incident-response", text="hello", key="k-dup")
    slack.recover()
    chat.post(channel="#incident-response", text="hello", key="k-dup")
    keys = [m["metadata"]["event_payload"]["idempotency_key"] for m in slack.messages()]
    assert keys == ["k-dup", "k-dup"]  # a receiver can drop the second


def test_failure_for_a_duration_then_recovery_in_order(slack: SlackServer) -> None:
    now = [0.0]
    slack.clock = lambda: now[0]
    slack.add_channel("incident-response")
    chat = make_chat(slack)
    slack.fail(503, seconds=120)
    for index in range(3):
        with pytest.raises(DeliveryError):
            chat.post(channel="#incident-response", text=f"m{index}", key=f"k{index}")
    now[0] = 121.0
    for index in range(3):
        chat.post(channel="#incident-response", text=f"m{index}", key=f"k{index}")
    assert [m["text"] for m in slack.messages("#incident-response")] == ["m0", "m1", "m2"]
    assert slack.keys() == ["k0", "k1", "k2"]


def test_unreachable_slack_is_temporary() -> None:
    with SlackServer() as server:
        url = server.url
    chat = SlackChat(SlackConfig(signing_secret=SIGNING, bot_token=TOKEN, base_url=url, timeout=1))
    with pytest.raises(DeliveryError, match="cannot reach Slack") as info:
        chat.post(channel="#incident-response", text="hello", key="k")
    assert not info.value.permanent
