"""The incident room's other forms: command handoff, roles, access, actions, status updates."""

from __future__ import annotations

import sys

import pytest
from fastapi.testclient import TestClient

from tests.helpers import PY_EXEC
from tests.web.test_pages import add_user, declare, sign_in
from warroom.config import WarroomConfig
from warroom.runtime import Runtime

PY = sys.executable


@pytest.fixture
def config() -> WarroomConfig:
    """Three people, an ordinary action and a dangerous one, a status page."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": n, "name": n.capitalize()} for n in ("rita", "sam", "ada", "vic")],
            "actions": [
                {
                    "name": "echo",
                    "description": "Print what it gets",
                    "command": [*PY_EXEC, "import sys; print('said', sys.argv[1])", "{text}"],
                    "params": {"text": {"pattern": ".{1,200}"}},
                },
                {
                    "name": "rollback",
                    "description": "Roll back the last deploy",
                    "dangerous": True,
                    "command": [*PY_EXEC, "print('rolled back')"],
                },
            ],
            "status_page": {"title": "Acme status"},
        }
    )


@pytest.fixture
def signed(client: TestClient, runtime: Runtime) -> tuple[str, str]:
    """rita (responder) signed in, sam and ada users too; INC-1 declared by rita."""
    add_user(runtime, "rita", "responder")
    add_user(runtime, "sam", "responder")
    add_user(runtime, "ada", "admin")
    csrf = sign_in(client, "rita")
    return csrf, declare(client, csrf, "Checkout is slow")


def test_command_is_proposed_then_accepted(
    client: TestClient, runtime: Runtime, signed: tuple[str, str]
) -> None:
    csrf, room = signed
    assert runtime.flows.get("INC-1").commander == "rita"
    proposed = client.post(
        f"{room}/commander", data={"csrf_token": csrf, "person": "sam", "reason": "shift ends"}
    )
    assert proposed.status_code == 200
    assert runtime.flows.get("INC-1").pending_commander == "sam"
    assert "not accepted yet" in proposed.text
    # The room says it in its own words: the People section, not the API's paths.
    assert "sam accepts or declines under People" in proposed.text
    assert "/api/v1/" not in proposed.text.split('<main id="main"', 1)[-1].split("</main>")[0]
    client.cookies.clear()
    sam = sign_in(client, "sam")
    page = client.get(room).text
    assert "Accept command</button>" in page
    accepted = client.post(f"{room}/commander/accept", data={"csrf_token": sam})
    assert accepted.status_code == 200
    after = runtime.flows.get("INC-1")
    assert (after.commander, after.pending_commander) == ("sam", None)


def test_a_role_is_given_and_released(
    client: TestClient, runtime: Runtime, signed: tuple[str, str]
) -> None:
    csrf, room = signed
    client.post(f"{room}/roles", data={"csrf_token": csrf, "role": "scribe", "person": "sam"})
    assert ("scribe", "sam") in {(r.role, r.person) for r in runtime.flows.get("INC-1").roles}
    client.post(
        f"{room}/roles",
        data={"csrf_token": csrf, "role": "scribe", "person": "sam", "release": "1"},
    )
    assert ("scribe", "sam") not in {(r.role, r.person) for r in runtime.flows.get("INC-1").roles}
    unknown = client.post(
        f"{room}/roles", data={"csrf_token": csrf, "role": "chef", "person": "sam"}
    )
    assert unknown.status_code == 422
    assert "unknown role" in unknown.text


def test_an_action_runs_and_shows_its_output_a_dangerous_one_needs_confirming(
    client: TestClient, runtime: Runtime, signed: tuple[str, str]
) -> None:
    csrf, room = signed
    page = client.get(room).text
    assert "Run echo" in page and "changes production" in page
    ran = client.post(f"{room}/actions/echo", data={"csrf_token": csrf, "param.text": "hello"})
    assert ran.status_code == 200
    assert "said hello" in ran.text and "succeeded" in ran.text
    refused = client.post(f"{room}/actions/rollback", data={"csrf_token": csrf})
    assert refused.status_code in (409, 422)
    assert "confirm" in refused.text
    kinds = [event.kind for event in runtime.flows.get("INC-1").timeline]
    assert kinds.count("action") == 1  # the refused run left nothing
    confirmed = client.post(f"{room}/actions/rollback", data={"csrf_token": csrf, "confirm": "yes"})
    assert "rolled back" in confirmed.text


def test_a_status_update_is_previewed_without_saving_then_posted(
    client: TestClient, runtime: Runtime, signed: tuple[str, str]
) -> None:
    csrf, room = signed
    form = {
        "csrf_token": csrf,
        "status": "investigating",
        "body": "Some payments fail; we are on it.",
        "public": "1",
        "public_title": "Payments degraded",
    }
    preview = client.post(f"{room}/status-updates", data={**form, "preview": "1"})
    assert preview.status_code == 200
    assert "Preview — not posted yet" in preview.text and "Payments degraded" in preview.text
    assert client.get("/api/v1/status").json()["incidents"] == []
    posted = client.post(f"{room}/status-updates", data=form, follow_redirects=False)
    assert posted.status_code == 303
    public = client.get("/api/v1/status").json()["incidents"]
    assert [incident["name"] for incident in public] == ["Payments degraded"]
    blank = client.post(f"{room}/status-updates", data={**form, "body": "  "})
    assert blank.status_code == 422


def test_a_restricted_incident_lets_someone_in_by_form(
    client: TestClient, runtime: Runtime, signed: tuple[str, str]
) -> None:
    csrf, _room = signed
    breach = declare(client, csrf, "Credentials leaked", incident_type="security")
    add_user(runtime, "vic", "viewer")
    no_reason = client.post(f"{breach}/access", data={"csrf_token": csrf, "person": "vic"})
    assert no_reason.status_code == 422
    let_in = client.post(
        f"{breach}/access", data={"csrf_token": csrf, "person": "vic", "reason": "the owner"}
    )
    assert let_in.status_code == 200
    client.cookies.clear()
    sign_in(client, "vic")
    assert client.get(breach).status_code == 200
