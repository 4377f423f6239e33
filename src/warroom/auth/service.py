"""Users, roles and API tokens (tokens are shown once and stored as SHA-256 digests)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import Connection, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from warroom.auth import trail
from warroom.auth.models import ApiToken, User
from warroom.auth.scopes import DEFAULT_SCOPES, check_scopes, parse_scopes, stamp
from warroom.core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from warroom.incidents.actor import ROLES

TOKEN_PREFIX = "wr_"
PREFIX_LENGTH = 10  # the part of a token `tokens list` shows and `tokens revoke` takes
LAST_USED_EVERY = timedelta(minutes=5)  # how stale `last_used_at` may get
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")

_hasher = PasswordHasher()
# Every API request runs it: columns, not entities, in a statement built once (SQLAlchemy
# keeps its cache key); docs/adr/010-access-control-cost.md.
BY_DIGEST = (
    select(
        ApiToken.id,
        ApiToken.prefix,
        ApiToken.scopes,
        ApiToken.revoked_at,
        ApiToken.expires_at,
        ApiToken.last_used_at,
        User.id.label("user_id"),
        User.name.label("user_name"),
        User.role.label("user_role"),
        User.disabled_at.label("user_disabled_at"),
        User.sso_teams.label("user_sso_teams"),
    )
    .join(User, ApiToken.user_id == User.id)
    .where(ApiToken.digest == bindparam("digest"))
)


class TokenRejected(Unauthorized):
    """A token was sent that does not work: unknown, revoked, expired, or its user disabled."""

    def __init__(
        self, message: str, *, reason: str, prefix: str | None, owner: str | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.prefix = prefix  # public: what `tokens list` shows (None for an unknown token)
        self.owner = owner


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    user_id: int
    name: str
    role: str
    token_id: int | None = None
    scopes: frozenset[str] = frozenset(DEFAULT_SCOPES)
    # Set when the token's last use is older than LAST_USED_EVERY: the caller records it.
    touch_token: bool = False
    sso_teams: frozenset[str] = frozenset()  # teams single sign-on's groups gave the user

    def require(self, role: str) -> None:
        """Raise Forbidden unless this principal's role is at least `role`."""
        if ROLES.index(self.role) < ROLES.index(role):
            raise Forbidden(f"this needs the {role} role; {self.name} is a {self.role}")


def check_role(role: str) -> str:
    """Return `role` if it is known, else raise Invalid listing the roles."""
    if role not in ROLES:
        raise Invalid(f"unknown role {role!r}; use one of {', '.join(ROLES)}", {"field": "role"})
    return role


def check_name(name: str) -> str:
    """Return `name` if it can be a user name, else raise Invalid saying what one looks like."""
    if not NAME_PATTERN.match(name):
        raise Invalid(
            f"user name {name!r} must be 1-64 letters, digits, '_', '.', '@' or '-'",
            {"field": "name"},
        )
    return name


def public_prefix(token: str) -> str:
    """Return the part of a token that may be shown: its first characters."""
    return token[:PREFIX_LENGTH]


def digest(token: str) -> str:
    """Return the stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session,
    *,
    name: str,
    role: str,
    now: datetime,
    password: str | None = None,
    service_account: bool = False,
) -> User:
    """Create a user; raise Conflict if the name is taken."""
    check_name(name)
    check_role(role)
    if session.scalars(select(User).where(User.name == name)).first() is not None:
        raise Conflict(f"user {name!r} already exists")
    user = User(
        name=name,
        role=role,
        created_at=now,
        password_hash=_hasher.hash(password) if password else None,
        service_account=service_account,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"user {name!r} already exists") from exc
    return user


def get_user(session: Session, name: str) -> User:
    """Return the user called `name`, or raise NotFound."""
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


def list_users(session: Session) -> list[User]:
    """Return every user, by name."""
    return list(session.scalars(select(User).order_by(User.name)))


def count_users(session: Session) -> int:
    """Return how many users exist."""
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def verify_password(user: User, password: str) -> bool:
    """Tell whether `password` is this user's password."""
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except Exception:  # argon2 raises several mismatch/invalid-hash types
        return False


def create_token(
    session: Session,
    *,
    user: User,
    name: str,
    now: datetime,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    expires_at: datetime | None = None,
) -> str:
    """Create an API token for `user` and return it; only its digest is kept."""
    if user.disabled_at is not None:  # its first use would fail: say so now
        raise Conflict(f"user {user.name!r} is disabled; enable them first (warroom users enable)")
    granted = check_scopes(scopes)
    if expires_at is not None and expires_at <= now:
        raise Invalid(f"the expiry {stamp(expires_at)} is not in the future", {"field": "expires"})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            name=name[:64],
            prefix=public_prefix(token),
            digest=digest(token),
            created_at=now,
            scopes=" ".join(granted),
            expires_at=expires_at,
        )
    )
    session.flush()
    return token


def list_tokens(session: Session, *, user: str | None = None) -> list[ApiToken]:
    """Return tokens (never their secret), newest first, optionally of one user."""
    stmt = select(ApiToken).order_by(ApiToken.id.desc())
    if user is not None:
        stmt = stmt.where(ApiToken.user_id == get_user(session, user).id)
    return list(session.scalars(stmt))


def revoke_token(session: Session, *, prefix: str, now: datetime) -> ApiToken:
    """Revoke the one token whose visible prefix starts with `prefix`."""
    token = find_token(session, prefix=prefix)
    if token.revoked_at is None:
        token.revoked_at = now
    return token


def find_token(session: Session, *, prefix: str) -> ApiToken:
    """Return the one token whose visible prefix starts with `prefix`, or raise."""
    if len(prefix) < 6:
        raise Invalid("give at least the first 6 characters of the token (e.g. wr_AbC)")
    matches = list(session.scalars(select(ApiToken).where(ApiToken.prefix.startswith(prefix[:10]))))
    if not matches:
        raise NotFound(f"no token starting with {prefix!r}")
    if len(matches) > 1:
        raise Conflict(f"{len(matches)} tokens start with {prefix!r}; give more characters")
    return matches[0]


def authenticate(session: Session | Connection, *, token: str, now: datetime) -> Principal:
    """Return the principal a bearer token belongs to, or raise Unauthorized."""
    row = session.execute(BY_DIGEST, {"digest": digest(token)}).first()
    if row is None:
        # Only what looks like one of ours has a prefix worth keeping: anything else could be
        # another system's secret, pasted by mistake.
        ours = token.startswith(TOKEN_PREFIX) and len(token) > 2 * PREFIX_LENGTH
        raise TokenRejected(
            "the API token is not valid (unknown)",
            reason="unknown",
            prefix=public_prefix(token) if ours else None,
        )
    # The user first: disabling a user revokes their tokens, and "disabled" says why.
    if row.user_disabled_at is not None:
        raise TokenRejected(
            f"user {row.user_name!r} is disabled",
            reason="user_disabled",
            prefix=row.prefix,
            owner=row.user_name,
        )
    if row.revoked_at is not None:
        raise TokenRejected(
            f"the API token {row.prefix}… was revoked at {stamp(row.revoked_at)}",
            reason="revoked",
            prefix=row.prefix,
            owner=row.user_name,
        )
    if row.expires_at is not None and row.expires_at <= now:
        raise TokenRejected(
            f"the API token {row.prefix}… expired at {stamp(row.expires_at)}",
            reason="expired",
            prefix=row.prefix,
            owner=row.user_name,
        )
    stale = row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY
    return Principal(
        user_id=row.user_id,
        name=row.user_name,
        role=row.user_role,
        token_id=row.id,
        scopes=parse_scopes(row.scopes),
        touch_token=stale,
        sso_teams=sso_teams(row.user_sso_teams),
    )


def sso_teams(stored: str | None) -> frozenset[str]:
    """Return the teams a user's last single sign-on gave them (`users.sso_teams`)."""
    return frozenset((stored or "").split())


def record_use(session: Session, *, token_id: int, now: datetime) -> None:
    """Stamp a token's last use (at most every LAST_USED_EVERY: a write per request is waste)."""
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_EVERY),
        )
        .values(last_used_at=now)
    )


def bootstrap_admin(session: Session, *, now: datetime) -> tuple[str, str] | None:
    """On an empty database create user `admin`; return (password, token) to show once."""
    if count_users(session) > 0:
        return None
    password = secrets.token_urlsafe(12)
    # Not one of warroom.yaml's people: the first start's admin is a service account.
    user = create_user(
        session, name="admin", role="admin", now=now, password=password, service_account=True
    )
    token = create_token(session, user=user, name="bootstrap", now=now)
    trail.user_created(session, actor=trail.FIRST_START, at=now, user=user, via="first start")
    trail.token_created(
        session,
        actor=trail.FIRST_START,
        at=now,
        owner=user.name,
        prefix=public_prefix(token),
        label="bootstrap",
        scopes=DEFAULT_SCOPES,
        expires_at=None,
    )
    return password, token
