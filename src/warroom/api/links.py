"""Absolute links warroom hands out: from the configuration, never from the request.

The Host header is whatever the client sent: a page built from it (`Host: evil.example`)
could point everyone who gets it from a shared cache somewhere else. So absolute links come
from `notifications.base_url` (and `status_page.public_url` for the status page); without
them, links stay relative to the site.
"""

from __future__ import annotations

from warroom.runtime import Runtime


def site(runtime: Runtime) -> str:
    """Return the configured base URL without a trailing slash, or "" (links stay relative)."""
    return (runtime.config().notifications.base_url or "").rstrip("/")


def status_page(runtime: Runtime) -> str:
    """Return the public status page's address: `public_url`, else `<base_url>/status`."""
    configured = runtime.config().status_page.public_url
    return (configured or f"{site(runtime)}/status").rstrip("/")
