"""Sign-in, sessions, tokens and users leave audit entries: the real thing, then the log."""

from __future__ import annotations

import getpass
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from tests.auth.oidc_provider import Provider
from tests.auth.test_oidc import START, configure, provider, sso
from tests.auth.test_sessions import PASSWORD, SIGN_IN, SIGN_OUT, add_user
from tests.auth.totp_helpers import TOTP, enrol
from warroom.app import create_app
from warroom.audit.models import AuditEntry
from warroom.audit.verify import verify
from warroom.auth import service as auth
from warroom.auth.config import AuthConfig, SessionsConfig
from warroom.auth.sessions import COOKIE
from warroom.auth.totp import code_at
from warroom.cli.main import app as cli
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.core.errors import Unauthorized
from warroom.runtime import Runtime
from warroom.storage.db import Database
from warroom.web.events import _reauthenticate

ME = "/api/v1/me"
__all__ = ["provider"]  # the fixture of the single sign-on tests: our loopback provider


def entries(db: Database, action: str | None = None) -> list[AuditEntry]:
    """Return the log's entries, oldest first (of one action, if given)."""
    with db.session() as session:
        stmt = select(AuditEntry).order_by(AuditEntry.seq)
        if action is not None:
            stmt = stmt.where(AuditEntry.action == action)
        found = list(session.scalars(stmt))
        session.expunge_all()
    return found


def one(db: Database, action: str, **expected: Any) -> AuditEntry:
    """Return the one entry of `action` whose columns match `expected`."""
    matching = [
        e for e in entries(db, action) if all(getattr(e, k) == v for k, v in expected.items())
    ]
    assert len(matching) == 1, [(e.action, e.target, e.outcome, e.details) for e in entries(db)]
    return matching[0]


def clean(db: Database, *secrets: str) -> None:
    """Assert the chain is whole and no secret is in any column of any entry."""
    verdict = verify(db)
    assert verdict.ok, verdict.reason
    with db.reading() as connection:
        text = repr([tuple(row) for row in connection.execute(select(AuditEntry))])
    for secret in secrets:
        assert secret and secret not in text, f"a secret is in the audit log: {secret[:4]}…"


def test_password_sign_in_its_failures_and_sign_out(runtime: Runtime, client: TestClient) -> None:
    add_user(runtime)
    wrong = client.post(SIGN_IN, json={"user": "alice", "password": "not the password"})
    unknown = client.post(SIGN_IN, json={"user": "mallory", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    signed = client.post(SIGN_IN, json={"user": "alice", "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    cookie, csrf = client.cookies[COOKIE], signed.json()["csrf_token"]
    assert client.get(ME).status_code == 200
    assert client.post(SIGN_OUT, headers={"X-CSRF-Token": csrf}).status_code == 204
    db = runtime.db
    for name in ("alice", "mallory"):
        failed = one(db, "signin", target=name, outcome="failed")
        # The same words for both: the log does not tell which names exist either.
        assert failed.details == {"method": "password", "reason": "wrong_credentials"}
        assert (failed.actor, failed.client) == ("anonymous", "testclient")
    ok = one(db, "signin", outcome="ok")
    assert (ok.actor, ok.target, ok.client) == ("alice", "alice", "testclient")
    assert ok.details["method"] == "password" and ok.details["second_factor"] is None
    out = one(db, "signout")
    assert (out.actor, out.target, out.outcome, out.client) == (
        "alice",
        "alice",
        "ok",
        "testclient",
    )
    assert out.details == {"session": ok.details["session"]}
    # Signing out again with the ended cookie ends nothing, and records nothing.
    client.cookies.set(COOKIE, cookie)
    client.post(SIGN_OUT, headers={"X-CSRF-Token": csrf})
    assert len(entries(db, "signout")) == 1
    clean(db, PASSWORD, "not the password", cookie, csrf)


def test_throttled_sign_ins_are_denied_and_the_web_form_records_too(
    runtime: Runtime, client: TestClient
) -> None:
    add_user(runtime)
    for _ in range(5):  # auth.sign_in.per_account: 5 failures in 15 minutes
        form = {"user": "alice", "password": "guess-guess"}
        assert client.post("/sign-in", data=form, follow_redirects=False).status_code == 401
    throttled = client.post(SIGN_IN, json={"user": "alice", "password": PASSWORD})
    assert throttled.status_code == 429
    assert len(entries(runtime.db, "signin")) == 6
    denied = one(runtime.db, "signin", outcome="denied")
    assert denied.target == "alice" and denied.client == "testclient"
    assert denied.details["reason"] == "throttled" and denied.details["retry_after"] > 0
    clean(runtime.db, PASSWORD, "guess-guess")


def test_second_factor_sign_ins_and_the_users_own_totp_changes(
    runtime: Runtime, clock: FrozenClock
) -> None:
    enrolled = enrol(runtime, clock)  # begins (needs the password) and confirms TOTP
    db = runtime.db
    assert [e.details["change"] for e in entries(db, "user.totp")] == ["enrol", "enable"]
    assert {(e.actor, e.target, e.outcome) for e in entries(db, "user.totp")} == {
        ("alice", "alice", "ok")
    }
    http = TestClient(create_app(runtime))
    body = {"user": "alice", "password": PASSWORD}
    assert http.post(SIGN_IN, json=body | {"code": "000000"}).status_code == 401
    wrong = one(db, "signin", outcome="failed")
    assert wrong.target == "alice" and wrong.details["reason"] == "second_factor_wrong"
    # Without a code the form asks for one: a step, not a failure, so no entry.
    assert http.post(SIGN_IN, json=body).status_code == 401
    assert len(entries(db, "signin")) == 2  # the enrolment's sign-in and the wrong code
    recovery = enrolled.recovery_codes[0]
    assert http.post(SIGN_IN, json=body | {"code": recovery}).status_code == 200
    used = entries(db, "signin")[-1]
    assert used.outcome == "ok"
    assert used.details["second_factor"] == "recovery_code"
    assert used.details["recovery_codes_left"] == 9
    code = enrolled.code(clock)
    assert http.post(SIGN_IN, json=body | {"code": code}).status_code == 200
    assert entries(db, "signin")[-1].details["second_factor"] == "totp"
    # Turning it off: a wrong code is refused and recorded, the right one turns it off.
    client = enrolled.client
    assert client.request("DELETE", TOTP, json={"code": "999999"}).status_code == 403
    refused = one(db, "user.totp", outcome="denied")
    assert refused.details == {"change": "disable", "reason": "wrong_code"}
    clock.advance(timedelta(seconds=30))
    off = client.request("DELETE", TOTP, json={"code": enrolled.code(clock)})
    assert off.status_code == 204, off.text
    last = entries(db, "user.totp")[-1]
    assert (last.outcome, last.details) == ("ok", {"change": "disable", "proof": "totp"})
    clean(db, PASSWORD, enrolled.secret, *enrolled.recovery_codes, code)


def test_a_wrong_first_code_and_a_wrong_password_change_nothing(
    runtime: Runtime, clock: FrozenClock
) -> None:
    add_user(runtime)
    client = TestClient(create_app(runtime))
    signed = client.post(SIGN_IN, json={"user": "alice", "password": PASSWORD})
    client.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
    assert client.post(TOTP, json={"password": "not it at all"}).status_code == 403
    secret = client.post(TOTP, json={"password": PASSWORD}).json()["secret"]
    wrong = code_at(secret, clock.now() + timedelta(minutes=10))
    assert client.post(f"{TOTP}/confirm", json={"code": wrong}).status_code == 422
    changes = [(e.outcome, e.details) for e in entries(runtime.db, "user.totp")]
    assert changes == [
        ("denied", {"change": "enrol", "reason": "wrong_password"}),
        ("ok", {"change": "enrol"}),
        ("failed", {"change": "enable", "reason": "wrong_code"}),
    ]
    clean(runtime.db, PASSWORD, secret, "not it at all")


@pytest.mark.parametrize("why", ["idle", "absolute"])
def test_an_expired_session_is_recorded_once(
    runtime: Runtime, client: TestClient, clock: FrozenClock, why: str
) -> None:
    sessions = SessionsConfig(idle_timeout=timedelta(hours=2), absolute_timeout=timedelta(hours=5))
    runtime.config_value = WarroomConfig(auth=AuthConfig(sessions=sessions))
    add_user(runtime)
    signed = client.post(SIGN_IN, json={"user": "alice", "password": PASSWORD})
    cookie = client.cookies[COOKIE]
    if why == "idle":
        clock.advance(timedelta(hours=2, minutes=1))
    else:
        for _ in range(3):  # used every 1h50m: never idle, until 5 hours are up
            clock.advance(timedelta(hours=1, minutes=50))
            assert client.get(ME).status_code == (200 if _ < 2 else 401)
    for _ in range(3):
        assert client.get(ME).status_code == 401
        assert client.get("/", follow_redirects=False).status_code in (303, 307)
    expired = one(runtime.db, "session.expired")
    assert (expired.actor, expired.target, expired.outcome) == ("alice", "alice", "ok")
    started = one(runtime.db, "signin", outcome="ok")
    assert expired.details["session"] == started.details["session"]
    assert expired.details["reason"] == why
    at = "2026-03-02T11:00:00.000000Z" if why == "idle" else "2026-03-02T14:00:00.000000Z"
    assert expired.details["expired_at"] == at
    clean(runtime.db, PASSWORD, cookie, signed.json()["csrf_token"])


def test_an_open_event_stream_that_finds_its_session_timed_out_records_it(
    runtime: Runtime, client: TestClient, clock: FrozenClock
) -> None:
    add_user(runtime)
    assert client.post(SIGN_IN, json={"user": "alice", "password": PASSWORD}).is_success
    cookie = client.cookies[COOKIE]
    # What the stream's periodic check sees: the request that opened it, hours later.
    scope = {"type": "http", "method": "GET", "path": "/events", "query_string": b""}
    scope["headers"] = [(b"cookie", f"{COOKIE}={cookie}".encode())]
    clock.advance(timedelta(hours=13))
    for _ in range(2):
        with pytest.raises(Unauthorized):
            _reauthenticate(Request(scope), runtime)
    expired = one(runtime.db, "session.expired")
    assert expired.details["reason"] == "idle" and expired.client is None
    assert client.get(ME).status_code == 401  # ended already: no second entry
    assert len(entries(runtime.db, "session.expired")) == 1
    clean(runtime.db, cookie, PASSWORD)


def test_rejected_tokens_are_recorded_and_valid_ones_write_nothing(
    runtime: Runtime, client: TestClient, tokens: dict[str, str], clock: FrozenClock
) -> None:
    db = runtime.db
    assert client.get(ME, headers={"Authorization": f"Bearer {tokens['responder']}"}).is_success
    assert client.get(ME).status_code == 401  # no token at all: nothing to record
    assert entries(db) == []
    unknown = "wr_" + "x" * 43
    foreign = "ghp_" + "y" * 36  # someone else's secret, pasted by mistake
    with db.transaction() as session:
        auth.revoke_token(session, prefix=tokens["viewer"][:10], now=clock.now())
    for token in (unknown, foreign, tokens["viewer"]):
        answer = client.get(ME, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401
    rejected = entries(db, "token.rejected")
    assert [(e.actor, e.outcome, e.client) for e in rejected] == 3 * [
        ("anonymous", "denied", "testclient")
    ]
    assert [(e.target, e.details) for e in rejected] == [
        (None, {"reason": "unknown", "token": unknown[:10]}),
        (None, {"reason": "unknown", "token": None}),
        ("vic", {"reason": "revoked", "token": tokens["viewer"][:10]}),
    ]
    clean(db, unknown, foreign, *tokens.values())


def test_profile_page_tokens_are_recorded_with_the_user_as_actor(
    runtime: Runtime, client: TestClient
) -> None:
    add_user(runtime)
    signed = client.post(SIGN_IN, json={"user": "alice", "password": PASSWORD})
    csrf = signed.json()["csrf_token"]
    page = client.post(
        "/profile/tokens", data={"name": "laptop", "kind": "read", "csrf_token": csrf}
    )
    assert page.status_code == 201, page.text
    token = re.findall(r"wr_[A-Za-z0-9_-]{43}", page.text)[0]
    created = one(runtime.db, "token.create")
    assert (created.actor, created.target, created.client) == ("alice", "alice", "testclient")
    assert created.details == {
        "token": token[:10],
        "label": "laptop",
        "scopes": ["read"],
        "expires_at": None,
    }
    with runtime.db.session() as session:
        token_id = auth.list_tokens(session, user="alice")[0].id
    revoked = client.post(f"/profile/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code in (200, 303)
    gone = one(runtime.db, "token.revoke")
    assert (gone.actor, gone.target) == ("alice", "alice")
    assert gone.details == {"token": token[:10], "label": "laptop", "already_revoked": False}
    clean(runtime.db, token, PASSWORD, csrf)


def test_the_client_is_the_peers_address_under_a_live_server(
    runtime: Runtime, live_server: str
) -> None:
    add_user(runtime)
    with httpx.Client(base_url=live_server, timeout=30) as http:
        assert http.post(SIGN_IN, json={"user": "alice", "password": PASSWORD}).is_success
        assert http.post(SIGN_IN, json={"user": "alice", "password": "nope nope"}).status_code
    assert {e.client for e in entries(runtime.db, "signin")} == {"127.0.0.1"}
    assert {e.outcome for e in entries(runtime.db, "signin")} == {"ok", "failed"}


def test_first_start_records_the_admin_and_its_token(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        first = auth.bootstrap_admin(session, now=runtime.clock.now())
    assert first is not None
    created, token = one(runtime.db, "user.create"), one(runtime.db, "token.create")
    assert (created.actor, created.target) == ("system:first-start", "admin")
    assert created.details == {
        "role": "admin",
        "service_account": True,
        "password_set": True,
        "via": "first start",
    }
    assert token.details["token"] == first[1][:10] and token.details["label"] == "bootstrap"
    clean(runtime.db, *first)


def test_single_sign_on_records_users_roles_sign_ins_and_refusals(
    runtime: Runtime, client: TestClient, provider: Provider
) -> None:
    configure(runtime, provider, roles={"wr-responders": "responder", "wr-admins": "admin"})
    provider.claims = {"sub": "sub-alice", "email": "alice@example.com", "groups": ["wr-admins"]}
    assert sso(client).status_code == 303
    first = client.cookies[COOKIE]
    with runtime.db.transaction() as session:  # another admin, so alice may be demoted
        auth.create_user(session, name="bob", role="admin", now=runtime.clock.now())
    provider.claims["groups"] = ["wr-responders"]
    assert sso(client).status_code == 303
    provider.claims = {"sub": "sub-x", "email": "nobody@example.com", "groups": ["wr-admins"]}
    assert sso(client).status_code == 403
    start = client.get(START, follow_redirects=False)
    back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    code = back.split("code=")[1].split("&")[0]
    forged = client.get("/api/v1/auth/oidc/callback", params={"code": code, "state": "forged"})
    assert forged.status_code == 401
    db = runtime.db
    created = one(db, "user.create")
    assert (created.actor, created.target, created.client) == ("system:oidc", "alice", "testclient")
    assert created.details["role"] == "admin" and created.details["via"] == "oidc"
    role = one(db, "user.role")
    assert (role.actor, role.target) == ("system:oidc", "alice")
    assert role.details == {"from": "admin", "to": "responder", "via": "oidc"}
    signed = entries(db, "signin")
    assert [(e.actor, e.target, e.outcome) for e in signed] == [
        ("alice", "alice", "ok"),
        ("alice", "alice", "ok"),
        ("anonymous", "nobody@example.com", "denied"),
        ("anonymous", None, "failed"),
    ]
    assert signed[0].details["method"] == "oidc" and signed[0].details["subject"] == "sub-alice"
    assert signed[2].details["reason"] == "forbidden"
    assert "no person in warroom.yaml matches" in signed[2].details["message"]
    assert signed[3].details["message"].startswith("state mismatch")
    clean(db, first, client.cookies[COOKIE], code)


# -- the admin commands, on the local database ------------------------------------------------


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str]:
    """Run `warroom ARGS`; return the exit code and all output."""
    result = CliRunner().invoke(cli, list(args), env=env, input=stdin)
    return result.exit_code, result.output


def test_admin_commands_record_the_os_user_and_a_local_client(env: dict[str, str]) -> None:
    assert run(env, "users", "create", "ada", "--role", "admin")[0] == 0
    assert run(env, "users", "create", "vic", "--role", "viewer")[0] == 0
    assert run(env, "users", "set-role", "vic", "responder")[0] == 0
    assert run(env, "users", "set-role", "vic", "responder")[0] == 0  # no change, no entry
    code, out = run(env, "tokens", "create", "vic", "--scope", "read", "--expires", "30d")
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert run(env, "tokens", "revoke", token[:10])[0] == 0
    assert (
        run(env, "users", "set-password", "vic", "--password-stdin", stdin="s3cret-pass\n")[0] == 0
    )
    assert run(env, "users", "reset-2fa", "vic")[0] == 0
    assert run(env, "users", "disable", "vic")[0] == 0
    assert run(env, "users", "enable", "vic")[0] == 0
    db = Database(env["WARROOM_DATABASE_URL"])
    try:
        log = entries(db)
        me = f"os:{getpass.getuser()}"
        assert {(e.actor, e.client, e.outcome) for e in log} == {(me, "local", "ok")}
        assert [(e.action, e.target) for e in log] == [
            ("user.create", "ada"),
            ("user.create", "vic"),
            ("user.role", "vic"),
            ("token.create", "vic"),
            ("token.revoke", "vic"),
            ("user.password", "vic"),
            ("user.totp", "vic"),
            ("user.disable", "vic"),
            ("user.enable", "vic"),
        ]
        details = [e.details for e in log]
        assert details[1] == {
            "role": "viewer",
            "service_account": False,
            "password_set": False,
            "via": "cli",
        }
        assert details[2] == {"from": "viewer", "to": "responder"}
        assert details[3]["token"] == token[:10] and details[3]["scopes"] == ["read"]
        assert details[3]["expires_at"].endswith("Z")  # 30 days from the real clock's now
        assert details[4] == {"token": token[:10], "label": "cli", "already_revoked": False}
        assert details[5] == {"sessions_ended": 0}
        assert details[6] == {"change": "reset", "had_totp": False, "sessions_ended": 0}
        assert details[7] == {"tokens_revoked": 0, "sessions_ended": 0}
        assert details[8] == {}
        clean(db, token, "s3cret-pass")
    finally:
        db.dispose()


def test_a_refused_admin_change_leaves_no_entry(env: dict[str, str]) -> None:
    assert run(env, "users", "create", "ada", "--role", "admin")[0] == 0
    code, out = run(env, "users", "set-role", "ada", "viewer")
    assert code == 1 and "last enabled admin" in out
    assert run(env, "users", "disable", "ada")[0] == 1
    assert run(env, "users", "create", "vic", "--role", "viewer")[0] == 0
    assert run(env, "users", "disable", "vic")[0] == 0
    code, out = run(env, "tokens", "create", "vic")
    assert code == 1 and "disabled" in out
    assert run(env, "users", "set-password", "vic", "--password-stdin", stdin="short\n")[0] == 1
    assert run(env, "users", "set-role", "nobody", "admin")[0] == 1
    db = Database(env["WARROOM_DATABASE_URL"])
    try:
        assert [(e.action, e.target) for e in entries(db)] == [
            ("user.create", "ada"),
            ("user.create", "vic"),
            ("user.disable", "vic"),
        ]
        assert verify(db).ok
    finally:
        db.dispose()
