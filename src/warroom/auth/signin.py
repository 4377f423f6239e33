"""Sign-in and sign-out of browsers: password check, throttling, session rotation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.audit import service as audit
from warroom.audit.chain import timestamp
from warroom.auth import second_factor, sessions, trail
from warroom.auth.config import AuthConfig, SignInConfig
from warroom.auth.models import User
from warroom.auth.passwords import MAX_LENGTH, check_password
from warroom.auth.sessions import SessionInfo
from warroom.auth.throttle import SignInThrottle, Throttled
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

    session_id: int  # the session's row (an entry may name it: it is no secret)
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
        now = self.clock.now()
        if not config.password_sign_in:
            trail.sign_in_refused(
                self.db,
                at=now,
                name=name,
                method="password",
                reason="password_sign_in_off",
                outcome="denied",
            )
            raise Forbidden(PASSWORD_OFF, audited=True)
        self.check_throttle(config.sign_in, name=name, address=client_address, method="password")
        with self.db.session() as session:
            user = session.scalars(select(User).where(User.name == name)).first()
            ok = len(password) <= MAX_LENGTH and check_password(user, password)
            if user is not None:
                session.expunge(user)
        if not ok or user is None or user.disabled_at is not None:
            self.throttle.failed(config.sign_in, account=name, address=client_address)
            # One reason for all four causes, as the answer has one message (see WRONG).
            trail.sign_in_refused(
                self.db, at=now, name=name, method="password", reason="wrong_credentials"
            )
            raise Unauthorized(WRONG)
        return self.start(
            user=user,
            previous=previous,
            client_address=client_address,
            user_agent=user_agent,
            code=code,
        )

    def check_throttle(self, limits: SignInConfig, *, name: str, address: str, method: str) -> None:
        """Raise Throttled, recorded as a denied sign-in, when over the limits."""
        try:
            self.throttle.check(limits, account=name, address=address)
        except Throttled as exc:
            trail.sign_in_refused(
                self.db,
                at=self.clock.now(),
                name=name,
                method=method,
                reason="throttled",
                outcome="denied",
                retry_after=exc.retry_after,
            )
            raise

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
        now = self.clock.now()
        try:
            with self.db.transaction() as session:
                used = self._second_factor(session, user, code, now, limits, client_address)
                signed = self.begin(
                    session,
                    user=user,
                    previous=previous,
                    client_address=client_address,
                    user_agent=user_agent,
                )
                trail.signed_in(
                    session,
                    at=now,
                    user=user.name,
                    method="password",
                    session_id=signed.session_id,
                    second_factor=used.kind if used else None,
                    **({"recovery_codes_left": used.recovery_codes_left} if used else {}),
                )
        except second_factor.TotpWrong:
            # Not a missing code: the sign-in form asks for one after the password (a step, as
            # for the throttle), while a wrong one means someone has the password.
            trail.sign_in_refused(
                self.db, at=now, name=user.name, method="password", reason="second_factor_wrong"
            )
            raise
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
            session_id=started.row.id,
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
        now = self.clock.now()
        with self.db.transaction() as session:
            owner = sessions.live_owner(session, secret=secret)
            ended = sessions.end_session(session, secret=secret, now=now, reason="signed out")
            if ended and owner is not None:
                session_id, user = owner
                audit.record(
                    session,
                    "signout",
                    actor=user,
                    at=now,
                    target=user,
                    details={"session": session_id},
                )
            return ended

    def authenticate(self, *, secret: str) -> SessionInfo:
        """Return the session a cookie names, or raise Unauthorized; record its use."""
        now = self.clock.now()
        config = self.config().sessions
        try:
            with self.db.reading() as connection:
                info = sessions.authenticate_session(
                    connection, secret=secret, now=now, config=config
                )
        except sessions.SessionExpired as exc:
            self.expired(exc)
            raise
        if info.touch:
            # The idle timeout counts from here; a write at most once a minute per session.
            with self.db.transaction() as session:
                sessions.record_seen(session, session_id=info.session_id, now=now)
        return info

    def expired(self, expired: sessions.SessionExpired) -> None:
        """End a timed-out session and record it: once, by whichever request finds it first.

        Later requests with the cookie find the session ended: no second entry, no write.
        """
        now = self.clock.now()
        with self.db.transaction() as session:
            if sessions.expire(session, expired=expired):
                audit.record(
                    session,
                    "session.expired",
                    actor=expired.user,
                    at=now,
                    target=expired.user,
                    details={
                        "session": expired.session_id,
                        "reason": expired.reason,
                        "expired_at": timestamp(expired.expired_at),
                    },
                )
