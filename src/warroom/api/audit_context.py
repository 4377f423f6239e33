"""ASGI middleware that tells the audit log where each request comes from, and writes what
the request noted for it before any change of its own (api: who reached a restricted incident)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warroom.audit.context import client_address, deferred
from warroom.audit.service import flush_request


class AuditClient:
    """Set `warroom.audit.context.client_address` to the request's client for its lifetime,
    and write the request's waiting entries before its response starts.

    Pure ASGI, not BaseHTTPMiddleware: the route runs in this task's context (a sync route's
    thread-pool hop copies it), so every entry the request records names the client. Behind a
    proxy the address is the one uvicorn took from X-Forwarded-For (FORWARDED_ALLOW_IPS).

    A request that reaches a restricted incident notes it (`audit.record_with_request`); a
    change commits the note with itself, and a read has it written here, once, before the
    answer goes out: an event stream's note is on the log while the stream is still open.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        waiting: list[Any] = []
        tokens = (
            client_address.set(str(client[0])[:255] if client else None),
            deferred.set(waiting),
        )
        runtime = getattr(scope["app"].state, "runtime", None)

        async def write_waiting() -> None:
            if waiting and runtime is not None:
                await run_in_threadpool(flush_request, runtime.db)

        async def send_after_writing(message: Message) -> None:
            if message["type"] == "http.response.start":
                await write_waiting()
            await send(message)

        try:
            await self.app(scope, receive, send_after_writing)
        finally:
            await write_waiting()  # a request that failed before answering
            deferred.reset(tokens[1])
            client_address.reset(tokens[0])
