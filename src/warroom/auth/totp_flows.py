"""A signed-in user's own TOTP: enrol, confirm, regenerate recovery codes, turn off."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from warroom.auth import second_factor, trail
from warroom.auth.config import AuthConfig, SignInConfig
from warroom.auth.passwords import MAX_LENGTH, check_password
from warroom.auth.second_factor import Enrolment, Status
from warroom.auth.service import Principal, get_user
from warroom.auth.throttle import SignInThrottle, Throttled
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
        now = self.clock.now()
        self._check_throttle(limits, who, address=address, change="enrol")
        with self.db.transaction() as session:
            user = get_user(session, who.name)
            right = len(password) <= MAX_LENGTH and check_password(user, password)
            if right or not user.password_hash:  # no password: begin() says why not
                begun = second_factor.begin(session, user=user, now=now)
                self._record(session, who, now, change="enrol")
                return begun
        self.throttle.failed(limits, account=who.name, address=address)
        self._refused(who, now, change="enrol", reason="wrong_password")
        raise Forbidden("wrong password", audited=True)

    def confirm(self, who: Principal, *, code: str, keep_session: int | None) -> list[str]:
        """Turn the caller's TOTP on with a first code; return their recovery codes."""
        now = self.clock.now()
        try:
            with self.db.transaction() as session:
                codes = second_factor.confirm(
                    session, user_id=who.user_id, code=code, now=now, keep_session=keep_session
                )
                self._record(session, who, now, change="enable")
                return codes
        except Invalid:  # the code: a wrong first code changes nothing
            self._refused(who, now, change="enable", reason="wrong_code", outcome="failed")
            raise

    def regenerate(self, who: Principal, *, code: str, address: str) -> list[str]:
        """Replace the caller's recovery codes; needs a current TOTP code."""
        now = self.clock.now()
        change = "recovery_codes"
        proof = self._checked(
            who, address=address, now=now, code=code, password=None, recovery=False, change=change
        )
        with self.db.transaction() as session:
            codes = second_factor.regenerate(session, user_id=who.user_id, now=now)
            self._record(session, who, now, change=change, proof=proof)
            return codes

    def turn_off(
        self, who: Principal, *, code: str | None, password: str | None, address: str
    ) -> bool:
        """Turn the caller's TOTP off; needs a current code, a recovery code or the password."""
        now = self.clock.now()
        with self.db.transaction() as session:
            state = second_factor.status(session, user_id=who.user_id)
            if state.pending:  # never confirmed, so never guarded anything: no proof needed
                self._record(session, who, now, change="enrol_dropped")
                return second_factor.turn_off(session, user_id=who.user_id)
        proof = self._checked(
            who,
            address=address,
            now=now,
            code=code,
            password=password,
            recovery=True,
            change="disable",
        )
        with self.db.transaction() as session:
            gone = second_factor.turn_off(session, user_id=who.user_id)
            self._record(session, who, now, change="disable", proof=proof)
            return gone

    def _checked(
        self,
        who: Principal,
        *,
        address: str,
        now: datetime,
        code: str | None,
        password: str | None,
        recovery: bool,
        change: str,
    ) -> str:
        """Return the proof that was right (totp, recovery_code or password), else raise.

        A wrong code or password counts as a failed sign-in, and is recorded as refused.
        """
        if not code and not password:
            raise Invalid("send `code` (a current code or a recovery code) or `password`")
        limits = self.config().sign_in
        self._check_throttle(limits, who, address=address, change=change)
        proof: str | None = None
        with self.db.transaction() as session:
            if not second_factor.status(session, user_id=who.user_id).enabled:
                raise Conflict("two-factor sign-in is off (nothing to turn off or replace)")
            if code:
                used = second_factor.use_code(
                    session, user_id=who.user_id, code=code, now=now, recovery=recovery
                )
                proof = used.kind if used is not None else None
            else:
                user = get_user(session, who.name)
                right = password is not None and len(password) <= MAX_LENGTH
                if right and check_password(user, password or ""):
                    proof = "password"
        if proof is None:
            self.throttle.failed(limits, account=who.name, address=address)
            reason = "wrong_code" if code else "wrong_password"
            self._refused(who, now, change=change, reason=reason)
            raise Forbidden(
                "wrong or already used code" if code else "wrong password", audited=True
            )
        return proof

    def _check_throttle(
        self, limits: SignInConfig, who: Principal, *, address: str, change: str
    ) -> None:
        try:
            self.throttle.check(limits, account=who.name, address=address)
        except Throttled:
            self._refused(who, self.clock.now(), change=change, reason="throttled")
            raise

    @staticmethod
    def _record(
        session: Session, who: Principal, now: datetime, *, change: str, proof: str | None = None
    ) -> None:
        details = {"change": change} | ({"proof": proof} if proof else {})
        trail.user_changed(session, "user.totp", actor=who.name, at=now, user=who.name, **details)

    def _refused(
        self, who: Principal, now: datetime, *, change: str, reason: str, outcome: str = "denied"
    ) -> None:
        trail.user_refused(
            self.db,
            "user.totp",
            actor=who.name,
            at=now,
            user=who.name,
            outcome=outcome,
            change=change,
            reason=reason,
        )
