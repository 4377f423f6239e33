"""Debian's Alertmanager 0.25 on loopback delivers real webhooks to a live warroom."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.peers import Peer, Peers, loopback_client
from warroom.config import WarroomConfig
from warroom.core.clock import SystemClock

TOKEN = "am-loopback-token"
INTAKE = "/api/v1/intake/alertmanager"


@pytest.fixture
def clock() -> SystemClock:
    """Alertmanager stamps alerts with the wall clock, so warroom must use it too."""
    return SystemClock()


@pytest.fixture
def config() -> WarroomConfig:
    """One Alertmanager integration; checkout auto-mitigates, search does not."""
    return WarroomConfig.model_validate(
        {
            "services": [
                {"id": "checkout", "runbook": "resource-saturation"},
                {"id": "search"},
            ],
            "routes": [
                {
                    "match": ['service="checkout"'],
                    "service": "checkout",
                    "team": "payments",
                    "auto_mitigate": True,
                },
                {"match": ['service="search"'], "service": "search", "team": "discovery"},
                {"default": True, "severity": "SEV-3"},
            ],
            "integrations": {"alertmanager": [{"name": "loopback", "token": TOKEN}]},
        }
    )


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[Peers]:
    """Peers started by the test; stopped afterwards, their logs shown if it failed."""
    group = Peers(tmp_path)
    yield group
    group.stop()


@pytest.fixture
def warroom(live_server: str, tokens: dict[str, str]) -> Iterator[httpx.Client]:
    """A client of the live warroom with the admin's token."""
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    with loopback_client(base_url=live_server, headers=headers) as client:
        yield client


def iso(moment: datetime) -> str:
    """Format as Alertmanager's API expects: RFC 3339, milliseconds, Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(value: str | None) -> datetime | None:
    """Parse a time from warroom's API as an aware UTC datetime."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def past(seconds: float) -> datetime:
    """Now minus `seconds`, at millisecond precision (what survives the round trip)."""
    moment = datetime.now(UTC) - timedelta(seconds=seconds)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def alert(
    name: str,
    service: str,
    starts_at: datetime | None,
    ends_at: datetime | None = None,
    severity: str = "sev2",
) -> dict[str, Any]:
    """An alert as Prometheus would post it to `/api/v2/alerts`."""
    body: dict[str, Any] = {
        "labels": {
            "alertname": name,
            "service": service,
            "severity": severity,
            "instance": "127.0.0.1:9100",
        },
        "annotations": {"summary": f"{name} on {service}", "description": "seen by a test"},
        "generatorURL": f"http://127.0.0.1:9090/graph?g0.expr={name}",
    }
    if starts_at is not None:
        body["startsAt"] = iso(starts_at)
    if ends_at is not None:
        body["endsAt"] = iso(ends_at)
    return body


def post_alerts(am: Peer, alerts: list[dict[str, Any]]) -> None:
    """Post alerts to Alertmanager's API, as Prometheus does."""
    with loopback_client() as client:
        response = client.post(f"{am.url}/api/v2/alerts", json=alerts)
    assert response.status_code == 200, response.text


def am_fingerprints(am: Peer) -> dict[str, str]:
    """Alertmanager's own fingerprint of each active alert, by alertname."""
    with loopback_client() as client:
        response = client.get(f"{am.url}/api/v2/alerts")
    response.raise_for_status()
    return {a["labels"]["alertname"]: a["fingerprint"] for a in response.json()}


def stored(warroom: httpx.Client) -> dict[str, dict[str, Any]]:
    """warroom's stored alerts, by alertname."""
    response = warroom.get("/api/v1/alerts", params={"limit": 200})
    response.raise_for_status()
    return {a["labels"]["alertname"]: a for a in response.json()["items"]}


def stored_when(
    warroom: httpx.Client, holds: Callable[[dict[str, dict[str, Any]]], bool]
) -> Callable[[], dict[str, dict[str, Any]] | None]:
    """A check for `Peers.wait_for`: the stored alerts once `holds` is true of them."""

    def check() -> dict[str, dict[str, Any]] | None:
        rows = stored(warroom)
        return rows if holds(rows) else None

    return check


def incidents(warroom: httpx.Client) -> list[dict[str, Any]]:
    """warroom's incidents."""
    response = warroom.get("/api/v1/incidents")
    response.raise_for_status()
    return response.json()["items"]  # type: ignore[no-any-return]


def detail(warroom: httpx.Client, ref: str) -> dict[str, Any]:
    """One incident with its timeline."""
    response = warroom.get(f"/api/v1/incidents/{ref}")
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def kinds(incident: dict[str, Any]) -> list[str]:
    """The kinds of an incident's timeline events, oldest first."""
    return [event["kind"] for event in incident["timeline"]]


def rejections(warroom: httpx.Client) -> float:
    """warroom_intake_rejections_total for unauthorized Alertmanager deliveries."""
    text = warroom.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "warroom_intake_rejections_total" and sample.labels == {
                "source": "alertmanager",
                "reason": "unauthorized",
            }:
                return float(sample.value)
    return 0.0


def test_alert_opens_one_incident(live_server: str, warroom: httpx.Client, peers: Peers) -> None:
    am = peers.alertmanager(f"{live_server}{INTAKE}", TOKEN)
    starts = past(90)
    sent = alert("HighCPUUsage", "checkout", starts)
    post_alerts(am, [sent])
    fingerprint = peers.wait_for(
        lambda: am_fingerprints(am).get("HighCPUUsage"), "Alertmanager to hold the alert"
    )
    row = peers.wait_for(lambda: stored(warroom).get("HighCPUUsage"), "the alert in warroom")

    assert len(fingerprint) == 16 and row["fingerprint"] == fingerprint
    assert (row["source"], row["integration"], row["status"]) == (
        "alertmanager",
        "loopback",
        "firing",
    )
    assert row["labels"] == sent["labels"] and row["annotations"] == sent["annotations"]
    assert parse(row["starts_at"]) == starts
    assert row["ends_at"] is None  # Alertmanager's 0001-01-01 means "none"
    assert row["generator_url"] == sent["generatorURL"]
    assert row["seen_count"] == 1 and row["incident"] == "INC-1"

    assert [i["ref"] for i in incidents(warroom)] == ["INC-1"]
    incident = detail(warroom, "INC-1")
    assert incident["source"] == "alertmanager" and incident["status"] == "detected"
    assert incident["title"] == "HighCPUUsage on checkout"
    assert (incident["service"], incident["owner"], incident["severity"]) == (
        "checkout",
        "payments",
        "SEV-2",
    )
    assert parse(incident["started_at"]) == starts
    assert incident["durations"]["time_to_detect"] >= 90
    assert kinds(incident)[:2] == ["declared", "alert"]
    assert incident["timeline"][1]["data"]["fingerprint"] == fingerprint


def test_repeats_dedup_into_one_incident(
    live_server: str, warroom: httpx.Client, peers: Peers
) -> None:
    am = peers.alertmanager(f"{live_server}{INTAKE}", TOKEN, repeat_interval="2s")
    starts = past(60)
    cpu = alert("HighCPUUsage", "checkout", starts)
    post_alerts(am, [cpu])
    peers.wait_for(lambda: stored(warroom).get("HighCPUUsage"), "the first alert in warroom")

    # The same alert again plus a new one of the same group: Alertmanager re-sends the group.
    # The new one has no startsAt, so Alertmanager stamps it itself (nanoseconds).
    post_alerts(am, [cpu, alert("HighMemoryUsage", "checkout", None)])
    rows = peers.wait_for(
        stored_when(warroom, lambda rows: "HighMemoryUsage" in rows),
        "the second alert of the group in warroom",
    )
    fingerprints = am_fingerprints(am)
    assert {name: row["fingerprint"] for name, row in rows.items()} == fingerprints
    assert rows["HighCPUUsage"]["seen_count"] >= 2
    assert rows["HighMemoryUsage"]["incident"] == rows["HighCPUUsage"]["incident"] == "INC-1"
    memory_start = parse(rows["HighMemoryUsage"]["starts_at"])
    assert memory_start is not None and memory_start > starts

    # repeat_interval: Alertmanager sends the unchanged group again; it only counts.
    seen = rows["HighCPUUsage"]["seen_count"]
    repeated = peers.wait_for(
        stored_when(warroom, lambda rows: rows["HighCPUUsage"]["seen_count"] > seen),
        "Alertmanager's repeat notification",
    )
    assert repeated["HighMemoryUsage"]["seen_count"] >= 2
    assert len(repeated) == 2 and all(r["status"] == "firing" for r in repeated.values())
    assert [i["ref"] for i in incidents(warroom)] == ["INC-1"]
    incident = detail(warroom, "INC-1")
    assert parse(incident["started_at"]) == starts  # the earliest alert's start
    assert kinds(incident).count("alert") == 2  # opened by one, joined by the other; no more


def test_resolution_resolves_and_auto_mitigates(
    live_server: str, warroom: httpx.Client, peers: Peers
) -> None:
    am = peers.alertmanager(f"{live_server}{INTAKE}", TOKEN)
    starts = past(120)
    cpu = alert("HighCPUUsage", "checkout", starts)
    memory = alert("HighMemoryUsage", "checkout", starts, severity="sev3")
    latency = alert("SlowQueries", "search", starts, severity="sev3")
    post_alerts(am, [cpu, memory, latency])
    peers.wait_for(lambda: len(stored(warroom)) == 3, "three alerts in warroom")
    refs = {i["service"]: i["ref"] for i in incidents(warroom)}
    assert sorted(refs) == ["checkout", "search"]  # Alertmanager's groups: one per service

    # One of checkout's two alerts resolves: it rides along in a firing notification.
    cpu_end = past(1)
    post_alerts(am, [alert("HighCPUUsage", "checkout", starts, cpu_end)])
    rows = peers.wait_for(
        stored_when(warroom, lambda rows: rows["HighCPUUsage"]["status"] == "resolved"),
        "the resolved alert in warroom",
    )
    assert parse(rows["HighCPUUsage"]["ends_at"]) == cpu_end
    assert rows["HighMemoryUsage"]["status"] == "firing"
    checkout = detail(warroom, refs["checkout"])
    assert "alert_resolved" in kinds(checkout) and "alerts_resolved" not in kinds(checkout)
    assert checkout["status"] == "detected"

    # The rest resolve: both incidents learn it; only checkout's route auto-mitigates.
    end = past(1)
    post_alerts(
        am,
        [
            alert("HighMemoryUsage", "checkout", starts, end, severity="sev3"),
            alert("SlowQueries", "search", starts, end, severity="sev3"),
        ],
    )
    rows = peers.wait_for(
        stored_when(warroom, lambda rows: all(r["status"] == "resolved" for r in rows.values())),
        "every alert resolved in warroom",
    )
    assert parse(rows["SlowQueries"]["ends_at"]) == end
    checkout = detail(warroom, refs["checkout"])
    assert checkout["status"] == "mitigated"  # in the same delivery that resolved its alerts
    events = [e for e in checkout["timeline"] if e["kind"] == "alerts_resolved"]
    assert [e["text"] for e in events] == ["All alerts of this incident are resolved"]
    assert events[0]["key_event"] is True
    search = detail(warroom, refs["search"])
    assert "alerts_resolved" in kinds(search)
    assert search["status"] == "detected"  # no auto_mitigate on that route; never auto-closed
    assert len(incidents(warroom)) == 2


def test_wrong_token_is_refused_and_stores_nothing(
    live_server: str, warroom: httpx.Client, peers: Peers
) -> None:
    before = rejections(warroom)
    am = peers.alertmanager(f"{live_server}{INTAKE}", "not-the-token")
    post_alerts(am, [alert("HighCPUUsage", "checkout", past(30))])
    peers.wait_for(lambda: rejections(warroom) > before, "warroom to count a rejection")
    peers.wait_for(
        lambda: "unexpected status code 401" in am.log(), "Alertmanager to log warroom's 401"
    )
    assert am_fingerprints(am).keys() == {"HighCPUUsage"}  # Alertmanager has it; warroom not
    assert stored(warroom) == {}
    assert incidents(warroom) == []
