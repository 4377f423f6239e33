"""Every /api/v1 route needs a token; 401 and 403 are distinct; tokens are stored hashed."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from warroom.auth import service as auth
from warroom.auth.models import ApiToken
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime


def test_missing_and_bad_tokens_are_401(client: TestClient, tokens: dict[str, str]) -> None:
    missing = client.get("/api/v1/incidents")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "missing API token" in missing.json()["error"]["message"]
    wrong = client.get("/api/v1/incidents", headers={"Authorization": "Bearer wr_nope"})
    assert wrong.status_code == 401
    basic = client.get("/api/v1/incidents", headers={"Authorization": "Basic YTpi"})
    assert basic.status_code == 401


def test_viewer_reads_but_cannot_write(client: TestClient, tokens: dict[str, str]) -> None:
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    responder = {"Authorization": f"Bearer {tokens['responder']}"}
    assert client.get("/api/v1/incidents", headers=viewer).status_code == 200
    denied = client.post("/api/v1/incidents", json={"title": "x"}, headers=viewer)
    assert denied.status_code == 403
    assert denied.json()["error"]["message"] == "this needs the responder role; vic is a viewer"
    assert client.get("/api/v1/incidents", headers=responder).json()["items"] == []
    assert (
        client.post("/api/v1/incidents", json={"title": "x"}, headers=responder).status_code == 201
    )
    for path in (
        "/api/v1/incidents/1/acknowledge",
        "/api/v1/incidents/1/resolve",
        "/api/v1/incidents/1/timeline",
    ):
        assert client.post(path, json={"text": "n"}, headers=viewer).status_code == 403


def test_every_api_route_requires_a_token(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    checked = 0
    for path, methods in spec["paths"].items():
        if not path.startswith("/api/v1") or path.startswith("/api/v1/intake/"):
            continue  # intake routes check the vendor's own signature or token instead
        if path == "/api/v1/status":
            continue  # the public status page's JSON: no token by design (DESIGN §6)
        if path.startswith("/api/v1/auth/"):
            continue  # browser sign-in and sign-out: tests/auth/test_sessions.py
        concrete = (
            path.replace("{ref}", "1")
            .replace("{action}", "resolve")
            .replace("{silence_id}", "1")
            .replace("{notification_id}", "1")
        )
        for method in methods:
            assert client.request(method.upper(), concrete).status_code == 401, (method, path)
            checked += 1
    assert checked >= 8


def test_tokens_are_stored_as_digests(runtime: Runtime, tokens: dict[str, str]) -> None:
    with runtime.db.session() as session:
        digests = set(session.scalars(select(ApiToken.digest)))
    assert tokens["admin"] not in digests
    assert auth.digest(tokens["admin"]) in digests


def test_revoked_token_and_disabled_user(
    client: TestClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    headers = {"Authorization": f"Bearer {tokens['responder']}"}
    with runtime.db.transaction() as session:
        row = session.scalars(
            select(ApiToken).where(ApiToken.digest == auth.digest(tokens["responder"]))
        ).one()
        row.revoked_at = runtime.clock.now()
    assert client.get("/api/v1/incidents", headers=headers).status_code == 401
    with runtime.db.transaction() as session:
        auth.get_user(session, "vic").disabled_at = runtime.clock.now()
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    assert "disabled" in client.get("/api/v1/incidents", headers=viewer).json()["error"]["message"]


def test_health_routes_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["migrations"]["ok"] is True
    assert client.get("/metrics").status_code == 200


def test_bootstrap_admin_only_once(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        first = auth.bootstrap_admin(session, now=runtime.clock.now())
    assert first is not None
    password, token = first
    with runtime.db.transaction() as session:
        assert auth.bootstrap_admin(session, now=runtime.clock.now()) is None
        admin = auth.get_user(session, "admin")
        assert admin.role == "admin"
        assert auth.verify_password(admin, password)
        assert not auth.verify_password(admin, password + "x")
        assert auth.authenticate(session, token=token, now=runtime.clock.now()).role == "admin"


def test_metrics_count_incident_changes(api: TestClient) -> None:
    def value() -> float:
        for line in api.get("/metrics").text.splitlines():
            if line.startswith('warroom_incident_changes_total{event="declared",severity="SEV-4"}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = value()
    api.post("/api/v1/incidents", json={"title": "x", "severity": "SEV-4"})
    assert value() == before + 1


def test_last_use_is_recorded_at_most_every_five_minutes(
    client: TestClient, runtime: Runtime, tokens: dict[str, str], clock: FrozenClock
) -> None:
    digest = auth.digest(tokens["viewer"])

    def last_used() -> object:
        with runtime.db.session() as session:
            row = session.scalars(select(ApiToken).where(ApiToken.digest == digest)).one()
            return row.last_used_at

    assert last_used() is None
    headers = {"Authorization": f"Bearer {tokens['viewer']}"}
    first = clock.now()
    assert client.get("/api/v1/incidents", headers=headers).status_code == 200
    assert last_used() == first
    clock.advance(timedelta(minutes=4))
    assert client.get("/api/v1/incidents", headers=headers).status_code == 200
    assert last_used() == first  # within five minutes: no write
    clock.advance(timedelta(minutes=2))
    assert client.get("/api/v1/incidents", headers=headers).status_code == 200
    assert last_used() == clock.now()
    assert client.get("/api/v1/incidents").status_code == 401  # no token: nothing to stamp
