"""ASGI middleware that guards every route."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from warroom.api.errors import error_response


class RefuseNulInUrl:
    """Answer 422 when the path or query holds a NUL character (PostgreSQL cannot store one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            if "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query:
                response = error_response(422, "invalid", "the URL must not contain NUL characters")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
