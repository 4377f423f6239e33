"""Helpers of the TOTP tests: a signed-in browser, an enrolled user, the codes of the moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.auth.test_sessions import PASSWORD, SIGN_IN, add_user
from warroom.app import create_app
from warroom.auth.totp import INTERVAL, RecoveryCode, UserTotp, code_at
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

TOTP = "/api/v1/me/totp"
STEP = INTERVAL  # seconds: move the clock by this to get the next code
BEGIN = {"password": PASSWORD}  # what POST /api/v1/me/totp needs


def browser(runtime: Runtime, user: str = "alice", **extra: str) -> TestClient:
    """Return a client signed in as `user` (cookie), sending its CSRF token with changes."""
    client = TestClient(create_app(runtime))
    signed = client.post(SIGN_IN, json={"user": user, "password": PASSWORD, **extra})
    assert signed.status_code == 200, signed.text
    client.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
    return client


@dataclass
class Enrolled:
    """A user with TOTP on: their secret, recovery codes and a signed-in browser."""

    secret: str
    recovery_codes: list[str]
    client: TestClient

    def code(self, clock: FrozenClock) -> str:
        """Return the code the user's authenticator shows now."""
        return code_at(self.secret, clock.now())


def enrol(runtime: Runtime, clock: FrozenClock, user: str = "alice") -> Enrolled:
    """Create `user` with a password, sign in, turn TOTP on; the clock ends a step later."""
    add_user(runtime, user)
    client = browser(runtime, user)
    begun = client.post(TOTP, json=BEGIN)
    assert begun.status_code == 201, begun.text
    secret = begun.json()["secret"]
    confirmed = client.post(f"{TOTP}/confirm", json={"code": code_at(secret, clock.now())})
    assert confirmed.status_code == 200, confirmed.text
    # The confirming code is spent: sign-ins in the tests use the next step's.
    clock.advance(timedelta(seconds=STEP))
    return Enrolled(secret, confirmed.json()["recovery_codes"], client)


def stored(
    runtime: Runtime, user_id: int | None = None
) -> tuple[list[UserTotp], list[RecoveryCode]]:
    """Return the TOTP and recovery-code rows (of one user, or all)."""
    with runtime.db.session() as session:
        factors = select(UserTotp)
        codes = select(RecoveryCode).order_by(RecoveryCode.id)
        if user_id is not None:
            factors = factors.where(UserTotp.user_id == user_id)
            codes = codes.where(RecoveryCode.user_id == user_id)
        found = list(session.scalars(factors)), list(session.scalars(codes))
        session.expunge_all()
    return found
