"""The access matrix: every route of the OpenAPI document, who may call it, and that a
restricted incident is no incident to an outsider on every per-incident route.

A route added without a row here fails `test_every_route_has_a_row`. (Issue 13 grows this
into routes × every kind of caller × public and restricted incidents.)
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

# The restricted incident and its people: test_visibility's fixtures, asked for by name below.
from tests.api.test_visibility import MARKER, breach, config, who  # noqa: F401

# Who may call each route: anyone (no token), signature (the vendor's own token or
# signature), calendar (a calendar token in the URL, or a reading token), or the least role.
MATRIX = {
    "GET /healthz": "anyone",
    "GET /readyz": "anyone",
    "GET /metrics": "anyone",
    "POST /-/reload": "admin",
    "POST /api/v1/auth/sign-in": "anyone",
    "POST /api/v1/auth/sign-out": "anyone",
    "GET /api/v1/auth/oidc/start": "anyone",
    "GET /api/v1/auth/oidc/callback": "anyone",
    "GET /api/v1/me": "viewer",
    "POST /api/v1/incidents/{ref}/status-updates": "responder",
    "GET /api/v1/incidents/{ref}/status-updates": "viewer",
    "POST /api/v1/incidents/{ref}/actions/{name}": "responder",
    "GET /api/v1/actions": "viewer",
    "GET /api/v1/incidents/{ref}/postmortem": "viewer",
    "PUT /api/v1/incidents/{ref}/postmortem": "responder",
    "POST /api/v1/incidents/{ref}/postmortem/action-items": "responder",
    "GET /api/v1/incidents/{ref}/postmortem/fishbone.svg": "viewer",
    "GET /api/v1/incidents/{ref}/postmortem/timeline.svg": "viewer",
    "POST /api/v1/incidents/{ref}/postmortem/export": "responder",
    "PATCH /api/v1/postmortems/action-items/{item_id}": "responder",
    "GET /api/v1/incidents/{ref}/checklist": "viewer",
    "PATCH /api/v1/incidents/{ref}/checklist/{item_id}": "responder",
    "POST /api/v1/incidents": "responder",
    "GET /api/v1/incidents": "viewer",
    "GET /api/v1/incidents/{ref}": "viewer",
    "PATCH /api/v1/incidents/{ref}": "responder",
    "POST /api/v1/incidents/{ref}/acknowledge": "responder",
    "GET /api/v1/incidents/{ref}/timeline": "viewer",
    "POST /api/v1/incidents/{ref}/timeline": "responder",
    "POST /api/v1/incidents/{ref}/access": "responder",
    "POST /api/v1/incidents/{ref}/commander": "responder",
    "POST /api/v1/incidents/{ref}/commander/accept": "responder",
    "POST /api/v1/incidents/{ref}/commander/decline": "responder",
    "POST /api/v1/incidents/{ref}/roles": "responder",
    "POST /api/v1/incidents/{ref}/roles/release": "responder",
    "POST /api/v1/incidents/{ref}/{action}": "responder",
    "GET /api/v1/alerts": "viewer",
    "POST /api/v1/silences": "responder",
    "GET /api/v1/silences": "viewer",
    "GET /api/v1/silences/{silence_id}": "viewer",
    "POST /api/v1/silences/{silence_id}/expire": "responder",
    "GET /api/v1/notifications": "viewer",
    "POST /api/v1/notifications/{notification_id}/resend": "admin",
    "GET /api/v1/incidents/{ref}/escalation": "viewer",
    "POST /api/v1/intake/alertmanager": "signature",
    "POST /api/v1/intake/webhook": "signature",
    "POST /api/v1/intake/grafana": "signature",
    "POST /api/v1/intake/pagerduty": "signature",
    "POST /api/v1/intake/jira": "signature",
    "POST /api/v1/intake/slack/commands": "signature",
    "POST /api/v1/intake/slack/interactions": "signature",
    "POST /api/v1/reports": "viewer",
    "GET /api/v1/oncall": "viewer",
    "GET /api/v1/schedules/{schedule_id}/shifts": "viewer",
    "GET /api/v1/schedules/{schedule_id}/ical": "calendar",
    "GET /api/v1/people/{person_id}/ical": "calendar",
    "POST /api/v1/oncall/overrides": "responder",
    "GET /api/v1/oncall/overrides": "viewer",
    "DELETE /api/v1/oncall/overrides/{override_id}": "responder",
    "GET /api/v1/severities": "viewer",
    "GET /api/v1/metrics/incidents": "viewer",
    "GET /api/v1/metrics/incidents.csv": "viewer",
    "GET /api/v1/status": "anyone",
}
# What a path parameter is filled with; `{ref}` is chosen per test.
SAMPLE = {
    "{action}": "resolve",
    "{name}": "echo",
    "{item_id}": "1",
    "{silence_id}": "1",
    "{notification_id}": "1",
    "{schedule_id}": "none",
    "{person_id}": "none",
    "{override_id}": "1",
}
BELOW = {"responder": "vic", "admin": "bob"}  # a viewer, a responder without admin


def routes(client: TestClient) -> list[tuple[str, str]]:
    """Return (METHOD, path) of every route in the OpenAPI document."""
    spec: dict[str, Any] = client.get("/openapi.json").json()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


def concrete(path: str, ref: str) -> str:
    """Fill a route's path parameters."""
    path = path.replace("{ref}", ref)
    for name, value in SAMPLE.items():
        path = path.replace(name, value)
    return path


def test_every_route_has_a_row(client: TestClient) -> None:
    found = {f"{method} {path}" for method, path in routes(client)}
    assert sorted(found - set(MATRIX)) == [], "new routes need a row in MATRIX"
    assert sorted(set(MATRIX) - found) == [], "MATRIX names routes that are gone"


def test_a_role_below_the_row_is_refused(
    client: TestClient, request: pytest.FixtureRequest
) -> None:
    people: dict[str, dict[str, str]] = request.getfixturevalue("who")
    request.getfixturevalue("breach")
    checked = 0
    for method, path in routes(client):
        needed = MATRIX[f"{method} {path}"]
        if needed not in BELOW:
            continue
        url = concrete(path, "INC-2")  # the public incident: visible, so the role decides
        answer = client.request(method, url, json={}, headers=people[BELOW[needed]])
        assert answer.status_code == 403, (method, path, answer.status_code, answer.text)
        checked += 1
    assert checked >= 20


def test_a_restricted_incident_is_no_incident_on_every_per_incident_route(
    client: TestClient, request: pytest.FixtureRequest
) -> None:
    people: dict[str, dict[str, str]] = request.getfixturevalue("who")
    hidden: str = request.getfixturevalue("breach")
    per_incident = [(m, p) for m, p in routes(client) if "{ref}" in p]
    assert len(per_incident) >= 24
    for method, path in per_incident:
        url = concrete(path, hidden)
        assert client.request(method, url, json={}).status_code == 401, (method, path)
        for outsider in ("bob", "vic"):
            answer = client.request(method, url, json={}, headers=people[outsider])
            assert answer.status_code == 404, (outsider, method, path, answer.text)
            assert answer.json()["error"]["message"] == f"no incident {hidden}"
            assert MARKER not in answer.text and MARKER not in str(answer.headers)
        # alice is on the security team: past the visibility check, whatever the route says.
        inside = client.request(method, url, json={}, headers=people["alice"])
        assert inside.status_code != 404 or "no incident" not in inside.text, (method, path)
