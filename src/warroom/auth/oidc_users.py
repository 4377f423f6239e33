"""Who an ID token is: its subject, e-mail or user name → a user; its groups → role and teams."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.auth.models import User
from warroom.auth.oidc_config import OidcConfig
from warroom.auth.oidc_models import OidcIdentity
from warroom.auth.service import create_user
from warroom.core.errors import Forbidden

if TYPE_CHECKING:
    from warroom.organisation import PersonConfig

log = logging.getLogger("warroom.auth")


@dataclass(frozen=True)
class Mapped:
    """The user an ID token signs in as, and what changed on the way."""

    user: User
    created: bool
    role_changed: tuple[str, str] | None  # (before, after)


def groups_of(claims: dict[str, Any], claim: str) -> list[str]:
    """Return the token's groups: a list of strings, or one space-separated string."""
    value = claims.get(claim)
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [g for g in value if isinstance(g, str)]
    return []


def person_for(
    claims: dict[str, Any], config: OidcConfig, people: Sequence[PersonConfig]
) -> str | None:
    """Return the person id (or, with no people configured, user name) the claims name."""
    value = claims.get(config.user_claim)
    if not isinstance(value, str) or not value:
        return None
    if config.user_claim == "email":
        if claims.get("email_verified") is False:
            # An address the provider has not verified could be anyone's: never link on it.
            raise Forbidden(f"the identity provider has not verified the e-mail {value!r}")
        wanted = value.casefold()
        return next((p.id for p in people if p.email and p.email.casefold() == wanted), None)
    if not people or any(p.id == value for p in people):
        return value
    return None


def _by_subject(session: Session, issuer: str, subject: str) -> OidcIdentity | None:
    stmt = select(OidcIdentity).where(
        OidcIdentity.issuer == issuer, OidcIdentity.subject == subject
    )
    return session.scalars(stmt).first()


def find_or_create(
    session: Session,
    *,
    claims: dict[str, Any],
    config: OidcConfig,
    people: Sequence[PersonConfig],
    now: datetime,
) -> Mapped:
    """Return the user the claims sign in as, linking the subject; raise Forbidden if none."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= 255:  # OIDC caps it at 255
        raise Forbidden("the ID token's subject (sub) is missing or longer than 255 characters")
    issuer = config.issuer
    identity = _by_subject(session, issuer, subject)
    groups = groups_of(claims, config.groups_claim)
    role = config.role_of(groups)
    if config.roles and role is None:
        raise Forbidden(
            f"none of your groups ({', '.join(groups) or 'none sent'}) maps to a role in "
            "auth.oidc.roles; ask an admin to add one"
        )
    created = False
    if identity is not None:
        user = session.get(User, identity.user_id)
        assert user is not None  # the foreign key cascades
    else:
        name = person_for(claims, config, people)
        if name is None:
            shown = claims.get(config.user_claim)
            raise Forbidden(
                f"no person in warroom.yaml matches {config.user_claim} {shown!r}; "
                "ask an admin to add you to people:"
            )
        found = session.scalars(select(User).where(User.name == name)).first()
        if found is None:
            if not config.create_users or not people:
                why = "auth.oidc.create_users is off" if people else "no people: are configured"
                raise Forbidden(
                    f"there is no user {name!r} and {why}; "
                    f"ask an admin to run `warroom users create {name}`"
                )
            found = create_user(session, name=name, role=role or config.default_role, now=now)
            log.info("single sign-on created user %s with role %s", name, found.role)
            created = True
        user = found
        identity = OidcIdentity(
            user_id=user.id, issuer=issuer, subject=subject, created_at=now, last_sign_in_at=now
        )
        session.add(identity)
    if user.disabled_at is not None:
        raise Forbidden(f"user {user.name!r} is disabled; ask an admin to enable them")
    if user.service_account:
        raise Forbidden(f"{user.name!r} is a service account: it cannot sign in with SSO")
    identity.last_sign_in_at = now
    changed = _apply_role(session, user, role) if role is not None and not created else None
    if config.teams:
        user.sso_teams = " ".join(config.teams_of(groups)) or None
    session.flush()
    return Mapped(user=user, created=created, role_changed=changed)


def _apply_role(session: Session, user: User, role: str) -> tuple[str, str] | None:
    """Set the role the groups give; the last enabled admin stays one (as `users set-role`)."""
    if user.role == role:
        return None
    if user.role == "admin":
        admins = select(User.id).where(User.role == "admin", User.disabled_at.is_(None))
        if len(list(session.scalars(admins.with_for_update()))) <= 1:
            log.warning(
                "single sign-on would make %s a %s, but they are the last enabled admin: "
                "kept admin",
                user.name,
                role,
            )
            return None
    before = user.role
    user.role = role
    log.info(
        "single sign-on changed %s's role from %s to %s (auth.oidc.roles)", user.name, before, role
    )
    return before, role
