"""One-click acknowledge links: signed, bound to one person's page for one incident.

The link names the page run (incident, person, round, step) and when it expires, signed
with HMAC-SHA256 under a random key the migration made (`signing_keys`). It is single use
(the run records its use) and dies with the escalation; a GET only shows a confirm page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from warroom.escalation.models import SigningKey

KEY_NAME = "ack_links"
SIGNATURE_BYTES = 16  # 128 bits: unguessable, and the link stays short enough for an SMS


@dataclass(frozen=True)
class LinkClaims:
    """What a valid link says: whose page for which incident, and until when."""

    incident_id: int
    person: str
    loop: int
    step: int
    expires: datetime


def signing_key(session: Session) -> bytes:
    """Return the installation's link key (made now if the migration did not make one)."""
    found = session.scalar(select(SigningKey.key).where(SigningKey.name == KEY_NAME))
    if found is None:
        # A database built from the models (tests) rather than the migration.
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        row = {"name": KEY_NAME, "key": secrets.token_hex(32), "created_at": datetime.now(UTC)}
        session.execute(dialect.insert(SigningKey).values(row).on_conflict_do_nothing())
        found = session.scalar(select(SigningKey.key).where(SigningKey.name == KEY_NAME))
    assert found is not None
    return bytes.fromhex(found)


def make(
    key: bytes, *, incident_id: int, person: str, loop: int, step: int, expires: datetime
) -> str:
    """Return the token of a link (URL-safe, no padding)."""
    body = f"{incident_id}:{person}:{loop}:{step}:{int(expires.timestamp())}".encode()
    return f"{_b64(body)}.{_b64(_sign(key, body))}"


def read(key: bytes, token: str) -> LinkClaims | None:
    """Return the claims of a genuine token (expired or not); None for anything else."""
    try:
        body_part, signature_part = token.split(".", 1)
        body, signature = _unb64(body_part), _unb64(signature_part)
    except (ValueError, binascii.Error):
        return None
    if not hmac.compare_digest(signature, _sign(key, body)):
        return None
    try:
        incident, person, loop, step, expires = body.decode().split(":")
        claims = LinkClaims(
            int(incident), person, int(loop), int(step), datetime.fromtimestamp(int(expires), UTC)
        )
    except (UnicodeDecodeError, ValueError):
        return None
    return claims


def _sign(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()[:SIGNATURE_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text or len(text) > 200:
        raise ValueError("not a token")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
