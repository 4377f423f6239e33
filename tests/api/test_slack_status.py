"""Status updates from Slack: the card's button opens a form (views.open), its submission posts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.test_slack_interactions import (
    ALICE,
    SECRET,
    STRANGER,
    URL,
    form,
    payload,
    press,
    rejections,
    signed,
)
from tests.helpers import make_slack_users
from tests.notify.slack_server import TOKEN, SlackServer
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

BUTTON = "warroom_status_update"
TRIGGER = "13345224609.738474920.8088930838d88f008e0"
INTERNAL = "Checkout down: db-7 disk full after bad migration"
FIRST_TITLE = (
    "The first public update of INC-1 needs a public title: the incident's own title is internal."
)


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    """Slack's Web API on a loopback port."""
    with SlackServer() as server:
        yield server


@pytest.fixture
def config(slack: SlackServer) -> WarroomConfig:
    """Slack with a bot token pointing at the loopback server; alice is linked, carol is not."""
    return WarroomConfig.model_validate(
        {
            "people": [
                {"id": "alice", "name": "Alice Ng", "slack": ALICE},
                {"id": "carol", "name": "Carol Hu"},
            ],
            "integrations": {
                "slack": {"signing_secret": SECRET, "bot_token": TOKEN, "base_url": slack.url}
            },
        }
    )


@pytest.fixture(autouse=True)
def slack_users(runtime: Runtime) -> list[str]:
    """The people linked to Slack ids are admins in warroom (they see restricted incidents
    too; tests/api/test_slack_interactions.py holds a viewer and an outsider to the rules)."""
    return make_slack_users(runtime, role="admin")


@pytest.fixture
def incident(api: TestClient) -> dict[str, Any]:
    """INC-1, public, with an internal title that must never reach the public."""
    response = api.post("/api/v1/incidents", json={"title": INTERNAL, "severity": "SEV-2"})
    assert response.status_code == 201, response.text
    return dict(response.json())


def click(client: TestClient, clock: FrozenClock, number: int = 1, **extra: Any) -> httpx.Response:
    """Press the card's Status update button (as alice unless `user=` says otherwise)."""
    data = payload(BUTTON, value=str(number), **extra)
    return press(client, clock, data)


def told(
    client: TestClient, clock: FrozenClock, slack: SlackServer, number: int = 1, **extra: Any
) -> str:
    """Click, and return what warroom told the presser through the click's response_url."""
    response = click(client, clock, number, response_url=slack.response_url(), **extra)
    assert (response.status_code, response.content) == (200, b"")  # Slack shows no body
    (message,) = slack.replies
    assert message["response_type"] == "ephemeral"
    return slack.take_replies()[0]


def submission(
    *,
    status: str | None = "investigating",
    title: str | None = None,
    body: str | None = "Some customers cannot pay; we are on it.",
    visibility: str | None = "public",
    number: str = "1",
    user: str = ALICE,
    callback_id: str = BUTTON,
    blocks: bool = True,
) -> dict[str, Any]:
    """A view_submission payload as Slack sends it when the form's Post is pressed."""

    def select(value: str | None) -> dict[str, Any]:
        option = None if value is None else {"text": {"type": "plain_text", "text": value}}
        if option is not None:
            option["value"] = value
        return {"type": "static_select", "selected_option": option}

    values: dict[str, Any] = {
        "status": {"status": select(status)},
        "body": {"body": {"type": "plain_text_input", "value": body}},
        "visibility": {"visibility": {**select(visibility), "type": "radio_buttons"}},
    }
    if blocks:  # a restricted incident's form has no public title field
        values["public_title"] = {"public_title": {"type": "plain_text_input", "value": title}}
    return {
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": user, "username": "someone", "team_id": "T0001"},
        "api_app_id": "A0APP",
        "trigger_id": "13345224609.738474920.1111111111aa",
        "view": {
            "id": "V00000001",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": number,
            "state": {"values": values},
            "hash": "1700000003.abcd",
        },
    }


def updates(api: TestClient, ref: str = "INC-1") -> list[dict[str, Any]]:
    """The incident's stored status updates, newest first."""
    response = api.get(f"/api/v1/incidents/{ref}/status-updates")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def events(api: TestClient) -> int:
    """How many timeline events INC-1 has."""
    return len(api.get("/api/v1/incidents/1/timeline").json()["items"])


def block(view: dict[str, Any], block_id: str) -> dict[str, Any] | None:
    """The view's block with this id, if it has one."""
    return next((b for b in view["blocks"] if b.get("block_id") == block_id), None)


# -- the button opens the form ---------------------------------------------------------------


def test_button_opens_the_form_with_views_open(
    client: TestClient, clock: FrozenClock, slack: SlackServer, incident: dict[str, Any]
) -> None:
    response = click(client, clock)
    assert response.status_code == 200
    assert response.content == b""  # the form is the answer; nothing to post in the channel
    [call] = [c for c in slack.calls if c.method == "views.open"]
    assert call.outcome == "ok"  # the bot token was accepted and the view passed Slack's limits
    assert call.content_type.startswith("application/json")
    [opened] = slack.views
    assert opened["trigger_id"] == TRIGGER
    view = opened["view"]
    assert (view["type"], view["callback_id"], view["private_metadata"]) == (
        "modal",
        "warroom_status_update",
        "1",
    )
    status = block(view, "status")
    assert status is not None and status["type"] == "input"
    options = [o["value"] for o in status["element"]["options"]]
    assert options == ["investigating", "identified", "monitoring", "resolved"]
    assert "initial_option" not in status["element"]  # no update yet: nothing to suggest
    title = block(view, "public_title")
    assert title is not None and title["optional"] is True
    assert title["element"]["type"] == "plain_text_input"
    assert "initial_value" not in title["element"]
    body = block(view, "body")
    assert body is not None and body["element"]["multiline"] is True
    visibility = block(view, "visibility")
    assert visibility is not None
    assert [o["value"] for o in visibility["element"]["options"]] == ["public", "private"]
    assert visibility["element"]["initial_option"]["value"] == "public"
    assert "INC-1" in json.dumps(view)
    # The internal title is never shown in the form, not even a word of it.
    assert "Checkout down" not in json.dumps(view)
    assert "db-7" not in json.dumps(view)


def test_form_prefills_the_current_public_title_and_last_status(
    client: TestClient,
    api: TestClient,
    clock: FrozenClock,
    slack: SlackServer,
    incident: dict[str, Any],
) -> None:
    first = {"status": "identified", "body": "Found it.", "public_title": "Payments are slow"}
    assert api.post("/api/v1/incidents/1/status-updates", json=first).status_code == 201
    assert click(client, clock).status_code == 200
    view = slack.views[-1]["view"]
    title = block(view, "public_title")
    assert title is not None and title["element"]["initial_value"] == "Payments are slow"
    status = block(view, "status")
    assert status is not None
    assert status["element"]["initial_option"]["value"] == "identified"
    assert status["element"]["initial_option"] in status["element"]["options"]
    assert INTERNAL not in json.dumps(view)


def test_restricted_incident_form_offers_internal_updates_only(
    client: TestClient, api: TestClient, clock: FrozenClock, slack: SlackServer
) -> None:
    made = api.post("/api/v1/incidents", json={"title": "Leaked keys", "visibility": "restricted"})
    assert made.status_code == 201, made.text
    assert click(client, clock).status_code == 200
    view = slack.views[-1]["view"]
    assert block(view, "public_title") is None
    visibility = block(view, "visibility")
    assert visibility is not None
    assert [o["value"] for o in visibility["element"]["options"]] == ["private"]
    assert "restricted" in view["blocks"][0]["elements"][0]["text"]
    assert "Leaked keys" not in json.dumps(view)


def test_expired_or_reused_trigger_is_explained(
    client: TestClient, clock: FrozenClock, slack: SlackServer, incident: dict[str, Any]
) -> None:
    assert click(client, clock).status_code == 200
    again = told(client, clock, slack)  # Slack's trigger_id serves once
    assert again.startswith("Slack would not open the status update form for INC-1:")
    assert "exchanged_trigger_id" in again
    slack.expire("1.2.ab")
    late = told(client, clock, slack, trigger_id="1.2.ab")
    assert "expired_trigger_id" in late
    assert len(slack.views) == 1


def test_unlinked_presser_gets_no_form(
    client: TestClient, clock: FrozenClock, slack: SlackServer, incident: dict[str, Any]
) -> None:
    answer = told(client, clock, slack, user=STRANGER)
    assert f"slack: {STRANGER}" in answer and "people:" in answer
    assert not [c for c in slack.calls if c.method == "views.open"]


def test_unknown_incident_gets_no_form(
    client: TestClient, clock: FrozenClock, slack: SlackServer, incident: dict[str, Any]
) -> None:
    answer = told(client, clock, slack, number=999)
    assert answer.startswith("Cannot post a status update on INC-999: ")
    assert slack.calls == []


def test_without_a_bot_token_the_form_cannot_open(
    client: TestClient, runtime: Runtime, clock: FrozenClock, slack: SlackServer
) -> None:
    runtime.config_value = WarroomConfig.model_validate(
        {
            "people": [{"id": "alice", "name": "Alice Ng", "slack": ALICE}],
            "integrations": {"slack": {"signing_secret": SECRET, "base_url": slack.url}},
        }
    )
    answer = told(client, clock, slack)
    assert "bot_token" in answer
    assert "warroom incident status-update INC-1" in answer
    assert slack.calls == []


def test_click_without_trigger_id_is_400(
    client: TestClient, clock: FrozenClock, slack: SlackServer, incident: dict[str, Any]
) -> None:
    data = payload(BUTTON)
    del data["trigger_id"]
    before = rejections(client, "malformed")
    response = press(client, clock, data)
    assert response.status_code == 400
    assert "trigger_id" in response.json()["error"]["message"]
    assert rejections(client, "malformed") == before + 1
    assert slack.calls == []


# -- submitting the form ---------------------------------------------------------------------


def test_first_public_update_without_a_title_is_refused_and_nothing_is_stored(
    client: TestClient, api: TestClient, clock: FrozenClock, incident: dict[str, Any]
) -> None:
    before = events(api)
    for title in (None, "   "):
        response = press(client, clock, submission(title=title))
        assert response.status_code == 200
        assert response.json() == {
            "response_action": "errors",
            "errors": {"public_title": FIRST_TITLE},
        }
    assert updates(api) == []
    assert events(api) == before
    assert api.get("/api/v1/status").json()["incidents"] == []


def test_first_public_update_with_a_title_is_posted_and_shown_publicly(
    client: TestClient, api: TestClient, clock: FrozenClock, incident: dict[str, Any]
) -> None:
    response = press(client, clock, submission(title="  Some  payments fail ", status="identified"))
    assert response.status_code == 200
    assert response.content == b""  # Slack closes the form
    [stored] = updates(api)
    assert stored["author"] == "alice"
    assert (stored["status"], stored["public"]) == ("identified", True)
    assert stored["public_title"] == "Some payments fail"
    assert stored["body"] == "Some customers cannot pay; we are on it."
    event = api.get("/api/v1/incidents/1/timeline").json()["items"][-1]
    assert (event["kind"], event["actor"], event["source"]) == ("status_update", "alice", "slack")
    summary = api.get("/api/v1/status")
    [shown] = summary.json()["incidents"]
    assert (shown["id"], shown["name"]) == ("INC-1", "Some payments fail")
    feed = client.get("/status/feed.atom").text
    assert "Some payments fail" in feed
    for public in (summary.text, feed):
        assert "Checkout down" not in public


def test_later_public_update_keeps_or_renames_the_title(
    client: TestClient, api: TestClient, clock: FrozenClock, incident: dict[str, Any]
) -> None:
    assert press(client, clock, submission(title="Payments fail")).content == b""
    assert press(client, clock, submission(title=None, status="monitoring")).content == b""
    assert press(client, clock, submission(title="Payments were slow")).content == b""
    assert [u["public_title"] for u in updates(api)] == [
        "Payments were slow",
        "Payments fail",
        "Payments fail",
    ]
    assert api.get("/api/v1/status").json()["incidents"][0]["name"] == "Payments were slow"


def test_private_update_ignores_the_untouched_prefill_but_not_a_new_title(
    client: TestClient, api: TestClient, clock: FrozenClock, incident: dict[str, Any]
) -> None:
    # No public update yet: a private one needs no title.
    assert press(client, clock, submission(visibility="private")).content == b""
    assert press(client, clock, submission(title="Payments fail")).content == b""
    # The form comes prefilled with "Payments fail"; sent back untouched it is no rename.
    kept = submission(title="Payments fail", visibility="private", body="Rolled back db-7.")
    assert press(client, clock, kept).content == b""
    before = (len(updates(api)), events(api))
    renamed = press(client, clock, submission(title="Other words", visibility="private"))
    assert renamed.json() == {
        "response_action": "errors",
        "errors": {
            "public_title": "A public title is for public updates: empty it or choose Public."
        },
    }
    assert (len(updates(api)), events(api)) == before
    private = [u for u in updates(api) if not u["public"]]
    assert [u["public_title"] for u in private] == [None, None]
    status = api.get("/api/v1/status").json()
    assert [u["body"] for u in status["incidents"][0]["incident_updates"]] == [
        "Some customers cannot pay; we are on it."
    ]


def test_unlinked_submitter_is_told_how_to_link(
    client: TestClient, api: TestClient, clock: FrozenClock, incident: dict[str, Any]
) -> None:
    before = events(api)
    answer = press(client, clock, submission(title="Payments fail", user=STRANGER)).json()
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["status"]
    assert f"add `slack: {STRANGER}` to your entry under `people:`" in answer["errors"]["status"]
    assert updates(api) == []
    assert events(api) == before


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"status": None}, {"status": "Choose a status."}),
        ({"body": None}, {"body": "Write what people should know."}),
        ({"body": " \n "}, {"body": "Write what people should know."}),
        ({"visibility": None}, {"visibility": "Choose who sees it."}),
        (
            {"status": "fixed"},
            {
                "status": "Unknown status 'fixed'; use one of investigating, "
                "identified, monitoring, resolved"
            },
        ),
        ({"number": "999"}, {"status": "No incident INC-999"}),
    ],
)
def test_refusals_name_the_field_and_store_nothing(
    client: TestClient,
    api: TestClient,
    clock: FrozenClock,
    incident: dict[str, Any],
    change: dict[str, Any],
    errors: dict[str, str],
) -> None:
    before = events(api)
    answer = press(client, clock, submission(title="Payments fail", **change)).json()
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == set(errors)
    for block_id, message in errors.items():
        assert answer["errors"][block_id].startswith(message)
    assert updates(api) == []
    assert events(api) == before


def test_restricted_incident_cannot_be_made_public_from_a_forged_form(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    made = api.post("/api/v1/incidents", json={"title": "Leaked keys", "visibility": "restricted"})
    assert made.status_code == 201
    answer = press(client, clock, submission(blocks=False)).json()
    assert answer["response_action"] == "errors"
    assert answer["errors"]["visibility"].startswith("INC-1 is restricted")
    assert updates(api) == []
    assert press(client, clock, submission(blocks=False, visibility="private")).content == b""
    [stored] = updates(api)
    assert (stored["public"], stored["public_title"]) == (False, None)


def test_another_apps_form_is_closed_politely(
    client: TestClient, api: TestClient, clock: FrozenClock, incident: dict[str, Any]
) -> None:
    before = events(api)
    response = press(client, clock, submission(title="x", callback_id="someone_elses_form"))
    assert response.status_code == 200
    assert response.content == b""
    assert updates(api) == []
    assert events(api) == before


def test_unsigned_or_badly_signed_submission_is_401(
    client: TestClient, api: TestClient, clock: FrozenClock, incident: dict[str, Any]
) -> None:
    body = form(submission(title="Payments fail"))
    assert client.post(URL, content=body).status_code == 401
    wrong = client.post(URL, content=body, headers=signed(body, clock.now(), secret="nope"))
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "unauthorized"
    assert updates(api) == []


def _without_view(data: dict[str, Any]) -> dict[str, Any]:
    del data["view"]
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_without_view(submission()), "payload.view"),
        (submission(number="INC-1"), "private_metadata"),
        (submission(number="1" * 12), "private_metadata"),
        ({**submission(), "user": {}}, "user.id is missing"),
    ],
)
def test_malformed_submission_is_400(
    client: TestClient,
    api: TestClient,
    clock: FrozenClock,
    incident: dict[str, Any],
    data: dict[str, Any],
    message: str,
) -> None:
    before = rejections(client, "malformed")
    response = press(client, clock, data)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert rejections(client, "malformed") == before + 1
    assert updates(api) == []


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({}, "view.state.values"),
        ({"values": {"status": {"status": "investigating"}}}, "values.status"),
        ({"values": {"body": {"body": {"value": 7}}}}, "must be text"),
        ({"values": {"status": {"status": {"selected_option": "x"}}}}, "must be an option"),
    ],
)
def test_malformed_form_state_is_400(
    client: TestClient,
    api: TestClient,
    clock: FrozenClock,
    incident: dict[str, Any],
    state: dict[str, Any],
    message: str,
) -> None:
    data = submission()
    data["view"]["state"] = state
    response = press(client, clock, data)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert updates(api) == []
