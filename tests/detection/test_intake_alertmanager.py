"""Alertmanager deliveries through the HTTP intake: incidents open once, dedup, resolve."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SHARED, need
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

FIXTURES = SHARED / "fixtures" / "alertmanager"
TOKEN = "am-secret-token"
AM = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def config() -> WarroomConfig:
    """Routes like DESIGN §9 and one Alertmanager integration."""
    return WarroomConfig.model_validate(
        {
            "services": [{"id": "checkout", "runbook": "resource-saturation"}],
            "routes": [
                {"match": ['alertname="Dropped"'], "drop": True},
                {
                    "match": ['service="checkout"', 'severity=~"critical|sev1"'],
                    "service": "checkout",
                    "severity": "SEV-1",
                },
                {
                    "match": ['service="checkout"'],
                    "service": "checkout",
                    "team": "payments",
                    "auto_mitigate": True,
                },
                {"default": True, "severity": "SEV-3"},
            ],
            "integrations": {"alertmanager": [{"name": "prod", "token": TOKEN}]},
        }
    )


def fixture(name: str) -> dict[str, Any]:
    path = FIXTURES / name
    need(path.exists(), f"{path} is missing (shared fixtures)")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def post(client: TestClient, payload: dict[str, Any], headers: dict[str, str] = AM) -> Any:
    return client.post("/api/v1/intake/alertmanager", json=payload, headers=headers)


def test_firing_group_opens_one_incident(
    client: TestClient, api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    payload = fixture("firing.json")
    clock.set(clock.now().replace(year=2026, month=11, day=26, hour=22))
    response = post(client, payload)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 2 and body["new"] == 2
    assert body["incidents_opened"] == ["INC-1"]
    incident = api.get("/api/v1/incidents/1").json()
    assert incident["source"] == "alertmanager"
    assert incident["service"] == "checkout"
    assert incident["severity"] == "SEV-2"  # label severity=sev2 mapped
    assert incident["owner"] == "payments"
    assert incident["runbook_template"] == "resource-saturation"
    assert incident["title"] == "High CPU usage on 127.0.0.1:19090"
    assert (
        incident["started_at"]
        == payload["alerts"][0]["startsAt"].replace("Z", "Z")[:19] + (incident["started_at"][19:])
    )
    assert incident["durations"]["time_to_detect"] > 0
    alerts = api.get("/api/v1/alerts", params={"incident": "INC-1"}).json()["items"]
    assert {a["fingerprint"] for a in alerts} == {a["fingerprint"] for a in payload["alerts"]}
    assert all(a["ends_at"] is None for a in alerts)
    assert list(runtime.runbooks.active.glob("INC-1-*.md"))


def test_repeat_dedups_and_resolution_auto_mitigates(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    firing = fixture("firing.json")
    post(client, firing)
    clock.advance(timedelta(minutes=5))
    again = post(client, firing).json()
    assert again["repeated"] == 2 and again["new"] == 0 and again["incidents_opened"] == []
    alerts = api.get("/api/v1/alerts").json()["items"]
    assert len(alerts) == 2 and all(a["seen_count"] == 2 for a in alerts)
    assert len(api.get("/api/v1/incidents").json()["items"]) == 1
    resolved = post(client, fixture("resolved.json")).json()
    assert resolved["resolved"] == 2
    incident = api.get("/api/v1/incidents/1").json()
    kinds = [e["kind"] for e in incident["timeline"]]
    assert kinds.count("alert_resolved") == 2 and "alerts_resolved" in kinds
    assert incident["status"] == "mitigated"  # the route says auto_mitigate
    # the same resolved delivery again has no further effect
    twice = post(client, fixture("resolved.json")).json()
    assert twice["ignored"] == 2 and twice["resolved"] == 0
    assert len(api.get("/api/v1/incidents/1").json()["timeline"]) == len(incident["timeline"])


def test_refire_after_resolution_is_a_new_incident(client: TestClient, api: TestClient) -> None:
    post(client, fixture("firing.json"))
    post(client, fixture("resolved.json"))
    skip = {"skip_verification": "the alerts resolved"}
    assert api.post("/api/v1/incidents/1/resolve", json=skip).status_code == 200
    body = post(client, fixture("firing.json")).json()
    assert body["incidents_opened"] == ["INC-2"]


def test_refire_into_a_mitigated_incident_returns_it_to_triaged(
    client: TestClient, api: TestClient
) -> None:
    post(client, fixture("firing.json"))
    post(client, fixture("resolved.json"))  # auto_mitigate: the incident is mitigated
    assert api.get("/api/v1/incidents/1").json()["status"] == "mitigated"
    body = post(client, fixture("firing.json")).json()
    assert body["incidents_opened"] == [] and body["new"] == 2
    incident = api.get("/api/v1/incidents/1").json()
    assert incident["status"] == "triaged"
    kinds = [e["kind"] for e in incident["timeline"]]
    assert kinds.count("alert_refired") == 1  # the first alert back moves it; the second joins
    assert kinds[kinds.index("alert_refired") + 1] == "reopened"
    assert kinds[-1] == "alert"


def test_route_severity_and_drop(client: TestClient, api: TestClient) -> None:
    payload = copy.deepcopy(fixture("firing.json"))
    payload["alerts"] = payload["alerts"][:1]
    payload["alerts"][0]["labels"]["severity"] = "critical"
    payload["alerts"][0]["fingerprint"] = "0000000000000001"
    payload["groupKey"] = '{}:{alertname="x"}'
    assert post(client, payload).json()["incidents_opened"] == ["INC-1"]
    assert api.get("/api/v1/incidents/1").json()["severity"] == "SEV-1"
    dropped = copy.deepcopy(payload)
    dropped["alerts"][0]["labels"]["alertname"] = "Dropped"
    dropped["alerts"][0]["fingerprint"] = "0000000000000002"
    body = post(client, dropped).json()
    assert body["dropped"] == 1 and body["accepted"] == 0
    assert len(api.get("/api/v1/alerts").json()["items"]) == 1


def test_silence_stores_alert_without_incident(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    created = api.post(
        "/api/v1/silences",
        json={
            "matchers": ['service="checkout"'],
            "duration_minutes": 60,
            "comment": "DB upgrade",
        },
    )
    assert created.status_code == 201, created.text
    body = post(client, fixture("firing.json")).json()
    assert body["silenced"] == 2 and body["incidents_opened"] == []
    assert api.get("/api/v1/incidents").json()["items"] == []
    assert all(a["silence_id"] for a in api.get("/api/v1/alerts").json()["items"])
    api.post(f"/api/v1/silences/{created.json()['id']}/expire")
    clock.advance(timedelta(minutes=1))
    after = post(client, fixture("firing.json")).json()
    assert after["incidents_opened"] == ["INC-1"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 401), ({"Authorization": TOKEN}, 401)],
)
def test_bad_token_is_401_without_effect(
    client: TestClient, api: TestClient, headers: dict[str, str], status: int
) -> None:
    assert post(client, fixture("firing.json"), headers).status_code == status
    assert api.get("/api/v1/alerts").json()["items"] == []
    metrics = client.get("/metrics").text
    assert 'warroom_intake_rejections_total{reason="unauthorized",source="alertmanager"}' in metrics


def test_bad_input(client: TestClient, api: TestClient, runtime: Runtime) -> None:
    malformed = client.post(
        "/api/v1/intake/alertmanager",
        content=b"{nope",
        headers={**AM, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    bad_batch = copy.deepcopy(fixture("firing.json"))
    bad_batch["alerts"][1]["startsAt"] = "yesterday"
    response = post(client, bad_batch)
    assert response.status_code == 422
    assert "alerts[1]" in response.json()["error"]["message"]
    wrong_schema = post(client, {"version": "4", "alerts": "many"})
    assert wrong_schema.status_code == 422
    unknown = client.post("/api/v1/intake/nagios", json={})
    assert unknown.status_code == 404 and "alertmanager" in unknown.json()["error"]["message"]
    runtime.config_value.detection.max_body_bytes = 1000
    big = client.post(
        "/api/v1/intake/alertmanager",
        headers=AM,
        content=json.dumps(fixture("firing.json")).encode(),
    )
    assert big.status_code == 413
    assert api.get("/api/v1/alerts").json()["items"] == []
    assert api.get("/api/v1/incidents").json()["items"] == []


def test_alert_storm_does_not_bury_the_timeline(client: TestClient, api: TestClient) -> None:
    payload = copy.deepcopy(fixture("firing.json"))
    template = payload["alerts"][0]
    payload["alerts"] = []
    for index in range(40):
        alert = copy.deepcopy(template)
        alert["fingerprint"] = f"{index:016x}"
        alert["labels"]["instance"] = f"10.0.0.{index}:9100"
        payload["alerts"].append(alert)
    body = post(client, payload).json()
    assert body["new"] == 40 and body["incidents_opened"] == ["INC-1"]
    events = [e for e in api.get("/api/v1/incidents/1").json()["timeline"] if e["kind"] == "alert"]
    assert len(events) == 26
    assert events[-1]["text"].startswith("More alerts are joining")
    assert len(api.get("/api/v1/alerts", params={"limit": 200}).json()["items"]) == 40


def test_strangers_get_401_before_the_body_is_read(client: TestClient, runtime: Runtime) -> None:
    runtime.config_value.detection.max_body_bytes = 10
    response = client.post(
        "/api/v1/intake/alertmanager", content=b"x" * 1000, headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401


def test_nul_characters_are_refused(client: TestClient, api: TestClient) -> None:
    payload = copy.deepcopy(fixture("firing.json"))
    payload["alerts"][0]["labels"]["instance"] = "bad\u0000host"
    response = post(client, payload)
    assert response.status_code == 422
    assert "NUL" in response.json()["error"]["message"]
    report = api.post("/api/v1/reports", json={"title": "x\u0000"})
    assert report.status_code == 422
    assert api.get("/api/v1/alerts").json()["items"] == []
