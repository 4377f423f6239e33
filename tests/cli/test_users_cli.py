"""`warroom users` and `warroom tokens` with scopes and expiry; tokens kept out of the log."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Row, select, update
from typer.testing import CliRunner

from tests.cli.test_admin_cli import _serve, _stop, _wait_ready
from tests.conftest import TEMPLATES, free_port
from warroom.auth import service as auth
from warroom.auth.models import ApiToken
from warroom.cli.main import app
from warroom.storage.db import Database

PEOPLE = "people:\n  - {id: alice, name: Alice Ng}\n  - {id: bob, name: Bob Ruiz}\n"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    """The admin commands' environment, with tables on one line each."""
    return {**env, "COLUMNS": "200"}


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run `warroom ARGS`; return exit code, stdout and stderr."""
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def stored_tokens(env: dict[str, str]) -> list[Row[tuple[int, str, str, Any, Any]]]:
    db = Database(env["WARROOM_DATABASE_URL"])
    columns = (ApiToken.id, ApiToken.prefix, ApiToken.scopes)
    try:
        with db.session() as session:
            stmt = select(*columns, ApiToken.expires_at, ApiToken.revoked_at)
            return list(session.execute(stmt.order_by(ApiToken.id)))
    finally:
        db.dispose()


def test_tokens_with_scopes_and_expiry(env: dict[str, str]) -> None:
    assert run(env, "users", "create", "vic", "--role", "viewer")[0] == 0
    code, out, _ = run(env, "tokens", "create", "vic", "--scope", "calendar", "--expires", "30d")
    assert code == 0
    calendar = out.strip().splitlines()[-1]
    assert calendar.startswith("wr_") and " " not in calendar
    assert "(viewer; scope calendar, expires 20" in out
    code, out, _ = run(env, "tokens", "create", "vic", "--scope", "read", "--name", "ro")
    assert code == 0 and "scope read)" in out
    code, out, _ = run(env, "tokens", "create", "vic")
    assert code == 0 and "scope read and write)" in out
    rows = stored_tokens(env)
    assert [r.scopes for r in rows] == ["calendar", "read", "read write"]
    assert rows[0].expires_at is not None
    left = rows[0].expires_at - datetime.now(UTC)
    assert timedelta(days=29, hours=23) < left <= timedelta(days=30)
    assert rows[1].expires_at is None
    # Expire the read token (the CLI refuses a past expiry, so the row is aged directly).
    db = Database(env["WARROOM_DATABASE_URL"])
    with db.transaction() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == rows[1].id)
            .values(expires_at=datetime(2026, 1, 1, tzinfo=UTC))
        )
    db.dispose()
    code, out, _ = run(env, "tokens", "list")
    assert code == 0
    lines = {line.split()[1]: line for line in out.splitlines() if "wr_" in line}
    assert "calendar" in lines[rows[0].prefix + "…"] and "active" in lines[rows[0].prefix + "…"]
    assert "2026-01-01 00:00" in lines[rows[1].prefix + "…"]
    assert "expired" in lines[rows[1].prefix + "…"]
    assert "read,write" in lines[rows[2].prefix + "…"] and "never" in lines[rows[2].prefix + "…"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--scope", "admin"], "error: unknown scope 'admin'; use read, write or calendar"),
        (["--scope", "calendar", "--scope", "read"], "give --scope calendar by itself"),
        (["--expires", "soon"], "error: --expires 'soon' is not a duration like 12h, 30d"),
        (["--expires", "2020-01-01"], "error: --expires '2020-01-01' is not in the future"),
    ],
)
def test_bad_token_options_are_one_line_and_write_nothing(
    env: dict[str, str], args: list[str], error: str
) -> None:
    assert run(env, "users", "create", "vic")[0] == 0
    code, out, err = run(env, "tokens", "create", "vic", *args)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and error in err
    assert stored_tokens(env) == []


def test_set_role_disable_enable(env: dict[str, str]) -> None:
    assert run(env, "users", "create", "ada", "--role", "admin")[0] == 0
    assert run(env, "users", "create", "rita")[0] == 0
    assert run(env, "tokens", "create", "rita")[0] == 0
    assert run(env, "tokens", "create", "rita", "--scope", "read")[0] == 0
    code, out, _ = run(env, "users", "set-role", "rita", "viewer")
    assert (code, out) == (0, "rita is now a viewer\n")
    code, _, err = run(env, "users", "set-role", "rita", "boss")
    assert code == 1 and err == "error: unknown role 'boss'; use one of viewer, responder, admin\n"
    code, _, err = run(env, "users", "set-role", "nobody", "viewer")
    assert code == 1 and err == "error: no user 'nobody'\n"
    code, _, err = run(env, "users", "set-role", "ada", "responder")
    assert code == 1 and "cannot make a responder of ada: they are the last enabled admin" in err
    code, _, err = run(env, "users", "disable", "ada")
    assert code == 1 and err.startswith("error: cannot disable ada: they are the last enabled")
    code, out, _ = run(env, "users", "list")
    rita = next(line for line in out.splitlines() if "rita" in line)
    assert "viewer" in rita and "person" in rita and " 2 " in rita
    code, out, _ = run(env, "users", "disable", "rita")
    assert (code, out) == (0, "disabled rita; 2 token(s) revoked\n")
    assert all(t.revoked_at is not None for t in stored_tokens(env))
    assert run(env, "users", "disable", "rita")[1] == "rita was already disabled\n"
    code, out, _ = run(env, "users", "list")
    rita = next(line for line in out.splitlines() if "rita" in line)
    assert " 0 " in rita and datetime.now(UTC).strftime("%Y-%m-%d") in rita
    code, _, err = run(env, "tokens", "create", "rita")
    assert code == 1 and "user 'rita' is disabled; enable them first" in err
    code, out, _ = run(env, "users", "enable", "rita")
    assert code == 0 and "enabled rita; create a new token with `warroom tokens create rita`" in out
    assert run(env, "tokens", "create", "rita")[0] == 0
    tokens = stored_tokens(env)
    assert [t.revoked_at is None for t in tokens] == [False, False, True]


def test_people_are_users(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "warroom.yaml"
    # An integration secret that is not set: admin commands must not need it.
    config.write_text(
        PEOPLE + "integrations:\n  slack: {signing_secret: 'env:WARROOM_TEST_UNSET_SECRET'}\n"
    )
    env = {**env, "WARROOM_CONFIG": str(config)}
    code, _, err = run(env, "users", "create", "alcie")
    assert code == 1
    assert err == (
        "error: unknown person 'alcie' — did you mean 'alice'? (people are configured in "
        "warroom.yaml); a user that is not a person needs --service-account\n"
    )
    code, out, _ = run(env, "users", "create", "alice", "--role", "admin")
    assert (code, out) == (0, "created user alice (admin)\n")
    code, _, err = run(env, "users", "create", "bob", "--service-account")
    assert code == 1 and "'bob' is a person in warroom.yaml; a service account needs another" in err
    code, out, _ = run(env, "users", "create", "ci-bot", "--role", "viewer", "--service-account")
    assert (code, out) == (0, "created user ci-bot (viewer, service account)\n")
    code, out, _ = run(env, "users", "list")
    assert "service account" in next(line for line in out.splitlines() if "ci-bot" in line)
    assert "bob" not in out and "alcie" not in out


def test_no_people_configured_any_name_goes(env: dict[str, str]) -> None:
    code, out, _ = run(env, "users", "create", "whoever")
    assert (code, out) == (0, "created user whoever (responder)\n")
    # A bad name is refused before the password prompt (which gets no input here).
    code, out, err = run(env, "users", "create", "no spaces", "--password")
    assert code == 1 and "user name 'no spaces' must be 1-64 letters" in err
    assert "Password" not in out + err


def test_a_served_access_log_never_shows_a_token(tmp_path: Path) -> None:
    env = {
        "WARROOM_DATA_DIR": str(tmp_path / "var"),
        "WARROOM_RUNBOOKS_DIR": str(tmp_path / "runbooks"),
    }
    shutil.copytree(TEMPLATES, tmp_path / "runbooks" / "templates")
    assert run(env, "users", "create", "vic", "--role", "viewer")[0] == 0
    calendar = run(env, "tokens", "create", "vic", "--scope", "calendar")[1].split()[-1]
    reader = run(env, "tokens", "create", "vic", "--scope", "read")[1].split()[-1]
    port = free_port()
    server = _serve(env, port)
    try:
        _wait_ready(port)
        base = f"http://127.0.0.1:{port}/api/v1"
        # No such schedule: 404 comes after the token was accepted.
        feed = httpx.get(f"{base}/schedules/x/ical", params={"token": calendar, "days": "3"})
        assert feed.status_code == 404
        refused = httpx.get(f"{base}/people/vic/ical?token={reader}")
        assert refused.status_code == 403
        assert "warroom tokens create vic --scope calendar" in refused.json()["error"]["message"]
    finally:
        output = _stop(server)
    assert calendar not in output and reader not in output
    assert "GET /api/v1/schedules/x/ical?token=[redacted]&days=3 HTTP/1.1" in output
    assert '"GET /api/v1/people/vic/ical?token=[redacted] HTTP/1.1" 403' in output
    db = Database(f"sqlite:///{tmp_path / 'var' / 'warroom.db'}")
    with db.session() as session:  # the redacted token itself was left intact
        assert auth.authenticate(session, token=calendar, now=datetime.now(UTC)).name == "vic"
    db.dispose()
