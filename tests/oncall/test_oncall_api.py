"""On-call over HTTP: who is on call, shifts, overrides and iCal feeds, with real schedules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from warroom.auth import service as auth
from warroom.cli.main import app
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime


@pytest.fixture
def config() -> WarroomConfig:
    """Payments on a weekly Berlin rotation: alice and bob alternate, carol leads."""
    rotation = {"every": "1w", "handoff": "Mon 09:00", "start": "2026-01-05"}
    return WarroomConfig.model_validate(
        {
            "people": [
                {"id": "alice", "name": "Alice Ng"},
                {"id": "bob", "name": "Bob Ruiz"},
                {"id": "carol", "name": "Carol Lee"},
            ],
            "teams": [{"id": "payments", "members": ["alice", "bob"], "leads": ["carol"]}],
            "services": [{"id": "checkout", "team": "payments", "schedule": "payments"}],
            "schedules": [
                {
                    "id": "payments",
                    "timezone": "Europe/Berlin",
                    "layers": [
                        {
                            "name": "primary",
                            "rotation": {**rotation, "participants": ["alice", "bob"]},
                        },
                        {
                            "name": "secondary",
                            "rotation": {**rotation, "participants": ["bob", "alice"]},
                        },
                    ],
                }
            ],
        }
    )


def layers(api: TestClient, **params: str) -> dict[str, list[str]]:
    answer = api.get("/api/v1/oncall", params=params)
    assert answer.status_code == 200, answer.text
    (schedule,) = answer.json()["schedules"]
    return {layer["name"]: [p["id"] for p in layer["on_call"]] for layer in schedule["layers"]}


def test_who_is_on_call_now_and_next_week(api: TestClient, clock: FrozenClock) -> None:
    # 2026-03-02 09:00 UTC is Monday 10:00 in Berlin: the eighth weekly handoff has happened.
    assert layers(api) == {"primary": ["alice"], "secondary": ["bob"]}
    next_week = (clock.now() + timedelta(days=7)).isoformat()
    assert layers(api, at=next_week) == {"primary": ["bob"], "secondary": ["alice"]}
    # Monday 08:30 Berlin (07:30 UTC) is still the previous week's shift.
    before = (clock.now() - timedelta(minutes=90)).isoformat()
    assert layers(api, at=before) == {"primary": ["bob"], "secondary": ["alice"]}
    names = api.get("/api/v1/oncall").json()["schedules"][0]["layers"][0]["on_call"][0]["name"]
    assert names == "Alice Ng"


def test_overrides_replace_and_add(api: TestClient, clock: FrozenClock) -> None:
    ends = (clock.now() + timedelta(hours=2)).isoformat()
    created = api.post(
        "/api/v1/oncall/overrides",
        json={
            "schedule": "payments",
            "layer": "primary",
            "person": "carol",
            "ends_at": ends,
            "reason": "alice at the dentist",
        },
    )
    assert created.status_code == 201, created.text
    assert layers(api)["primary"] == ["carol"]
    later = (clock.now() + timedelta(hours=3)).isoformat()
    assert layers(api, at=later)["primary"] == ["alice"]
    api.post(
        "/api/v1/oncall/overrides",
        json={
            "schedule": "payments",
            "layer": "secondary",
            "person": "carol",
            "mode": "add",
            "ends_at": ends,
            "reason": "shadowing",
        },
    )
    assert sorted(layers(api)["secondary"]) == ["bob", "carol"]
    listed = api.get("/api/v1/oncall/overrides").json()
    assert [o["reason"] for o in listed] == ["alice at the dentist", "shadowing"]
    assert api.delete(f"/api/v1/oncall/overrides/{listed[0]['id']}").status_code == 204
    assert layers(api)["primary"] == ["alice"]
    assert api.delete(f"/api/v1/oncall/overrides/{listed[0]['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"schedule": "nope"}, 404, "no schedule 'nope' (known: payments)"),
        ({"layer": "tertiary"}, 422, "has no layer 'tertiary'; use primary, secondary"),
        ({"person": "mallory"}, 422, "unknown person 'mallory'"),
        ({"ends_at": "2020-01-01T00:00:00Z"}, 422, "ends_at must be after starts_at"),
        (
            {"starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-01-02T00:00:00Z"},
            422,
            "already be over",
        ),
        ({"mode": "swap"}, 422, "mode"),
        ({"reason": ""}, 422, "reason"),
    ],
)
def test_bad_overrides(
    api: TestClient, clock: FrozenClock, body: dict[str, str], status: int, needle: str
) -> None:
    good = {
        "schedule": "payments",
        "layer": "primary",
        "person": "carol",
        "ends_at": (clock.now() + timedelta(hours=1)).isoformat(),
        "reason": "cover",
    }
    response = api.post("/api/v1/oncall/overrides", json={**good, **body})
    assert response.status_code == status, response.text
    assert needle in response.json()["error"]["message"]
    assert api.get("/api/v1/oncall/overrides").json() == []


def test_viewer_reads_but_cannot_override(
    client: TestClient, tokens: dict[str, str], clock: FrozenClock
) -> None:
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    assert client.get("/api/v1/oncall", headers=viewer).status_code == 200
    denied = client.post(
        "/api/v1/oncall/overrides",
        headers=viewer,
        json={
            "schedule": "payments",
            "layer": "primary",
            "person": "carol",
            "reason": "x",
            "ends_at": (clock.now() + timedelta(hours=1)).isoformat(),
        },
    )
    assert denied.status_code == 403


def test_shifts_listing(api: TestClient) -> None:
    shifts = api.get("/api/v1/schedules/payments/shifts", params={"days": 14, "layer": "primary"})
    assert shifts.status_code == 200
    people = [s["person"]["id"] for s in shifts.json()]
    assert people[:3] == ["alice", "bob", "alice"]
    assert shifts.json()[1]["start"].startswith("2026-03-09T08:00:00")  # Mon 09:00 Berlin
    assert api.get("/api/v1/schedules/nope/shifts").status_code == 404


def test_ical_feeds(client: TestClient, runtime: Runtime, tokens: dict[str, str]) -> None:
    from icalendar import Calendar

    with runtime.db.transaction() as session:
        calendar = auth.create_token(
            session,
            user=auth.get_user(session, "vic"),
            name="calendar",
            now=runtime.clock.now(),
            scopes=["calendar"],
        )
    assert client.get("/api/v1/schedules/payments/ical").status_code == 401
    feed = client.get("/api/v1/schedules/payments/ical", params={"token": calendar})
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    events = list(Calendar.from_ical(feed.content).walk("VEVENT"))
    assert len(events) >= 14  # two layers, weekly, about 15 weeks
    assert any("Alice Ng" in str(e.get("SUMMARY")) for e in events)
    mine = client.get("/api/v1/people/bob/ical", params={"token": calendar})
    bob_events = list(Calendar.from_ical(mine.content).walk("VEVENT"))
    assert bob_events and all("Bob Ruiz" in str(e.get("SUMMARY")) for e in bob_events)
    assert client.get("/api/v1/people/nobody/ical", params={"token": calendar}).status_code == 404


def test_cli(live_server: str, tokens: dict[str, str]) -> None:
    runner = CliRunner()
    env = {"WARROOM_URL": live_server, "WARROOM_TOKEN": tokens["responder"]}
    now = runner.invoke(app, ["oncall", "now"], env=env)
    assert now.exit_code == 0, now.output
    assert "Alice Ng (alice)" in now.output and "secondary" in now.output
    added = runner.invoke(
        app,
        [
            "oncall",
            "override",
            "add",
            "payments",
            "primary",
            "carol",
            "--duration",
            "2h",
            "--reason",
            "covering",
        ],
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert "carol replaces payments/primary" in added.output
    listed = runner.invoke(app, ["oncall", "override", "list", "--json"], env=env)
    assert '"covering"' in listed.output
    bad = runner.invoke(
        app,
        [
            "oncall",
            "override",
            "add",
            "payments",
            "nope",
            "carol",
            "--duration",
            "2h",
            "--reason",
            "x",
        ],
        env=env,
    )
    assert bad.exit_code == 1 and "error: schedule 'payments' has no layer 'nope'" in bad.output
    shifts = runner.invoke(app, ["oncall", "shifts", "payments", "--days", "7"], env=env)
    assert shifts.exit_code == 0, shifts.output
    assert "Shifts of payments" in shifts.output


def test_cli_severities(live_server: str, tokens: dict[str, str]) -> None:
    env = {"WARROOM_URL": live_server, "WARROOM_TOKEN": tokens["viewer"]}
    result = CliRunner().invoke(app, ["incident", "severities"], env=env)
    assert result.exit_code == 0, result.output
    assert "choose the higher" in result.output and "Critical" in result.output


def test_primary_on_call_becomes_incident_commander(api: TestClient, clock: FrozenClock) -> None:
    incident = api.post(
        "/api/v1/incidents", json={"title": "Checkout slow", "service": "checkout"}
    ).json()
    assert incident["commander"] == "alice"
    event = next(e for e in incident["timeline"] if e["kind"] == "commander_changed")
    assert event["data"]["reason"] == "primary on-call of schedule payments (primary)"
    # alice is covered by carol for an hour: carol is the primary on-call, so carol is IC
    api.post(
        "/api/v1/oncall/overrides",
        json={
            "schedule": "payments",
            "layer": "primary",
            "person": "carol",
            "duration_minutes": 60,
            "reason": "alice in a meeting",
        },
    )
    covered = api.post("/api/v1/incidents", json={"title": "Again", "service": "checkout"}).json()
    assert covered["commander"] == "carol"
    named = api.post(
        "/api/v1/incidents", json={"title": "Named", "service": "checkout", "commander": "bob"}
    ).json()
    assert named["commander"] == "bob"
    assert "named by rita" in named["timeline"][1]["data"]["reason"]
