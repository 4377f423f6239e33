"""Every intake source through HTTP: signatures, what each payload opens, and bad input."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.helpers import make_slack_users
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GRAFANA_SECRET = "grafana-ops-secret"
GRAFANA_OTHER = "grafana-payments-secret"
PD_OLD, PD_NEW = "pd-old-secret", "pd-new-secret"
JIRA_SECRET = "jira-webhook-secret"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
WEBHOOK_TOKEN = "webhook-token"
HOOK = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
JSON = {"Content-Type": "application/json"}
INTEGRATIONS: dict[str, Any] = {
    "grafana": [{"name": "ops", "secret": GRAFANA_SECRET}],
    "pagerduty": [{"name": "pd", "secrets": [PD_NEW, PD_OLD]}],
    "jira": [{"name": "servicedesk", "secret": JIRA_SECRET}],
    "slack": {"signing_secret": SLACK_SECRET},
    "webhook": [{"name": "hooks", "token": WEBHOOK_TOKEN}],
}


def make_config(integrations: dict[str, Any]) -> WarroomConfig:
    """Build a configuration with these integrations and a grouping route for `group=` alerts."""
    return WarroomConfig.model_validate(
        {
            "routes": [
                {"match": ['group=~".+"'], "group_by": ["group"]},
                {"default": True},
            ],
            "integrations": integrations,
        }
    )


@pytest.fixture
def config() -> WarroomConfig:
    """One instance of each intake integration."""
    return make_config(INTEGRATIONS)


@pytest.fixture
def api(client: TestClient, tokens: dict[str, str]) -> TestClient:
    """A responder's client of the same app, so that `client` stays without a token."""
    return TestClient(client.app, headers={"Authorization": f"Bearer {tokens['responder']}"})


def fixture_bytes(name: str) -> bytes:
    """Return a payload fixture's raw bytes."""
    return (FIXTURES / name).read_bytes()


def hex_hmac(secret: str, message: bytes) -> str:
    """Return the hex HMAC-SHA256 of `message`."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def empty(api: TestClient) -> bool:
    """Return whether no alert and no incident is stored."""
    alerts = api.get("/api/v1/alerts").json()["items"]
    incidents = api.get("/api/v1/incidents").json()["items"]
    return alerts == [] and incidents == []


def rejections(client: TestClient, source: str, reason: str = "unauthorized") -> float:
    """Read `warroom_intake_rejections_total` for one source and reason from /metrics."""
    text = client.get("/metrics").text
    pattern = (
        r"^warroom_intake_rejections_total\{"
        rf'reason="{reason}",source="{source}"\}} (\S+)$'
    )
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def when(value: str) -> datetime:
    """Parse an API timestamp."""
    return datetime.fromisoformat(value)


# Grafana


def post_grafana(client: TestClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST a Grafana webhook body."""
    return client.post("/api/v1/intake/grafana", content=body, headers={**JSON, **headers})


def test_grafana_signed_delivery_opens_incident(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    body = fixture_bytes("grafana/firing.json")
    headers = {"X-Grafana-Alerting-Signature": hex_hmac(GRAFANA_SECRET, body)}
    response = post_grafana(client, body, headers)
    assert response.status_code == 200, response.text
    result = response.json()
    # The fixture holds one firing alert and one resolved alert never seen firing.
    assert (result["new"], result["ignored"], result["incidents_opened"]) == (1, 1, ["INC-1"])
    incident = api.get("/api/v1/incidents/1").json()
    assert incident["source"] == "grafana"
    assert incident["title"] == "Checkout p99 latency above 1s"
    assert incident["severity"] == "SEV-1"  # label severity=critical
    assert when(incident["started_at"]) == datetime.fromisoformat("2026-03-02T08:58:10+00:00")
    assert when(incident["detected_at"]) == clock.now()
    assert incident["durations"]["time_to_detect"] == 110.0
    assert "https://grafana.example.com/alerting/grafana/ddk1x2y3z4" in incident["summary"]
    (alert,) = api.get("/api/v1/alerts").json()["items"]
    assert (alert["source"], alert["integration"]) == ("grafana", "ops")
    assert (alert["fingerprint"], alert["incident"]) == ("5e3c8f0a2b1d4c67", "INC-1")


def test_grafana_timestamp_header_is_signed_too(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    body = fixture_bytes("grafana/firing.json")
    stamp = str(int(clock.now().timestamp()) - 20)
    signed = {
        "X-Grafana-Alerting-Timestamp": stamp,
        "X-Grafana-Alerting-Signature": hex_hmac(GRAFANA_SECRET, stamp.encode() + b":" + body),
    }
    # A body-only signature does not pass once a timestamp is sent: the stamp is signed.
    body_only = {**signed, "X-Grafana-Alerting-Signature": hex_hmac(GRAFANA_SECRET, body)}
    assert post_grafana(client, body, body_only).status_code == 401
    old = str(int((clock.now() - timedelta(minutes=6)).timestamp()))
    replayed = {
        "X-Grafana-Alerting-Timestamp": old,
        "X-Grafana-Alerting-Signature": hex_hmac(GRAFANA_SECRET, old.encode() + b":" + body),
    }
    assert post_grafana(client, body, replayed).status_code == 401
    assert empty(api)
    response = post_grafana(client, body, signed)
    assert response.status_code == 200, response.text
    assert response.json()["incidents_opened"] == ["INC-1"]


def test_grafana_wrong_signature_is_401_and_counted(client: TestClient, api: TestClient) -> None:
    body = fixture_bytes("grafana/firing.json")
    before = rejections(client, "grafana")
    for headers in (
        {"X-Grafana-Alerting-Signature": hex_hmac("not-the-secret", body)},
        {"X-Grafana-Alerting-Signature": hex_hmac(GRAFANA_SECRET, body + b" ")},
        {},
    ):
        response = post_grafana(client, body, headers)
        assert response.status_code == 401
        assert "X-Grafana-Alerting-Signature" in response.json()["error"]["message"]
    assert rejections(client, "grafana") == before + 3
    assert empty(api)


def test_grafana_signer_names_the_integration(
    client: TestClient, api: TestClient, runtime: Runtime
) -> None:
    two = [{"name": "ops", "secret": GRAFANA_SECRET}, {"name": "payments", "secret": GRAFANA_OTHER}]
    runtime.config_value = make_config({**INTEGRATIONS, "grafana": two})
    body = fixture_bytes("grafana/firing.json")
    headers = {"X-Grafana-Alerting-Signature": hex_hmac(GRAFANA_OTHER, body)}
    assert post_grafana(client, body, headers).status_code == 200
    (alert,) = api.get("/api/v1/alerts").json()["items"]
    assert alert["integration"] == "payments"
    timeline = api.get("/api/v1/incidents/1").json()["timeline"]
    assert any(event["actor"] == "grafana/payments" for event in timeline)


# PagerDuty


def post_pagerduty(client: TestClient, body: bytes, signature: str) -> httpx.Response:
    """POST a PagerDuty V3 webhook with an `X-PagerDuty-Signature` header."""
    headers = {**JSON, "X-PagerDuty-Signature": signature}
    return client.post("/api/v1/intake/pagerduty", content=body, headers=headers)


def pd_signed(body: bytes, *secrets: str) -> str:
    """Return the header value PagerDuty sends: one `v1=` per signing secret."""
    return ",".join(f"v1={hex_hmac(secret, body)}" for secret in secrets)


def test_pagerduty_triggered_acknowledged_resolved(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    triggered = fixture_bytes("pagerduty/incident_triggered.json")
    response = post_pagerduty(client, triggered, pd_signed(triggered, PD_NEW))
    assert response.status_code == 200, response.text
    assert response.json()["incidents_opened"] == ["INC-1"]
    incident = api.get("/api/v1/incidents/1").json()
    assert incident["title"] == "Checkout API returns 502 for 20% of requests"
    assert incident["severity"] == "SEV-1"  # priority P1
    assert incident["source"] == "pagerduty"
    assert incident["acknowledged_at"] is None

    clock.advance(timedelta(minutes=3))
    acknowledged = fixture_bytes("pagerduty/incident_acknowledged.json")
    response = post_pagerduty(client, acknowledged, pd_signed(acknowledged, PD_OLD))
    assert response.status_code == 200, response.text
    assert response.json()["incidents_updated"] == ["INC-1"]
    incident = api.get("/api/v1/incidents/1").json()
    assert when(incident["acknowledged_at"]) == clock.now()
    assert incident["status"] == "detected"  # acknowledgement is a milestone, not a status
    (alert,) = api.get("/api/v1/alerts").json()["items"]
    assert (alert["status"], alert["seen_count"]) == ("firing", 2)

    clock.advance(timedelta(minutes=30))
    resolved = fixture_bytes("pagerduty/incident_resolved.json")
    response = post_pagerduty(client, resolved, pd_signed(resolved, PD_NEW))
    assert response.status_code == 200, response.text
    assert response.json()["resolved"] == 1
    (alert,) = api.get("/api/v1/alerts").json()["items"]
    assert alert["status"] == "resolved"
    assert when(alert["ends_at"]) == datetime.fromisoformat("2026-03-02T09:41:12.500+00:00")
    incident = api.get("/api/v1/incidents/1").json()
    assert "alerts_resolved" in [event["kind"] for event in incident["timeline"]]
    assert incident["status"] == "detected"  # no auto_mitigate route: nothing moves by itself
    assert len(api.get("/api/v1/incidents").json()["items"]) == 1


def test_pagerduty_two_signatures_during_rotation(client: TestClient, api: TestClient) -> None:
    body = fixture_bytes("pagerduty/incident_triggered.json")
    # While a secret rotates PagerDuty signs with both; one of them is one warroom knows.
    header = f"{pd_signed(body, 'a-secret-warroom-lost')}, {pd_signed(body, PD_OLD)}"
    response = post_pagerduty(client, body, header)
    assert response.status_code == 200, response.text
    assert response.json()["incidents_opened"] == ["INC-1"]


def test_pagerduty_wrong_signature_is_401(client: TestClient, api: TestClient) -> None:
    body = fixture_bytes("pagerduty/incident_triggered.json")
    before = rejections(client, "pagerduty")
    assert post_pagerduty(client, body, pd_signed(body, "wrong")).status_code == 401
    assert post_pagerduty(client, body, hex_hmac(PD_NEW, body)).status_code == 401  # no `v1=`
    assert rejections(client, "pagerduty") == before + 2
    assert empty(api)


def test_pagerduty_untracked_event_is_accepted_and_ignored(
    client: TestClient, api: TestClient
) -> None:
    body = fixture_bytes("pagerduty/service_updated.json")
    response = post_pagerduty(client, body, pd_signed(body, PD_NEW))
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 0
    assert empty(api)


# Jira


def post_jira(client: TestClient, body: bytes, signature: str | None = None) -> httpx.Response:
    """POST a Jira webhook, signed with the configured secret unless `signature` is given."""
    value = signature if signature is not None else f"sha256={hex_hmac(JIRA_SECRET, body)}"
    headers = {**JSON, "X-Hub-Signature": value}
    return client.post("/api/v1/intake/jira", content=body, headers=headers)


def test_jira_issue_created_is_a_report(client: TestClient, api: TestClient) -> None:
    body = fixture_bytes("jira/issue_created.json")
    response = post_jira(client, body)
    assert response.status_code == 200, response.text
    assert response.json()["incidents_opened"] == ["INC-1"]
    incident = api.get("/api/v1/incidents/1").json()
    assert (incident["source"], incident["created_by"]) == ("jira", "Bob Ruiz")
    assert incident["title"] == "Customers cannot pay with saved cards"
    assert incident["severity"] == "SEV-2"  # priority High
    assert "https://acme.atlassian.net/browse/OPS-17" in incident["summary"]
    (alert,) = api.get("/api/v1/alerts").json()["items"]
    assert (alert["kind"], alert["fingerprint"], alert["integration"]) == (
        "report",
        "jira:OPS-17",
        "servicedesk",
    )

    # The same signed body again is a replay (or Jira's retry): answered, nothing changes.
    again = post_jira(client, body)
    assert again.status_code == 200
    assert (again.json()["incidents_opened"], again.json()["duplicate"]) == ([], True)
    assert len(api.get("/api/v1/incidents").json()["items"]) == 1
    assert api.get("/api/v1/alerts").json()["items"][0]["seen_count"] == 1


def test_jira_issue_updated_is_accepted_without_effect(client: TestClient, api: TestClient) -> None:
    response = post_jira(client, fixture_bytes("jira/issue_updated.json"))
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["incidents_opened"]) == (0, [])
    assert empty(api)


def test_jira_bad_signature_is_401(client: TestClient, api: TestClient) -> None:
    body = fixture_bytes("jira/issue_created.json")
    before = rejections(client, "jira")
    for signature in (
        f"sha256={hex_hmac('other', body)}",
        hex_hmac(JIRA_SECRET, body),  # no `sha256=` prefix
        f"sha1={hex_hmac(JIRA_SECRET, body)}",
        "",
    ):
        assert post_jira(client, body, signature).status_code == 401, signature
    assert rejections(client, "jira") == before + 4
    assert empty(api)


# Slack


def slack_headers(body: bytes, at: datetime, secret: str = SLACK_SECRET) -> dict[str, str]:
    """Return Slack's headers: the request time and the `v0=` HMAC of `v0:<time>:<body>`."""
    stamp = str(int(at.timestamp()))
    signature = hex_hmac(secret, b"v0:" + stamp.encode() + b":" + body)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={signature}",
    }


def post_slack(client: TestClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST a slash command."""
    return client.post("/api/v1/intake/slack/commands", content=body, headers=headers)


def test_slack_command_of_a_responder_declares(
    client: TestClient, api: TestClient, clock: FrozenClock, runtime: Runtime
) -> None:
    # The fixture's user_id is linked to dana, a responder in warroom: her SEV-1 pages at once.
    people = [{"id": "dana", "name": "Dana", "slack": "U2147483697"}]
    runtime.config_value = make_config(INTEGRATIONS).model_copy(
        update={"people": WarroomConfig.model_validate({"people": people}).people}
    )
    make_slack_users(runtime)
    body = fixture_bytes("slack/command.txt")
    response = post_slack(client, body, slack_headers(body, clock.now()))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["response_type"] == "in_channel"
    assert answer["text"] == "Declared INC-1: Checkout returns 502 for EU customers"
    incident = api.get("/api/v1/incidents/1").json()
    assert (incident["source"], incident["created_by"]) == ("slack", "dana")
    assert (incident["severity"], incident["paging_held"]) == ("SEV-1", False)


def test_slack_command_of_a_restricted_type_answers_only_the_reporter(
    client: TestClient, api: TestClient, clock: FrozenClock, runtime: Runtime
) -> None:
    route = {"match": ['slack_channel="C2147483705"'], "incident_type": "security"}
    runtime.config_value = WarroomConfig.model_validate(
        {"routes": [route, {"default": True}], "integrations": INTEGRATIONS}
    )
    body = fixture_bytes("slack/command.txt")
    response = post_slack(client, body, slack_headers(body, clock.now()))
    assert response.status_code == 200, response.text
    answer = response.json()
    # The channel is not the incident's: the title goes to the reporter alone.
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("Declared INC-1: Checkout returns 502")
    assert answer["text"].endswith("It is restricted.")


def test_slack_command_of_anyone_else_is_a_report_awaiting_triage(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    body = fixture_bytes("slack/command.txt")  # alice's Slack id is nobody's in warroom.yaml
    response = post_slack(client, body, slack_headers(body, clock.now()))
    assert response.status_code == 200, response.text
    assert response.json()["text"] == (
        "Declared INC-1: Checkout returns 502 for EU customers "
        "(a report: nobody is paged until a responder triages it)"
    )
    incident = api.get("/api/v1/incidents/1").json()
    assert (incident["source"], incident["created_by"]) == ("slack", "alice")
    assert (incident["severity"], incident["suggested_severity"]) == ("SEV-3", "SEV-1")
    assert incident["paging_held"] is True


def test_slack_empty_text_answers_usage(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    body = urlencode({"command": "/incident", "text": "  ", "user_id": "U1", "user_name": "bo"})
    response = post_slack(client, body.encode(), slack_headers(body.encode(), clock.now()))
    assert response.status_code == 200
    assert response.json() == {
        "response_type": "ephemeral",
        "text": "usage: /incident <title> [sev1|sev2|sev3|sev4]",
    }
    assert empty(api)


def test_slack_stale_or_wrong_signature_is_401(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    body = fixture_bytes("slack/command.txt")
    before = rejections(client, "slack")
    stale = slack_headers(body, clock.now() - timedelta(minutes=5, seconds=1))
    assert post_slack(client, body, stale).status_code == 401
    wrong = slack_headers(body, clock.now(), secret="not-the-secret")
    assert post_slack(client, body, wrong).status_code == 401
    assert rejections(client, "slack") == before + 2
    assert empty(api)
    # The same request four minutes later is still inside the window.
    clock.advance(timedelta(minutes=4))
    assert post_slack(client, body, slack_headers(body, clock.now())).status_code == 200


# Generic webhook


def webhook(client: TestClient, payload: Any, headers: dict[str, str] = HOOK) -> httpx.Response:
    """POST to the generic webhook."""
    return client.post("/api/v1/intake/webhook", json=payload, headers=headers)


def hook_alert(key: str, **fields: Any) -> dict[str, Any]:
    """Return a generic webhook alert."""
    return {"title": f"Alert {key}", "dedup_key": key, **fields}


@pytest.mark.parametrize(
    "shape",
    ["object", "list", "alerts"],
)
def test_webhook_shapes(client: TestClient, api: TestClient, shape: str) -> None:
    first = hook_alert("disk-full", severity="warning", labels={"host": "db-1"})
    second = hook_alert("queue-stuck", summary="The queue has not moved for 10 minutes")
    payload: Any = {
        "object": first,
        "list": [first, second],
        "alerts": {"alerts": [first, second]},
    }[shape]
    response = webhook(client, payload)
    assert response.status_code == 200, response.text
    expected = 1 if shape == "object" else 2
    assert response.json()["new"] == expected
    assert len(response.json()["incidents_opened"]) == expected
    alerts = api.get("/api/v1/alerts").json()["items"]
    assert sorted(a["fingerprint"] for a in alerts) == ["disk-full", "queue-stuck"][:expected]
    disk = next(a for a in alerts if a["fingerprint"] == "disk-full")
    assert (disk["labels"], disk["severity"], disk["integration"]) == (
        {"host": "db-1"},
        "SEV-3",
        "hooks",
    )


def test_webhook_firing_then_resolved_by_dedup_key(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    alert = hook_alert("checkout-5xx", severity="critical", starts_at="2026-03-02T08:55:00Z")
    assert webhook(client, alert).json()["incidents_opened"] == ["INC-1"]
    clock.advance(timedelta(minutes=2))
    again = webhook(client, alert).json()
    assert (again["repeated"], again["incidents_opened"]) == (1, [])
    clock.advance(timedelta(minutes=10))
    resolved = webhook(client, {**alert, "status": "resolved"}).json()
    assert resolved["resolved"] == 1
    (stored,) = api.get("/api/v1/alerts").json()["items"]
    assert (stored["status"], stored["seen_count"]) == ("resolved", 2)
    assert when(stored["ends_at"]) == clock.now()  # no ends_at given: received time
    incident = api.get("/api/v1/incidents/1").json()
    assert incident["severity"] == "SEV-1"
    assert incident["durations"]["time_to_detect"] == 300.0
    assert incident["status"] == "detected"


def test_webhook_group_takes_earliest_start(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    late = hook_alert("a", labels={"group": "db"}, starts_at="2026-03-02T08:50:00Z")
    early = hook_alert("b", labels={"group": "db"}, starts_at="2026-03-02T08:30:00+00:00")
    assert webhook(client, [late]).json()["incidents_opened"] == ["INC-1"]
    clock.advance(timedelta(minutes=1))
    assert webhook(client, [early]).json()["incidents_updated"] == ["INC-1"]
    incident = api.get("/api/v1/incidents/1").json()
    assert when(incident["started_at"]) == datetime.fromisoformat("2026-03-02T08:30:00+00:00")
    assert when(incident["detected_at"]) == clock.now() - timedelta(minutes=1)
    assert incident["durations"]["time_to_detect"] == 1800.0
    assert len(api.get("/api/v1/alerts", params={"incident": "INC-1"}).json()["items"]) == 2


@pytest.mark.parametrize("wrapped", [True, False])
def test_webhook_batch_with_one_bad_alert_stores_nothing(
    client: TestClient, api: TestClient, wrapped: bool
) -> None:
    batch = [hook_alert("one"), hook_alert("two"), {"title": "no key"}]
    response = webhook(client, {"alerts": batch} if wrapped else batch)
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert ("alerts[2]" if wrapped else "[2]") in message
    assert "dedup_key" in message
    assert empty(api)


def test_webhook_wrong_token_is_401(client: TestClient, api: TestClient) -> None:
    before = rejections(client, "webhook")
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": WEBHOOK_TOKEN}):
        assert webhook(client, hook_alert("x"), headers).status_code == 401
    assert rejections(client, "webhook") == before + 3
    assert empty(api)


# The web form


def test_report_from_viewer(client: TestClient, api: TestClient, tokens: dict[str, str]) -> None:
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    report = {"title": "The login page is blank", "summary": "Since 09:00", "severity": "sev2"}
    response = client.post("/api/v1/reports", json=report, headers=viewer)
    assert response.status_code == 201, response.text
    assert response.json()["incidents_opened"] == ["INC-1"]
    incident = api.get("/api/v1/incidents/1").json()
    assert (incident["source"], incident["created_by"]) == ("web", "vic")
    assert (incident["title"], incident["severity"]) == ("The login page is blank", "SEV-3")
    # A viewer's word is kept, not applied: tests/api/test_held_reports.py follows it through.
    assert (incident["suggested_severity"], incident["paging_held"]) == ("SEV-2", True)
    # A second identical report is its own incident: people are never deduplicated away.
    assert client.post("/api/v1/reports", json=report, headers=viewer).status_code == 201
    assert len(api.get("/api/v1/incidents").json()["items"]) == 2
    # The reporter is who is signed in; the form cannot claim someone else.
    client.post("/api/v1/reports", json={**report, "reporter": "ceo"}, headers=viewer)
    assert api.get("/api/v1/incidents/3").json()["created_by"] == "vic"


def test_report_needs_a_token_and_a_title(client: TestClient, api: TestClient) -> None:
    assert client.post("/api/v1/reports", json={"title": "x"}).status_code == 401
    response = api.post("/api/v1/reports", json={"title": "  "})
    assert response.status_code == 422
    assert "title" in response.json()["error"]["message"]
    assert empty(api)


# Errors common to every intake


SIGNED_SOURCES = ["grafana", "pagerduty", "jira", "webhook", "slack/commands"]


@pytest.mark.parametrize("path", SIGNED_SOURCES)
def test_unconfigured_intake_is_404(
    client: TestClient, api: TestClient, runtime: Runtime, path: str
) -> None:
    runtime.config_value = make_config({})
    response = client.post(f"/api/v1/intake/{path}", content=b"{}", headers={**JSON, **HOOK})
    assert response.status_code == 404
    source = path.split("/")[0]
    message = response.json()["error"]["message"]
    assert message == (
        f"the {source} intake is not configured: add integrations.{source} to warroom.yaml"
    )
    assert empty(api)


def test_unknown_intake_names_the_known_ones(client: TestClient) -> None:
    response = client.post("/api/v1/intake/nagios", json={})
    assert response.status_code == 404
    assert "grafana" in response.json()["error"]["message"]


@pytest.fixture
def small_limit(runtime: Runtime) -> int:
    """Lower detection.max_body_bytes to 1000 bytes."""
    runtime.config_value.detection.max_body_bytes = 1000
    return 1000


def too_big() -> bytes:
    """Return a valid webhook body of more than 1000 bytes."""
    return json.dumps([hook_alert(f"k{i}", summary="x" * 100) for i in range(10)]).encode()


def test_body_over_limit_with_content_length_is_413(
    client: TestClient, api: TestClient, small_limit: int
) -> None:
    before = rejections(client, "webhook", "too_large")
    response = client.post("/api/v1/intake/webhook", content=too_big(), headers={**JSON, **HOOK})
    assert response.status_code == 413
    message = response.json()["error"]["message"]
    assert "detection.max_body_bytes" in message and str(small_limit) in message
    assert rejections(client, "webhook", "too_large") == before + 1
    assert empty(api)


def test_chunked_body_over_limit_is_413(
    client: TestClient, api: TestClient, small_limit: int
) -> None:
    data = too_big()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 300):
            yield data[start : start + 300]

    request = client.build_request(
        "POST", "/api/v1/intake/webhook", content=chunks(), headers={**JSON, **HOOK}
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    response = client.send(request)
    assert response.status_code == 413
    assert "over the limit of 1000 bytes" in response.json()["error"]["message"]
    assert empty(api)
    # A body under the limit still goes through when chunked.
    small = json.dumps(hook_alert("small")).encode()
    ok = client.send(
        client.build_request(
            "POST", "/api/v1/intake/webhook", content=iter([small]), headers={**JSON, **HOOK}
        )
    )
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("path", ["grafana", "pagerduty", "jira", "webhook"])
def test_malformed_json_is_400(client: TestClient, api: TestClient, path: str) -> None:
    body = b'{"alerts": [nope'
    headers = {
        "grafana": {"X-Grafana-Alerting-Signature": hex_hmac(GRAFANA_SECRET, body)},
        "pagerduty": {"X-PagerDuty-Signature": pd_signed(body, PD_NEW)},
        "jira": {"X-Hub-Signature": f"sha256={hex_hmac(JIRA_SECRET, body)}"},
        "webhook": HOOK,
    }[path]
    response = client.post(f"/api/v1/intake/{path}", content=body, headers={**JSON, **headers})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "malformed_json"
    assert error["message"].startswith("malformed JSON")
    assert empty(api)


def test_wrong_schema_is_422(client: TestClient, api: TestClient) -> None:
    payload = copy.deepcopy(json.loads(fixture_bytes("grafana/firing.json")))
    payload["alerts"][1]["startsAt"] = "yesterday"
    body = json.dumps(payload).encode()
    headers = {"X-Grafana-Alerting-Signature": hex_hmac(GRAFANA_SECRET, body)}
    response = post_grafana(client, body, headers)
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("alerts[1]: startsAt")
    assert empty(api)


def test_pagerduty_acknowledged_first_opens_an_acknowledged_incident(
    client: TestClient, api: TestClient
) -> None:
    # PagerDuty does not promise order: the acknowledgement may be the first event warroom sees.
    body = fixture_bytes("pagerduty/incident_acknowledged.json")
    response = post_pagerduty(client, body, pd_signed(body, PD_NEW))
    assert response.json()["incidents_opened"] == ["INC-1"]
    incident = api.get("/api/v1/incidents/1").json()
    assert incident["acknowledged_at"] is not None
    assert incident["acknowledged_by"] == "pagerduty/pd"
