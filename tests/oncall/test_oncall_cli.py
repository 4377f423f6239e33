"""`warroom oncall now|shifts` show times in the schedule's zone or --tz, against a live server."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from warroom.cli.main import app
from warroom.config import WarroomConfig

runner = CliRunner()
ROTATION = {"every": "1w", "handoff": "Mon 09:00", "start": "2026-01-05"}


@pytest.fixture
def config() -> WarroomConfig:
    """Payments hands off weekly on Monday 09:00 Berlin time; Tokyo daily at 09:00 Tokyo time."""
    return WarroomConfig.model_validate(
        {
            "people": [
                {"id": "alice", "name": "Alice Ng"},
                {"id": "bob", "name": "Bob Ruiz"},
                {"id": "kenji", "name": "Kenji Sato"},
            ],
            "schedules": [
                {
                    "id": "payments",
                    "timezone": "Europe/Berlin",
                    "layers": [
                        {
                            "name": "primary",
                            "rotation": {**ROTATION, "participants": ["alice", "bob"]},
                        },
                    ],
                },
                {
                    "id": "tokyo",
                    "timezone": "Asia/Tokyo",
                    "layers": [
                        {
                            "name": "primary",
                            "rotation": {
                                "every": "1d",
                                "handoff": "09:00",
                                "start": "2026-01-05",
                                "participants": ["kenji", "alice"],
                            },
                        }
                    ],
                },
            ],
        }
    )


def oncall(url: str, token: str, *args: str) -> Result:
    env = {"WARROOM_URL": url, "WARROOM_TOKEN": token, "COLUMNS": "200"}
    return runner.invoke(app, ["oncall", *args], env=env)


def test_shifts_are_in_the_schedules_zone(live_server: str, tokens: dict[str, str]) -> None:
    # The test clock stands at Monday 2026-03-02 09:00 UTC, 10:00 in Berlin.
    shown = oncall(live_server, tokens["viewer"], "shifts", "payments", "--days", "14")
    assert shown.exit_code == 0, shown.output
    assert "Shifts of payments, times in Europe/Berlin" in shown.stdout
    assert "from (Europe/Berlin)" in shown.stdout and "to (Europe/Berlin)" in shown.stdout
    # The handoff happens at 09:00 Berlin time, which is 08:00 UTC in winter.
    assert "│ Mon 2026-03-09 09:00 │" in shown.stdout
    assert "08:00" not in shown.stdout
    assert "UTC" not in shown.stdout


@pytest.mark.parametrize(
    ("zone", "handoff"),
    [("UTC", "Mon 2026-03-09 08:00"), ("Asia/Tokyo", "Mon 2026-03-09 17:00")],
)
def test_shifts_in_another_zone(
    live_server: str, tokens: dict[str, str], zone: str, handoff: str
) -> None:
    shown = oncall(live_server, tokens["viewer"], "shifts", "payments", "--tz", zone)
    assert shown.exit_code == 0, shown.output
    assert f"Shifts of payments, times in {zone}" in shown.stdout
    assert f"from ({zone})" in shown.stdout
    assert f"│ {handoff} │" in shown.stdout


def test_the_shifts_api_names_the_zone(api: TestClient) -> None:
    answer = api.get("/api/v1/schedules/tokyo/shifts", params={"days": 2})
    assert answer.status_code == 200
    assert {shift["timezone"] for shift in answer.json()} == {"Asia/Tokyo"}


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "utc+2"])
@pytest.mark.parametrize("command", [["shifts", "payments"], ["now"]])
def test_an_unknown_zone_is_one_line_and_exit_2(zone: str, command: list[str]) -> None:
    # No server at this address: the zone is refused before any request is made.
    shown = oncall("http://127.0.0.1:9", "wr_x", *command, "--tz", zone)
    assert shown.exit_code == 2
    assert shown.stdout == ""
    assert shown.stderr.splitlines() == [
        f"error: --tz: {zone!r} is not a time zone; use an IANA name such as Europe/Berlin"
    ]


def test_now_in_the_zone_the_schedules_share(live_server: str, tokens: dict[str, str]) -> None:
    shown = oncall(live_server, tokens["viewer"], "now", "--schedule", "payments")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0] == "On call at Mon 2026-03-02 10:00 (Europe/Berlin)"
    assert "local time" not in shown.stdout


def test_now_across_zones_says_each_schedules_time(
    live_server: str, tokens: dict[str, str]
) -> None:
    shown = oncall(live_server, tokens["viewer"], "now")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0] == "On call at Mon 2026-03-02 09:00 (UTC)"
    assert "local time" in shown.stdout
    assert "Mon 10:00 Europe/Berlin" in shown.stdout
    assert "Mon 18:00 Asia/Tokyo" in shown.stdout

    asked = oncall(live_server, tokens["viewer"], "now", "--tz", "America/New_York")
    assert asked.exit_code == 0, asked.output
    assert asked.stdout.splitlines()[0] == "On call at Mon 2026-03-02 04:00 (America/New_York)"
    assert "local time" not in asked.stdout


def test_now_at_a_local_time(live_server: str, tokens: dict[str, str]) -> None:
    token = tokens["viewer"]
    # 08:30 in Berlin is before Monday's 09:00 handoff: alice still has the week.
    before = oncall(
        live_server, token, "now", "--schedule", "payments", "--tz", "Europe/Berlin",
        "--at", "2026-03-09T08:30",
    )  # fmt: skip
    assert before.exit_code == 0, before.output
    assert before.stdout.splitlines()[0] == "On call at Mon 2026-03-09 08:30 (Europe/Berlin)"
    assert "Alice Ng (alice)" in before.stdout
    # Without --tz a time without an offset is UTC: 08:30 UTC is 09:30 in Berlin, bob's turn.
    after = oncall(live_server, token, "now", "--schedule", "payments", "--at", "2026-03-09T08:30")
    assert after.exit_code == 0, after.output
    assert after.stdout.splitlines()[0] == "On call at Mon 2026-03-09 09:30 (Europe/Berlin)"
    assert "Bob Ruiz (bob)" in after.stdout
    bad = oncall(live_server, token, "now", "--at", "next monday")
    assert bad.exit_code == 2 and "is not ISO 8601" in bad.stderr
