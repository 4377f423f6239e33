"""Slack's Acknowledge and Resolve buttons through POST /api/v1/intake/slack/interactions."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.helpers import make_slack_users, verify
from tests.notify.slack_server import SlackServer
from warroom.auth.users import disable_user, set_role
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ALICE, BOB, STRANGER = "U024BE7LH", "W0BOB12345", "U0NOBODY99"
URL = "/api/v1/intake/slack/interactions"
# A response_url warroom will not post to (not Slack's host nor base_url's): the default of
# tests that look at something else; `said` puts the loopback Slack's in its place.
ELSEWHERE = "http://127.0.0.1:9/actions/T0001/1/abc"


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    """The loopback Slack: its response_urls take warroom's replies to clicks."""
    with SlackServer() as server:
        yield server


@pytest.fixture
def config(slack: SlackServer) -> WarroomConfig:
    """Slack configured, and two people with Slack ids."""
    return WarroomConfig.model_validate(
        {
            "people": [
                {"id": "alice", "name": "Alice Ng", "slack": ALICE},
                {"id": "bob", "name": "Bob Li", "slack": BOB},
                {"id": "carol", "name": "Carol Hu"},
            ],
            "integrations": {"slack": {"signing_secret": SECRET, "base_url": slack.url}},
        }
    )


@pytest.fixture(autouse=True)
def slack_users(runtime: Runtime) -> list[str]:
    """The people linked to Slack ids are responders in warroom (buttons act as them)."""
    return make_slack_users(runtime)


def payload(
    action_id: str = "warroom_acknowledge", value: str = "1", user: str = ALICE, **extra: Any
) -> dict[str, Any]:
    """A block_actions payload as Slack sends it for a button click."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "team_id": "T0001"},
        "api_app_id": "A0APP",
        "team": {"id": "T0001", "domain": "example"},
        "channel": {"id": "C0INCIDENT", "name": "incident-response"},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "response_url": ELSEWHERE,
        "container": {"type": "message", "message_ts": "1700000001.000100"},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"warroom_incident_{value}",
                "value": value,
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "action_ts": "1700000002.000200",
            }
        ],
        **extra,
    }


def form(data: Any) -> bytes:
    """Encode a payload the way Slack does: one form field, `payload`, holding the JSON."""
    return urlencode({"payload": json.dumps(data)}).encode()


def signed(body: bytes, at: datetime, secret: str = SECRET) -> dict[str, str]:
    """Slack's headers: the request time and the `v0=` HMAC of `v0:<time>:<body>`."""
    stamp = str(int(at.timestamp()))
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }


def press(client: TestClient, clock: FrozenClock, data: Any) -> httpx.Response:
    """Send a signed interaction."""
    body = data if isinstance(data, bytes) else form(data)
    return client.post(URL, content=body, headers=signed(body, clock.now()))


def said(client: TestClient, clock: FrozenClock, slack: SlackServer, data: dict[str, Any]) -> str:
    """Press, and return what warroom told the presser through the click's response_url."""
    response = press(client, clock, data | {"response_url": slack.response_url()})
    assert (response.status_code, response.content) == (200, b"")  # Slack shows no body
    (message,) = slack.replies
    assert (message["response_type"], message["replace_original"]) == ("ephemeral", False)
    return str(slack.take_replies()[0])


def rejections(client: TestClient, reason: str) -> float:
    """Read warroom_intake_rejections_total{source="slack"} for `reason`."""
    pattern = rf'^warroom_intake_rejections_total\{{reason="{reason}",source="slack"\}} (\S+)$'
    found = re.search(pattern, client.get("/metrics").text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def incident(api: TestClient) -> dict[str, Any]:
    """INC-1, just declared."""
    response = api.post("/api/v1/incidents", json={"title": "Checkout down", "severity": "SEV-2"})
    assert response.status_code == 201, response.text
    return dict(response.json())


def timeline(api: TestClient) -> list[dict[str, Any]]:
    """INC-1's timeline events."""
    return list(api.get("/api/v1/incidents/1/timeline").json()["items"])


def test_acknowledge_as_the_linked_person(
    client: TestClient,
    api: TestClient,
    clock: FrozenClock,
    slack: SlackServer,
    incident: dict[str, Any],
) -> None:
    assert said(client, clock, slack, payload()).startswith("You acknowledged INC-1")
    shown = api.get("/api/v1/incidents/1").json()
    assert shown["acknowledged_by"] == "alice"
    assert shown["acknowledged_at"] is not None
    event = timeline(api)[-1]
    assert (event["kind"], event["actor"], event["source"]) == ("acknowledged", "alice", "slack")
    # Bob pressing it afterwards learns who was first; nothing more is recorded.
    events = len(timeline(api))
    again = said(client, clock, slack, payload(user=BOB))
    assert again == "INC-1 was already acknowledged by alice."
    assert len(timeline(api)) == events
    assert api.get("/api/v1/incidents/1").json()["acknowledged_by"] == "alice"


def test_resolve_then_resolve_again_is_refused(
    client: TestClient,
    api: TestClient,
    clock: FrozenClock,
    slack: SlackServer,
    incident: dict[str, Any],
) -> None:
    verify(api, "INC-1")
    answer = said(client, clock, slack, payload("warroom_resolve", user=BOB))
    assert answer == "INC-1 is resolved: Checkout down"
    shown = api.get("/api/v1/incidents/1").json()
    assert shown["status"] == "resolved"
    assert (timeline(api)[-1]["actor"], timeline(api)[-1]["source"]) == ("bob", "slack")
    events = len(timeline(api))
    refused = said(client, clock, slack, payload("warroom_resolve"))
    conflict = api.post("/api/v1/incidents/1/resolve")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["details"]["allowed"] == ["close", "reopen"]  # not the gate
    assert refused == f"Could not resolve INC-1: {conflict.json()['error']['message']}"
    assert len(timeline(api)) == events


def test_resolve_with_open_verification_items_names_them_and_changes_nothing(
    client: TestClient,
    api: TestClient,
    clock: FrozenClock,
    slack: SlackServer,
    incident: dict[str, Any],
) -> None:
    events = len(timeline(api))
    answer = said(client, clock, slack, payload("warroom_resolve", user=BOB))
    assert answer.startswith("Could not resolve INC-1: 2 verification item(s) are still open: #7 ")
    assert answer.endswith("Mark them done or skipped in warroom, then resolve again.")
    assert "skip_verification" not in answer  # a button cannot send a reason
    sections = api.get("/api/v1/incidents/1/checklist").json()["sections"]
    (verification,) = [s for s in sections if s["name"] == "Verification"]
    assert len(verification["items"]) == 2
    for item in verification["items"]:
        assert f"#{item['number']} {item['text'].rstrip('.')}" in answer
        assert item["state"] == "open"
    shown = api.get("/api/v1/incidents/1").json()
    assert (shown["status"], shown["resolved_at"]) == ("detected", None)
    assert len(timeline(api)) == events


def test_unknown_slack_user_is_told_how_to_link_and_nothing_changes(
    client: TestClient,
    api: TestClient,
    clock: FrozenClock,
    slack: SlackServer,
    incident: dict[str, Any],
) -> None:
    events = len(timeline(api))
    for action in ("warroom_acknowledge", "warroom_resolve"):
        answer = said(client, clock, slack, payload(action, user=STRANGER))
        assert f"slack: {STRANGER}" in answer
        assert "people:" in answer
    shown = api.get("/api/v1/incidents/1").json()
    assert (shown["status"], shown["acknowledged_by"]) == ("detected", None)
    assert len(timeline(api)) == events


def test_unknown_incident_is_explained(
    client: TestClient, clock: FrozenClock, slack: SlackServer, incident: dict[str, Any]
) -> None:
    answer = said(client, clock, slack, payload(value="999"))
    assert answer.startswith("Could not acknowledge INC-999: ")


def test_a_reply_goes_only_to_slack_or_base_url(
    client: TestClient,
    api: TestClient,
    clock: FrozenClock,
    slack: SlackServer,
    incident: dict[str, Any],
) -> None:
    # The click still acts (it is signed); warroom does not post to an address it is handed.
    for elsewhere in (ELSEWHERE, "https://hooks.slack.com.evil.example/actions/1", "file:///x"):
        response = press(client, clock, payload(response_url=elsewhere, user=BOB))
        assert (response.status_code, response.content) == (200, b"")
    assert slack.replies == []
    assert api.get("/api/v1/incidents/1").json()["acknowledged_by"] == "bob"
    # Without a response_url (a hand-made request), the answer body is all there is.
    answer = press(client, clock, {k: v for k, v in payload().items() if k != "response_url"})
    assert answer.json() == {
        "response_type": "ephemeral",
        "text": "INC-1 was already acknowledged by bob.",
    }


def test_other_interactions_and_buttons_do_nothing(
    client: TestClient,
    api: TestClient,
    clock: FrozenClock,
    slack: SlackServer,
    incident: dict[str, Any],
) -> None:
    events = len(timeline(api))
    shortcut = {"type": "shortcut", "user": {"id": ALICE}, "callback_id": "x"}
    assert "does not handle shortcut" in said(client, clock, slack, shortcut)
    link = said(client, clock, slack, payload("open_in_browser"))
    assert link == "Nothing to do for this button."
    assert len(timeline(api)) == events


@pytest.mark.parametrize(
    "skew_or_secret", [timedelta(minutes=5, seconds=1), timedelta(minutes=-6), "wrong-secret"]
)
def test_bad_or_stale_signature_is_401_and_counted(
    client: TestClient,
    api: TestClient,
    clock: FrozenClock,
    incident: dict[str, Any],
    skew_or_secret: timedelta | str,
) -> None:
    body = form(payload("warroom_resolve"))
    if isinstance(skew_or_secret, str):
        headers = signed(body, clock.now(), secret=skew_or_secret)
    else:
        headers = signed(body, clock.now() - skew_or_secret)
    before = rejections(client, "unauthorized")
    response = client.post(URL, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert rejections(client, "unauthorized") == before + 1
    assert api.get("/api/v1/incidents/1").json()["status"] == "detected"


def test_missing_signature_or_non_utf8_body_is_401(
    client: TestClient, clock: FrozenClock, incident: dict[str, Any]
) -> None:
    assert client.post(URL, content=form(payload())).status_code == 401
    # slack_sdk's verifier cannot read a body that is not UTF-8; Slack never sends one.
    assert press(client, clock, b"\xff\xfe").status_code == 401


def test_signature_still_valid_four_minutes_later(
    client: TestClient, clock: FrozenClock, incident: dict[str, Any]
) -> None:
    body = form(payload())
    headers = signed(body, clock.now())
    clock.advance(timedelta(minutes=4))
    assert client.post(URL, content=body, headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "exactly one payload"),
        (b"text=hello", "exactly one payload"),
        (form(payload()) + b"&" + form(payload()), "exactly one payload"),
        (b"payload=%7Bnot+json", "not valid JSON"),
        (form(["a", "list"]), "JSON object with a type"),
        (form({"type": "block_actions", "actions": []}), "user.id is missing"),
        (form(payload(actions=[])), "payload.actions"),
        (form(payload(value="INC-1")), "must be an incident number"),
        (form(payload(value="1" * 12)), "must be an incident number"),
        (b"payload=%FF%FE", "not valid JSON"),
        (b"payload", "must be a form"),
    ],
)
def test_malformed_payload_is_400(
    client: TestClient,
    api: TestClient,
    clock: FrozenClock,
    incident: dict[str, Any],
    body: bytes,
    message: str,
) -> None:
    before = rejections(client, "malformed")
    response = press(client, clock, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"
    assert message in response.json()["error"]["message"]
    assert rejections(client, "malformed") == before + 1
    assert api.get("/api/v1/incidents/1").json()["acknowledged_by"] is None


def test_not_configured_is_404(client: TestClient, runtime: Runtime, clock: FrozenClock) -> None:
    runtime.config_value = WarroomConfig()
    response = press(client, clock, payload())
    assert response.status_code == 404
    assert "integrations.slack" in response.json()["error"]["message"]


def test_a_button_acts_with_the_warroom_role_of_the_linked_user(
    client: TestClient, api: TestClient, clock: FrozenClock, slack: SlackServer, runtime: Runtime
) -> None:
    api.post("/api/v1/incidents", json={"title": "Checkout down"})
    with runtime.db.transaction() as session:
        set_role(session, name="bob", role="viewer")
    events = len(timeline(api))
    answer = said(client, clock, slack, payload(user=BOB))
    assert answer == (
        "You (bob) are a viewer in warroom; to acknowledge INC-1 you need the responder role. "
        "Ask an admin: `warroom users set-role bob responder`."
    )
    with runtime.db.transaction() as session:
        disable_user(session, name="alice", now=clock.now())
    answer = said(client, clock, slack, payload(user=ALICE))
    assert answer == "Your warroom user alice is disabled, so you cannot acknowledge INC-1."
    assert len(timeline(api)) == events
    assert api.get("/api/v1/incidents/1").json()["acknowledged_by"] is None


def test_a_restricted_incident_is_no_incident_to_an_outsider_on_slack(
    client: TestClient,
    api: TestClient,
    clock: FrozenClock,
    slack: SlackServer,
    tokens: dict[str, str],
) -> None:
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    body = {"title": "Customer data exposed", "incident_type": "security"}
    assert api.post("/api/v1/incidents", json=body, headers=admin).status_code == 201
    answer = said(client, clock, slack, payload(user=BOB))
    assert answer == "Cannot acknowledge INC-1: no incident INC-1"
    assert "Customer" not in answer


def test_replies_escape_the_title(
    client: TestClient, api: TestClient, clock: FrozenClock, slack: SlackServer
) -> None:
    title = "<!channel> <https://evil.example|Open> & co"
    response = api.post("/api/v1/incidents", json={"title": title, "severity": "SEV-2"})
    assert response.status_code == 201, response.text
    escaped = "&lt;!channel&gt; &lt;https://evil.example|Open&gt; &amp; co"
    # Without a response_url, the answer body is the reply.
    answer = press(client, clock, {k: v for k, v in payload().items() if k != "response_url"})
    assert answer.json()["text"].endswith(f"paging stops. {escaped}"), answer.json()
    resolved = said(client, clock, slack, payload(action_id="warroom_resolve", user=BOB))
    assert "<" not in resolved, resolved
