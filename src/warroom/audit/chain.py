"""The hash chain: each entry's canonical form (RFC 8785) and its SHA-256 over the previous hash."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS = "0" * 64  # the "previous hash" of the first entry
# JSON numbers beyond this lose precision in the JavaScript model RFC 8785 follows.
MAX_SAFE_INTEGER = 2**53 - 1
_ASTRAL = re.compile(rb"[\xf0-\xf4]")  # the lead byte of a character beyond U+FFFF


def timestamp(at: datetime) -> str:
    """Return `at` as the chain writes it: UTC, microseconds, a trailing Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utf16_key(item: tuple[str, Any]) -> bytes:
    return item[0].encode("utf-16-be")


def _jcs_ready(value: Any) -> Any:
    """Return `value` with every object's members in RFC 8785 order (UTF-16 code units)."""
    if isinstance(value, dict):
        return {k: _jcs_ready(v) for k, v in sorted(value.items(), key=_utf16_key)}
    if isinstance(value, list):
        return [_jcs_ready(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return value
    raise ValueError(f"audit details hold strings, safe integers, booleans and null: {value!r}")


def canonical_unchecked(entry: dict[str, Any]) -> bytes:
    """Return `canonical(entry)` for an entry that was checked when it was written, faster.

    orjson's own member order is by code point, which is RFC 8785's UTF-16 order unless a
    name holds a character beyond U+FFFF (four UTF-8 bytes): then the exact path decides.
    What was tampered with may not be canonical at all: it then fails its hash either way.
    """
    out = orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)
    if out.isascii() or _ASTRAL.search(out) is None:  # isascii: a fast scan, most entries
        return out
    try:
        return canonical(entry)
    except ValueError:
        return out


def canonical(entry: dict[str, Any]) -> bytes:
    """Return the RFC 8785 (JCS) serialisation of `entry`.

    orjson writes what JCS asks of strings, integers, true, false and null (UTF-8, the JSON
    short escapes, lowercase \\u00XX for other control characters, no whitespace); members
    are ordered here by UTF-16 code units, where orjson's own sort would use code points.
    Floats are refused: audit details carry numbers as integers or text.
    """
    return orjson.dumps(_jcs_ready(entry))


def entry_hash(prev_hash: str, entry: dict[str, Any], *, checked: bool = False) -> str:
    """Return the hex SHA-256 of the previous hash, a line break and the entry's canonical
    form (`checked`: the entry's values were checked when written, see canonical_unchecked)."""
    form = canonical_unchecked(entry) if checked else canonical(entry)
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + form).hexdigest()


def hashed_fields(
    *,
    seq: int,
    at: datetime,
    actor: str,
    client: str | None,
    action: str,
    target: str | None,
    outcome: str,
    details: dict[str, Any],
) -> dict[str, Any]:
    """Return the members of an entry that its hash covers."""
    return {
        "seq": seq,
        "at": timestamp(at),
        "actor": actor,
        "client": client,
        "action": action,
        "target": target,
        "outcome": outcome,
        "details": details,
    }
