"""`warroom me totp …` over HTTP and the admin's `warroom users reset-2fa`."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.auth.test_sessions import PASSWORD, SIGN_IN, add_user, session_rows
from tests.auth.totp_helpers import STEP, browser, enrol, stored
from warroom.auth import service as auth
from warroom.auth import totp
from warroom.auth.totp import code_at
from warroom.cli.main import app
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # drawn for the enrolment, so the test knows it
PLAIN = {"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    """The admin commands' environment, with plain output."""
    return {**env, **PLAIN}


@pytest.fixture
def alice(live_server: str, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment of alice's CLI: a user with a password and a token; secrets are SECRET."""
    monkeypatch.setattr(totp, "new_secret", lambda: SECRET)
    add_user(runtime)
    with runtime.db.transaction() as session:
        user = auth.get_user(session, "alice")
        token = auth.create_token(session, user=user, name="cli", now=runtime.clock.now())
    return {"WARROOM_URL": live_server, "WARROOM_TOKEN": token, **PLAIN}


def test_enable_draws_a_qr_code_and_shows_recovery_codes_once(
    alice: dict[str, str], clock: FrozenClock, runtime: Runtime
) -> None:
    code = code_at(SECRET, clock.now())
    wrong = "000000" if code != "000000" else "111111"
    done = CliRunner().invoke(
        app, ["me", "totp", "enable"], input=f"{PASSWORD}\n{wrong}\n{code}\n", env=alice
    )
    assert done.exit_code == 0, done.output
    assert "▀" in done.output or "█" in done.output  # the QR code, in half blocks
    assert f"Secret (to type in instead of scanning): {SECRET}" in done.output
    assert "otpauth://totp/warroom:alice?secret=" + SECRET in done.output
    assert "wrong code; " in done.output and "try again" in done.output
    assert "two-factor sign-in is on" in done.output
    [row], codes = stored(runtime)
    shown = [line.strip() for line in done.output.splitlines() if line.startswith("  ")]
    assert {totp.recovery_digest(c) for c in shown} == {c.digest for c in codes}
    assert row.confirmed_at is not None
    status = CliRunner().invoke(app, ["me", "totp", "status", "--json"], env=alice)
    assert orjson.loads(status.stdout)["recovery_codes_left"] == 10
    said = CliRunner().invoke(app, ["me", "totp", "status"], env=alice)
    assert "two-factor sign-in is on (since 2026-03-02 09:00 UTC); 10 recovery code(s) left" in (
        said.output
    )


def test_enable_gives_up_after_three_wrong_codes_and_confirm_finishes(
    alice: dict[str, str], clock: FrozenClock
) -> None:
    runner = CliRunner()
    wrong = "\n".join([PASSWORD, "000000", "111111", "222222"]) + "\n"
    if code_at(SECRET, clock.now()) in wrong.split():
        clock.advance(timedelta(seconds=STEP * 3))
    failed = runner.invoke(app, ["me", "totp", "enable", "--no-qr"], input=wrong, env=alice)
    assert failed.exit_code == 1
    assert "`warroom me totp confirm CODE` turns it on" in failed.output
    assert "▀" not in failed.output
    waiting = runner.invoke(app, ["me", "totp", "status"], env=alice)
    assert "an enrolment waits for `warroom me totp confirm CODE`" in waiting.output
    done = runner.invoke(app, ["me", "totp", "confirm", code_at(SECRET, clock.now())], env=alice)
    assert done.exit_code == 0, done.output
    assert done.output.count("\n  ") == 10


def test_disable_and_recovery_codes(alice: dict[str, str], clock: FrozenClock) -> None:
    runner = CliRunner()
    code = f"{PASSWORD}\n{code_at(SECRET, clock.now())}\n"
    ok = runner.invoke(app, ["me", "totp", "enable", "--no-qr"], input=code, env=alice)
    assert ok.exit_code == 0, ok.output
    clock.advance(timedelta(seconds=STEP))
    fresh = runner.invoke(
        app, ["me", "totp", "recovery-codes", "--code", code_at(SECRET, clock.now())], env=alice
    )
    assert fresh.exit_code == 0 and fresh.output.count("\n  ") == 10
    refused = runner.invoke(app, ["me", "totp", "disable", "--code", "000000"], env=alice)
    assert refused.exit_code == 1 and "wrong or already used code" in refused.output
    by_password = runner.invoke(
        app, ["me", "totp", "disable", "--password"], input=PASSWORD + "\n", env=alice
    )
    assert by_password.exit_code == 0, by_password.output
    assert "two-factor sign-in is off" in by_password.output
    off = runner.invoke(app, ["me", "totp", "status"], env=alice)
    assert "turn it on with `warroom me totp enable`" in off.output


def test_reset_2fa_ends_the_users_sessions(
    env: dict[str, str], runtime: Runtime, clock: FrozenClock
) -> None:
    enrolled = enrol(runtime, clock)
    add_user(runtime, "bob")
    bob = browser(runtime, "bob")
    done = CliRunner().invoke(app, ["users", "reset-2fa", "alice"], env=env)
    assert done.exit_code == 0, done.output
    assert done.output.startswith("two-factor sign-in of alice reset; 1 browser session ended")
    assert enrolled.client.get("/api/v1/me").status_code == 401
    assert bob.get("/api/v1/me").status_code == 200
    assert stored(runtime) == ([], [])
    assert "two-factor reset" in [row.end_reason for row in session_rows(runtime)]
    # Back to the password alone; the user can enrol again.
    fresh = TestClient(enrolled.client.app)
    assert fresh.post(SIGN_IN, json={"user": "alice", "password": PASSWORD}).status_code == 200


def test_reset_2fa_of_an_unknown_user_fails(env: dict[str, str], runtime: Runtime) -> None:
    done = CliRunner().invoke(app, ["users", "reset-2fa", "nobody"], env=env)
    assert done.exit_code == 1
    assert "no user 'nobody'" in done.output


def test_enable_with_a_wrong_password_changes_nothing(
    alice: dict[str, str], runtime: Runtime
) -> None:
    done = CliRunner().invoke(app, ["me", "totp", "enable"], input="not it\n", env=alice)
    assert done.exit_code == 1
    assert "error: wrong password" in done.output and "Secret" not in done.output
    assert stored(runtime) == ([], [])
