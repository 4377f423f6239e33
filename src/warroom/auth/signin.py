"""Sign-in and sign-out of browsers: password check, throttling, session rotation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.auth import second_factor, sessions
from warroom.auth.config import AuthConfig, SignInConfig
from warroom.auth.models import User
from warroom.auth.passwords import MAX_LENGTH, check_password
from warroom.auth.sessions import SessionInfo
from warroom.auth.throttle import SignInThrottle
from warroom.core.clock import Clock
from warroom.core.errors import Forbidden, Unauthorized
from warroom.storage.db import Database

# One message for an unknown user, a wrong password, a user without a password and a
# disabled user: telling them apart tells an attacker which names to try.
WRONG = "wrong user name or password"
PASSWORD_OFF = (
    "password sign-in is turned off (auth.password_sign_in: false); sign in with single "
    "sign-on: GET /api/v1/auth/oidc/start"
)


@dataclass(frozen=True)
class SignedIn:
    """The outcome of a sign-in: the cookie value and what the browser is told."""

    secret: str
    csrf_token: str
    user: str
    role: str
    expires_at: datetime
    idle_expires_at: datetime
    factor: second_factor.Used | None = None  # the code that signed in, when there is TOTP


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
        code: str | None = None,
    ) -> SignedIn:
        """Check the password (and TOTP) and start a session; end the browser's previous one."""
        config = self.config()
        if not config.password_sign_in:
            raise Forbidden(PASSWORD_OFF)
        self.throttle.check(config.sign_in, account=name, address=client_address)
        with self.db.session() as session:
            user = session.scalars(select(User).where(User.name == name)).first()
            ok = len(password) <= MAX_LENGTH and check_password(user, password)
            if user is not None:
                session.expunge(user)
        if not ok or user is None or user.disabled_at is not None:
            self.throttle.failed(config.sign_in, account=name, address=client_address)
            raise Unauthorized(WRONG)
        return self.start(
            user=user,
            previous=previous,
            client_address=client_address,
            user_agent=user_agent,
            code=code,
        )

    def start(
        self,
        *,
        user: User,
        previous: str | None,
        client_address: str,
        user_agent: str | None,
        code: str | None = None,
    ) -> SignedIn:
        """Start a session for `user` (password checked already), its TOTP code spent in the
        same transaction; end the browser's previous one."""
        limits = self.config().sign_in
        with self.db.transaction() as session:
            used = self._second_factor(
                session, user, code, self.clock.now(), limits, client_address
            )
            signed = self.begin(
                session,
                user=user,
                previous=previous,
                client_address=client_address,
                user_agent=user_agent,
            )
        return replace(signed, factor=used)

    def begin(
        self,
        session: Session,
        *,
        user: User,
        previous: str | None,
        client_address: str,
        user_agent: str | None,
        sso: bool = False,
    ) -> SignedIn:
        """Start a session within the caller's transaction (single sign-on writes more in it)."""
        config = self.config().sessions
        now = self.clock.now()
        if previous:
            # A fresh id at every sign-in: an id planted before sign-in (session fixation)
            # or left over from another account is useless afterwards.
            sessions.end_session(session, secret=previous, now=now, reason="replaced")
        started = sessions.start_session(
            session,
            user=user,
            now=now,
            config=config,
            client_address=client_address,
            user_agent=user_agent,
            sso=sso,
        )
        expires_at = started.row.expires_at
        return SignedIn(
            secret=started.secret,
            csrf_token=started.csrf_token,
            user=user.name,
            role=user.role,
            expires_at=expires_at,
            idle_expires_at=min(now + config.idle_timeout, expires_at),
        )

    def _second_factor(
        self,
        session: Session,
        user: User,
        code: str | None,
        now: datetime,
        limits: SignInConfig,
        address: str,
    ) -> second_factor.Used | None:
        # Checked only after the right password, in the transaction that starts the session,
        # so a code is spent exactly when it signs someone in (docs/security.md says why one
        # request carries both). A wrong code is a failed sign-in; a missing one is not.
        try:
            return second_factor.sign_in_factor(session, user_id=user.id, code=code, now=now)
        except second_factor.TotpWrong:
            self.throttle.failed(limits, account=user.name, address=address)
            raise

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
