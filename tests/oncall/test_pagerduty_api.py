"""Schedules that live in PagerDuty answer /api/v1/oncall through the real client and a fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import START
from tests.oncall.pagerduty_fake import FakePagerDuty, FakeUser
from warroom.config import WarroomConfig, load_config
from warroom.core.errors import ConfigError

ALICE = FakeUser("PALICE1", "Alice Ng", "alice@example.com")
ERIN = FakeUser("PERIN01", "Erin Unmapped", "erin@example.com")


@pytest.fixture
def fake() -> Iterator[FakePagerDuty]:
    server = FakePagerDuty().start()
    yield server
    server.stop()


@pytest.fixture
def config(fake: FakePagerDuty) -> WarroomConfig:
    """One local schedule and one that lives in PagerDuty."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "alice", "name": "Alice Ng"}, {"id": "bob", "name": "Bob Ruiz"}],
            "schedules": [
                {
                    "id": "local",
                    "timezone": "UTC",
                    "layers": [
                        {"name": "primary", "rotation": {"every": "1d", "participants": ["bob"]}}
                    ],
                }
            ],
            "services": [{"id": "checkout", "schedule": "payments"}],
            "integrations": {
                "pagerduty_oncall": {
                    "api_key": fake.api_key,
                    "base_url": fake.url,
                    "schedules": {
                        "payments": {
                            "pagerduty_schedule_ids": {
                                "primary": ["PSCHED1"],
                                "secondary": ["PSCHED2"],
                            }
                        }
                    },
                    "people": {"alice@example.com": "alice"},
                }
            },
        }
    )


def test_oncall_merges_local_and_pagerduty(api: TestClient, fake: FakePagerDuty) -> None:
    fake.add(
        ALICE, ("PSCHED1", "Payments primary"), START - timedelta(days=1), START + timedelta(days=6)
    )
    fake.add(
        ERIN,
        ("PSCHED2", "Payments secondary"),
        START - timedelta(hours=1),
        START + timedelta(hours=5),
    )
    answer = api.get("/api/v1/oncall")
    assert answer.status_code == 200, answer.text
    schedules = {s["id"]: s for s in answer.json()["schedules"]}
    assert set(schedules) == {"local", "payments"}
    layers = {layer["name"]: layer["on_call"] for layer in schedules["payments"]["layers"]}
    assert layers["primary"] == [{"id": "alice", "name": "Alice Ng"}]
    assert layers["secondary"][0]["id"] == "Erin Unmapped"  # not mapped to a warroom person
    assert len(fake.oncalls_requests()) == 1  # every PagerDuty schedule in one query
    only = api.get("/api/v1/oncall", params={"schedule": "payments"}).json()["schedules"]
    assert [s["id"] for s in only] == ["payments"]


def test_pagerduty_down_is_502(api: TestClient, fake: FakePagerDuty) -> None:
    fake.answer = (500, {"error": {"message": "Internal error", "code": 2001}})
    answer = api.get("/api/v1/oncall", params={"schedule": "payments"})
    assert answer.status_code == 502
    assert "PagerDuty answered HTTP 500" in answer.json()["error"]["message"]
    assert api.get("/api/v1/oncall", params={"schedule": "local"}).status_code == 200


def test_pagerduty_schedules_have_no_local_shifts(api: TestClient) -> None:
    answer = api.get("/api/v1/schedules/payments/shifts")
    assert answer.status_code == 409
    assert "lives in PagerDuty" in answer.json()["error"]["message"]
    assert api.get("/api/v1/oncall", params={"schedule": "nope"}).status_code == 404


def test_config_checks(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(
        "people:\n"
        "  - {id: alice, name: Alice}\n"
        "schedules:\n"
        "  - {id: payments, timezone: UTC,"
        " layers: [{name: p, rotation: {participants: [alice]}}]}\n"
        "integrations:\n"
        "  pagerduty_oncall:\n"
        "    api_key: k\n"
        "    schedules:\n"
        "      payments: {pagerduty_schedule_ids: {primary: [P1]}}\n"
        "    people:\n"
        "      zed@example.com: zed\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = "\n".join(caught.value.problems)
    assert (
        f"{path}:11: integrations.pagerduty_oncall.people.zed@example.com: unknown person"
        in problems
    )
    assert f"{path}:9: integrations.pagerduty_oncall.schedules.payments: also defined" in problems


def test_pagerduty_on_call_becomes_commander_and_failure_falls_back(
    api: TestClient, fake: FakePagerDuty
) -> None:
    fake.add(
        ALICE, ("PSCHED1", "Payments primary"), START - timedelta(days=1), START + timedelta(days=6)
    )
    first = api.post("/api/v1/incidents", json={"title": "x", "service": "checkout"}).json()
    assert first["commander"] == "alice"
    fake.answer = (500, {"error": {"message": "Internal error", "code": 2001}})
    second = api.post("/api/v1/incidents", json={"title": "y", "service": "checkout"})
    assert second.status_code == 201  # PagerDuty being down never stops a declaration
    assert second.json()["commander"] == "rita"  # no team lead configured: the reporter
