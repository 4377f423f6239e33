"""Status update routes and the public JSON summary, over HTTP, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.status.conftest import close, declare
from warroom.config import WarroomConfig
from warroom.incidents.models import TimelineEvent
from warroom.runtime import Runtime
from warroom.status.models import StatusUpdate

UPDATE = {"status": "identified", "body": "A bad deploy; rolling back.", "components": {}}
# An incident's first public update names it for the public; its own title is internal.
FIRST = {**UPDATE, "public_title": "Checkout is slow"}


def path(ref: str) -> str:
    return f"/api/v1/incidents/{ref}/status-updates"


def written(runtime: Runtime) -> tuple[int, int]:
    """Return (status update rows, status_update timeline events)."""
    with runtime.db.session() as session:
        rows = session.scalar(select(func.count()).select_from(StatusUpdate))
        events = session.scalar(
            select(func.count())
            .select_from(TimelineEvent)
            .where(TimelineEvent.kind == "status_update")
        )
    return int(rows or 0), int(events or 0)


def test_post_answers_201_and_writes_the_timeline(runtime: Runtime, api: TestClient) -> None:
    ref = declare(runtime, "Checkout is down", service="checkout")
    body = {**FIRST, "components": {"api": "partial_outage"}}
    response = api.post(path("INC-1"), json=body, headers={"X-Warroom-Client": "cli"})
    assert response.status_code == 201, response.text
    update = response.json()
    assert update == {
        "id": update["id"],
        "incident": ref,
        "at": "2026-03-02T09:00:00Z",
        "author": "rita",
        "status": "identified",
        "body": "A bad deploy; rolling back.",
        "components": {"api": "partial_outage"},
        "public": True,
        "public_title": "Checkout is slow",
    }
    events = api.get(f"/api/v1/incidents/{ref}/timeline").json()["items"]
    event = next(e for e in events if e["kind"] == "status_update")
    assert event["data"] == {
        "status": "identified",
        "components": {"api": "partial_outage"},
        "public": True,
        "update_id": update["id"],
        "body": "A bad deploy; rolling back.",
        "public_title": "Checkout is slow",
    }
    assert (event["actor"], event["source"]) == ("rita", "cli")
    # The flows pattern: the incident's runbook file was rewritten after the commit.
    files = list((runtime.runbooks.active).glob("*.md"))
    assert len(files) == 1 and "Public update (identified)" in files[0].read_text()


def test_list_shows_private_updates_newest_first(
    runtime: Runtime, api: TestClient, tokens: dict[str, str]
) -> None:
    ref = declare(runtime, "Checkout is down", service="checkout")
    first = api.post(path(ref), json=FIRST).json()
    second = api.post(path(ref), json={**UPDATE, "body": "internal", "public": False}).json()
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    answer = api.get(path("1"), headers=viewer)
    assert answer.status_code == 200
    assert [i["id"] for i in answer.json()["items"]] == [second["id"], first["id"]]
    assert answer.json()["items"][0]["public"] is False
    assert [i["public_title"] for i in answer.json()["items"]] == [None, "Checkout is slow"]
    assert api.get(path("INC-9")).status_code == 404


def _closed(runtime: Runtime) -> str:
    ref = declare(runtime, "Old", service="checkout")
    close(runtime, ref)
    return ref


BAD: list[tuple[str, dict[str, Any], int, str]] = [
    ("public", {"components": {"db": "major_outage"}}, 422, "unknown component 'db'"),
    ("public", {"components": {"api": "sideways"}}, 422, "components.api"),
    ("public", {"status": "fixed"}, 422, "status"),
    ("public", {"body": "  "}, 422, "body: must not be empty"),
    ("public", {"body": "x" * 5_001}, 422, "at most 5000"),
    ("public", {"body": "a\x00b"}, 422, "NUL"),
    ("public", {"colour": "red"}, 422, "colour"),
    ("public", {"public_title": None}, 422, "INC-1 needs a public title"),
    ("public", {"public_title": " \t "}, 422, "public_title: must not be empty"),
    ("public", {"public_title": "x" * 201}, 422, "at most 200"),
    ("public", {"public_title": "a\x00b"}, 422, "NUL"),
    ("public", {"public": False}, 422, "public_title is for public updates"),
    ("restricted", {}, 422, "is restricted"),
    ("closed", {}, 409, "is closed"),
]


@pytest.mark.parametrize(("kind", "change", "code", "message"), BAD)
def test_bad_requests_write_nothing(
    runtime: Runtime, api: TestClient, kind: str, change: dict[str, Any], code: int, message: str
) -> None:
    if kind == "closed":
        ref = _closed(runtime)
    elif kind == "restricted":
        ref = declare(runtime, "Leak", incident_type="security", service="accounts")
    else:
        ref = declare(runtime, "Checkout is down", service="checkout")
    before = written(runtime)
    response = api.post(path(ref), json={**FIRST, **change})
    assert response.status_code == code, response.text
    assert message in response.json()["error"]["message"]
    assert written(runtime) == before == (0, 0)


def test_roles_and_tokens(runtime: Runtime, client: TestClient, tokens: dict[str, str]) -> None:
    ref = declare(runtime, "Checkout is down", service="checkout")
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    forbidden = client.post(path(ref), json=FIRST, headers=viewer)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "forbidden"
    assert client.post(path(ref), json=FIRST).status_code == 401
    assert client.get(path(ref)).status_code == 401
    missing = client.post(
        path("INC-7"), json=FIRST, headers={"Authorization": f"Bearer {tokens['admin']}"}
    )
    assert missing.status_code == 404
    assert written(runtime) == (0, 0)


def test_public_summary_needs_no_token_and_hides_restricted(
    runtime: Runtime, api: TestClient, client: TestClient
) -> None:
    ref = declare(runtime, "Checkout is down", service="checkout")
    secret = declare(runtime, "Credentials leaked", incident_type="security", service="accounts")
    api.post(path(ref), json={**FIRST, "components": {"api": "major_outage"}})
    api.post(path(ref), json={**UPDATE, "body": "root cause: rita's typo", "public": False})
    api.post(path(secret), json={**UPDATE, "body": "attacker in", "public": False})
    del client.headers["Authorization"]
    response = client.get("/api/v1/status")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=15"
    summary = response.json()
    assert set(summary) == {"page", "status", "components", "incidents", "past_incidents"}
    assert summary["page"]["name"] == "Acme status"
    assert summary["page"]["url"] == "https://warroom.example.com/status"
    assert summary["status"] == {"indicator": "critical", "description": "Major Service Outage"}
    assert [(c["id"], c["status"]) for c in summary["components"]] == [
        ("api", "major_outage"),
        ("web", "operational"),
        ("login", "operational"),
    ]
    [incident] = summary["incidents"]
    assert (
        incident["id"] == ref
        and incident["shortlink"] == "https://warroom.example.com/status#INC-1"
    )
    assert incident["name"] == "Checkout is slow"
    assert [u["body"] for u in incident["incident_updates"]] == [UPDATE["body"]]
    assert incident["incident_updates"][0]["affected_components"] == [
        {"code": "api", "name": "Public API", "new_status": "major_outage"}
    ]
    text = response.text
    for hidden in ("Credentials", "attacker", "typo", "rita", "INC-2", "is down"):
        assert hidden not in text


@pytest.fixture
def configured(config: WarroomConfig) -> WarroomConfig:
    config.status_page.public_url = "https://status.example.com"
    return config


def test_public_url_is_used_for_links(
    configured: WarroomConfig, runtime: Runtime, api: TestClient
) -> None:
    ref = declare(runtime, "Checkout is down", service="checkout")
    api.post(path(ref), json=FIRST)
    summary = api.get("/api/v1/status").json()
    assert summary["page"]["url"] == "https://status.example.com"
    assert summary["incidents"][0]["shortlink"] == "https://status.example.com#INC-1"


def test_routes_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/incidents/{ref}/status-updates"])
    assert "get" in paths["/api/v1/status"]
    assert "/status" not in paths  # the HTML page is not part of the API
