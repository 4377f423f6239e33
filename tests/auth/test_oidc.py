"""Single sign-on end to end: the app against our loopback OpenID Connect provider."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tests.auth.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, serve
from warroom.auth import service as auth
from warroom.auth.models import User
from warroom.auth.oidc_models import OidcIdentity, OidcLogin
from warroom.auth.sessions import COOKIE, BrowserSession
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

START = "/api/v1/auth/oidc/start"
PEOPLE = [
    {"id": "alice", "name": "Alice", "email": "alice@example.com"},
    {"id": "bob", "name": "Bob", "email": "bob@example.com"},
]
TEAMS = [
    {"id": "payments", "members": ["alice", "bob"]},
    {"id": "security", "members": []},
]


def settings_for(provider: Provider, **oidc: Any) -> dict[str, Any]:
    """Return warroom.yaml's content with auth.oidc pointing at `provider`."""
    return {
        "people": PEOPLE,
        "teams": TEAMS,
        "auth": {
            "oidc": {
                "issuer": provider.url,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "teams": {"wr-security": "security"},
                **oidc,
            }
        },
    }


@pytest.fixture
def provider(clock: FrozenClock) -> Iterator[Provider]:
    """Our provider, issuing tokens by the test's clock."""
    yield from serve(clock.now)


@pytest.fixture
def config(provider: Provider) -> WarroomConfig:
    """People alice and bob, teams payments and security, single sign-on with `provider`."""
    return WarroomConfig.model_validate(settings_for(provider))


def configure(runtime: Runtime, provider: Provider, **oidc: Any) -> None:
    """Replace auth.oidc's settings."""
    runtime.config_value = WarroomConfig.model_validate(settings_for(provider, **oidc))


def sso(client: TestClient, next_path: str = "/") -> httpx.Response:
    """Go through single sign-on as a browser would; return the callback's response."""
    start = client.get(START, params={"next": next_path}, follow_redirects=False)
    assert start.status_code == 302, start.text
    authorize = httpx.get(start.headers["location"], follow_redirects=False, timeout=10)
    assert authorize.status_code == 302, authorize.text
    back = urlsplit(authorize.headers["location"])
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)


def refused(response: httpx.Response, status: int, words: str) -> None:
    """Assert a clear error naming `words`, and no session cookie."""
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"], response.json()
    assert COOKIE not in response.headers.get("set-cookie", "")


def count(runtime: Runtime, model: Any) -> int:
    """Return how many rows a table holds."""
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def user(runtime: Runtime, name: str) -> User:
    """Return a user row."""
    with runtime.db.session() as session:
        found = auth.get_user(session, name)
        session.expunge(found)
        return found


def test_sign_in_creates_the_user_with_role_and_teams_from_groups(
    client: TestClient, runtime: Runtime, provider: Provider
) -> None:
    configure(runtime, provider, roles={"wr-responders": "responder", "wr-admins": "admin"})
    provider.claims = {
        "sub": "sub-alice",
        "email": "Alice@Example.com",  # e-mail addresses are compared case-blind
        "groups": ["wr-responders", "wr-security", "unrelated"],
    }
    done = sso(client, "/incidents/INC-4?tab=timeline")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/incidents/INC-4?tab=timeline"
    assert client.cookies.get(COOKIE)
    me = client.get("/api/v1/me").json()
    assert (me["user"], me["role"], me["authenticated_by"]) == ("alice", "responder", "session")
    assert me["teams"] == ["payments", "security"]  # from teams:, and from the group
    assert me["session"]["sso"] is True
    assert count(runtime, OidcIdentity) == 1
    assert count(runtime, OidcLogin) == 0  # the flow is spent
    exchanged = provider.token_requests[-1]
    assert exchanged["authorization"].startswith("Basic ")  # client_secret_basic
    assert len(exchanged["code_verifier"]) >= 43
    assert "client_secret" not in exchanged


def test_the_subject_finds_the_user_after_an_email_change_and_roles_follow_groups(
    client: TestClient, runtime: Runtime, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    configure(runtime, provider, roles={"wr-responders": "responder", "wr-admins": "admin"})
    provider.claims = {"sub": "sub-alice", "email": "alice@example.com", "groups": ["wr-admins"]}
    assert sso(client).status_code == 303
    first = client.cookies[COOKIE]
    assert user(runtime, "alice").role == "admin"
    provider.claims = {
        "sub": "sub-alice",
        "email": "alice.ng@elsewhere.example",
        "groups": ["wr-responders"],
    }
    with runtime.db.transaction() as session:  # another admin, so alice may be demoted
        auth.create_user(session, name="bob", role="admin", now=runtime.clock.now())
    caplog.set_level("INFO", logger="warroom.auth")
    assert sso(client).status_code == 303
    assert client.get("/api/v1/me").json()["role"] == "responder"
    assert "single sign-on changed alice's role from admin to responder" in caplog.text
    assert client.cookies[COOKIE] != first
    with runtime.db.session() as session:  # rotation: the first session was replaced
        reasons = list(session.scalars(select(BrowserSession.end_reason).order_by("id")))
    assert reasons == ["replaced", None]
    assert count(runtime, User) == 2  # no second alice


def test_the_last_admin_keeps_admin_whatever_the_groups_say(
    client: TestClient, runtime: Runtime, provider: Provider
) -> None:
    configure(runtime, provider, roles={"wr-responders": "responder", "wr-admins": "admin"})
    with runtime.db.transaction() as session:
        auth.create_user(session, name="alice", role="admin", now=runtime.clock.now())
    provider.claims = {"sub": "s", "email": "alice@example.com", "groups": ["wr-responders"]}
    assert sso(client).status_code == 303
    assert user(runtime, "alice").role == "admin"


def test_client_secret_post_and_a_user_name_claim(
    client: TestClient, runtime: Runtime, provider: Provider
) -> None:
    configure(runtime, provider, client_auth="client_secret_post", user_claim="preferred_username")
    provider.claims = {"sub": "sub-bob", "preferred_username": "bob"}
    assert sso(client).status_code == 303
    me = client.get("/api/v1/me").json()
    assert (me["user"], me["role"], me["teams"]) == ("bob", "viewer", ["payments"])
    exchanged = provider.token_requests[-1]
    assert exchanged["client_secret"] == CLIENT_SECRET
    assert exchanged["authorization"] == ""


def test_a_wrong_pkce_verifier_is_refused_by_the_provider(
    client: TestClient, runtime: Runtime, provider: Provider
) -> None:
    start = client.get(START, follow_redirects=False)
    with runtime.db.transaction() as session:  # what an attacker with a stolen code lacks
        session.execute(update(OidcLogin).values(code_verifier="x" * 43))
    back = urlsplit(httpx.get(start.headers["location"]).headers["location"])
    answer = client.get(f"{back.path}?{back.query}", follow_redirects=False)
    refused(answer, 401, "invalid_grant (PKCE verifier does not match)")
    assert count(runtime, User) == 0


def test_state_mismatch_replay_and_a_missing_flow_cookie_are_refused(
    client: TestClient, runtime: Runtime, provider: Provider
) -> None:
    start = client.get(START, follow_redirects=False)
    back = urlsplit(httpx.get(start.headers["location"]).headers["location"])
    code = parse_qs(back.query)["code"][0]
    refused(
        client.get(back.path, params={"code": code, "state": "forged"}, follow_redirects=False),
        401,
        "state mismatch",
    )
    # The mismatch spent the flow: the genuine answer cannot be used after it.
    refused(client.get(f"{back.path}?{back.query}"), 401, "no single sign-on is under way")
    start = client.get(START, follow_redirects=False)
    back = urlsplit(httpx.get(start.headers["location"]).headers["location"])
    assert client.get(f"{back.path}?{back.query}", follow_redirects=False).status_code == 303
    client.cookies.delete(COOKIE)
    fresh = TestClient(client.app)  # a browser that never started a sign-in
    refused(fresh.get(f"{back.path}?{back.query}"), 401, "no single sign-on is under way")


def test_a_callback_is_good_once(client: TestClient, runtime: Runtime, provider: Provider) -> None:
    start = client.get(START, follow_redirects=False)
    flow = client.cookies.get("warroom_oidc")
    back = urlsplit(httpx.get(start.headers["location"]).headers["location"])
    assert client.get(f"{back.path}?{back.query}", follow_redirects=False).status_code == 303
    client.cookies.set("warroom_oidc", flow or "", path="/api/v1/auth/oidc")
    refused(client.get(f"{back.path}?{back.query}"), 401, "expired or was already finished")


@pytest.mark.parametrize(
    ("spoil", "mode", "words"),
    [
        ({"nonce": "another"}, "rs256", "nonce"),
        ({"nonce": None}, "rs256", "nonce"),
        ({"aud": "someone-else"}, "rs256", "aud"),
        ({"iss": "https://evil.example"}, "rs256", "iss"),
        ({"exp": 1_000_000_000}, "rs256", "the ID token has expired"),
        ({"iat": 2_000_000_000}, "rs256", "iat"),
        ({}, "bad-signature", "signature does not verify"),
        ({}, "none", "signature does not verify"),
        ({}, "hs256-public", "signature does not verify"),
    ],
)
def test_a_bad_id_token_is_refused(
    client: TestClient,
    runtime: Runtime,
    provider: Provider,
    spoil: dict[str, Any],
    mode: str,
    words: str,
) -> None:
    provider.spoil, provider.mode = spoil, mode
    refused(sso(client), 401, words)
    assert count(runtime, User) == 0
    assert count(runtime, BrowserSession) == 0


def test_rotated_keys_are_fetched_once_and_an_unpublished_key_is_refused(
    client: TestClient, runtime: Runtime, provider: Provider
) -> None:
    assert sso(client).status_code == 303
    assert provider.hits.count("/jwks") == 1
    provider.rotate("key-2")  # the cached JWKS does not know key-2 yet
    assert sso(client).status_code == 303
    assert provider.hits.count("/jwks") == 2
    assert sso(client).status_code == 303
    assert provider.hits.count("/jwks") == 2  # cached again
    provider.signing = "key-1"  # gone from the JWKS
    refused(sso(client), 401, "a key the provider does not publish")


@pytest.mark.parametrize(
    ("claims", "oidc", "words"),
    [
        ({"email": "carol@example.com"}, {}, "no person in warroom.yaml matches email"),
        ({}, {"create_users": False}, "there is no user 'alice' and auth.oidc.create_users"),
        ({"email_verified": False}, {}, "has not verified the e-mail"),
        (
            {"groups": ["wr-security"]},
            {"roles": {"wr-admins": "admin"}},
            "none of your groups (wr-security) maps to a role",
        ),
    ],
)
def test_no_mapping_is_refused(
    client: TestClient,
    runtime: Runtime,
    provider: Provider,
    claims: dict[str, Any],
    oidc: dict[str, Any],
    words: str,
) -> None:
    configure(runtime, provider, **oidc)
    provider.claims = {"sub": "sub-x", "email": "alice@example.com", **claims}
    refused(sso(client), 403, words)
    assert count(runtime, User) == 0
    assert count(runtime, OidcIdentity) == 0


def test_a_disabled_user_is_refused_and_not_raised(
    client: TestClient, runtime: Runtime, provider: Provider
) -> None:
    configure(runtime, provider, roles={"wr-admins": "admin"})
    with runtime.db.transaction() as session:
        alice = auth.create_user(session, name="alice", role="viewer", now=runtime.clock.now())
        alice.disabled_at = runtime.clock.now()
    provider.claims = {"sub": "s", "email": "alice@example.com", "groups": ["wr-admins"]}
    refused(sso(client), 403, "user 'alice' is disabled")
    assert user(runtime, "alice").role == "viewer"
    assert count(runtime, OidcIdentity) == 0  # nothing half-written


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
def test_next_must_be_a_local_path(
    client: TestClient, provider: Provider, runtime: Runtime, target: str
) -> None:
    answer = client.get(START, params={"next": target}, follow_redirects=False)
    refused(answer, 422, "next must be a path on this server")
    assert count(runtime, OidcLogin) == 0


def test_password_sign_in_can_be_turned_off(
    client: TestClient, runtime: Runtime, provider: Provider
) -> None:
    settings = settings_for(provider)
    settings["auth"]["password_sign_in"] = False
    runtime.config_value = WarroomConfig.model_validate(settings)
    token = None
    with runtime.db.transaction() as session:
        ada = auth.create_user(
            session, name="ada", role="admin", now=runtime.clock.now(), password="long enough pw"
        )
        token = auth.create_token(session, user=ada, name="t", now=runtime.clock.now())
    answer = client.post("/api/v1/auth/sign-in", json={"user": "ada", "password": "long enough pw"})
    refused(answer, 403, "password sign-in is turned off (auth.password_sign_in: false)")
    assert "/api/v1/auth/oidc/start" in answer.json()["error"]["message"]
    tokened = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert tokened.status_code == 200  # API tokens still work
    assert sso(client).status_code == 303


def test_teams_from_groups_end_with_their_mapping(
    client: TestClient, runtime: Runtime, provider: Provider
) -> None:
    provider.claims = {"sub": "s", "email": "alice@example.com", "groups": ["wr-security"]}
    assert sso(client).status_code == 303
    assert client.get("/api/v1/me").json()["teams"] == ["payments", "security"]
    configure(runtime, provider, teams={})
    assert client.get("/api/v1/me").json()["teams"] == ["payments"]


def test_a_service_account_cannot_sign_in_with_sso(
    client: TestClient, runtime: Runtime, provider: Provider
) -> None:
    settings = settings_for(provider, user_claim="preferred_username", teams={})
    del settings["people"], settings["teams"]  # a fresh install: any user name goes
    runtime.config_value = WarroomConfig.model_validate(settings)
    with runtime.db.transaction() as session:
        auth.create_user(
            session, name="bot", role="admin", now=runtime.clock.now(), service_account=True
        )
    provider.claims = {"sub": "s", "preferred_username": "bot"}
    refused(sso(client), 403, "'bot' is a service account")
    provider.claims = {"sub": "s", "preferred_username": "nobody"}
    refused(sso(client), 403, "there is no user 'nobody'")


def test_a_provider_that_does_not_answer_is_a_502(
    client: TestClient, runtime: Runtime, provider: Provider
) -> None:
    configure(runtime, provider, issuer="http://127.0.0.1:9", timeout="1s")
    answer = client.get(START, follow_redirects=False)
    assert answer.status_code == 502, answer.text
    assert "did not answer" in answer.json()["error"]["message"]


def test_start_without_single_sign_on_is_404(client: TestClient, runtime: Runtime) -> None:
    runtime.config_value = WarroomConfig()
    refused(client.get(START, follow_redirects=False), 404, "single sign-on is not configured")


def test_the_providers_refusal_is_passed_on(
    client: TestClient, runtime: Runtime, provider: Provider
) -> None:
    start = client.get(START, follow_redirects=False)
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    answer = client.get(
        "/api/v1/auth/oidc/callback",
        params={"state": state, "error": "access_denied", "error_description": "not assigned"},
    )
    refused(answer, 401, "the identity provider refused the sign-in: access_denied (not assigned)")
    assert count(runtime, OidcLogin) == 0


def test_a_discovery_document_of_another_issuer_is_refused(
    client: TestClient, runtime: Runtime, provider: Provider
) -> None:
    other = provider.url.replace("127.0.0.1", "localhost")  # same server, another name
    configure(runtime, provider, issuer=other)
    answer = client.get(START, follow_redirects=False)
    assert answer.status_code == 502, answer.text
    assert "names issuer" in answer.json()["error"]["message"]


def test_a_real_browser_round_trip_over_sockets(
    live_server: str, runtime: Runtime, provider: Provider
) -> None:
    with httpx.Client(base_url=live_server, follow_redirects=True, timeout=10) as browser:
        landed = browser.get(START, params={"next": "/healthz"})
        assert landed.status_code == 200, landed.text
        assert str(landed.url) == f"{live_server}/healthz"
        assert [r.status_code for r in landed.history] == [302, 302, 303]
        me = browser.get("/api/v1/me").json()
        assert (me["user"], me["authenticated_by"]) == ("alice", "session")


def test_a_team_from_groups_opens_its_restricted_incidents(
    client: TestClient, runtime: Runtime, provider: Provider
) -> None:
    with runtime.db.transaction() as session:
        ada = auth.create_user(session, name="ada", role="admin", now=runtime.clock.now())
        token = auth.create_token(session, user=ada, name="t", now=runtime.clock.now())
    declared = client.post(
        "/api/v1/incidents",
        json={"title": "Customer data exposed", "incident_type": "security"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert declared.status_code == 201, declared.text
    ref = declared.json()["ref"]
    provider.claims = {"sub": "s", "email": "alice@example.com", "groups": []}
    assert sso(client).status_code == 303
    assert client.get(f"/api/v1/incidents/{ref}").status_code == 404
    provider.claims["groups"] = ["wr-security"]
    assert sso(client).status_code == 303
    assert client.get(f"/api/v1/incidents/{ref}").status_code == 200
