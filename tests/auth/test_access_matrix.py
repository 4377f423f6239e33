"""The access matrix: every route of the OpenAPI document × every kind of caller × a public
and a restricted incident, on SQLite and PostgreSQL.

A route added without a row here fails `test_every_route_has_a_row`. For each route, the row
says who may call it; `test_every_route_for_every_caller` calls it as anonymous, a viewer, a
responder, an admin, an access-team member, participants and non-participants, and checks the
status and that the restricted incident's marker never reaches an outsider — in any answer's
body or headers — nor any log line, and that every file holding it is 0600.
"""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

# The restricted incident and its people: test_visibility's fixtures, asked for by name below.
from tests.api.test_visibility import MARKER, PEOPLE, breach, who  # noqa: F401
from tests.conftest import make_token
from warroom.config import WarroomConfig
from warroom.runtime import Runtime
from warroom.settings import Settings

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
    # A user's own second factor: every role, each for themselves only (no user in the path).
    "GET /api/v1/me/totp": "viewer",
    "POST /api/v1/me/totp": "viewer",
    "DELETE /api/v1/me/totp": "viewer",
    "POST /api/v1/me/totp/confirm": "viewer",
    "POST /api/v1/me/totp/recovery-codes": "viewer",
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
    "GET /api/v1/incidents/{ref}/related": "viewer",
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
    "POST /api/v1/intake/heartbeat/{heartbeat_id}": "signature",  # the heartbeat's own token
    "GET /api/v1/heartbeats": "viewer",
    "POST /api/v1/intake/grafana": "signature",
    "POST /api/v1/intake/pagerduty": "signature",
    "POST /api/v1/intake/jira": "signature",
    "POST /api/v1/intake/slack/commands": "signature",
    "POST /api/v1/intake/slack/interactions": "signature",
    "POST /api/v1/intake/twilio/sms": "signature",
    "POST /api/v1/intake/twilio/voice": "signature",
    "POST /api/v1/intake/twilio/status": "signature",
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
    "POST /api/v1/incidents/{ref}/evidence": "responder",
    "GET /api/v1/incidents/{ref}/evidence": "viewer",
    "GET /api/v1/incidents/{ref}/evidence/{evidence_id}": "viewer",
    "GET /api/v1/incidents/{ref}/evidence/{evidence_id}/content": "viewer",
    "POST /api/v1/incidents/{ref}/evidence/{evidence_id}/custody": "responder",
    "GET /api/v1/audit": "admin",
    "POST /api/v1/drills": "responder",
    "GET /api/v1/drills/{drill_id}": "viewer",
    "GET /api/v1/audit/head": "admin",
    "GET /api/v1/search": "viewer",
    # A person's own contact methods and rules: every role, each for themselves only.
    "GET /api/v1/me/contact-methods": "viewer",
    "POST /api/v1/me/contact-methods": "viewer",
    "POST /api/v1/me/contact-methods/{name}/verify": "viewer",
    "POST /api/v1/me/contact-methods/{name}/resend": "viewer",
    "DELETE /api/v1/me/contact-methods/{name}": "viewer",
    "GET /api/v1/me/notification-rules": "viewer",
    "PUT /api/v1/me/notification-rules": "viewer",
    "DELETE /api/v1/me/notification-rules": "viewer",
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
    "{evidence_id}": "1",
    "{heartbeat_id}": "watchdog",
    "{drill_id}": "1",
}
BELOW = {"responder": "vic", "admin": "bob"}  # a viewer, a responder without admin
RANK = {"viewer": 0, "responder": 1, "admin": 2}


@pytest.fixture
def config() -> WarroomConfig:
    """test_visibility's people and pat (a viewer let into the breach); alice is security."""
    people = [*PEOPLE, {"id": "pat", "name": "Pat"}]
    return WarroomConfig.model_validate(
        {"people": people, "teams": [{"id": "security", "members": ["alice"]}]}
    )


# Every kind of caller: (role, sees the restricted incident). Anonymous has no token.
CALLERS: dict[str, tuple[str | None, bool]] = {
    "anonymous": (None, False),
    "vic": ("viewer", False),  # a viewer, not a participant
    "bob": ("responder", False),  # a responder, not a participant
    "pat": ("viewer", True),  # a viewer let in (POST …/access): a participant
    "carol": ("responder", True),  # the breach's Incident Commander: a participant
    "alice": ("responder", True),  # on the security team, the type's access team
    "ada": ("admin", True),  # an admin
}


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


def expected(needed: str, role: str | None, sees: bool, per_incident: bool) -> str:
    """Return what a call must get: unauthenticated, hidden, forbidden, allowed or any."""
    if needed in ("anyone", "signature", "calendar"):
        return "any"  # not a user's route: only the marker check applies
    if role is None:
        return "unauthenticated"
    if per_incident and not sees:
        return "hidden"  # 404 comes before the role: existence does not leak
    return "forbidden" if RANK[role] < RANK[needed] else "allowed"


def test_every_route_for_every_caller(
    client: TestClient,
    runtime: Runtime,
    settings: Settings,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    people: dict[str, dict[str, str]] = request.getfixturevalue("who")
    people |= {
        name: {"Authorization": f"Bearer {make_token(runtime, name, role)}"}
        for name, role in (("carol", "responder"), ("pat", "viewer"))
    }
    people["anonymous"] = {}
    hidden: str = request.getfixturevalue("breach")
    grant = {"person": "pat", "reason": "the account owner's manager"}
    let_in = client.post(f"/api/v1/incidents/{hidden}/access", json=grant, headers=people["ada"])
    assert let_in.status_code == 200, let_in.text
    # The breach is resolved and its postmortem exported, so that there are files to check.
    resolved = client.post(
        f"/api/v1/incidents/{hidden}/resolve",
        json={"skip_verification": "checked by hand"},
        headers=people["ada"],
    )
    assert resolved.status_code == 200, resolved.text
    exported = client.post(f"/api/v1/incidents/{hidden}/postmortem/export", headers=people["ada"])
    assert exported.status_code in (200, 201), exported.text

    # The lists, before the routes change anything: insiders find the breach, outsiders
    # never do (nor its counts).
    for caller, (_role, sees) in CALLERS.items():
        if caller == "anonymous":
            continue
        listed = client.get("/api/v1/incidents?status=resolved", headers=people[caller])
        assert (MARKER in listed.text) == sees, caller
        # Search: found, counted and quoted by insiders only (the marker's words, so that
        # the marker itself is in no request line the test client logs).
        words = MARKER.lower().replace("-", " ")
        found = client.get("/api/v1/search", params={"q": words}, headers=people[caller])
        assert found.status_code == 200, (caller, found.text)
        assert (MARKER in found.text, found.json()["total"]) == (sees, int(sees)), caller

    tally: dict[str, int] = {}
    # A reload re-reads warroom.yaml (none here: the teams would be gone), so it comes last.
    for method, path in sorted(routes(client), key=lambda route: route[1] == "/-/reload"):
        needed = MATRIX[f"{method} {path}"]
        per_incident = "{ref}" in path
        for ref, restricted in ((hidden, True), ("INC-2", False)):
            if not per_incident and not restricted:
                continue  # a route without an incident: once is enough
            url = concrete(path, ref)
            for caller, (role, sees) in CALLERS.items():
                want = expected(needed, role, sees or not restricted, per_incident)
                answer = client.request(method, url, json={}, headers=people[caller])
                where = (caller, method, url, answer.status_code, answer.text[:200])
                tally[want] = tally.get(want, 0) + 1
                if want == "unauthenticated":
                    assert answer.status_code == 401, where
                elif want == "hidden":
                    assert answer.status_code == 404, where
                    assert answer.json()["error"]["message"] == f"no incident {ref}", where
                elif want == "forbidden":
                    assert answer.status_code == 403, where
                elif want == "allowed":
                    assert answer.status_code not in (401, 403), where
                    assert not (answer.status_code == 404 and "no incident" in answer.text), where
                if not sees:
                    assert MARKER not in answer.text, where
                    assert MARKER not in str(answer.headers), where
    assert min(tally.values()) >= 20, tally
    assert set(tally) == {"any", "unauthenticated", "hidden", "forbidden", "allowed"}

    # No log line carries the marker, and every file that holds it is for its owner alone.
    assert MARKER not in caplog.text
    holders = [
        path
        for root in (settings.runbooks_dir, settings.data_dir)
        for path in Path(root).rglob("*")
        if path.is_file() and MARKER.encode() in path.read_bytes()
    ]
    assert holders, "the runbook file and the export hold the marker"
    for path in holders:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
