"""Sign-in and sign-out of browsers: password check, throttling, session rotation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from warroom.auth import sessions
from warroom.auth.config import AuthConfig
from warroom.auth.models import User
from warroom.auth.passwords import MAX_LENGTH, check_password
from warroom.auth.sessions import SessionInfo
from warroom.auth.throttle import SignInThrottle
from warroom.core.clock import Clock
from warroom.core.errors import Unauthorized
from warroom.storage.db import Database

# One message for an unknown user, a wrong password, a user without a password and a
# disabled user: telling them apart tells an attacker which names to try.
WRONG = "wrong user name or password"


@dataclass(frozen=True)
class SignedIn:
    """The outcome of a sign-in: the cookie value and what the browser is told."""

    secret: str
    csrf_token: str
    user: str
    role: str
    expires_at: datetime
    idle_expires_at: datetime


class SignIns:
    """Browser sign-in over the database, with one process's throttle of failures."""

    def __init__(self, *, db: Database, clock: Clock, config: Callable[[], AuthConfig]) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.throttle = SignInThrottle()

    def sign_in(
        self,
        *,
        name: str,
        password: str,
        client_address: str,
        user_agent: str | None,
        previous: str | None,
    ) -> SignedIn:
        """Check the password and start a session; end the browser's previous one (rotation)."""
        config = self.config()
        self.throttle.check(config.sign_in, account=name, address=client_address)
        with self.db.session() as session:
            user = session.scalars(select(User).where(User.name == name)).first()
            ok = len(password) <= MAX_LENGTH and check_password(user, password)
            if user is not None:
                session.expunge(user)
        if not ok or user is None or user.disabled_at is not None:
            self.throttle.failed(config.sign_in, account=name, address=client_address)
            raise Unauthorized(WRONG)
        now = self.clock.now()
        with self.db.transaction() as session:
            if previous:
                # A fresh id at every sign-in: an id planted before sign-in (session fixation)
                # or left over from another account is useless afterwards.
                sessions.end_session(session, secret=previous, now=now, reason="replaced")
            started = sessions.start_session(
                session,
                user=user,
                now=now,
                config=config.sessions,
                client_address=client_address,
                user_agent=user_agent,
            )
            expires_at = started.row.expires_at
        idle = min(now + config.sessions.idle_timeout, expires_at)
        return SignedIn(
            secret=started.secret,
            csrf_token=started.csrf_token,
            user=user.name,
            role=user.role,
            expires_at=expires_at,
            idle_expires_at=idle,
        )

    def sign_out(self, *, secret: str) -> bool:
        """End the session with this id; tell whether a live one was ended."""
        with self.db.transaction() as session:
            return sessions.end_session(
                session, secret=secret, now=self.clock.now(), reason="signed out"
            )

    def authenticate(self, *, secret: str) -> SessionInfo:
        """Return the session a cookie names, or raise Unauthorized; record its use."""
        now = self.clock.now()
        config = self.config().sessions
        with self.db.reading() as connection:
            info = sessions.authenticate_session(connection, secret=secret, now=now, config=config)
        if info.touch:
            # The idle timeout counts from here; a write at most once a minute per session.
            with self.db.transaction() as session:
                sessions.record_seen(session, session_id=info.session_id, now=now)
        return info
