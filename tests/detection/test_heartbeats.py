"""Heartbeats: a silent one opens an incident through the normal path; the next ping ends it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from tests.helpers import Fakes
from warroom.app import build_runtime
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.core.errors import Conflict
from warroom.detection.models import Alert, Heartbeat
from warroom.incidents.lifecycle import Move
from warroom.incidents.models import Incident
from warroom.mitigation.gate import VerificationGate
from warroom.runtime import Runtime
from warroom.settings import Settings

TOKEN = "hb-watchdog-token"
NIGHTLY = "hb-nightly-token"
AM_TOKEN = "am-token"
PING = "/api/v1/intake/heartbeat/watchdog"


def settings(**verification: Any) -> dict[str, Any]:
    """A monitoring service paged through alice's schedule, and two heartbeats on it."""
    return {
        "people": [{"id": "alice", "name": "Alice", "slack": "UALICE1"}],
        "services": [{"id": "monitoring", "schedule": "ops", "escalation": "ops"}],
        "schedules": [
            {
                "id": "ops",
                "timezone": "UTC",
                "layers": [
                    {
                        "name": "primary",
                        "rotation": {
                            "every": "1w",
                            "handoff": "Mon 09:00",
                            "participants": ["alice"],
                        },
                    }
                ],
            }
        ],
        "escalation_policies": [
            {"id": "ops", "steps": [{"after": "0m", "notify": ["schedule:ops/primary"]}]}
        ],
        "incident_types": [
            {"id": "default", "name": "Default"},
            {"id": "security", "name": "Security", "restricted": True},
        ],
        "heartbeats": [
            {
                "id": "watchdog",
                "service": "monitoring",
                "interval": "1m",
                "grace": "30s",
                "severity": "SEV-2",
                "token": TOKEN,
            },
            {
                "id": "nightly",
                "service": "monitoring",
                "interval": "1d",
                "severity": "SEV-3",
                "token": NIGHTLY,
                "incident_type": "security",
            },
            {"id": "routed", "service": "monitoring", "interval": "1m"},
        ],
        "routes": [
            {"match": ['alertname="Watchdog"'], "heartbeat": "routed"},
            {"default": True, "severity": "SEV-3"},
        ],
        "integrations": {"alertmanager": [{"name": "prod", "token": AM_TOKEN}]},
        "notifications": {"incident_channels": False},
        **({"verification": verification} if verification else {}),
    }


@pytest.fixture
def config() -> WarroomConfig:
    """Heartbeats without a verification window (the next ping resolves)."""
    return WarroomConfig.model_validate(settings())


def ping(client: TestClient, heartbeat: str = "watchdog", token: str = TOKEN) -> Any:
    """Ping a heartbeat; return the answer."""
    return client.post(
        f"/api/v1/intake/heartbeat/{heartbeat}", headers={"Authorization": f"Bearer {token}"}
    )


def pinged(client: TestClient, heartbeat: str = "watchdog", token: str = TOKEN) -> Any:
    """Ping a heartbeat successfully; return the JSON answer."""
    response = ping(client, heartbeat, token)
    assert response.status_code == 200, response.text
    return response.json()


def listed(api: TestClient) -> dict[str, dict[str, Any]]:
    """The heartbeats the API lists, by id."""
    response = api.get("/api/v1/heartbeats")
    assert response.status_code == 200, response.text
    return {beat["id"]: beat for beat in response.json()}


def rejections(client: TestClient, reason: str) -> float:
    """warroom_intake_rejections_total of refused heartbeat pings, for one reason."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "warroom_intake_rejections_total" and sample.labels == {
                "source": "heartbeat",
                "reason": reason,
            }:
                return float(sample.value)
    return 0.0


def count_incidents(runtime: Runtime) -> int:
    """How many incidents exist."""
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Incident)) or 0)


def pages(fakes: Fakes) -> list[str]:
    """The incidents alice was paged for."""
    text = "\n".join(str(call["text"]) for call in fakes.dms("UALICE1"))
    return re.findall(r"paged for (INC-\d+)", text)


def test_a_silent_heartbeat_opens_one_incident_through_the_normal_path(
    client: TestClient, api: TestClient, runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    first = clock.now()
    assert pinged(client) == {
        "heartbeat": "watchdog",
        "state": "up",
        "incident": None,
        "resolved": False,
    }
    clock.advance(timedelta(seconds=89))  # interval + grace is 90s: not yet
    runtime.engine.run_once()
    assert count_incidents(runtime) == 0
    assert listed(api)["watchdog"]["state"] == "up"

    clock.advance(timedelta(seconds=1))
    runtime.engine.run_once()
    runtime.engine.run_once()  # a second round opens nothing more
    assert count_incidents(runtime) == 1
    incident = api.get("/api/v1/incidents/INC-1").json()
    assert incident["title"] == "Heartbeat watchdog stopped (monitoring)"
    assert (incident["service"], incident["severity"], incident["status"]) == (
        "monitoring",
        "SEV-2",
        "detected",
    )
    assert incident["source"] == "heartbeat" and incident["visibility"] == "public"
    assert incident["commander"] == "alice"  # the primary on call: the first-IC rule
    assert pages(fakes) == ["INC-1"]  # paged through the service's escalation policy
    missed = [e for e in incident["timeline"] if e["kind"] == "heartbeat_missed"]
    assert len(missed) == 1
    stamp = first.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert missed[0]["text"] == (
        f"Heartbeat watchdog (every 1m, grace 30s) is silent: last seen {stamp} (1m30s ago)"
    )
    assert missed[0]["data"]["heartbeat"] == "watchdog"
    beat = listed(api)["watchdog"]
    assert (beat["state"], beat["incident"], beat["pings"]) == ("down", "INC-1", 1)
    assert beat["seconds_since_ping"] == 90.0


def test_the_next_ping_resolves_it(
    client: TestClient, api: TestClient, runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    pinged(client)
    clock.advance(timedelta(minutes=5))
    runtime.engine.run_once()
    assert listed(api)["watchdog"]["state"] == "down"

    clock.advance(timedelta(minutes=1))
    answer = pinged(client)
    assert answer == {"heartbeat": "watchdog", "state": "up", "incident": "INC-1", "resolved": True}
    incident = api.get("/api/v1/incidents/INC-1").json()
    assert incident["status"] == "resolved"
    resumed = [e for e in incident["timeline"] if e["kind"] == "heartbeat_resumed"]
    assert [e["text"] for e in resumed] == ["Heartbeat watchdog pinged again after 6m of silence"]
    beat = listed(api)["watchdog"]
    assert (beat["state"], beat["incident"]) == ("up", None)
    # Silent again later: a new incident, not the resolved one.
    clock.advance(timedelta(minutes=2))
    runtime.engine.run_once()
    assert listed(api)["watchdog"]["incident"] == "INC-2"


def test_an_incident_resolved_by_hand_is_no_longer_shown_as_the_heartbeats(
    client: TestClient, api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    pinged(client)
    clock.advance(timedelta(minutes=5))
    runtime.engine.run_once()
    assert listed(api)["watchdog"]["incident"] == "INC-1"
    done = api.post("/api/v1/incidents/INC-1/resolve", json={"false_alarm": "pipeline moved"})
    assert done.status_code == 200, done.text
    beat = listed(api)["watchdog"]
    # Still silent, so still down; but the incident is over, so it is not "its incident".
    assert (beat["state"], beat["incident"]) == ("down", None)


def test_with_a_verification_window_it_resolves_after_pinging_through_it(
    client: TestClient, api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    runtime.config_value = WarroomConfig.model_validate(settings(window="5m", auto_resolve=True))
    pinged(client)
    clock.advance(timedelta(minutes=2))
    runtime.engine.run_once()
    clock.advance(timedelta(seconds=10))
    assert pinged(client) == {
        "heartbeat": "watchdog",
        "state": "recovering",
        "incident": "INC-1",
        "resolved": False,
    }
    assert api.get("/api/v1/incidents/INC-1").json()["status"] == "mitigated"
    for _ in range(4):  # pinging every minute through the 5m window
        clock.advance(timedelta(minutes=1))
        runtime.engine.run_once()
        assert api.get("/api/v1/incidents/INC-1").json()["status"] == "mitigated"
        pinged(client)
    clock.advance(timedelta(seconds=59))
    runtime.engine.run_once()
    assert api.get("/api/v1/incidents/INC-1").json()["status"] == "mitigated"
    clock.advance(timedelta(seconds=1))  # the window has passed
    runtime.engine.run_once()
    assert api.get("/api/v1/incidents/INC-1").json()["status"] == "resolved"
    assert listed(api)["watchdog"]["state"] == "up"
    assert count_incidents(runtime) == 1


def test_silent_again_inside_the_window_returns_the_same_incident_to_work(
    client: TestClient, api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    runtime.config_value = WarroomConfig.model_validate(settings(window="10m", auto_resolve=True))
    pinged(client)
    clock.advance(timedelta(minutes=2))
    runtime.engine.run_once()
    pinged(client)
    assert api.get("/api/v1/incidents/INC-1").json()["status"] == "mitigated"
    clock.advance(timedelta(minutes=2))  # silent again before the window ends
    runtime.engine.run_once()
    incident = api.get("/api/v1/incidents/INC-1").json()
    assert incident["status"] == "triaged"
    assert [e["kind"] for e in incident["timeline"]].count("heartbeat_missed") == 2
    assert listed(api)["watchdog"]["state"] == "down"
    assert count_incidents(runtime) == 1


def test_a_heartbeat_that_never_pinged_waits(
    api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    runtime.engine.run_once()
    clock.advance(timedelta(days=3))
    runtime.engine.run_once()
    assert count_incidents(runtime) == 0
    beats = listed(api)  # the responder: not nightly, whose incidents are restricted
    assert {name: b["state"] for name, b in beats.items()} == {
        "watchdog": "waiting",
        "routed": "waiting",
    }
    assert beats["watchdog"]["last_seen_at"] is None
    assert beats["watchdog"]["seconds_since_ping"] is None


def test_a_restart_in_the_silent_period_neither_loses_nor_doubles_the_incident(
    client: TestClient,
    runtime: Runtime,
    settings: Settings,
    config: WarroomConfig,
    clock: FrozenClock,
) -> None:
    pinged(client)
    clock.advance(timedelta(seconds=30))
    runtime.engine.run_once()
    runtime.close()  # the process stops while the heartbeat is silent
    clock.advance(timedelta(minutes=3))
    for _ in range(2):  # started again, twice: one incident
        again = build_runtime(settings, clock=clock, config=config, upgrade=False)
        try:
            again.engine.run_once()
            assert count_incidents(again) == 1
        finally:
            again.close()
        clock.advance(timedelta(minutes=1))


def test_a_route_turns_watchdog_alerts_into_pings(
    client: TestClient, api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    def watchdog(status: str) -> Any:
        body = {
            "version": "4",
            "status": status,
            "receiver": "warroom",
            "groupKey": '{}:{alertname="Watchdog"}',
            "alerts": [
                {
                    "status": status,
                    "labels": {"alertname": "Watchdog", "severity": "none"},
                    "annotations": {},
                    "startsAt": "2026-12-05T08:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": "fp-watchdog",
                }
            ],
        }
        response = client.post(
            "/api/v1/intake/alertmanager",
            json=body,
            headers={"Authorization": f"Bearer {AM_TOKEN}"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    answer = watchdog("firing")
    assert (answer["accepted"], answer["pinged"], answer["new"]) == (1, 1, 0)
    assert answer["incidents_opened"] == []
    assert listed(api)["routed"]["state"] == "up"
    clock.advance(timedelta(seconds=30))
    watchdog("firing")
    assert listed(api)["routed"]["pings"] == 2
    assert watchdog("resolved")["pinged"] == 0  # resolving is not a ping
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
    clock.advance(timedelta(seconds=61))
    runtime.engine.run_once()
    assert listed(api)["routed"]["incident"] == "INC-1"
    assert watchdog("firing")["incidents_updated"] == ["INC-1"]
    assert api.get("/api/v1/incidents/INC-1").json()["status"] == "resolved"


def test_pings_are_refused_without_the_heartbeats_token(
    client: TestClient, runtime: Runtime
) -> None:
    pinged(client)
    before = {reason: rejections(client, reason) for reason in ("unauthorized", "not_configured")}
    cases = [
        (client.post(PING), 401, "missing or wrong bearer token for this heartbeat"),
        (ping(client, token="wrong"), 401, "missing or wrong bearer token"),
        (ping(client, token=NIGHTLY), 401, "missing or wrong bearer token"),  # another's token
        # No such heartbeat, or one without a token: the same answer, so ids do not leak.
        (ping(client, "ghost"), 401, "missing or wrong bearer token"),
        (ping(client, "routed"), 401, "missing or wrong bearer token"),
        (ping(client, "Bad Id!"), 422, "heartbeat_id"),
    ]
    for response, status, message in cases:
        assert response.status_code == status, response.text
        assert message in response.text
    assert ping(client, "ghost").json() == ping(client, token="wrong").json()
    with runtime.db.session() as session:
        rows = {row.id: row.pings for row in session.scalars(select(Heartbeat))}
    assert rows.get("watchdog") == 1 and rows.get("routed", 0) == 0  # nothing more written
    assert rejections(client, "unauthorized") - before["unauthorized"] == 4
    assert rejections(client, "not_configured") - before["not_configured"] == 3


def test_listing_needs_a_viewer_and_hides_restricted_heartbeats_from_outsiders(
    client: TestClient, tokens: dict[str, str], runtime: Runtime, clock: FrozenClock
) -> None:
    assert client.get("/api/v1/heartbeats").status_code == 401
    pinged(client, "nightly", NIGHTLY)
    clock.advance(timedelta(days=2))
    runtime.engine.run_once()
    with runtime.db.session() as session:
        incident = session.scalars(select(Incident)).one()
        number, visibility = incident.number, incident.visibility
    assert visibility == "restricted"  # its type says so
    client.headers["Authorization"] = f"Bearer {tokens['admin']}"
    beat = listed(client)["nightly"]
    assert (beat["state"], beat["incident"]) == ("down", f"INC-{number}")
    # To someone who may not see the security type, "nightly is down" would say that a
    # restricted incident is open: the heartbeat is not listed at all.
    client.headers["Authorization"] = f"Bearer {tokens['viewer']}"
    assert "nightly" not in listed(client) and "watchdog" in listed(client)


def test_a_heartbeat_without_a_type_is_hidden_when_the_default_type_is_restricted(
    runtime: Runtime,
) -> None:
    from warroom.detection.heartbeats import statuses

    values = settings()
    values["incident_types"][0]["restricted"] = True  # "default": what a typeless one opens
    config = WarroomConfig.model_validate(values)
    with runtime.db.session() as session:
        outsider = {beat.id for beat in statuses(session, config=config, types=[])}
        insider = {beat.id for beat in statuses(session, config=config, types=["default"])}
    assert outsider == set()  # watchdog and routed open default incidents; nightly, security
    assert insider == {"watchdog", "routed"}


def test_metrics_have_seconds_since_the_last_ping(
    client: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    pinged(client)
    clock.advance(timedelta(seconds=42))
    text = client.get("/metrics").text
    samples = {
        (sample.name, sample.labels["heartbeat"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("warroom_heartbeat")
    }
    assert samples[("warroom_heartbeat_seconds_since_ping", "watchdog")] == 42.0
    assert ("warroom_heartbeat_seconds_since_ping", "nightly") not in samples  # no ping yet
    assert samples[("warroom_heartbeat_down", "watchdog")] == 0.0
    clock.advance(timedelta(minutes=2))
    runtime.engine.run_once()
    text = client.get("/metrics").text
    assert 'warroom_heartbeat_down{heartbeat="watchdog",service="monitoring"} 1.0' in text


def test_removed_heartbeats_are_retired_and_come_back(
    client: TestClient, api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    pinged(client)
    document = settings()
    document["heartbeats"] = document["heartbeats"][1:]
    document["routes"] = document["routes"][1:]
    runtime.config_value = WarroomConfig.model_validate(document)
    clock.advance(timedelta(minutes=5))
    runtime.engine.run_once()
    assert count_incidents(runtime) == 0  # no longer expected: no incident
    assert "watchdog" not in listed(api)
    with runtime.db.session() as session:
        assert session.get(Heartbeat, "watchdog").state == "retired"  # type: ignore[union-attr]
    runtime.config_value = WarroomConfig.model_validate(settings())
    runtime.engine.run_once()
    assert listed(api)["watchdog"]["state"] == "waiting"  # like a new one, until it pings
    clock.advance(timedelta(minutes=5))
    runtime.engine.run_once()
    assert count_incidents(runtime) == 0
    pinged(client)
    clock.advance(timedelta(minutes=2))
    runtime.engine.run_once()
    assert count_incidents(runtime) == 1


def test_a_ping_counts_even_when_a_rule_refuses_the_resolve(
    client: TestClient,
    api: TestClient,
    runtime: Runtime,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pinged(client)
    clock.advance(timedelta(minutes=2))
    runtime.engine.run_once()

    def refuse(self: object, session: object, *, config: object, move: Move) -> None:
        if move.target == "resolved":
            raise Conflict("held for the security review")

    monkeypatch.setattr(VerificationGate, "check", refuse)
    answer = pinged(client)
    assert answer == {
        "heartbeat": "watchdog",
        "state": "up",
        "incident": "INC-1",
        "resolved": False,
    }
    incident = api.get("/api/v1/incidents/INC-1").json()
    assert incident["status"] == "detected"
    assert incident["timeline"][-1]["text"] == (
        "Heartbeat watchdog pings again, but the incident cannot resolve on its own: "
        "held for the security review"
    )
    assert listed(api)["watchdog"]["state"] == "up"
    clock.advance(timedelta(minutes=2))  # silent again: a new incident, the old one is people's
    runtime.engine.run_once()
    assert listed(api)["watchdog"]["incident"] == "INC-2"


def test_many_falling_silent_at_once_page_as_one_alert_storm(
    client: TestClient, api: TestClient, runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    document = settings()
    document["heartbeats"] = [
        {"id": f"cron-{n}", "service": "monitoring", "interval": "1m", "token": f"cron-token-{n}"}
        for n in range(5)
    ]
    document["routes"] = document["routes"][1:]
    document["detection"] = {"storm": {"threshold": 3, "window": "5m"}}
    runtime.config_value = WarroomConfig.model_validate(document)
    for n in range(5):
        pinged(client, f"cron-{n}", f"cron-token-{n}")
    clock.advance(timedelta(minutes=2))  # warroom hears none of them: all silent at once
    runtime.engine.run_once()
    runtime.engine.run_once()  # the pages of what the last round opened
    items = api.get("/api/v1/incidents", params={"limit": 50}).json()["items"]
    parents = [i["ref"] for i in items if i["title"] == "Alert storm on monitoring"]
    assert len(parents) == 1 and len(items) == 6
    members = [i for i in items if i["parent"] == parents[0]]
    assert len(members) == 5  # the three before the storm joined it, and the two after
    assert set(pages(fakes)) == set(parents)  # the parent pages for all five


def test_a_longer_interval_after_a_reload_moves_the_due_time(
    client: TestClient, api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    pinged(client)
    runtime.engine.run_once()
    document = settings()
    document["heartbeats"][0]["interval"] = "10m"
    runtime.config_value = WarroomConfig.model_validate(document)  # what a reload does
    clock.advance(timedelta(minutes=5))
    runtime.engine.run_once()
    beat = listed(api)["watchdog"]
    assert (beat["state"], beat["interval"]) == ("up", "10m")
    assert beat["due_at"] == (clock.now() + timedelta(minutes=5, seconds=30)).isoformat().replace(
        "+00:00", "Z"
    )
    clock.advance(timedelta(minutes=5, seconds=30))
    runtime.engine.run_once()
    assert listed(api)["watchdog"]["state"] == "down"
