"""A signed-in user's own TOTP: enrol, confirm, regenerate recovery codes, turn off."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from warroom.auth import second_factor
from warroom.auth.config import AuthConfig
from warroom.auth.passwords import MAX_LENGTH, check_password
from warroom.auth.second_factor import Enrolment, Status
from warroom.auth.service import Principal, get_user
from warroom.auth.throttle import SignInThrottle
from warroom.core.clock import Clock
from warroom.core.errors import Conflict, Forbidden, Invalid
from warroom.storage.db import Database


class TotpFlows:
    """The `/api/v1/me/totp` routes' work; wrong codes and passwords spend sign-in's budget."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        config: Callable[[], AuthConfig],
        throttle: SignInThrottle,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        # Sign-in's own counter: a stolen session must not become a way to guess the
        # password or a code without the limits sign-in has.
        self.throttle = throttle

    def status(self, who: Principal) -> Status:
        """Return the caller's TOTP state."""
        with self.db.session() as session:
            return second_factor.status(session, user_id=who.user_id)

    def begin(self, who: Principal, *, password: str, address: str) -> Enrolment:
        """Start (or restart) the caller's enrolment with a new secret; needs their password."""
        # The password, not just the session or token: a stolen cookie must not be able to
        # add a factor that locks the owner out of their own account.
        limits = self.config().sign_in
        self.throttle.check(limits, account=who.name, address=address)
        with self.db.transaction() as session:
            user = get_user(session, who.name)
            right = len(password) <= MAX_LENGTH and check_password(user, password)
            if right or not user.password_hash:  # no password: begin() says why not
                return second_factor.begin(session, user=user, now=self.clock.now())
        self.throttle.failed(limits, account=who.name, address=address)
        raise Forbidden("wrong password")

    def confirm(self, who: Principal, *, code: str, keep_session: int | None) -> list[str]:
        """Turn the caller's TOTP on with a first code; return their recovery codes."""
        with self.db.transaction() as session:
            return second_factor.confirm(
                session,
                user_id=who.user_id,
                code=code,
                now=self.clock.now(),
                keep_session=keep_session,
            )

    def regenerate(self, who: Principal, *, code: str, address: str) -> list[str]:
        """Replace the caller's recovery codes; needs a current TOTP code."""
        now = self.clock.now()
        self._checked(who, address=address, now=now, code=code, password=None, recovery=False)
        with self.db.transaction() as session:
            return second_factor.regenerate(session, user_id=who.user_id, now=now)

    def turn_off(
        self, who: Principal, *, code: str | None, password: str | None, address: str
    ) -> bool:
        """Turn the caller's TOTP off; needs a current code, a recovery code or the password."""
        now = self.clock.now()
        with self.db.transaction() as session:
            state = second_factor.status(session, user_id=who.user_id)
            if state.pending:  # never confirmed, so never guarded anything: no proof needed
                return second_factor.turn_off(session, user_id=who.user_id)
        self._checked(who, address=address, now=now, code=code, password=password, recovery=True)
        with self.db.transaction() as session:
            return second_factor.turn_off(session, user_id=who.user_id)

    def _checked(
        self,
        who: Principal,
        *,
        address: str,
        now: datetime,
        code: str | None,
        password: str | None,
        recovery: bool,
    ) -> None:
        """Raise unless the code (or password) is right; a wrong one counts as a failed sign-in."""
        if not code and not password:
            raise Invalid("send `code` (a current code or a recovery code) or `password`")
        limits = self.config().sign_in
        self.throttle.check(limits, account=who.name, address=address)
        with self.db.transaction() as session:
            if not second_factor.status(session, user_id=who.user_id).enabled:
                raise Conflict("two-factor sign-in is off (nothing to turn off or replace)")
            if code:
                ok = second_factor.use_code(
                    session, user_id=who.user_id, code=code, now=now, recovery=recovery
                )
                right = ok is not None
            else:
                user = get_user(session, who.name)
                right = password is not None and len(password) <= MAX_LENGTH
                right = right and check_password(user, password or "")
        if not right:
            self.throttle.failed(limits, account=who.name, address=address)
            raise Forbidden("wrong or already used code" if code else "wrong password")
