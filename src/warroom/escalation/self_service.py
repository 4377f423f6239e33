"""A person's own contact methods, verified by a code (their rules: self_service_rules.py).

Methods from warroom.yaml are the admins' and trusted; a method added here is used for pages
only once the code sent to its address came back. Codes are kept as SHA-256 digests only.
Keyword-only functions on a session and plain values: the routes send the codes.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.errors import Conflict, Invalid, NotFound
from warroom.escalation.models import ContactMethod, PersonalRules
from warroom.notify.push_config import DEFAULT_SCHEMES
from warroom.notify.push_hosts import inside_network
from warroom.organisation import CONTACT_KINDS, KIND_NAMES, check_address

if TYPE_CHECKING:
    from warroom.config import WarroomConfig
    from warroom.organisation import PersonConfig

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=15)
RESEND_AFTER = timedelta(seconds=30)
MAX_ATTEMPTS = 5  # wrong codes before that code is dead and a new one is needed
MAX_METHODS = 10  # a person's own methods (warroom.yaml's do not count)
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
NAME_RULE = "1 to 32 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
OWN, CONFIGURED = "own", "warroom.yaml"


@dataclass(frozen=True)
class MethodView:
    """One contact method as its owner sees it."""

    name: str
    kind: str
    address: str
    source: str  # "warroom.yaml" (read-only) or "own"
    verified: bool
    created_at: datetime | None = None
    verified_at: datetime | None = None
    code_sent_at: datetime | None = None  # a code waits for confirmation

    @property
    def read_only(self) -> bool:
        """Tell whether only warroom.yaml can change it."""
        return self.source == CONFIGURED


@dataclass(frozen=True)
class Verification:
    """What came of a code: right (verified), or wrong with how many tries are left."""

    ok: bool
    message: str
    attempts_left: int


def new_code() -> str:
    """Return a fresh random 6-digit code."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def digest(code: str) -> str:
    """Return the hex SHA-256 a code is stored as."""
    return hashlib.sha256(code.encode()).hexdigest()


def person_of(config: WarroomConfig, person: str) -> PersonConfig:
    """Return the person of warroom.yaml, or raise Conflict: only people can be paged."""
    found = config.person(person)
    if found is None:
        raise Conflict(
            f"{person} is not a person under `people:` in warroom.yaml, so warroom cannot page "
            "them: ask an admin to add them there first"
        )
    return found


def list_methods(session: Session, *, config: WarroomConfig, person: str) -> list[MethodView]:
    """Return the person's methods: warroom.yaml's (read-only) first, then their own."""
    configured = [
        MethodView(m.id, m.type, m.to, CONFIGURED, True)
        for m in person_of(config, person).methods()
    ]
    return configured + [view_of(row) for row in _own(session, person)]


def check_new(
    session: Session, *, config: WarroomConfig, person: str, name: str, kind: str, address: str
) -> str:
    """Return the address as it will be stored if the method may be added, else raise."""
    configured = [m.id for m in person_of(config, person).methods()]
    if not NAME.match(name):
        raise Invalid(f"name {name!r} is not {NAME_RULE}", {"field": "name"})
    if name in CONTACT_KINDS:
        raise Invalid(
            f"name {name!r} is a type of contact method (rules use it for every "
            f"{KIND_NAMES[name]} method); pick another, such as 'my-{name}'",
            {"field": "name"},
        )
    if name in configured:
        raise Conflict(f"{name!r} is already one of your contact methods, from warroom.yaml")
    own = _own(session, person)
    if any(row.name == name for row in own):
        raise Conflict(f"you already have a contact method named {name!r}")
    if len(own) >= MAX_METHODS:
        raise Conflict(
            f"you have {MAX_METHODS} contact methods of your own, the most allowed: "
            "remove one first"
        )
    try:
        stored = check_address(kind, address)
    except ValueError as exc:
        raise Invalid(str(exc), {"field": "type" if kind not in CONTACT_KINDS else "to"}) from None
    scheme = stored.split("://", 1)[0].lower()
    settings = config.integrations.push
    allowed = settings.schemes if settings is not None else DEFAULT_SCHEMES
    if kind == "push" and scheme not in allowed:
        # Push services only: a `json://` URL would make warroom POST wherever it points.
        raise Invalid(
            f"push URLs of type {scheme}:// are not allowed; use one of "
            f"{', '.join(allowed)} (integrations.push.schemes)",
            {"field": "to"},
        )
    if kind == "push" and not (settings and settings.private_hosts) and inside_network(stored):
        raise Invalid(
            "push URLs to hosts of warroom's own network are not allowed for methods you add "
            "(an admin may allow them: integrations.push.private_hosts)",
            {"field": "to"},
        )
    return stored


def add(
    session: Session,
    *,
    config: WarroomConfig,
    person: str,
    name: str,
    kind: str,
    address: str,
    now: datetime,
    code: str | None = None,
) -> tuple[ContactMethod, str]:
    """Add an unverified method; return it and the code to send (only its digest is kept)."""
    stored = check_new(session, config=config, person=person, name=name, kind=kind, address=address)
    code = code or new_code()
    row = ContactMethod(
        person=person,
        name=name,
        kind=kind,
        address=stored,
        created_at=now,
        code_hash=digest(code),
        code_sent_at=now,
        code_attempts=0,
    )
    session.add(row)
    session.flush()
    return row, code


def check_resend(
    session: Session,
    *,
    config: WarroomConfig,
    person: str,
    name: str,
    now: datetime,
    lock: bool = False,
) -> ContactMethod:
    """Return the method if a new code may be sent to it now, else raise."""
    row = _unverified(session, config=config, person=person, name=name, lock=lock)
    if row.code_sent_at is not None and now - row.code_sent_at < RESEND_AFTER:
        wait = max(1, math.ceil((RESEND_AFTER - (now - row.code_sent_at)).total_seconds()))
        raise Conflict(
            f"a code was sent to {name!r} less than {int(RESEND_AFTER.total_seconds())} s ago; "
            f"ask again in {wait} s",
            {"retry_after": wait},
        )
    return row


def resend(
    session: Session,
    *,
    config: WarroomConfig,
    person: str,
    name: str,
    now: datetime,
    code: str | None = None,
) -> tuple[ContactMethod, str]:
    """Replace the method's code with a new one (the old one stops working); return both."""
    row = check_resend(session, config=config, person=person, name=name, now=now, lock=True)
    code = code or new_code()
    row.code_hash, row.code_sent_at, row.code_attempts = digest(code), now, 0
    return row, code


def verify(
    session: Session, *, config: WarroomConfig, person: str, name: str, code: str, now: datetime
) -> Verification:
    """Check a code: right verifies the method; wrong counts an attempt (commit either way)."""
    row = _unverified(session, config=config, person=person, name=name, lock=True)
    if row.code_hash is None or row.code_sent_at is None:
        raise Conflict(f"no code is waiting for {name!r}: ask for one with resend")
    if row.code_attempts >= MAX_ATTEMPTS:
        raise Conflict(
            f"{MAX_ATTEMPTS} wrong codes for {name!r}: that code no longer works, "
            "ask for a new one with resend"
        )
    if now - row.code_sent_at > CODE_LIFETIME:
        minutes = int(CODE_LIFETIME.total_seconds() // 60)
        raise Conflict(
            f"the code for {name!r} has expired (codes last {minutes} minutes): "
            "ask for a new one with resend"
        )
    given = "".join(code.split())
    # Both sides are digests of equal length: the comparison takes the same time either way.
    if hmac.compare_digest(digest(given), row.code_hash):
        row.verified_at, row.code_hash, row.code_sent_at, row.code_attempts = now, None, None, 0
        return Verification(True, f"{name} is verified: pages can use it now", MAX_ATTEMPTS)
    row.code_attempts += 1
    left = MAX_ATTEMPTS - row.code_attempts
    if left:
        return Verification(False, f"wrong code for {name!r}; {left} attempt(s) left", left)
    return Verification(
        False, f"wrong code for {name!r}; that was the last attempt: ask for a new code", 0
    )


def remove(session: Session, *, config: WarroomConfig, person: str, name: str) -> list[str]:
    """Remove one of the person's own methods; return warnings (rules that named it)."""
    row = _owned(session, config=config, person=person, name=name)
    session.delete(row)
    session.flush()
    own = session.get(PersonalRules, person)
    steps = own.steps if own is not None else []
    if any(name in step.get("via", []) for step in steps):
        return [
            f"your notification rules name {name!r}: those steps now skip it "
            "(change them with `warroom me rules set`)"
        ]
    return []


def view_of(row: ContactMethod) -> MethodView:
    """Return a method added through the API as its owner sees it."""
    return MethodView(
        row.name,
        row.kind,
        row.address,
        OWN,
        row.verified_at is not None,
        row.created_at,
        row.verified_at,
        row.code_sent_at,
    )


def _own(session: Session, person: str) -> list[ContactMethod]:
    stmt = select(ContactMethod).where(ContactMethod.person == person).order_by(ContactMethod.id)
    return list(session.scalars(stmt))


def _owned(
    session: Session, *, config: WarroomConfig, person: str, name: str, lock: bool = False
) -> ContactMethod:
    """Return the person's own method `name`; raise if it is warroom.yaml's or absent.

    `lock` holds the row (PostgreSQL) so that parallel guesses cannot share one attempt count.
    """
    if name in [m.id for m in person_of(config, person).methods()]:
        raise Conflict(
            f"{name!r} comes from warroom.yaml: only an admin can change it there "
            "(it needs no verification)"
        )
    stmt = select(ContactMethod).where(ContactMethod.person == person, ContactMethod.name == name)
    row = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        raise NotFound(f"you have no contact method named {name!r}")
    return row


def _unverified(
    session: Session, *, config: WarroomConfig, person: str, name: str, lock: bool = False
) -> ContactMethod:
    row = _owned(session, config=config, person=person, name=name, lock=lock)
    if row.verified_at is not None:
        raise Conflict(f"{name!r} is verified already")
    return row
