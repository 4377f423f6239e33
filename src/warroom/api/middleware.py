"""ASGI middleware that guards every route: NULs in URLs, request body sizes."""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


INTAKE = "/api/v1/intake/"  # the intake routes keep their own limit: detection.max_body_bytes
# Evidence uploads stream to disk: server.max_evidence_bytes, plus room for the form around
# the file (the route itself counts the file's bytes against the limit exactly).
EVIDENCE_UPLOAD = re.compile(r"^(/api/v1)?/incidents/[^/]+/evidence/?$")  # API and page
FORM_SLACK = 1 << 20
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class LimitRequestSize:
    """Refuse a request body over `server.max_request_bytes` with 413, reading no more of it.

    A Content-Length over the limit is refused before anything reads the body (the route
    never runs); a chunked body is counted while the route reads it, and the 413 goes out as
    soon as it passes the limit (the route sees a disconnect). The limit is read from the
    configuration in force on each request, so a reload changes it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(INTAKE):
            await self.app(scope, receive, send)
            return
        runtime = scope["app"].state.runtime
        limit: int = runtime.config().server.max_request_bytes
        setting = "server.max_request_bytes"
        if scope.get("method") == "POST" and EVIDENCE_UPLOAD.match(scope.get("path", "")):
            limit = runtime.config().server.max_evidence_bytes + FORM_SLACK
            setting = "server.max_evidence_bytes, and 1 MiB for the form"
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(scope, receive, send, limit, setting)
            return
        received = 0
        refused = started = False

        async def counted() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await _too_large(scope, receive, send, limit, setting)
                    return {"type": "http.disconnect"}  # the route stops reading here
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # the 413 went out already; the route's own answer is dropped
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int, setting: str) -> None:
    """Answer 413: an error page to a browser's form, the JSON error shape to anything else."""
    message = f"the request body is over the limit of {limit} bytes ({setting})"
    kind = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
    page = getattr(scope["app"].state, "error_page", None)
    response: Response
    if page is not None and kind in FORMS and not scope.get("path", "").startswith("/api/"):
        response = page(Request(scope, receive), 413, message)
    else:
        response = error_response(413, "too_large", message)
    response.headers["Connection"] = "close"  # the rest of the body is never read
    await response(scope, receive, send)
