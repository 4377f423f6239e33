"""Vendor URLs in warroom.yaml: https everywhere, plain http only to this machine (tests)."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def vendor_url(value: str, field: str) -> SplitResult:
    """Return the parts of an https URL (http only on loopback), or raise ValueError."""
    parts = urlsplit(value.strip())
    loopback = parts.scheme == "http" and parts.hostname in LOOPBACK
    if not (parts.scheme == "https" and parts.hostname) and not loopback:
        raise ValueError(f"{field} {value!r} must be https:// (http:// only on 127.0.0.1)")
    return parts
