"""`warroom drill show ID` against a real server over a socket: the drill, its participants,
each step at its offset and the review; an unknown or hidden id is one line and exit 1."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from typer.testing import CliRunner

from tests.cli.test_incident_cli import PLAIN, error, ok
from tests.drills.conftest import drill_settings
from warroom.cli.main import app
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

runner = CliRunner()
BREACH = """
name: breach
title: Breach drill
service: checkout
timeline:
  - at: 0s
    alert: {labels: {alertname: Exfiltration, kind: breach, severity: SEV-1}}
"""


@pytest.fixture
def config() -> WarroomConfig:
    """The drills' set-up, and alerts labelled kind="breach" open a restricted incident."""
    settings = drill_settings()
    settings["incident_types"] = [
        {"id": "default", "name": "General"},
        {"id": "security", "name": "Security", "restricted": True},
    ]
    settings["routes"].insert(0, {"match": ['kind="breach"'], "incident_type": "security"})
    return WarroomConfig.model_validate(settings)


def env(url: str, token: str) -> dict[str, str | None]:
    """WARROOM_URL and WARROOM_TOKEN for one caller, with plain wide output."""
    return {"WARROOM_URL": url, "WARROOM_TOKEN": token, **PLAIN}


def row(out: str, words: str) -> list[str]:
    """Return the cells of the one table row that holds `words`."""
    (line,) = [line for line in out.splitlines() if line.startswith("│") and words in line]
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_show_prints_the_drill_its_people_steps_and_review(
    live_server: str, tokens: dict[str, str], runtime: Runtime, clock: FrozenClock
) -> None:
    rita = env(live_server, tokens["responder"])
    vic = env(live_server, tokens["viewer"])
    started = ok(runner.invoke(app, ["drill"], env=rita))  # no subcommand: starts one, as before
    assert started.startswith("Drill 1 (high-cpu) started: INC-1")
    clock.advance(timedelta(minutes=4))
    runtime.engine.run_once()

    out = ok(runner.invoke(app, ["drill", "show", "1"], env=vic))
    lines = out.splitlines()
    assert lines[:6] == [
        "Drill 1 (high-cpu): High CPU usage",
        "  service      checkout",
        "  incident     INC-1",
        "  state        running: INC-1 is detected",
        "  participants alice",  # the primary on call: its commander, and paged
        "  started      2026-03-02 09:00 UTC by rita",
    ]
    assert row(out, "HighCPUUsage") == ["+0s", "alert HighCPUUsage", "+0s", "opened INC-1"]
    assert row(out, "HighLatency") == ["+3m", "alert HighLatency", "+4m", "joined INC-1"]
    assert row(out, "acknowledged within") == [
        "+0s",
        "expect acknowledged within 5m",
        "—",
        "not yet (due by +5m)",
    ]
    assert row(out, "status_update")[0] == "+5m"  # in time order, after the +3m alert
    assert out.index("HighLatency") < out.index("status_update")
    assert row(out, "acknowledge ") == ["acknowledge", "—", "5m", "not reached"]
    as_json = json.loads(ok(runner.invoke(app, ["drill", "show", "1", "--json"], env=vic)))
    assert as_json["participants"] == ["alice"] and as_json["incident_status"] == "detected"

    clock.advance(timedelta(minutes=2))  # acknowledged at +6m: a minute late
    headers = {"Authorization": f"Bearer {tokens['responder']}"}
    for action, body in (("acknowledge", {}), ("resolve", {"skip_verification": "drill"})):
        answer = httpx.post(
            f"{live_server}/api/v1/incidents/INC-1/{action}", json=body, headers=headers, timeout=30
        )
        assert answer.status_code == 200, answer.text
    out = ok(runner.invoke(app, ["drill", "show", "1"], env=vic))
    assert "  state        over: INC-1 is resolved" in out.splitlines()
    assert row(out, "acknowledged within")[2:] == ["+6m", "late"]
    assert row(out, "triaged within")[2:] == ["—", "skipped"]
    assert row(out, "acknowledge ") == ["acknowledge", "6m", "5m", "missed"]
    assert out.splitlines()[-1].startswith(
        "Skipped or late: acknowledged within 5m, triaged within 15m"
    )


def test_an_unknown_or_hidden_drill_is_one_line_and_exit_1(
    live_server: str, tokens: dict[str, str], runtime: Runtime
) -> None:
    ada = env(live_server, tokens["admin"])
    vic = env(live_server, tokens["viewer"])
    ok(runner.invoke(app, ["drill", "--scenario", "data-breach"], env=ada))  # drill 1: public
    answer = httpx.post(
        f"{live_server}/api/v1/drills",
        json={"scenario": BREACH},
        headers={"Authorization": f"Bearer {tokens['admin']}"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["id"] == 2
    shown = ok(runner.invoke(app, ["drill", "show", "2"], env=ada))
    assert "Drill 2 (breach): Breach drill" in shown
    assert error(runner.invoke(app, ["drill", "show", "99"], env=vic)) == "error: no drill 99"
    # A drill on a restricted incident the viewer may not see: the same answer as no drill.
    assert error(runner.invoke(app, ["drill", "show", "2"], env=vic)) == "error: no drill 2"
    assert "Drill 1 (data-breach)" in ok(runner.invoke(app, ["drill", "show", "1"], env=vic))


def test_a_malformed_id_or_misplaced_option_is_a_usage_error(
    live_server: str, tokens: dict[str, str]
) -> None:
    vic = env(live_server, tokens["viewer"])
    for wrong in ("abc", "0", "INC-1", str(2**31)):
        result = runner.invoke(app, ["drill", "show", wrong], env=vic)
        assert result.exit_code == 2, (wrong, result.output)
        assert "Traceback" not in result.output
    line = error(runner.invoke(app, ["drill", "--json", "show", "1"], env=vic), code=2)
    assert "give `show` its own options after it" in line
    assert error(runner.invoke(app, ["drill", "show", "1"], env=PLAIN)).startswith("error: ")
