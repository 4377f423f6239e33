"""With people configured, who leads or holds a role must be one of them; refusals write nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from warroom.cli.main import app
from warroom.config import WarroomConfig

PEOPLE = [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob"}]
HINT = "unknown person 'alcie' — did you mean 'alice'? (people are configured in warroom.yaml)"


@pytest.fixture
def config(request: pytest.FixtureRequest) -> WarroomConfig:
    """Two people (or those a test gives); the token users (ada, rita, vic) are not among them."""
    return WarroomConfig.model_validate({"people": getattr(request, "param", PEOPLE)})


def declare(api: TestClient, **fields: Any) -> dict[str, Any]:
    """Declare an incident and return it."""
    response = api.post("/api/v1/incidents", json={"title": "Checkout down", **fields})
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def refused(response: Any, message: str = HINT) -> None:
    """Assert a 422 whose message is `message`."""
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"] == message


def test_declare_with_an_unknown_commander_writes_nothing(api: TestClient) -> None:
    refused(api.post("/api/v1/incidents", json={"title": "x", "commander": "alcie"}))
    assert api.get("/api/v1/incidents").json()["items"] == []
    # The reporter chosen as first IC need not be a configured person (rita is not).
    assert declare(api)["commander"] == "rita"
    assert declare(api, commander="alice")["commander"] == "alice"


def test_unknown_commander_in_update_triage_and_handoff(api: TestClient) -> None:
    ref = declare(api)["ref"]
    before = api.get(f"/api/v1/incidents/{ref}").json()
    refused(api.patch(f"/api/v1/incidents/{ref}", json={"commander": "alcie", "scope": "EU"}))
    triage = {"commander": "alcie", "impact": "all", "scope": "EU", "priority": "P1"}
    refused(api.post(f"/api/v1/incidents/{ref}/triage", json=triage))
    refused(api.post(f"/api/v1/incidents/{ref}/commander", json={"person": "alcie"}))
    after = api.get(f"/api/v1/incidents/{ref}").json()
    assert after == before  # status, scope, commander, pending handoff, timeline: unchanged
    proposed = api.post(f"/api/v1/incidents/{ref}/commander", json={"person": "alice"})
    assert proposed.json()["pending_commander"] == "alice"


def test_unknown_role_holder(api: TestClient) -> None:
    ref = declare(api)["ref"]
    roles = f"/api/v1/incidents/{ref}/roles"
    refused(api.post(roles, json={"role": "scribe", "person": "alcie"}))
    refused(
        api.post(roles, json={"role": "sme", "person": "zed"}),
        "unknown person 'zed'; use one of alice, bob (people are configured in warroom.yaml)",
    )
    bad_role = api.post(roles, json={"role": "chef", "person": "zed"})
    assert "unknown role 'chef'" in bad_role.json()["error"]["message"]  # the role is told first
    held = api.get(f"/api/v1/incidents/{ref}").json()["roles"]
    assert [(r["role"], r["person"]) for r in held] == [("reporter", "rita")]
    assert api.post(roles, json={"role": "scribe", "person": "bob"}).status_code == 200
    # The reporter (not a configured person) can still be released from the role they hold.
    released = api.post(f"{roles}/release", json={"role": "reporter", "person": "rita"})
    assert released.status_code == 200


def test_checklist_owner_gets_the_same_hint(api: TestClient) -> None:
    incident = declare(api)
    ref, item = incident["ref"], incident["checklist"][0]["id"]
    refused(api.patch(f"/api/v1/incidents/{ref}/checklist/{item}", json={"owner": "alcie"}))
    assert api.get(f"/api/v1/incidents/{ref}").json()["checklist"][0]["owner"] is None


def test_cli_names_the_person_meant(live_server: str, tokens: dict[str, str]) -> None:
    env = {"WARROOM_URL": live_server, "WARROOM_TOKEN": tokens["responder"]}
    runner = CliRunner()
    declared = runner.invoke(app, ["incident", "declare", "Down", "--commander", "alcie"], env=env)
    assert declared.exit_code == 1
    assert declared.stderr.strip() == f"error: {HINT}"
    assert runner.invoke(app, ["incident", "declare", "Down"], env=env).exit_code == 0
    handoff = runner.invoke(app, ["incident", "handoff", "INC-1", "alcie"], env=env)
    assert handoff.exit_code == 1 and handoff.stderr.strip() == f"error: {HINT}"
    role = runner.invoke(app, ["incident", "role", "INC-1", "scribe", "alcie"], env=env)
    assert role.exit_code == 1 and role.stderr.strip() == f"error: {HINT}"


@pytest.mark.parametrize("config", [[]], indirect=True)
def test_a_fresh_install_takes_any_name(api: TestClient) -> None:
    ref = declare(api, commander="alcie")["ref"]
    assert api.post(f"/api/v1/incidents/{ref}/commander", json={"person": "zed"}).status_code == 200
    roles = f"/api/v1/incidents/{ref}/roles"
    assert api.post(roles, json={"role": "scribe", "person": "anyone"}).status_code == 200
