"""A drill's alert never pings a real heartbeat: it would hide a real monitoring outage."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.drills.conftest import drill_settings, start
from tests.helpers import Fakes
from warroom.config import WarroomConfig
from warroom.detection.models import Heartbeat
from warroom.runtime import Runtime

WATCHDOG = """
name: watchdog
title: The watchdog fires
service: checkout
timeline:
  - at: 0s
    alert: {labels: {alertname: Watchdog, severity: SEV-3}, annotations: {summary: Watchdog}}
"""


@pytest.fixture
def config() -> WarroomConfig:
    """Alertmanager's Watchdog alert is routed as the pings of a heartbeat."""
    settings = drill_settings()
    settings["heartbeats"] = [{"id": "watchdog", "service": "checkout", "interval": "1m"}]
    settings["routes"].insert(0, {"match": ['alertname="Watchdog"'], "heartbeat": "watchdog"})
    return WarroomConfig.model_validate(settings)


def seen(runtime: Runtime) -> tuple[object, ...]:
    """Return what a ping changes on the watchdog heartbeat's row."""
    with runtime.db.session() as session:
        beat = session.scalars(select(Heartbeat).where(Heartbeat.id == "watchdog")).one()
        return beat.last_seen_at, beat.pings, beat.due_at, beat.state


def test_a_drill_alert_on_a_heartbeat_route_is_a_drill_alert_not_a_ping(
    api: TestClient, runtime: Runtime, fakes: Fakes
) -> None:
    runtime.engine.run_once()  # the engine writes the heartbeat's row
    before = seen(runtime)
    assert before[:2] == (None, 0)
    drill = start(api, scenario=WATCHDOG)
    assert seen(runtime) == before  # still waiting for its first real ping
    assert drill["steps"][0]["outcome"] == "opened INC-1"
    incident = runtime.flows.get("INC-1")
    assert incident.drill_id == drill["id"] and incident.title == "[DRILL] Watchdog"
