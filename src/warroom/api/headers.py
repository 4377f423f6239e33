"""Security headers on every response, whichever route, error handler or mount made it.

Pages set their own Content-Security-Policy (the signed-in pages, the status page, the API
explorer); this middleware keeps it and adds what is missing: `nosniff` everywhere, a
policy with `frame-ancestors 'none'` on any HTML that has none, a script-free policy on
every SVG, a Referrer-Policy, and HSTS when warroom is served over https.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The signed-in pages' policy: script and style from warroom itself only, no framing.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# An SVG opened on its own is a document that could run script: it may only style itself.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
# JSON, feeds, CSV, calendars: nothing to load, nothing to frame.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"


def served_over_https(scope: Scope) -> bool:
    """Tell whether the request came over https or the configured base URL is https.

    The scheme is the one uvicorn sees: behind a TLS-terminating proxy, with
    `--proxy-headers`, it is X-Forwarded-Proto from a trusted proxy (FORWARDED_ALLOW_IPS).
    `notifications.base_url` covers a proxy that does not send it.
    """
    if scope.get("scheme") == "https":
        return True
    app = scope.get("app")
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    if runtime is None:
        return False
    base_url = runtime.config().notifications.base_url or ""
    return bool(base_url.lower().startswith("https://"))


class SecurityHeaders:
    """Add the security headers a response lacks (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                secure(MutableHeaders(scope=message), https=served_over_https(scope))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def secure(headers: MutableHeaders, *, https: bool) -> None:
    """Add the missing security headers to a response's `headers`."""
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    policy = headers.get("content-security-policy")
    if kind == "image/svg+xml":
        headers["Content-Security-Policy"] = SVG_CSP
    elif policy is None:
        headers["Content-Security-Policy"] = PAGE_CSP if kind == "text/html" else DATA_CSP
    elif "frame-ancestors" not in policy:
        headers["Content-Security-Policy"] = f"{policy}; frame-ancestors 'none'"
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if kind == "text/html":
        headers.setdefault("X-Frame-Options", "DENY")
    if https:
        headers.setdefault("Strict-Transport-Security", HSTS)
