"""Second-factor services: enrol, confirm, check a code once, turn off, reset (auth/totp.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from warroom.auth import totp
from warroom.auth.models import User
from warroom.auth.service import get_user
from warroom.auth.sessions import BrowserSession, end_sessions
from warroom.auth.totp import RecoveryCode, UserTotp
from warroom.core.errors import Conflict, Invalid, Unauthorized

Kind = Literal["totp", "recovery_code"]
SEND_CODE = "send `code`: the 6-digit code of your authenticator app, or a recovery code"


class TotpRequired(Unauthorized):
    """The password was right and the account has a second factor: a code must come with it."""

    code = "totp_required"


class TotpWrong(Unauthorized):
    """The code sent at sign-in is wrong, already used, or from outside its window."""

    code = "totp_invalid"


@dataclass(frozen=True)
class Enrolment:
    """A new, unconfirmed TOTP secret: shown once, to be typed or scanned into an app."""

    secret: str
    otpauth_uri: str


@dataclass(frozen=True)
class Used:
    """A code that was accepted (and is now spent)."""

    kind: Kind
    recovery_codes_left: int


@dataclass(frozen=True)
class Status:
    """Whether a user has TOTP, and how many recovery codes are left."""

    enabled: bool
    pending: bool
    confirmed_at: datetime | None
    recovery_codes_left: int


@dataclass(frozen=True)
class Reset:
    """What an admin's reset did."""

    name: str
    had_totp: bool
    sessions_ended: int


def _row(session: Session, user_id: int) -> UserTotp | None:
    return session.get(UserTotp, user_id)


def _active(session: Session, user_id: int) -> UserTotp | None:
    row = _row(session, user_id)
    return row if row is not None and row.confirmed_at is not None else None


def recovery_codes_left(session: Session, *, user_id: int) -> int:
    """Return how many unused recovery codes a user has."""
    stmt = select(func.count()).select_from(RecoveryCode)
    unused = stmt.where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    return int(session.scalar(unused) or 0)


def status(session: Session, *, user_id: int) -> Status:
    """Return a user's TOTP state."""
    row = _row(session, user_id)
    confirmed = row.confirmed_at if row is not None else None
    return Status(
        enabled=confirmed is not None,
        pending=row is not None and confirmed is None,
        confirmed_at=confirmed,
        recovery_codes_left=recovery_codes_left(session, user_id=user_id),
    )


def begin(session: Session, *, user: User, now: datetime) -> Enrolment:
    """Draw a new secret for `user`; it counts from its confirmation with a first code."""
    if not user.password_hash:
        # The factor guards password sign-in; an account without a password has none to guard.
        raise Conflict(
            f"{user.name} has no password; two-factor sign-in guards password sign-in "
            f"(an admin sets one with `warroom users set-password {user.name}`)"
        )
    row = _row(session, user.id)
    if row is not None and row.confirmed_at is not None:
        raise Conflict(
            "two-factor sign-in is already on; turn it off first (DELETE /api/v1/me/totp)"
        )
    secret = totp.new_secret()
    if row is None:
        session.add(UserTotp(user_id=user.id, secret=secret, created_at=now))
    else:  # an enrolment that was never confirmed starts over with a new secret
        row.secret, row.created_at, row.last_step = secret, now, None
    session.flush()
    return Enrolment(secret=secret, otpauth_uri=totp.otpauth_uri(secret, user=user.name))


def confirm(
    session: Session, *, user_id: int, code: str, now: datetime, keep_session: int | None
) -> list[str]:
    """Turn TOTP on with a first code; return new recovery codes; end other sessions."""
    row = _row(session, user_id)
    if row is None:
        raise Conflict("there is no enrolment to confirm; start one with POST /api/v1/me/totp")
    if row.confirmed_at is not None:
        raise Conflict("two-factor sign-in is already on")
    step = totp.matching_step(row.secret, code.strip(), now=now)
    if step is None:
        raise Invalid(
            "wrong code; type the 6 digits your authenticator app shows now "
            "(and check the phone's clock)",
            {"field": "code"},
        )
    row.confirmed_at, row.last_step = now, step
    # Sessions signed in with the password alone end: one may be whoever made this necessary.
    stale = update(BrowserSession).where(
        BrowserSession.user_id == user_id, BrowserSession.ended_at.is_(None)
    )
    if keep_session is not None:
        stale = stale.where(BrowserSession.id != keep_session)
    session.execute(stale.values(ended_at=now, end_reason="two-factor turned on"))
    return _replace_recovery_codes(session, user_id=user_id, now=now)


def _replace_recovery_codes(session: Session, *, user_id: int, now: datetime) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = totp.new_recovery_codes()
    session.add_all(
        RecoveryCode(user_id=user_id, digest=totp.recovery_digest(code), created_at=now)
        for code in codes
    )
    session.flush()
    return codes


def use_code(
    session: Session, *, user_id: int, code: str, now: datetime, recovery: bool = True
) -> Used | None:
    """Accept a current TOTP code (or, if `recovery`, an unused recovery code) once, or None."""
    row = _active(session, user_id)
    if row is None:
        return None
    code = code.strip()
    step = totp.matching_step(row.secret, code, now=now)
    if step is not None:
        # One conditional UPDATE: two requests racing with the same code cannot both pass.
        taken = session.execute(
            update(UserTotp)
            .where(
                UserTotp.user_id == user_id,
                or_(UserTotp.last_step.is_(None), UserTotp.last_step < step),
            )
            .values(last_step=step)
        )
        if not getattr(taken, "rowcount", 0):
            return None  # this code, or a later one, was already used: a replay
        return Used("totp", recovery_codes_left(session, user_id=user_id))
    if not recovery or totp.is_totp_code(code):
        return None
    spent = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.digest == totp.recovery_digest(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    if not getattr(spent, "rowcount", 0):
        return None
    return Used("recovery_code", recovery_codes_left(session, user_id=user_id))


def sign_in_factor(
    session: Session, *, user_id: int, code: str | None, now: datetime
) -> Used | None:
    """Check the second factor of a sign-in whose password was right; None if there is none."""
    if _active(session, user_id) is None:
        return None  # a code sent for an account without TOTP is ignored
    if not code:
        raise TotpRequired(f"this account has two-factor sign-in: {SEND_CODE}", {"field": "code"})
    used = use_code(session, user_id=user_id, code=code, now=now)
    if used is None:
        raise TotpWrong(f"wrong or already used code; {SEND_CODE}", {"field": "code"})
    return used


def regenerate(session: Session, *, user_id: int, now: datetime) -> list[str]:
    """Replace a user's recovery codes with new ones (the old ones stop working)."""
    if _active(session, user_id) is None:
        raise Conflict("two-factor sign-in is off; there are no recovery codes to replace")
    return _replace_recovery_codes(session, user_id=user_id, now=now)


def turn_off(session: Session, *, user_id: int) -> bool:
    """Delete a user's TOTP secret and recovery codes; tell whether there was a secret."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    gone = session.execute(delete(UserTotp).where(UserTotp.user_id == user_id))
    return bool(getattr(gone, "rowcount", 0))


def reset(session: Session, *, name: str, now: datetime) -> Reset:
    """Turn off a user's TOTP (an admin's rescue for a lost phone) and end their sessions."""
    user = get_user(session, name)
    had = _active(session, user.id) is not None
    turn_off(session, user_id=user.id)
    ended = end_sessions(session, user_id=user.id, now=now, reason="two-factor reset")
    return Reset(name=user.name, had_totp=had, sessions_ended=ended)
