"""The audit entries of sign-in, sessions, tokens and users: their names and details, once.

Never a secret: a token appears by its public prefix (what `tokens list` shows), a browser
session by its row number (never the cookie's id), a password or code not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from warroom.audit import service as audit
from warroom.audit.chain import timestamp
from warroom.auth.models import ApiToken, User
from warroom.storage.db import Database

ANONYMOUS = "anonymous"  # who signs in, or sends a token, before anything proves who they are
OIDC = "system:oidc"  # single sign-on's groups create users and change their roles
FIRST_START = "system:first-start"  # `warroom serve` on an empty database makes user admin
NAME_KEPT = 64  # a user name is at most 64 characters; a longer "name" is cut to that


def attempted(name: str) -> str:
    """Return a name typed at sign-in as an entry's target (cut to a user name's length)."""
    return name[:NAME_KEPT]


def signed_in(
    session: Session,
    *,
    at: datetime,
    user: str,
    method: str,
    session_id: int,
    second_factor: str | None = None,
    **details: Any,
) -> None:
    """Record a sign-in that started a browser session (in its transaction)."""
    audit.record(
        session,
        "signin",
        actor=user,
        at=at,
        target=user,
        details={"method": method, "session": session_id, "second_factor": second_factor} | details,
    )


def sign_in_refused(
    db: Database,
    *,
    at: datetime,
    name: str | None,
    method: str,
    reason: str,
    outcome: str = "failed",
    **details: Any,
) -> None:
    """Record a sign-in that did not happen (its own transaction: nothing else commits)."""
    audit.record_now(
        db,
        "signin",
        actor=ANONYMOUS,
        at=at,
        target=attempted(name) if name else None,
        outcome=outcome,
        details={"method": method, "reason": reason} | details,
    )


def token_created(
    session: Session,
    *,
    actor: str,
    at: datetime,
    owner: str,
    prefix: str,
    label: str,
    scopes: Iterable[str],
    expires_at: datetime | None,
) -> None:
    """Record a new API token of `owner` (its prefix only; the token is shown once, elsewhere)."""
    audit.record(
        session,
        "token.create",
        actor=actor,
        at=at,
        target=owner,
        details={
            "token": prefix,
            "label": label,
            "scopes": list(scopes),
            "expires_at": timestamp(expires_at) if expires_at else None,
        },
    )


def token_revoked(
    session: Session, *, actor: str, at: datetime, token: ApiToken, owner: str, already: bool
) -> None:
    """Record the revocation of a token (`already`: it had been revoked before)."""
    audit.record(
        session,
        "token.revoke",
        actor=actor,
        at=at,
        target=owner,
        details={"token": token.prefix, "label": token.name, "already_revoked": already},
    )


def token_rejected(
    db: Database, *, at: datetime, reason: str, prefix: str | None, owner: str | None
) -> None:
    """Record a request whose API token does not work (not one that sent none)."""
    audit.record_now(
        db,
        "token.rejected",
        actor=ANONYMOUS,
        at=at,
        target=owner,
        outcome="denied",
        details={"reason": reason, "token": prefix},
    )


def user_created(session: Session, *, actor: str, at: datetime, user: User, via: str) -> None:
    """Record a new user (never their password: only whether one was set)."""
    audit.record(
        session,
        "user.create",
        actor=actor,
        at=at,
        target=user.name,
        details={
            "role": user.role,
            "service_account": user.service_account,
            "password_set": user.password_hash is not None,
            "via": via,
        },
    )


def user_changed(
    session: Session, action: str, *, actor: str, at: datetime, user: str, **details: Any
) -> None:
    """Record a change to a user: `user.role`, `user.disable`, `user.password`, `user.totp`…"""
    audit.record(session, action, actor=actor, at=at, target=user, details=details)


def user_refused(
    db: Database,
    action: str,
    *,
    actor: str,
    at: datetime,
    user: str,
    outcome: str = "denied",
    **details: Any,
) -> None:
    """Record a change to a user that a wrong proof or the throttle stopped (own transaction)."""
    audit.record_now(db, action, actor=actor, at=at, target=user, outcome=outcome, details=details)
