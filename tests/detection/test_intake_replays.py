"""Replayed signed deliveries change nothing; Grafana can require its signed timestamp."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select

from tests.detection.test_intake_sources import (
    GRAFANA_SECRET,
    INTEGRATIONS,
    JIRA_SECRET,
    PD_NEW,
    empty,
    fixture_bytes,
    hex_hmac,
    make_config,
    pd_signed,
    post_grafana,
    post_pagerduty,
    rejections,
)
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.detection import deliveries
from warroom.detection.models import Alert, SeenDelivery
from warroom.incidents.models import Incident, TimelineEvent
from warroom.retention import service as retention
from warroom.runtime import Runtime

JIRA_ID = "X-Atlassian-Webhook-Identifier"


@pytest.fixture
def config() -> WarroomConfig:
    """The intakes of test_intake_sources, the Grafana one requiring the signed timestamp."""
    integrations = {
        **INTEGRATIONS,
        "grafana": [{"name": "ops", "secret": GRAFANA_SECRET, "require_timestamp": True}],
    }
    return make_config(integrations)


@pytest.fixture
def api(client: TestClient, tokens: dict[str, str]) -> TestClient:
    """A responder's client of the same app, so that `client` stays without a token."""
    return TestClient(client.app, headers={"Authorization": f"Bearer {tokens['responder']}"})


def counts(runtime: Runtime) -> tuple[int, int, int]:
    """Return how many incidents, alerts and timeline events are stored."""
    with runtime.db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Incident)) or 0,
            session.scalar(select(func.count()).select_from(Alert)) or 0,
            session.scalar(select(func.count()).select_from(TimelineEvent)) or 0,
        )


def seen(runtime: Runtime) -> list[tuple[str, str]]:
    """Return the stored (source, delivery_id) pairs."""
    with runtime.db.session() as session:
        rows = session.execute(select(SeenDelivery.source, SeenDelivery.delivery_id))
        return sorted((source, delivery_id) for source, delivery_id in rows)


def post_jira(client: TestClient, body: bytes, identifier: str | None) -> httpx.Response:
    """POST a signed Jira webhook, with Jira's delivery identifier when given."""
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature": f"sha256={hex_hmac(JIRA_SECRET, body)}",
    }
    if identifier is not None:
        headers[JIRA_ID] = identifier
    return client.post("/api/v1/intake/jira", content=body, headers=headers)


def pd_event(event_id: str, event_type: str = "incident.triggered") -> bytes:
    """The recorded triggered event, with another event id (and type)."""
    payload: dict[str, Any] = json.loads(fixture_bytes("pagerduty/incident_triggered.json"))
    payload["event"]["id"] = event_id
    payload["event"]["event_type"] = event_type
    return json.dumps(payload).encode()


# PagerDuty


def test_pagerduty_replay_changes_nothing(
    client: TestClient, api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    triggered = fixture_bytes("pagerduty/incident_triggered.json")
    resolved = fixture_bytes("pagerduty/incident_resolved.json")
    first = post_pagerduty(client, triggered, pd_signed(triggered, PD_NEW))
    assert first.json()["incidents_opened"] == ["INC-1"]
    clock.advance(timedelta(minutes=5))
    assert post_pagerduty(client, resolved, pd_signed(resolved, PD_NEW)).json()["resolved"] == 1
    before = counts(runtime)
    duplicates = rejections(client, "pagerduty", "duplicate")

    # The captured trigger, replayed after the resolve: without the id it would open a new
    # alert episode (and page again). The sender gets a 2xx, so it stops retrying.
    clock.advance(timedelta(minutes=5))
    for _ in range(2):
        replay = post_pagerduty(client, triggered, pd_signed(triggered, PD_NEW))
        assert replay.status_code == 200, replay.text
        answer = replay.json()
        assert answer["duplicate"] is True
        assert (answer["accepted"], answer["new"], answer["incidents_opened"]) == (0, 0, [])
    assert counts(runtime) == before
    assert rejections(client, "pagerduty", "duplicate") == duplicates + 2
    assert seen(runtime) == [
        ("pagerduty", "event:01DEN2GW9KB4S3R5TJ6Z8Y0A1B"),
        ("pagerduty", f"event:{json.loads(resolved)['event']['id']}"),
    ]


def test_pagerduty_different_event_ids_both_apply(client: TestClient, api: TestClient) -> None:
    # The event id is inside the signed body: two ids are two events, each one applies
    # (the second repeats the open alert, as PagerDuty re-sending a trigger does).
    for event_id, field in (("01EVENTONE", "new"), ("01EVENTTWO", "repeated")):
        body = pd_event(event_id)
        answer = post_pagerduty(client, body, pd_signed(body, PD_NEW)).json()
        assert (answer[field], answer["duplicate"]) == (1, False)
    (alert,) = api.get("/api/v1/alerts").json()["items"]
    assert alert["seen_count"] == 2


def test_pagerduty_ignored_event_replay_is_a_duplicate_too(
    client: TestClient, api: TestClient
) -> None:
    body = fixture_bytes("pagerduty/service_updated.json")
    assert post_pagerduty(client, body, pd_signed(body, PD_NEW)).json()["duplicate"] is False
    assert post_pagerduty(client, body, pd_signed(body, PD_NEW)).json()["duplicate"] is True
    assert empty(api)


def test_concurrent_copies_apply_once(live_server: str, runtime: Runtime) -> None:
    body = fixture_bytes("pagerduty/incident_triggered.json")
    headers = {"Content-Type": "application/json", "X-PagerDuty-Signature": pd_signed(body, PD_NEW)}

    def send(_: int) -> dict[str, Any]:
        response = httpx.post(
            f"{live_server}/api/v1/intake/pagerduty", content=body, headers=headers, timeout=30
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, range(16)))
    assert sum(not a["duplicate"] for a in answers) == 1
    assert sum(a["new"] for a in answers) == 1
    incidents, alerts, _ = counts(runtime)
    assert (incidents, alerts) == (1, 1)


# Jira


def test_jira_replay_changes_nothing(client: TestClient, api: TestClient, runtime: Runtime) -> None:
    body = fixture_bytes("jira/issue_created.json")
    first = post_jira(client, body, "1f8a3c2e-0001")
    assert first.json()["incidents_opened"] == ["INC-1"]
    before = counts(runtime)

    # Jira's retry (same identifier, same body); a replay with the identifier changed or left
    # out (headers are not signed, the body is); the same identifier on another body.
    other = json.loads(body)
    other["issue"]["key"] = "OPS-18"
    for replay, identifier in (
        (body, "1f8a3c2e-0001"),
        (body, "forged-new-identifier"),
        (body, None),
        (json.dumps(other).encode(), "1f8a3c2e-0001"),
    ):
        response = post_jira(client, replay, identifier)
        assert response.status_code == 200, response.text
        assert (response.json()["duplicate"], response.json()["incidents_opened"]) == (True, [])
    assert counts(runtime) == before
    (alert,) = api.get("/api/v1/alerts").json()["items"]
    assert alert["seen_count"] == 1


def test_jira_new_identifier_and_body_applies(client: TestClient, api: TestClient) -> None:
    # Two deliveries with different identifiers and the same body are one event to warroom:
    # the body (with Jira's millisecond `timestamp`) names it. A new event has a new body.
    body = fixture_bytes("jira/issue_created.json")
    assert post_jira(client, body, "id-1").json()["incidents_opened"] == ["INC-1"]
    other = json.loads(body)
    other["issue"]["key"], other["timestamp"] = "OPS-18", other["timestamp"] + 1
    answer = post_jira(client, json.dumps(other).encode(), "id-2").json()
    assert (answer["incidents_opened"], answer["duplicate"]) == (["INC-2"], False)


def test_jira_identifier_is_per_integration(runtime: Runtime) -> None:
    from warroom.detection.sources import jira

    ids_a = jira.delivery_ids(b"{}", {JIRA_ID: "42"}, "site-a")
    ids_b = jira.delivery_ids(b"{}", {JIRA_ID: "42"}, "site-b")
    assert ids_a[0] != ids_b[0]  # two Jira sites may repeat an identifier
    assert ids_a[1] == ids_b[1]  # the body's digest


def test_jira_issue_updated_replay_is_a_duplicate(client: TestClient, runtime: Runtime) -> None:
    body = fixture_bytes("jira/issue_updated.json")
    first = post_jira(client, body, "upd-1").json()
    assert (first["duplicate"], first["action_items_updated"]) == (False, [])
    again = post_jira(client, body, "upd-1").json()
    assert (again["duplicate"], again["action_items_updated"]) == (True, [])
    assert ("jira", "id:servicedesk:upd-1") in seen(runtime)


# Grafana


def grafana_signed(body: bytes, stamp: str | None) -> dict[str, str]:
    """Headers of a signed Grafana delivery, with the timestamp header when `stamp` is given."""
    if stamp is None:
        return {"X-Grafana-Alerting-Signature": hex_hmac(GRAFANA_SECRET, body)}
    return {
        "X-Grafana-Alerting-Timestamp": stamp,
        "X-Grafana-Alerting-Signature": hex_hmac(GRAFANA_SECRET, stamp.encode() + b":" + body),
    }


def test_grafana_without_timestamp_is_refused_when_required(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    body = fixture_bytes("grafana/firing.json")
    before = rejections(client, "grafana")
    refused = post_grafana(client, body, grafana_signed(body, None))
    assert refused.status_code == 401
    message = refused.json()["error"]["message"]
    assert "missing X-Grafana-Alerting-Timestamp" in message
    assert "require_timestamp" in message
    assert rejections(client, "grafana") == before + 1
    stale = str(int((clock.now() - timedelta(minutes=6)).timestamp()))
    assert post_grafana(client, body, grafana_signed(body, stale)).status_code == 401
    assert empty(api)

    fresh = str(int(clock.now().timestamp()))
    response = post_grafana(client, body, grafana_signed(body, fresh))
    assert response.status_code == 200, response.text
    assert response.json()["incidents_opened"] == ["INC-1"]


def test_grafana_without_timestamp_is_accepted_when_not_required() -> None:
    # The default follows Grafana's: its contact point sends no timestamp until one is named.
    config = make_config(INTEGRATIONS)
    (grafana,) = config.integrations.configured("grafana")
    assert grafana.require_timestamp is False  # test_intake_sources posts without one


def test_require_timestamp_needs_a_timestamp_header() -> None:
    integrations = {
        **INTEGRATIONS,
        "grafana": [
            {
                "name": "ops",
                "secret": GRAFANA_SECRET,
                "require_timestamp": True,
                "timestamp_header": None,
            }
        ],
    }
    with pytest.raises(ValidationError, match="require_timestamp needs timestamp_header"):
        make_config(integrations)


# Pruning


def test_old_ids_are_forgotten_by_data_retention(
    client: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    # The engine's retention job forgets them (in batches, off the intake's writer thread).
    first = pd_event("01OLD")
    post_pagerduty(client, first, pd_signed(first, PD_NEW))
    clock.advance(deliveries.RETENTION + timedelta(hours=2))
    second = pd_event("01NEW")
    post_pagerduty(client, second, pd_signed(second, PD_NEW))
    assert seen(runtime) == [("pagerduty", "event:01NEW"), ("pagerduty", "event:01OLD")]
    done = retention.prune(runtime.db, retention=runtime.config().retention, now=clock.now())
    assert {p.kind: p.rows for p in done}["delivery_ids"] == 1
    assert seen(runtime) == [("pagerduty", "event:01NEW")]
