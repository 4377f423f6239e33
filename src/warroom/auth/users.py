"""A user's life: created as a person or service account, role changes, disabled, enabled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from warroom.auth import sessions
from warroom.auth.models import ApiToken, User
from warroom.auth.service import check_name, check_role, create_user, get_user
from warroom.core.errors import Conflict, Invalid
from warroom.organisation import check_person

if TYPE_CHECKING:
    from warroom.organisation import PersonConfig


@dataclass(frozen=True)
class UserRow:
    """A user as `users list` shows it."""

    name: str
    role: str
    service_account: bool
    created_at: datetime
    disabled_at: datetime | None
    live_tokens: int


@dataclass(frozen=True)
class Disabled:
    """What `disable_user` did."""

    name: str
    already: bool
    tokens_ended: int
    sessions_ended: int = 0


def check_new_name(
    session: Session, *, name: str, people: Sequence[PersonConfig], service_account: bool
) -> None:
    """Raise unless `name` may become a user: a configured person, or a service account."""
    check_name(name)
    if session.scalars(select(User.id).where(User.name == name)).first() is not None:
        raise Conflict(f"user {name!r} already exists")
    ids = {p.id for p in people}
    if service_account and name in ids:
        raise Conflict(
            f"{name!r} is a person in warroom.yaml; a service account needs another name "
            "(or drop --service-account to create the person's user)"
        )
    if not service_account:
        try:
            check_person(people, name, field="name")
        except Invalid as exc:
            raise Invalid(
                f"{exc.message}; a user that is not a person needs --service-account",
                exc.details,
            ) from None


def create_account(
    session: Session,
    *,
    name: str,
    role: str,
    now: datetime,
    people: Sequence[PersonConfig],
    service_account: bool = False,
    password: str | None = None,
) -> User:
    """Create a user: a person of warroom.yaml, or (service_account) a name no person has."""
    check_new_name(session, name=name, people=people, service_account=service_account)
    return create_user(
        session,
        name=name,
        role=role,
        now=now,
        password=password,
        service_account=service_account,
    )


def _enabled_admins(session: Session) -> int:
    # Locked (PostgreSQL): two admins demoting each other at once must not both succeed.
    stmt = select(User.id).where(User.role == "admin", User.disabled_at.is_(None))
    return len(list(session.scalars(stmt.with_for_update())))


def _keep_an_admin(session: Session, user: User, doing: str) -> None:
    """Refuse a change that would leave no enabled admin (nobody could undo it over the API)."""
    if user.role == "admin" and user.disabled_at is None and _enabled_admins(session) <= 1:
        raise Conflict(
            f"cannot {doing} {user.name}: they are the last enabled admin; make another user "
            "admin first (warroom users set-role NAME admin)"
        )


def set_role(session: Session, *, name: str, role: str) -> User:
    """Give user `name` the role `role`; the last enabled admin keeps theirs."""
    check_role(role)
    user = get_user(session, name)
    if role != "admin":
        _keep_an_admin(session, user, f"make a {role} of")
    user.role = role
    session.flush()
    return user


def disable_user(session: Session, *, name: str, now: datetime) -> Disabled:
    """Disable a user and end their tokens and sessions at once."""
    user = get_user(session, name)
    if user.disabled_at is not None:  # nothing of theirs is left to end
        return Disabled(name=user.name, already=True, tokens_ended=0)
    _keep_an_admin(session, user, "disable")
    user.disabled_at = now
    ended = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    gone = sessions.end_sessions(session, user_id=user.id, now=now, reason="user disabled")
    session.flush()
    count = int(getattr(ended, "rowcount", 0) or 0)
    return Disabled(name=user.name, already=False, tokens_ended=count, sessions_ended=gone)


def enable_user(session: Session, *, name: str) -> User:
    """Enable a disabled user; their old tokens stay revoked (new ones must be created)."""
    user = get_user(session, name)
    user.disabled_at = None
    session.flush()
    return user


def user_rows(session: Session, *, now: datetime) -> list[UserRow]:
    """Return every user with how many of their tokens still work, by name."""
    live = (
        select(ApiToken.user_id, func.count().label("n"))
        .where(
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
        )
        .group_by(ApiToken.user_id)
        .subquery()
    )
    stmt = (
        select(User, func.coalesce(live.c.n, 0))
        .outerjoin(live, live.c.user_id == User.id)
        .order_by(User.name)
    )
    return [
        UserRow(
            name=user.name,
            role=user.role,
            service_account=user.service_account,
            created_at=user.created_at,
            disabled_at=user.disabled_at,
            live_tokens=int(count),
        )
        for user, count in session.execute(stmt)
    ]
