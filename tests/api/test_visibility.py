"""Restricted incidents: seen by admins, access teams and participants; 404 to the rest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import make_token
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.detection.models import Alert
from warroom.incidents.models import Incident
from warroom.notify.models import Notification
from warroom.runtime import Runtime

INCIDENTS = "/api/v1/incidents"
MARKER = "BREACH-MARKER-77"
PEOPLE = [{"id": name, "name": name.capitalize()} for name in ("ada", "alice", "bob", "carol")]


@pytest.fixture
def config() -> WarroomConfig:
    """Four people; alice is on the security team (the security type's access team)."""
    return WarroomConfig.model_validate(
        {"people": PEOPLE, "teams": [{"id": "security", "members": ["alice"]}]}
    )


@pytest.fixture
def who(runtime: Runtime) -> dict[str, dict[str, str]]:
    """Authorization headers of ada (admin), alice and bob (responders) and vic (viewer)."""
    users = {"ada": "admin", "alice": "responder", "bob": "responder", "vic": "viewer"}
    return {
        name: {"Authorization": f"Bearer {make_token(runtime, name, role)}"}
        for name, role in users.items()
    }


@pytest.fixture
def breach(client: TestClient, who: dict[str, dict[str, str]]) -> str:
    """A security incident declared by ada (restricted by its type), and a public one."""
    body = {"title": f"Customer data exposed {MARKER}", "incident_type": "security"}
    body |= {"summary": f"SQL injection in login {MARKER}", "commander": "carol"}
    answer = client.post(INCIDENTS, json=body, headers=who["ada"])
    assert answer.status_code == 201, answer.text
    assert answer.json()["visibility"] == "restricted"
    public = client.post(INCIDENTS, json={"title": "Search is slow"}, headers=who["ada"])
    assert public.status_code == 201
    return str(answer.json()["ref"])


def refs(client: TestClient, headers: dict[str, str]) -> list[str]:
    page: dict[str, Any] = client.get(INCIDENTS, headers=headers).json()
    return [item["ref"] for item in page["items"]]


PER_INCIDENT = [
    ("get", ""),
    ("get", "/timeline"),
    ("get", "/checklist"),
    ("get", "/status-updates"),
    ("get", "/postmortem"),
    ("post", "/timeline"),
    ("post", "/acknowledge"),
    ("patch", ""),
    ("post", "/access"),
]


def test_outsiders_get_404_and_never_see_it(
    client: TestClient, who: dict[str, dict[str, str]], breach: str
) -> None:
    for name in ("bob", "vic"):
        assert refs(client, who[name]) == ["INC-2"]
        listed = client.get(INCIDENTS, headers=who[name]).text
        assert MARKER not in listed
        for method, tail in PER_INCIDENT:
            body = {"text": "x"} if tail == "/timeline" else {}
            if method == "get":
                answer = client.get(f"{INCIDENTS}/{breach}{tail}", headers=who[name])
            else:
                answer = client.request(
                    method, f"{INCIDENTS}/{breach}{tail}", json=body, headers=who[name]
                )
            assert answer.status_code == 404, (name, method, tail, answer.text)
            assert answer.json()["error"]["message"] == f"no incident {breach}"
            assert MARKER not in answer.text
        # The same answer as for an incident that does not exist at all.
        missing = client.get(f"{INCIDENTS}/INC-99", headers=who[name])
        assert missing.status_code == 404


def test_admins_access_teams_and_participants_see_it(
    client: TestClient, who: dict[str, dict[str, str]], breach: str, runtime: Runtime
) -> None:
    assert refs(client, who["ada"]) == ["INC-2", breach]  # admin
    assert refs(client, who["alice"]) == ["INC-2", breach]  # the security team
    detail = client.get(f"{INCIDENTS}/{breach}", headers=who["alice"])
    assert detail.status_code == 200 and MARKER in detail.json()["title"]
    carol = {"Authorization": f"Bearer {make_token(runtime, 'carol', 'viewer')}"}
    assert refs(client, carol) == ["INC-2", breach]  # the Incident Commander


def test_a_grant_lets_one_person_in_on_the_timeline(
    client: TestClient, who: dict[str, dict[str, str]], breach: str
) -> None:
    grant = {"person": "bob", "reason": "owns the login service"}
    answer = client.post(f"{INCIDENTS}/{breach}/access", json=grant, headers=who["alice"])
    assert answer.status_code == 200, answer.text
    event = answer.json()["timeline"][-1]
    assert (event["kind"], event["key_event"]) == ("access_granted", True)
    assert event["text"] == "bob was let into this restricted incident: owns the login service"
    assert refs(client, who["bob"]) == ["INC-2", breach]
    # bob is in, but letting others in is for admins, the access team and the commander.
    more = {"person": "ada", "reason": "why not"}
    refused = client.post(f"{INCIDENTS}/{breach}/access", json=more, headers=who["bob"])
    assert refused.status_code == 403
    again = client.post(f"{INCIDENTS}/{breach}/access", json=grant, headers=who["alice"])
    assert again.status_code == 409 and "already has access" in again.text


def test_grant_refusals_write_nothing(
    client: TestClient, who: dict[str, dict[str, str]], breach: str
) -> None:
    before = client.get(f"{INCIDENTS}/{breach}", headers=who["ada"]).json()["timeline"]
    for body, status in [
        ({"person": "bobb", "reason": "typo"}, 422),
        ({"person": "bob", "reason": ""}, 422),
        ({"person": "bob"}, 422),
    ]:
        answer = client.post(f"{INCIDENTS}/{breach}/access", json=body, headers=who["ada"])
        assert answer.status_code == status, answer.text
    public = client.post(f"{INCIDENTS}/INC-2/access", json={"person": "bob", "reason": "x"})
    assert public.status_code == 401
    public = client.post(
        f"{INCIDENTS}/INC-2/access", json={"person": "bob", "reason": "x"}, headers=who["ada"]
    )
    assert public.status_code == 409 and "is public" in public.text
    after = client.get(f"{INCIDENTS}/{breach}", headers=who["ada"]).json()["timeline"]
    assert after == before


def test_metrics_and_csv_count_only_what_the_caller_sees(
    client: TestClient, who: dict[str, dict[str, str]], breach: str, clock: FrozenClock
) -> None:
    clock.advance(timedelta(minutes=1))  # the report's period ends before now
    for name, total in [("bob", 1), ("vic", 1), ("alice", 2), ("ada", 2)]:
        report = client.get("/api/v1/metrics/incidents", headers=who[name])
        assert report.status_code == 200, report.text
        assert report.json()["total"] == total, name
        csv = client.get("/api/v1/metrics/incidents.csv", headers=who[name]).text
        assert len(csv.splitlines()) == 1 + total, name
        assert (MARKER in csv) is (total == 2) and (MARKER in report.text) is False


def test_notifications_and_action_items_of_a_hidden_incident_stay_hidden(
    client: TestClient, who: dict[str, dict[str, str]], breach: str, runtime: Runtime
) -> None:
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        incident_id = session.scalar(select(Incident.id).where(Incident.number == 1))
        for key, owner in [("hidden", incident_id), ("general", None)]:
            session.add(
                Notification(
                    key=key,
                    incident_id=owner,
                    channel="email",
                    action="page",
                    destination="someone@example.com",
                    payload={"subject": MARKER if owner else "digest"},
                    created_at=now,
                    due_at=now,
                    next_attempt_at=now,
                )
            )
    seen = {
        name: [
            n["key"] for n in client.get("/api/v1/notifications", headers=who[name]).json()["items"]
        ]
        for name in ("bob", "alice")
    }
    assert seen == {"bob": ["general"], "alice": ["general", "hidden"]}

    ada = who["ada"]
    resolve = {"skip_verification": "checked by hand"}
    assert (
        client.post(f"{INCIDENTS}/{breach}/resolve", json=resolve, headers=ada).status_code == 200
    )
    item = client.post(
        f"{INCIDENTS}/{breach}/postmortem/action-items",
        json={"kind": "short_term", "title": "Parameterise the login query"},
        headers=ada,
    )
    assert item.status_code == 201, item.text
    url = f"/api/v1/postmortems/action-items/{item.json()['id']}"
    answer = client.patch(url, json={"status": "done"}, headers=who["bob"])
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == f"no action item {item.json()['id']}"
    assert client.patch(url, json={"status": "done"}, headers=who["alice"]).status_code == 200


def test_alerts_of_a_hidden_incident_stay_hidden(
    client: TestClient, who: dict[str, dict[str, str]], breach: str, runtime: Runtime
) -> None:
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        incident_id = session.scalar(select(Incident.id).where(Incident.number == 1))
        for fingerprint, owner in [("hidden", incident_id), ("loose", None)]:
            session.add(
                Alert(
                    source="alertmanager",
                    integration="default",
                    kind="alert",
                    fingerprint=fingerprint,
                    status="firing",
                    is_open=True,
                    title=f"Login anomaly {MARKER}" if owner else "Disk filling",
                    labels={"alertname": "LoginAnomaly"},
                    annotations={},
                    received_at=now,
                    last_seen_at=now,
                    seen_count=1,
                    incident_id=owner,
                    raw="{}",
                )
            )
    for name, expected in [("bob", ["Disk filling"]), ("vic", ["Disk filling"])]:
        answer = client.get("/api/v1/alerts", headers=who[name])
        assert [a["title"] for a in answer.json()["items"]] == expected
        assert MARKER not in answer.text
        by_incident = client.get(f"/api/v1/alerts?incident={breach}", headers=who[name])
        assert by_incident.status_code == 404
        assert by_incident.json()["error"]["message"] == f"no incident {breach}"
    seen = client.get(f"/api/v1/alerts?incident={breach}", headers=who["alice"]).json()
    assert [a["title"] for a in seen["items"]] == [f"Login anomaly {MARKER}"]


def test_only_an_admin_or_the_access_team_makes_it_public_with_a_reason(
    client: TestClient, who: dict[str, dict[str, str]], breach: str
) -> None:
    url = f"{INCIDENTS}/{breach}"
    grant = {"person": "bob", "reason": "owns the login service"}
    assert client.post(f"{url}/access", json=grant, headers=who["alice"]).status_code == 200
    public = {"visibility": "public", "reason": "disclosed to customers"}
    refused = client.patch(url, json=public, headers=who["bob"])  # in, but not the team
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        f"only an admin or the security team can make {breach} public"
    )
    unexplained = client.patch(url, json={"visibility": "public"}, headers=who["alice"])
    assert unexplained.status_code == 422 and "needs a reason" in unexplained.text
    assert client.get(url, headers=who["ada"]).json()["visibility"] == "restricted"
    done = client.patch(url, json=public, headers=who["alice"])
    assert done.status_code == 200, done.text
    assert done.json()["timeline"][-1]["text"].endswith("— disclosed to customers")
    assert refs(client, who["vic"]) == ["INC-2", breach]


def test_declaring_a_restricted_type_public_is_for_admins_and_the_access_team(
    client: TestClient, who: dict[str, dict[str, str]]
) -> None:
    body = {"title": "Phishing wave", "incident_type": "security", "visibility": "public"}
    refused = client.post(INCIDENTS, json=body, headers=who["bob"])
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        "security incidents are restricted: only an admin or the security team can declare "
        "one public (leave visibility out to declare it restricted)"
    )
    assert refs(client, who["ada"]) == []  # nothing was declared
    answer = client.post(INCIDENTS, json=body, headers=who["alice"])
    assert answer.status_code == 201 and answer.json()["visibility"] == "public"
