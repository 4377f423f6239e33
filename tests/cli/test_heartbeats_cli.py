"""`warroom heartbeats` against a real server over a socket, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from typer.testing import CliRunner, Result

from warroom.cli.main import app
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

runner = CliRunner()
PLAIN = {"COLUMNS": "200", "FORCE_COLOR": None, "TTY_COMPATIBLE": None}
TOKEN = "hb-cli-token"


@pytest.fixture
def config() -> WarroomConfig:
    """Two heartbeats on one service; one of them takes pings over HTTP."""
    return WarroomConfig.model_validate(
        {
            "services": [{"id": "monitoring"}],
            "heartbeats": [
                {
                    "id": "watchdog",
                    "service": "monitoring",
                    "interval": "1m",
                    "grace": "30s",
                    "token": TOKEN,
                },
                {"id": "nightly-backup", "service": "monitoring", "interval": "1d"},
            ],
        }
    )


def invoke(url: str, token: str | None, *args: str) -> Result:
    """Run `warroom heartbeats ARGS` with WARROOM_URL and WARROOM_TOKEN set."""
    env = {"WARROOM_URL": url, "WARROOM_TOKEN": token, **PLAIN}
    return runner.invoke(app, ["heartbeats", *args], env=env)


def test_lists_each_heartbeat_with_last_ping_and_state(
    live_server: str, tokens: dict[str, str], runtime: Runtime, clock: FrozenClock
) -> None:
    answer = httpx.post(
        f"{live_server}/api/v1/intake/heartbeat/watchdog",
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
        timeout=30,  # a loaded machine: httpx's default of 5 s is not a verdict on warroom
    )
    assert answer.status_code == 200, answer.text
    clock.advance(timedelta(minutes=2))
    runtime.engine.run_once()

    result = invoke(live_server, tokens["viewer"], "--json")
    assert result.exit_code == 0, result.output
    listed = {beat["id"]: beat for beat in json.loads(result.stdout)}
    assert (listed["watchdog"]["state"], listed["watchdog"]["incident"]) == ("down", "INC-1")
    assert listed["watchdog"]["seconds_since_ping"] == 120.0
    assert listed["nightly-backup"]["state"] == "waiting"

    table = invoke(live_server, tokens["viewer"])
    assert table.exit_code == 0, table.output
    lines = {line.split()[1]: line for line in table.stdout.splitlines() if "│" in line[:3]}
    assert "down" in lines["watchdog"] and "INC-1" in lines["watchdog"]
    assert "1m +30s" in lines["watchdog"] and "2m" in lines["watchdog"]
    assert "waiting" in lines["nightly-backup"] and "1d" in lines["nightly-backup"]


def test_needs_a_token(live_server: str) -> None:
    result = invoke(live_server, None)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output
