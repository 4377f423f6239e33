"""Bad input gets a clear 4xx in the one error shape, and nothing is written."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.helpers import SKIP
from warroom.runtime import Runtime


def count_incidents(api: TestClient) -> int:
    return len(api.get("/api/v1/incidents").json()["items"])


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"title": "x", "severity": "SEV-9"}, 422, "unknown severity 'SEV-9'"),
        ({"title": "x", "severity": "urgent"}, 422, "SEV-1 (Critical)"),
        ({"title": ""}, 422, "title: must not be empty"),
        ({"title": "   "}, 422, "title: must not be empty"),
        ({"title": "x" * 201}, 422, "title: must be at most 200 characters"),
        ({}, 422, "title: is required"),
        ({"title": "x", "incident_type": "nope"}, 422, "unknown incident type 'nope'"),
        ({"title": "x", "visibility": "secret"}, 422, "visibility"),
        ({"title": "x", "colour": "red"}, 422, "colour: is not a known field"),
        ({"title": "x", "runbook": "missing"}, 422, "no runbook template 'missing'"),
        ({"title": "x", "started_at": "2030-01-01T00:00:00Z"}, 422, "started_at is in the future"),
    ],
)
def test_declare_rejects(api: TestClient, body: dict, status: int, needle: str) -> None:  # type: ignore[type-arg]
    response = api.post("/api/v1/incidents", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert needle in error["message"]
    assert count_incidents(api) == 0


def test_title_of_200_characters_is_fine(api: TestClient) -> None:
    assert api.post("/api/v1/incidents", json={"title": "x" * 200}).status_code == 201


def test_malformed_json_is_400(api: TestClient) -> None:
    response = api.post(
        "/api/v1/incidents", content=b'{"title": "x",', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert count_incidents(api) == 0


def test_unknown_incident_is_404(api: TestClient) -> None:
    for path in ("/api/v1/incidents/99", "/api/v1/incidents/INC-99", "/api/v1/incidents/abc"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert "INC-99" in api.post("/api/v1/incidents/99/resolve").json()["error"]["message"]


def test_unknown_action_and_route(api: TestClient) -> None:
    api.post("/api/v1/incidents", json={"title": "x"})
    assert api.post("/api/v1/incidents/1/explode").status_code == 422
    assert api.get("/api/v1/nothing").json()["error"]["code"] == "not_found"


def test_bad_list_parameters(api: TestClient) -> None:
    assert api.get("/api/v1/incidents", params={"status": "opened"}).status_code == 422
    assert api.get("/api/v1/incidents", params={"limit": 0}).status_code == 422
    assert api.get("/api/v1/incidents", params={"limit": 500}).status_code == 422
    bad_cursor = api.get("/api/v1/incidents", params={"cursor": "!!!"})
    assert bad_cursor.status_code == 422
    assert "cursor" in bad_cursor.json()["error"]["message"]
    assert api.get("/api/v1/incidents", params={"since": "yesterday"}).status_code == 422


def test_patch_rejections_leave_incident_unchanged(api: TestClient, runtime: Runtime) -> None:
    ref = api.post("/api/v1/incidents", json={"title": "x", "severity": "SEV-3"}).json()["ref"]
    cases = [
        ({"severity": "SEV-1", "priority": "P9"}, 422),  # one bad field spoils the whole change
        ({"title": None}, 422),
        ({"number": 5}, 422),
        ({"started_at": "2027-01-01T00:00:00Z"}, 422),
    ]
    for body, status in cases:
        assert api.patch(f"/api/v1/incidents/{ref}", json=body).status_code == status
    incident = api.get(f"/api/v1/incidents/{ref}").json()
    assert incident["severity"] == "SEV-3" and incident["title"] == "x"
    assert len(incident["timeline"]) == 2  # declared, commander_changed


def test_closed_incident_is_frozen(api: TestClient) -> None:
    ref = api.post("/api/v1/incidents", json={"title": "x"}).json()["ref"]
    closed = api.post(f"/api/v1/incidents/{ref}/close", json={"skip_verification": SKIP})
    assert closed.status_code == 200, closed.text
    response = api.patch(f"/api/v1/incidents/{ref}", json={"severity": "SEV-1"})
    assert response.status_code == 409
    assert api.post(f"/api/v1/incidents/{ref}/acknowledge").status_code == 409


def test_empty_note_rejected(api: TestClient) -> None:
    ref = api.post("/api/v1/incidents", json={"title": "x"}).json()["ref"]
    for text in ("", "   "):
        assert api.post(f"/api/v1/incidents/{ref}/timeline", json={"text": text}).status_code == 422
    assert len(api.get(f"/api/v1/incidents/{ref}/timeline").json()["items"]) == 2


def test_nul_characters_are_refused_everywhere(api: TestClient) -> None:
    body = api.post("/api/v1/incidents", json={"title": "bad\u0000title"})
    assert body.status_code == 422
    assert "must not contain NUL characters" in body.json()["error"]["message"]
    query = api.get("/api/v1/incidents", params={"service": "\u0000"})
    assert query.status_code == 422
    assert api.get("/api/v1/incidents/1%00").status_code == 422
    assert count_incidents(api) == 0


def test_non_ascii_digits_are_not_references(api: TestClient) -> None:
    api.post("/api/v1/incidents", json={"title": "x"})
    for ref in ("²", "١", "INC-²"):
        response = api.get(f"/api/v1/incidents/{ref}")
        assert response.status_code == 404, ref
