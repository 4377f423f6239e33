"""Incident references: `42`, `INC-42` and `inc-42` all name incident 42."""

from __future__ import annotations

PREFIX = "INC-"
MAX_DIGITS = 9  # numbers are 32-bit integer columns


def incident_number(ref: str) -> int | None:
    """Return the number a reference names, or None if it names no incident."""
    text = ref.strip()
    if text.upper().startswith(PREFIX):
        text = text[len(PREFIX) :]
    if not text.isascii() or not text.isdigit() or len(text) > MAX_DIGITS:
        return None
    return int(text)


def incident_ref(number: int) -> str:
    """Return the display reference of an incident number."""
    return f"{PREFIX}{number}"
