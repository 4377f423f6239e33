"""Debian's Alertmanager sends its always-firing Watchdog to warroom; then the Watchdog stops."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.detection.test_real_alertmanager import iso, parse, post_alerts
from tests.peers import Peers, loopback_client
from warroom.config import WarroomConfig
from warroom.core.clock import SystemClock
from warroom.engine.runner import TICK
from warroom.runtime import Runtime

TOKEN = "am-heartbeat-token"
INTERVAL, GRACE = 5, 2  # seconds: Alertmanager repeats the Watchdog every 2s


@pytest.fixture
def clock() -> SystemClock:
    """Alertmanager and the engine both run on the wall clock."""
    return SystemClock()


@pytest.fixture
def config() -> WarroomConfig:
    """Watchdog alerts are pings of the `alertmanager` heartbeat on the monitoring service."""
    return WarroomConfig.model_validate(
        {
            "services": [{"id": "monitoring"}],
            "heartbeats": [
                {
                    "id": "alertmanager",
                    "service": "monitoring",
                    "interval": f"{INTERVAL}s",
                    "grace": f"{GRACE}s",
                    "severity": "SEV-2",
                }
            ],
            "routes": [
                {"match": ['alertname="Watchdog"'], "heartbeat": "alertmanager"},
                {"default": True, "severity": "SEV-3"},
            ],
            "integrations": {"alertmanager": [{"name": "loopback", "token": TOKEN}]},
        }
    )


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[Peers]:
    """Peers started by the test; stopped afterwards."""
    group = Peers(tmp_path)
    yield group
    group.stop()


def watchdog(ends_at: datetime) -> dict[str, Any]:
    """The Watchdog as kube-prometheus' rule fires it (`vector(1)`), posted as Prometheus does."""
    return {
        "labels": {"alertname": "Watchdog", "severity": "none"},
        "annotations": {"summary": "An alert that should always be firing"},
        "startsAt": iso(datetime.now(UTC) - timedelta(minutes=1)),
        "endsAt": iso(ends_at),
    }


def heartbeat(warroom: httpx.Client) -> dict[str, Any]:
    """The `alertmanager` heartbeat as warroom lists it."""
    response = warroom.get("/api/v1/heartbeats")
    response.raise_for_status()
    return next(b for b in response.json() if b["id"] == "alertmanager")


def test_watchdog_pings_and_its_silence_opens_an_incident(
    live_server: str, runtime: Runtime, tokens: dict[str, str], peers: Peers
) -> None:
    runtime.engine.start()
    am = peers.alertmanager(
        f"{live_server}/api/v1/intake/alertmanager",
        TOKEN,
        group_by=["alertname"],
        repeat_interval="2s",
    )
    post_alerts(am, [watchdog(datetime.now(UTC) + timedelta(hours=1))])
    headers = {"Authorization": f"Bearer {tokens['viewer']}"}
    with loopback_client(base_url=live_server, headers=headers) as warroom:
        # Alertmanager's first notification, then its repeats: each one is a ping.
        up = peers.wait_for(
            lambda: (b := heartbeat(warroom))["pings"] >= 3 and b, "three Watchdog pings"
        )
        assert up["state"] == "up" and up["incident"] is None
        assert warroom.get("/api/v1/incidents").json()["items"] == []  # pings, not incidents
        assert warroom.get("/api/v1/alerts").json()["items"] == []

        # The Watchdog stops: Alertmanager sends it resolved (not a ping), then nothing.
        post_alerts(am, [watchdog(datetime.now(UTC))])
        down = peers.wait_for(
            lambda: (b := heartbeat(warroom))["state"] == "down" and b, "the heartbeat down"
        )
        ref = down["incident"]
        incident = warroom.get(f"/api/v1/incidents/{ref}").json()
    assert incident["service"] == "monitoring" and incident["severity"] == "SEV-2"
    assert incident["source"] == "heartbeat"
    last_seen = parse(down["last_seen_at"])
    detected = parse(incident["detected_at"])
    assert last_seen is not None and detected is not None
    # Opened once interval + grace passed since the last ping, and within one tick of that.
    silent_for = (detected - last_seen).total_seconds()
    assert INTERVAL + GRACE <= silent_for <= INTERVAL + GRACE + TICK, silent_for
    missed = [e for e in incident["timeline"] if e["kind"] == "heartbeat_missed"]
    assert len(missed) == 1
    assert missed[0]["text"].startswith("Heartbeat alertmanager (every 5s, grace 2s) is silent")
    assert missed[0]["data"]["last_seen_at"] == last_seen.isoformat()
