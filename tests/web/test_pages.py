"""The signed-in pages over HTTP, as a browser without JavaScript uses them: plain forms."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from warroom.auth import service as auth
from warroom.core.clock import FrozenClock
from warroom.core.errors import NotFound
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime
from warroom.web.templating import STATIC

PASSWORD = "correct horse battery staple"
MARKER = "ZEBRA-7781"  # in the restricted incident's title: must never reach an outsider


def add_user(runtime: Runtime, name: str, role: str) -> None:
    """Create a user who signs in with PASSWORD."""
    with runtime.db.transaction() as session:
        auth.create_user(session, name=name, role=role, now=runtime.clock.now(), password=PASSWORD)


def sign_in(client: TestClient, name: str) -> str:
    """Sign in through the form; return the CSRF token the pages carry."""
    response = client.post(
        "/sign-in", data={"user": name, "password": PASSWORD, "next": "/"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    page = client.get("/")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert found is not None
    return found.group(1)


@pytest.fixture
def people(runtime: Runtime) -> None:
    """A responder and a viewer with passwords."""
    add_user(runtime, "rita", "responder")
    add_user(runtime, "vic", "viewer")


def declare(client: TestClient, csrf: str, title: str, **fields: str) -> str:
    """Declare through the form; return the room's path."""
    response = client.post(
        "/incidents", data={"csrf_token": csrf, "title": title, **fields}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    return location


def test_a_page_without_a_session_redirects_to_sign_in_and_back(
    client: TestClient, people: None
) -> None:
    response = client.get("/incidents?status=any", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fincidents%3Fstatus%3Dany"
    signed = client.post(
        "/sign-in",
        data={"user": "rita", "password": PASSWORD, "next": "/incidents?status=any"},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/incidents?status=any"
    assert "HttpOnly" in signed.headers["set-cookie"]


def test_a_wrong_password_says_so_and_sets_no_cookie(client: TestClient, people: None) -> None:
    response = client.post("/sign-in", data={"user": "rita", "password": "nope", "next": "/"})
    assert response.status_code == 401
    assert "wrong user name or password" in response.text
    assert "set-cookie" not in response.headers
    assert client.get("/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_sign_in_never_redirects_off_site(client: TestClient, people: None, target: str) -> None:
    response = client.post(
        "/sign-in",
        data={"user": "rita", "password": PASSWORD, "next": target},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_pages_carry_a_strict_content_security_policy(client: TestClient, people: None) -> None:
    sign_in(client, "rita")
    response = client.get("/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["cache-control"] == "no-store"


def test_declare_acknowledge_triage_note_and_checklist_by_form(
    client: TestClient, people: None, runtime: Runtime
) -> None:
    csrf = sign_in(client, "rita")
    room = declare(client, csrf, "Checkout is slow", severity="SEV-2", incident_type="default")
    assert room == "/incidents/INC-1"
    page = client.get(room).text
    assert "Checkout is slow" in page and "Acknowledge" in page

    assert client.post(f"{room}/acknowledge", data={"csrf_token": csrf}).status_code == 200
    assert runtime.flows.get("INC-1").acknowledged_by == "rita"

    moved = client.post(
        f"{room}/lifecycle",
        data={
            "csrf_token": csrf,
            "action": "triage",
            "severity": "SEV-2",
            "commander": "rita",
            "impact": "Checkout p99 at 4 s",
            "scope": "EU customers",
            "priority": "P1",
        },
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert runtime.flows.get("INC-1").status == "triaged"

    noted = client.post(f"{room}/notes", data={"csrf_token": csrf, "text": "Rolled back 1.42"})
    assert noted.status_code == 200
    assert "Rolled back 1.42" in noted.text
    assert any(event.text == "Rolled back 1.42" for event in runtime.flows.get("INC-1").timeline)

    item = runtime.flows.get("INC-1").checklist[0]
    ticked = client.post(f"{room}/checklist/{item.id}", data={"csrf_token": csrf, "done": "true"})
    assert ticked.status_code == 200
    assert runtime.flows.get("INC-1").checklist[0].done_by == "rita"


def test_a_refused_move_shows_why_and_changes_nothing(
    client: TestClient, people: None, runtime: Runtime
) -> None:
    csrf = sign_in(client, "rita")
    room = declare(client, csrf, "Disk full on db-2")
    before = len(runtime.flows.get("INC-1").timeline)
    response = client.post(f"{room}/lifecycle", data={"csrf_token": csrf, "action": "triage"})
    assert response.status_code == 409
    assert "cannot be triaged yet" in response.text
    after = runtime.flows.get("INC-1")
    assert after.status == "detected" and len(after.timeline) == before
    empty = client.post(f"{room}/notes", data={"csrf_token": csrf, "text": "   "})
    assert empty.status_code == 422
    assert "write something" in empty.text


def test_a_form_without_the_csrf_token_is_refused(
    client: TestClient, people: None, runtime: Runtime
) -> None:
    csrf = sign_in(client, "rita")
    room = declare(client, csrf, "Queue backlog")
    response = client.post(f"{room}/notes", data={"text": "forged"})
    assert response.status_code == 403
    assert "CSRF" in response.text
    forged = client.post("/incidents", data={"csrf_token": "0" * 64, "title": "forged"})
    assert forged.status_code == 403
    assert all(event.text != "forged" for event in runtime.flows.get("INC-1").timeline)
    with pytest.raises(NotFound):  # the forged declare wrote nothing
        runtime.flows.get("INC-2")


def test_a_viewer_reads_but_cannot_change(
    client: TestClient, people: None, runtime: Runtime
) -> None:
    csrf = sign_in(client, "rita")
    room = declare(client, csrf, "Search is down")
    client.cookies.clear()
    viewer_csrf = sign_in(client, "vic")
    page = client.get(room)
    assert page.status_code == 200 and "Search is down" in page.text
    assert "Add note" not in page.text and "Acknowledge</button>" not in page.text
    refused = client.post(f"{room}/acknowledge", data={"csrf_token": viewer_csrf})
    assert refused.status_code == 403
    assert runtime.flows.get("INC-1").acknowledged_at is None
    assert client.get("/incidents/new").status_code == 403


def test_a_restricted_incident_does_not_exist_for_an_outsider(
    client: TestClient, people: None, runtime: Runtime
) -> None:
    csrf = sign_in(client, "rita")
    room = declare(client, csrf, f"Credentials leaked {MARKER}", incident_type="security")
    client.cookies.clear()
    viewer_csrf = sign_in(client, "vic")
    pages = [
        client.get("/"),
        client.get("/incidents?status=any"),
        client.get("/incidents?status=any&q=Credentials"),
        client.get(room),
        client.get(f"{room}/timeline"),
        client.post(f"{room}/notes", data={"csrf_token": viewer_csrf, "text": "x"}),
    ]
    assert [page.status_code for page in pages] == [200, 200, 200, 404, 404, 404]
    for page in pages:
        assert MARKER not in page.text
    assert "no incident INC-1" in pages[3].text


def test_list_filters_live_in_the_url(client: TestClient, people: None) -> None:
    csrf = sign_in(client, "rita")
    declare(client, csrf, "Checkout is slow", severity="SEV-2")
    declare(client, csrf, "Search is down", severity="SEV-1")
    sev1 = client.get("/incidents?severity=SEV-1").text
    assert "Search is down" in sev1 and "Checkout is slow" not in sev1
    titled = client.get("/incidents?q=checkout").text
    assert "Checkout is slow" in titled and "Search is down" not in titled
    assert 'value="checkout"' in titled  # the box keeps what was asked
    wrong = client.get("/incidents?severity=SEV-9")
    assert wrong.status_code == 422
    assert "unknown severity" in wrong.text


def test_bulk_acknowledge_acknowledges_the_ticked_ones(
    client: TestClient, people: None, runtime: Runtime
) -> None:
    csrf = sign_in(client, "rita")
    for title in ("A", "B", "C"):
        declare(client, csrf, f"Alert storm {title}")
    response = client.post(
        "/incidents/acknowledge",
        data={"csrf_token": csrf, "ref": ["INC-1", "INC-3", "INC-99"]},
        follow_redirects=False,
    )
    assert response.status_code == 303
    acknowledged = {
        ref: runtime.flows.get(ref).acknowledged_at is not None
        for ref in ("INC-1", "INC-2", "INC-3")
    }
    assert acknowledged == {"INC-1": True, "INC-2": False, "INC-3": True}


def test_the_timeline_fragment_holds_only_newer_entries(
    client: TestClient, people: None, runtime: Runtime
) -> None:
    csrf = sign_in(client, "rita")
    room = declare(client, csrf, "Latency")
    last = runtime.flows.get("INC-1").timeline[-1].id
    client.post(f"{room}/notes", data={"csrf_token": csrf, "text": "first look"})
    fragment = client.get(f"{room}/timeline?after={last}")
    assert fragment.status_code == 200
    assert "first look" in fragment.text and "<html" not in fragment.text
    assert fragment.text.count('class="event') == 1


def test_sign_out_ends_the_session(client: TestClient, people: None) -> None:
    csrf = sign_in(client, "rita")
    response = client.post("/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_static_files_are_small_and_cached_for_long(client: TestClient) -> None:
    for name in ("app.css", "app.js"):
        assert (STATIC / name).stat().st_size < 30_000, name  # issue 14: each under 30 KB
        response = client.get(f"/static/{name}")
        assert response.status_code == 200
        assert "immutable" in response.headers["cache-control"]
    assert client.get("/static/../settings.py").status_code == 404
    assert Path(STATIC / "app.js").read_text().count("http://") == 0  # nothing from elsewhere


def test_profile_preferences_choose_the_zone_and_theme(
    client: TestClient, people: None, runtime: Runtime
) -> None:
    csrf = sign_in(client, "rita")
    declare(client, csrf, "Checkout is slow")
    saved = client.post(
        "/profile/preferences",
        data={"csrf_token": csrf, "time_zone": "Asia/Tokyo", "theme": "dark"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    room = client.get("/incidents/INC-1").text
    assert '<html lang="en" data-theme="dark">' in room
    assert "JST" in room  # 2 Mar 2026, 18:00 JST: the frozen clock's 09:00 UTC
    wrong = client.post(
        "/profile/preferences", data={"csrf_token": csrf, "time_zone": "Mars/Olympus"}
    )
    assert wrong.status_code == 422
    assert "unknown time zone" in wrong.text
    with runtime.db.session() as session:
        assert auth.get_user(session, "rita").time_zone == "Asia/Tokyo"  # unchanged


def test_own_tokens_are_shown_once_work_and_can_be_revoked(
    client: TestClient, people: None
) -> None:
    csrf = sign_in(client, "rita")
    made = client.post(
        "/profile/tokens", data={"csrf_token": csrf, "name": "laptop", "kind": "read"}
    )
    assert made.status_code == 201
    token = re.search(r'class="secret">(wr_[^<]+)<', made.text)
    assert token is not None
    bearer = {"Authorization": f"Bearer {token.group(1)}"}
    me = client.get("/api/v1/me", headers=bearer)  # a bearer token wins over the cookie
    assert me.status_code == 200 and me.json()["user"] == "rita"
    again = client.get("/profile").text
    assert token.group(1) not in again and "laptop" in again  # listed, never shown again
    token_id = re.search(r'action="/profile/tokens/(\d+)/revoke"', again)
    assert token_id is not None
    revoked = client.post(
        f"/profile/tokens/{token_id.group(1)}/revoke",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert client.get("/api/v1/me", headers=bearer).status_code == 401


def test_a_calendar_token_comes_with_its_calendar_address(client: TestClient, people: None) -> None:
    csrf = sign_in(client, "rita")
    made = client.post(
        "/profile/tokens", data={"csrf_token": csrf, "name": "phone", "kind": "calendar"}
    )
    assert made.status_code == 201
    assert "/api/v1/people/rita/ical?token=wr_" in made.text
    # No base_url configured: the address is relative, and the page says how to complete it.
    assert "notifications.base_url" in made.text
    bad = client.post(
        "/profile/tokens",
        data={"csrf_token": csrf, "name": "x", "kind": "read", "expires_days": "soon"},
    )
    assert bad.status_code == 422 and "number of days" in bad.text


def test_nobody_revokes_someone_elses_token(
    client: TestClient, people: None, runtime: Runtime
) -> None:
    with runtime.db.transaction() as session:
        vic = auth.get_user(session, "vic")
        auth.create_token(session, user=vic, name="vic's", now=runtime.clock.now())
        (theirs,) = auth.list_tokens(session, user="vic")
        token_id = theirs.id
    csrf = sign_in(client, "rita")
    answer = client.post(f"/profile/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert answer.status_code == 404
    with runtime.db.session() as session:
        assert auth.list_tokens(session, user="vic")[0].revoked_at is None


def test_a_viewer_reports_a_problem_that_pages_nobody_until_triage(
    client: TestClient, people: None, runtime: Runtime
) -> None:
    csrf = sign_in(client, "vic")
    form = client.get("/report")
    assert form.status_code == 200 and "pages nobody until a responder" in form.text
    empty = client.post("/report", data={"csrf_token": csrf, "title": " "})
    assert empty.status_code == 422
    sent = client.post(
        "/report",
        data={"csrf_token": csrf, "title": "I cannot log in", "severity": "SEV-1"},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/incidents/INC-1"
    incident = runtime.flows.get("INC-1")
    assert incident.paging_held and incident.suggested_severity == "SEV-1"
    assert incident.severity != "SEV-1"  # the type's default until a responder triages
    assert client.get("/incidents/INC-1").status_code == 200  # the reporter takes part


def test_a_resolved_incidents_clock_stops_at_resolution(
    client: TestClient, people: None, runtime: Runtime, clock: FrozenClock
) -> None:
    rita = Actor(name="rita", source="api", role="responder")
    ref = runtime.flows.declare(actor=rita, title="Checkout is slow").ref
    sign_in(client, "rita")
    assert "data-since=" in client.get(f"/incidents/{ref}").text  # open: it ticks
    clock.advance(timedelta(minutes=42))
    runtime.flows.transition(ref, "resolve", actor=rita, skip_verification="fixed upstream")
    clock.advance(timedelta(days=3))
    client.cookies.clear()  # the session has long idled out
    sign_in(client, "rita")
    page = client.get(f"/incidents/{ref}").text
    head = page.split('<header class="room-head">', 1)[1].split("</header>", 1)[0]
    assert "resolved at T+42m" in head and "data-since=" not in head
