"""`warroom users set-password`: a new password ends the user's browser sessions."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from tests.auth.test_sessions import PASSWORD, SIGN_IN, add_user
from warroom.app import create_app
from warroom.auth.models import User
from warroom.auth.sessions import BrowserSession
from warroom.cli.main import app
from warroom.runtime import Runtime

NEW = "a much newer password"


def browser(runtime: Runtime, user: str, password: str = PASSWORD) -> TestClient:
    """Return a client signed in as `user`."""
    client = TestClient(create_app(runtime))
    assert client.post(SIGN_IN, json={"user": user, "password": password}).status_code == 200
    return client


def state(runtime: Runtime, name: str) -> tuple[str | None, list[str | None]]:
    """Return a user's password hash and the end reasons of their sessions."""
    with runtime.db.session() as session:
        user = session.scalars(select(User).where(User.name == name)).one()
        reasons = session.scalars(
            select(BrowserSession.end_reason)
            .where(BrowserSession.user_id == user.id)
            .order_by(BrowserSession.id)
        )
        return user.password_hash, list(reasons)


def test_set_password_ends_every_session_of_that_user(
    env: dict[str, str], runtime: Runtime
) -> None:
    add_user(runtime)
    add_user(runtime, "bob")
    laptop, phone = browser(runtime, "alice"), browser(runtime, "alice")
    bobs = browser(runtime, "bob")
    result = CliRunner().invoke(
        app, ["users", "set-password", "alice", "--password-stdin"], input=NEW + "\n", env=env
    )
    assert result.exit_code == 0, result.output
    assert "password of alice changed; 2 browser sessions ended" in result.output
    assert NEW not in result.output
    for ended in (laptop, phone):
        assert ended.get("/api/v1/me").status_code == 401
    assert bobs.get("/api/v1/me").status_code == 200
    assert state(runtime, "alice")[1] == ["password changed", "password changed"]
    assert state(runtime, "bob")[1] == [None]
    old = laptop.post(SIGN_IN, json={"user": "alice", "password": PASSWORD})
    assert old.status_code == 401
    assert laptop.post(SIGN_IN, json={"user": "alice", "password": NEW}).status_code == 200


def test_set_password_prompts_twice(env: dict[str, str], runtime: Runtime) -> None:
    add_user(runtime)
    result = CliRunner().invoke(
        app, ["users", "set-password", "alice"], input=f"{NEW}\n{NEW}\n", env=env
    )
    assert result.exit_code == 0, result.output
    assert "0 browser sessions ended" in result.output
    browser(runtime, "alice", NEW)


@pytest.mark.parametrize(
    ("args", "given", "message"),
    [
        (["alice", "--password-stdin"], "short\n", "error: a password needs at least 8 characters"),
        (["alice", "--password-stdin"], "\n", "error: a password needs at least 8 characters"),
        (["zed", "--password-stdin"], NEW + "\n", "error: no user 'zed'"),
        (["alice"], f"{NEW}\nsomething else\n", "do not match"),
    ],
)
def test_bad_password_changes_leave_everything_as_it_was(
    env: dict[str, str], runtime: Runtime, args: list[str], given: str, message: str
) -> None:
    add_user(runtime)
    signed_in = browser(runtime, "alice")
    before = state(runtime, "alice")
    result = CliRunner().invoke(app, ["users", "set-password", *args], input=given, env=env)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert state(runtime, "alice") == before
    assert signed_in.get("/api/v1/me").status_code == 200


def test_set_password_says_when_password_sign_in_is_off(
    env: dict[str, str], runtime: Runtime, tmp_path: Path
) -> None:
    add_user(runtime)
    config = tmp_path / "warroom.yaml"
    config.write_text(
        "auth:\n"
        "  password_sign_in: false\n"
        "  oidc:\n"
        "    issuer: https://login.example.com/realms/acme\n"
        "    client_id: warroom\n"
        "    client_secret: env:WARROOM_OIDC_SECRET\n"
    )
    result = CliRunner().invoke(
        app,
        ["users", "set-password", "alice", "--password-stdin"],
        input=NEW + "\n",
        env={**env, "WARROOM_CONFIG": str(config)},
    )
    assert result.exit_code == 0, result.output
    assert "password sign-in is turned off (auth.password_sign_in: false)" in result.output
