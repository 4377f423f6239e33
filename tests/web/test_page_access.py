"""The pages' access matrix: every page route × every kind of signed-in caller × a public and
a restricted incident. A page route added without a row here fails; the restricted incident's
marker never reaches an outsider's page, and outsiders get 404 on its room, as in the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.web.test_pages import PASSWORD
from warroom.app import create_app
from warroom.auth import service as auth
from warroom.config import WarroomConfig
from warroom.detection.models import Heartbeat
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime
from warroom.web.page import PageRoute
from warroom.web.pages import PAGE_ROUTERS

MARKER = "PAGE-BREACH-5521"
# Who may use each page: anyone (no session) or the least role.
PAGES = {
    "GET /sign-in": "anyone",
    "POST /sign-in": "anyone",
    "POST /sign-out": "anyone",
    "GET /": "viewer",
    "GET /incidents": "viewer",
    "GET /incidents/new": "responder",
    "POST /incidents": "responder",
    "POST /incidents/acknowledge": "responder",
    "GET /incidents/{ref}": "viewer",
    "GET /incidents/{ref}/timeline": "viewer",
    "POST /incidents/{ref}/acknowledge": "responder",
    "POST /incidents/{ref}/lifecycle": "responder",
    "POST /incidents/{ref}/notes": "responder",
    "POST /incidents/{ref}/checklist/{item_id}": "responder",
    "POST /incidents/{ref}/commander": "responder",
    "POST /incidents/{ref}/commander/{answer}": "responder",
    "POST /incidents/{ref}/roles": "responder",
    "POST /incidents/{ref}/access": "responder",
    "POST /incidents/{ref}/actions/{name}": "responder",
    "POST /incidents/{ref}/status-updates": "responder",
    "GET /incidents/{ref}/postmortem": "viewer",
    "POST /incidents/{ref}/postmortem": "responder",
    "GET /incidents/{ref}/postmortem/fishbone.svg": "viewer",
    "GET /incidents/{ref}/postmortem/timeline.svg": "viewer",
    "POST /incidents/{ref}/postmortem/action-items": "responder",
    "POST /incidents/{ref}/postmortem/action-items/{item_id}": "responder",
    "GET /reports": "viewer",
    "GET /reports/incidents.csv": "viewer",
    "GET /report": "viewer",
    "POST /report": "viewer",
    "GET /profile": "viewer",
    "POST /profile/preferences": "viewer",
    "POST /profile/tokens": "viewer",
    "POST /profile/tokens/{token_id}/revoke": "viewer",
    "GET /alerts": "viewer",
    "GET /silences": "viewer",
    "POST /silences": "responder",
    "POST /silences/{silence_id}/expire": "responder",
    "GET /heartbeats": "viewer",
    "GET /runbooks": "viewer",
    "GET /runbooks/templates/{name}": "viewer",
    "GET /runbooks/active/{name}": "viewer",
    "GET /runbooks/archive/{name}": "viewer",
    "GET /oncall": "viewer",
    "GET /oncall/{schedule_id}": "viewer",
    "POST /oncall/{schedule_id}/overrides": "responder",
    "POST /oncall/{schedule_id}/overrides/{override_id}/delete": "responder",
    "GET /escalation": "viewer",
    "POST /incidents/{ref}/checklist/{item_id}/owner": "responder",
    "POST /incidents/{ref}/evidence": "responder",
    "GET /incidents/{ref}/evidence/{item_id}": "viewer",
    "GET /audit": "admin",
    "POST /audit/verify": "admin",
    "POST /drills": "responder",
    "POST /profile/contact-methods": "viewer",
    "POST /profile/contact-methods/{name}/verify": "viewer",
    "POST /profile/contact-methods/{name}/resend": "viewer",
    "POST /profile/contact-methods/{name}/remove": "viewer",
    "POST /profile/notification-rules": "viewer",
    "POST /profile/notification-rules/clear": "viewer",
    "GET /search": "viewer",
}
RANK = {"viewer": 0, "responder": 1, "admin": 2}
# name: (role, sees the restricted incident)
CALLERS: dict[str, tuple[str | None, bool]] = {
    "anonymous": (None, False),
    "vic": ("viewer", False),
    "bob": ("responder", False),
    "pat": ("viewer", True),  # let in by hand
    "carol": ("responder", True),  # its Incident Commander
    "alice": ("responder", True),  # the security team
    "ada": ("admin", True),
}


@pytest.fixture
def config() -> WarroomConfig:
    """Everyone a person; alice on the security team; a heartbeat (its incident: the breach)."""
    people = [{"id": name, "name": name.capitalize()} for name in CALLERS if name != "anonymous"]
    return WarroomConfig.model_validate(
        {
            "people": people,
            "teams": [{"id": "security", "members": ["alice"]}],
            "services": [{"id": "vault"}],
            "heartbeats": [{"id": "vault-backup", "service": "vault", "interval": "1d"}],
        }
    )


@pytest.fixture
def incidents(runtime: Runtime) -> tuple[str, str]:
    """Every caller a user with a password; a restricted breach (carol its IC, pat let in)
    and a public incident."""
    with runtime.db.transaction() as session:
        for name, (role, _sees) in CALLERS.items():
            if role is not None:
                auth.create_user(
                    session, name=name, role=role, now=runtime.clock.now(), password=PASSWORD
                )
    ada = Actor(name="ada", source="api", role="admin")
    breach = runtime.flows.declare(
        actor=ada,
        title=f"Customer data exposed {MARKER}",
        summary=f"SQL injection {MARKER}",
        incident_type="security",
        commander="carol",
    )
    assert breach.visibility == "restricted"
    runtime.flows.grant(breach.ref, actor=ada, access=ada.access, person="pat", reason="owner")
    with runtime.db.transaction() as session:  # as if its silence had opened the breach
        now = runtime.clock.now()
        session.merge(
            Heartbeat(
                id="vault-backup",
                state="down",
                timeout_seconds=86400,
                last_seen_at=now - timedelta(days=2),
                due_at=now - timedelta(days=1),
                pings=1,
                incident_number=breach.number,
                down_since=now - timedelta(days=1),
                updated_at=now,
            )
        )
    public = runtime.flows.declare(actor=ada, title="Search is slow")
    return breach.ref, public.ref


def page_routes() -> list[tuple[str, str]]:
    """Return (METHOD, path) of every page route."""
    return [
        (method, route.path)
        for router in PAGE_ROUTERS
        for route in router.routes
        if isinstance(route, PageRoute)
        for method in sorted(route.methods or ())
    ]


@pytest.fixture
def clients(runtime: Runtime) -> Iterator[dict[str, tuple[TestClient, str]]]:
    """A browser per caller, signed in (but anonymous), with its CSRF token."""
    app = create_app(runtime)
    browsers: dict[str, tuple[TestClient, str]] = {}
    for name, (role, _sees) in CALLERS.items():
        client = TestClient(app)
        client.__enter__()
        token = ""
        if role is not None:
            signed = client.post("/api/v1/auth/sign-in", json={"user": name, "password": PASSWORD})
            assert signed.status_code == 200, signed.text
            token = signed.json()["csrf_token"]
        browsers[name] = (client, token)
    yield browsers
    for client, _token in browsers.values():
        client.__exit__(None, None, None)


def test_every_page_route_has_a_row() -> None:
    routes = [route for router in PAGE_ROUTERS for route in router.routes]
    assert all(isinstance(route, PageRoute) for route in routes), "pages answer with pages"
    found = {f"{method} {path}" for method, path in page_routes()}
    assert sorted(found - set(PAGES)) == [], "new pages need a row in PAGES"
    assert sorted(set(PAGES) - found) == [], "PAGES names pages that are gone"


def test_every_page_for_every_caller(
    runtime: Runtime,
    incidents: tuple[str, str],
    clients: dict[str, tuple[TestClient, str]],
) -> None:
    hidden, public = incidents
    tally: dict[str, int] = {}
    routes = page_routes()
    for method, path in routes:
        needed = PAGES[f"{method} {path}"]
        if needed == "anyone":
            continue  # sign-in and sign-out: tests/web/test_pages.py
        per_incident = "{ref}" in path
        for ref, restricted in ((hidden, True), (public, False)):
            if not per_incident and not restricted:
                continue
            url = path.replace("{ref}", ref)
            samples = {"item_id": "1", "token_id": "1", "silence_id": "1", "override_id": "1"}
            for name, value in {**samples, "schedule_id": "none"}.items():
                url = url.replace(f"{{{name}}}", value)
            url = url.replace("{name}", "generic").replace("{answer}", "decline")
            for caller, (role, sees) in CALLERS.items():
                client, csrf = clients[caller]
                data = {"csrf_token": csrf, "ref": hidden} if method == "POST" else None
                answer = client.request(method, url, data=data, follow_redirects=False)
                where = (caller, method, url, answer.status_code)
                if role is None:
                    want = "sign-in"
                    assert answer.status_code == 303, where
                    assert answer.headers["location"].startswith("/sign-in?next="), where
                elif per_incident and restricted and not sees:
                    want = "hidden"
                    assert answer.status_code == 404, where
                    assert f"no incident {ref}" in answer.text, where
                elif RANK[role] < RANK[needed]:
                    want = "forbidden"
                    assert answer.status_code == 403, where
                else:
                    want = "allowed"
                    assert answer.status_code not in (401, 403), where
                    assert not (answer.status_code == 404 and "no incident" in answer.text), where
                tally[want] = tally.get(want, 0) + 1
                if not sees:
                    assert MARKER not in answer.text, where
                    assert MARKER not in str(answer.headers), where
    assert set(tally) == {"sign-in", "hidden", "forbidden", "allowed"}, tally
    assert min(tally.values()) >= 10, tally
    # The outsiders' bulk acknowledge named the breach: it skipped it, silently.
    breach = runtime.flows.get(hidden)
    assert breach.acknowledged_by not in ("vic", "bob")


def test_the_search_page_finds_the_breach_for_insiders_only(
    incidents: tuple[str, str], clients: dict[str, tuple[TestClient, str]]
) -> None:
    hidden, _public = incidents
    for caller, (role, sees) in CALLERS.items():
        if role is None:
            continue
        client, _csrf = clients[caller]
        for q in ("injection", "customer data exposed"):
            answer = client.get("/search", params={"q": q})
            assert answer.status_code == 200, (caller, answer.text)
            assert (MARKER in answer.text) == sees, (caller, q)
            assert (f'href="/incidents/{hidden}"' in answer.text) == sees, (caller, q)
            assert ("1 incident found" in answer.text) == sees, (caller, q)


def test_the_heartbeats_page_names_the_breach_for_insiders_only(
    incidents: tuple[str, str], clients: dict[str, tuple[TestClient, str]]
) -> None:
    hidden, _public = incidents
    for caller, (role, sees) in CALLERS.items():
        if role is None:
            continue
        client, _csrf = clients[caller]
        answer = client.get("/heartbeats")
        assert answer.status_code == 200, (caller, answer.text)
        assert "vault-backup" in answer.text, caller
        assert (MARKER in answer.text) == sees, caller
        assert (hidden in answer.text) == sees, caller
        assert "not one you may see" not in answer.text, caller  # a dash, as for none open
