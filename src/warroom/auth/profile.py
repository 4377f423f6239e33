"""What a signed-in person changes about themselves: page preferences and their own tokens."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.auth import trail
from warroom.auth.models import ApiToken
from warroom.auth.scopes import check_scopes
from warroom.auth.service import create_token, get_user, public_prefix
from warroom.core.errors import Invalid, NotFound

THEMES = ("light", "dark")


@cache
def time_zones() -> tuple[str, ...]:
    """Return the IANA zone names this machine knows, sorted (for the profile's choice)."""
    return tuple(sorted(available_timezones()))


def set_preferences(
    session: Session, *, user: str, time_zone: str | None, theme: str | None
) -> None:
    """Set the zone and theme the pages use for `user`; None goes back to the browser's."""
    if time_zone is not None and time_zone not in time_zones():
        raise Invalid(
            f"unknown time zone {time_zone!r}; use an IANA name such as Europe/Berlin",
            {"field": "time_zone"},
        )
    if theme is not None and theme not in THEMES:
        raise Invalid(f"unknown theme {theme!r}; use light, dark or none", {"field": "theme"})
    row = get_user(session, user)
    row.time_zone = time_zone
    row.theme = theme


def own_tokens(session: Session, *, user: str, now: datetime) -> list[ApiToken]:
    """Return the user's tokens still usable (not revoked, not expired), newest first."""
    owner = get_user(session, user)
    stmt = (
        select(ApiToken)
        .where(ApiToken.user_id == owner.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.id.desc())
    )
    return [t for t in session.scalars(stmt) if t.expires_at is None or t.expires_at > now]


def create_own_token(
    session: Session,
    *,
    user: str,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None,
    now: datetime,
) -> str:
    """Create a token for the user themselves (it can do no more than their role)."""
    if not name.strip():
        raise Invalid("name the token after where it is used (a laptop, a script)")
    granted = check_scopes(scopes)
    token = create_token(
        session,
        user=get_user(session, user),
        name=name.strip(),
        now=now,
        scopes=granted,
        expires_at=expires_at,
    )
    trail.token_created(
        session,
        actor=user,
        at=now,
        owner=user,
        prefix=public_prefix(token),
        label=name.strip()[:64],
        scopes=granted,
        expires_at=expires_at,
    )
    return token


def revoke_own_token(session: Session, *, user: str, token_id: int, now: datetime) -> ApiToken:
    """Revoke one of the user's own tokens; another's is "no such token"."""
    owner = get_user(session, user)
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != owner.id:
        raise NotFound(f"no token {token_id} of yours")
    already = token.revoked_at is not None
    if not already:
        token.revoked_at = now
    trail.token_revoked(session, actor=user, at=now, token=token, owner=user, already=already)
    return token
