"""Browser sessions: rows keyed by the SHA-256 of an opaque id that only the cookie holds."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Boolean, Connection, ForeignKey, Integer, String, bindparam, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from warroom.auth.config import SessionsConfig
from warroom.auth.models import User
from warroom.auth.service import Principal, sso_teams
from warroom.core.errors import Unauthorized
from warroom.storage.base import Base, UTCDateTime

COOKIE = "warroom_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
LAST_SEEN_EVERY = timedelta(minutes=1)  # how stale `last_seen_at` may get (idle precision)
ENDED = "the session has ended or expired; sign in again"


class BrowserSession(Base):
    """A signed-in browser; the cookie's id is never stored, only its digest."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)  # absolute
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(32))
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    sso: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # single sign-on

    user: Mapped[User] = relationship(lazy="joined")


# Every cookie-authenticated request runs it: columns, not entities, in a statement built
# once (SQLAlchemy keeps its cache key); docs/adr/010-access-control-cost.md.
BY_DIGEST = (
    select(
        BrowserSession.id,
        BrowserSession.created_at,
        BrowserSession.last_seen_at,
        BrowserSession.expires_at,
        BrowserSession.ended_at,
        BrowserSession.sso,
        User.id.label("user_id"),
        User.name.label("user_name"),
        User.role.label("user_role"),
        User.disabled_at.label("user_disabled_at"),
        User.sso_teams.label("user_sso_teams"),
        User.time_zone.label("user_time_zone"),
        User.theme.label("user_theme"),
    )
    .join(User, BrowserSession.user_id == User.id)
    .where(BrowserSession.digest == bindparam("digest"))
)


class SessionExpired(Unauthorized):
    """A cookie names a session past its idle or absolute timeout that nothing has ended yet."""

    def __init__(self, *, session_id: int, user: str, reason: str, expired_at: datetime) -> None:
        super().__init__(ENDED)
        self.session_id = session_id
        self.user = user
        self.reason = reason  # "idle" or "absolute"
        self.expired_at = expired_at


@dataclass(frozen=True)
class Started:
    """A new session: the cookie value and CSRF token go to the browser once."""

    secret: str
    csrf_token: str
    row: BrowserSession


@dataclass(frozen=True)
class SessionInfo:
    """What a cookie-authenticated request knows about its session."""

    principal: Principal
    session_id: int
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    idle_expires_at: datetime
    sso: bool  # signed in with single sign-on
    touch: bool  # last_seen_at is older than LAST_SEEN_EVERY: the caller records the use
    time_zone: str | None = None  # the user's chosen zone for pages (None: the browser's)
    theme: str | None = None  # light or dark (None: the system's)


def digest(secret: str) -> str:
    """Return the stored form of a session id."""
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_of(secret: str) -> str:
    """Return the session's CSRF token, derived from its id so nothing more is stored."""
    # Keyed by the secret id: without the cookie no one can compute it, and it is not the
    # stored digest, so a read of the table does not yield it either.
    return hmac.new(secret.encode(), b"warroom-csrf", hashlib.sha256).hexdigest()


def csrf_matches(secret: str, given: str | None) -> bool:
    """Tell whether `given` is this session's CSRF token (in constant time)."""
    return given is not None and hmac.compare_digest(csrf_of(secret), given)


def start_session(
    session: Session,
    *,
    user: User,
    now: datetime,
    config: SessionsConfig,
    client_address: str | None,
    user_agent: str | None,
    sso: bool = False,
) -> Started:
    """Create a session for `user` and return its new secret id (shown to the browser only)."""
    secret = secrets.token_urlsafe(32)
    row = BrowserSession(
        user_id=user.id,
        digest=digest(secret),
        created_at=now,
        last_seen_at=now,
        expires_at=now + config.absolute_timeout,
        client_address=(client_address or None) and client_address[:64],
        user_agent=(user_agent or None) and user_agent[:255],
        sso=sso,
    )
    session.add(row)
    session.flush()
    return Started(secret=secret, csrf_token=csrf_of(secret), row=row)


def authenticate_session(
    session: Session | Connection, *, secret: str, now: datetime, config: SessionsConfig
) -> SessionInfo:
    """Return who a session cookie belongs to, or raise Unauthorized."""
    found = session.execute(BY_DIGEST, {"digest": digest(secret)}).first()
    if found is None or found.ended_at is not None:
        raise Unauthorized(ENDED)
    idle_end = found.last_seen_at + config.idle_timeout
    if now >= found.expires_at or now >= idle_end:
        raise SessionExpired(
            session_id=found.id,
            user=found.user_name,
            reason="absolute" if found.expires_at <= idle_end else "idle",
            expired_at=min(found.expires_at, idle_end),
        )
    if found.user_disabled_at is not None:
        raise Unauthorized(f"user {found.user_name!r} is disabled")
    touch = now - found.last_seen_at >= LAST_SEEN_EVERY
    seen = now if touch else found.last_seen_at  # what the table holds after this request
    return SessionInfo(
        principal=Principal(
            user_id=found.user_id,
            name=found.user_name,
            role=found.user_role,
            sso_teams=sso_teams(found.user_sso_teams),
        ),
        session_id=found.id,
        csrf_token=csrf_of(secret),
        created_at=found.created_at,
        expires_at=found.expires_at,
        idle_expires_at=min(seen + config.idle_timeout, found.expires_at),
        sso=found.sso,
        touch=touch,
        time_zone=found.user_time_zone,
        theme=found.user_theme,
    )


def record_seen(session: Session, *, session_id: int, now: datetime) -> None:
    """Stamp a session's last use (at most every LAST_SEEN_EVERY: a write per request is waste)."""
    session.execute(
        update(BrowserSession)
        .where(
            BrowserSession.id == session_id,
            BrowserSession.ended_at.is_(None),
            BrowserSession.last_seen_at < now - LAST_SEEN_EVERY,
        )
        .values(last_seen_at=now)
    )


def expire(session: Session, *, expired: SessionExpired) -> bool:
    """End a timed-out session as of its timeout; tell whether this call ended it (once)."""
    reason = "idle timeout" if expired.reason == "idle" else "expired"
    result = session.execute(
        update(BrowserSession)
        .where(BrowserSession.id == expired.session_id, BrowserSession.ended_at.is_(None))
        .values(ended_at=expired.expired_at, end_reason=reason)
    )
    return bool(getattr(result, "rowcount", 0))


def live_owner(session: Session, *, secret: str) -> tuple[int, str] | None:
    """Return the row number and user name of the live session with this secret id."""
    stmt = (
        select(BrowserSession.id, User.name)
        .join(User, BrowserSession.user_id == User.id)
        .where(BrowserSession.digest == digest(secret), BrowserSession.ended_at.is_(None))
    )
    row = session.execute(stmt).first()
    return (int(row[0]), str(row[1])) if row is not None else None


def end_session(session: Session, *, secret: str, now: datetime, reason: str) -> bool:
    """End the session with this secret id; tell whether a live one was ended."""
    result = session.execute(
        update(BrowserSession)
        .where(BrowserSession.digest == digest(secret), BrowserSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason[:32])
    )
    return bool(getattr(result, "rowcount", 0))


def end_sessions(
    session: Session, *, user_id: int, now: datetime, reason: str = "ended by an admin"
) -> int:
    """End every live session of a user (password changed, user disabled); return how many."""
    result = session.execute(
        update(BrowserSession)
        .where(BrowserSession.user_id == user_id, BrowserSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason[:32])
    )
    return int(getattr(result, "rowcount", 0))


def live_sessions(session: Session, *, user_id: int, now: datetime) -> list[BrowserSession]:
    """Return a user's sessions not ended and not past their absolute expiry, newest first."""
    stmt = (
        select(BrowserSession)
        .where(
            BrowserSession.user_id == user_id,
            BrowserSession.ended_at.is_(None),
            BrowserSession.expires_at > now,
        )
        .order_by(BrowserSession.id.desc())
    )
    return list(session.scalars(stmt))
