"""ASGI middleware that tells the audit log where each request comes from."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from warroom.audit.context import client_address


class AuditClient:
    """Set `warroom.audit.context.client_address` to the request's client for its lifetime.

    Pure ASGI, not BaseHTTPMiddleware: the route runs in this task's context (a sync route's
    thread-pool hop copies it), so every entry the request records names the client. Behind a
    proxy the address is the one uvicorn took from X-Forwarded-For (FORWARDED_ALLOW_IPS).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        token = client_address.set(str(client[0])[:255] if client else None)
        try:
            await self.app(scope, receive, send)
        finally:
            client_address.reset(token)
