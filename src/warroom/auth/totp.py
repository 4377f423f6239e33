"""TOTP second factor: the rows, the codes (pyotp) and recovery codes (stored as SHA-256)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

import pyotp
from pyotp.utils import strings_equal
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from warroom.storage.base import Base, UTCDateTime

ISSUER = "warroom"
DIGITS = 6
INTERVAL = 30  # seconds per code; what every authenticator app assumes
VALID_WINDOW = 1  # the step before and after too: ±30 s of clock drift between phone and server
RECOVERY_CODES = 10
# 16 characters of a 32-letter alphabet (80 bits): far beyond guessing at 5 tries per 15
# minutes, and beyond brute-forcing the SHA-256 digests of a stolen database. No 0/o, 1/l.
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 16
_SIX_DIGITS = re.compile(r"[0-9]{6}")  # ASCII only: \d would take other scripts' digits


class UserTotp(Base):
    """A user's TOTP secret; it counts only once confirmed with a first code."""

    __tablename__ = "user_totp"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # Base32, stored as is: warroom has no key to encrypt it with (docs/security.md says so).
    secret: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The time step of the last code accepted: a code of that step or before is refused, so
    # a code seen over someone's shoulder cannot be used again within its window.
    last_step: Mapped[int | None] = mapped_column(Integer)


class RecoveryCode(Base):
    """A one-time code for when the authenticator is lost; only its SHA-256 digest is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def new_secret() -> str:
    """Return a new random TOTP secret (base32, 160 bits as RFC 4226 recommends)."""
    return pyotp.random_base32(length=32)


def otpauth_uri(secret: str, *, user: str) -> str:
    """Return the otpauth:// URI an authenticator app reads (as text or a QR code)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(
        name=user, issuer_name=ISSUER
    )


def normalise_code(code: str) -> str:
    """Return a code as typed without its spaces (apps show `123 456`)."""
    return "".join(code.split())


def is_totp_code(code: str) -> bool:
    """Tell whether `code` looks like a TOTP code (6 digits) rather than a recovery code."""
    return bool(_SIX_DIGITS.fullmatch(normalise_code(code)))


def matching_step(secret: str, code: str, *, now: datetime) -> int | None:
    """Return the time step whose code `code` is (within VALID_WINDOW), or None."""
    if not is_totp_code(code):
        return None
    code = normalise_code(code)
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
    current = totp.timecode(now)
    # pyotp's verify() says only yes or no; the step is what replay protection needs.
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if strings_equal(code, totp.generate_otp(step)):
            return step
    return None


def code_at(secret: str, when: datetime) -> str:
    """Return the code an authenticator shows at `when` (for tests and the demo)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).at(when)


def new_recovery_codes() -> list[str]:
    """Return RECOVERY_CODES new recovery codes, e.g. `k7mp-x2qa-9rtv-bc4e`."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
    return codes


def normalise_recovery_code(code: str) -> str:
    """Return a recovery code as stored: lower case, without dashes or spaces."""
    return re.sub(r"[\s-]", "", code).lower()


def recovery_digest(code: str) -> str:
    """Return the stored form of a recovery code."""
    # SHA-256 without salt is enough for 80 random bits, and lets sign-in find the code by
    # its digest instead of running argon2 against each of ten hashes.
    return hashlib.sha256(normalise_recovery_code(code).encode()).hexdigest()
