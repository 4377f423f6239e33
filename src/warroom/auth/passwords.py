"""Password checks for sign-in and password changes (argon2, as `users create` stores them)."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error
from sqlalchemy.orm import Session

from warroom.auth import sessions
from warroom.auth.models import User
from warroom.auth.service import get_user, verify_password
from warroom.core.errors import Invalid

MIN_LENGTH = 8
MAX_LENGTH = 1024  # argon2 takes any length; a megabyte "password" is a denial of service

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    return _hasher.hash("warroom: no such user")


def check_password(user: User | None, password: str) -> bool:
    """Tell whether `password` is `user`'s; spend the same work when there is no such user."""
    if user is None or not user.password_hash:
        # Verifying against a dummy hash keeps "no such user" as slow as "wrong password",
        # so timing does not tell which names exist.
        with suppress(Argon2Error):
            _hasher.verify(_dummy_hash(), password)
        return False
    return verify_password(user, password)


def check_new_password(password: str) -> str:
    """Return `password` if it is acceptable as a new password, else raise Invalid."""
    if len(password) < MIN_LENGTH:
        raise Invalid(f"a password needs at least {MIN_LENGTH} characters", {"field": "password"})
    if len(password) > MAX_LENGTH:
        raise Invalid(f"a password can have at most {MAX_LENGTH} characters", {"field": "password"})
    return password


def set_password(session: Session, *, name: str, password: str, now: datetime) -> int:
    """Set a user's password and end all of their browser sessions; return how many ended."""
    check_new_password(password)
    user = get_user(session, name)
    user.password_hash = _hasher.hash(password)
    return sessions.end_sessions(session, user_id=user.id, now=now, reason="password changed")
