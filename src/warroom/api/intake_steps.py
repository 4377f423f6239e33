"""The steps every intake route shares: a bounded body, its instances, parsing, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse

from warroom.api.errors import error_response
from warroom.core.errors import Invalid
from warroom.detection import metrics
from warroom.detection.api_schemas import IntakeResponse
from warroom.detection.schemas import AlertIn
from warroom.runtime import Runtime

T = TypeVar("T")


class Rejected(Exception):
    """A delivery refused before any effect; counted, then answered with `response`."""

    def __init__(self, response: JSONResponse) -> None:
        self.response = response


def _reject(
    source: str, reason: str, status: int, code: str, message: str, details: Any = None
) -> Rejected:
    metrics.rejected(source, reason)
    return Rejected(error_response(status, code, message, details))


async def _body(request: Request, source: str, limit: int) -> bytes:
    """Read the raw body, refusing more than `limit` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _reject(
            source,
            "too_large",
            413,
            "too_large",
            f"the body is {declared} bytes; the limit is {limit} (detection.max_body_bytes)",
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _reject(
                source,
                "too_large",
                413,
                "too_large",
                f"the body is over the limit of {limit} bytes (detection.max_body_bytes)",
            )
        chunks.append(chunk)
    body = b"".join(chunks)
    if b"\\u0000" in body or b"\x00" in body:
        # PostgreSQL cannot store NUL in text, and no alert or report needs one.
        raise _reject(source, "invalid", 422, "invalid", "NUL characters are not accepted")
    return body


def _instances(runtime: Runtime, source: str) -> list[Any]:
    configured = runtime.config().integrations.configured(source)
    if not configured:
        raise _reject(
            source,
            "not_configured",
            404,
            "not_found",
            f"the {source} intake is not configured: add integrations.{source} to warroom.yaml",
        )
    return configured


def _parse(source: str, parse: Callable[[bytes], T], body: bytes) -> T:
    try:
        return parse(body)
    except Invalid as exc:
        malformed = exc.message.startswith("malformed JSON")
        raise _reject(
            source,
            "malformed" if malformed else "invalid",
            400 if malformed else 422,
            "malformed_json" if malformed else "invalid",
            exc.message,
            exc.details,  # e.g. {"index": 3, "field": "startsAt"} for a bad alert of a batch
        ) from None


async def _ingest(
    runtime: Runtime,
    source: str,
    integration: str,
    alerts: list[AlertIn],
    delivery_ids: tuple[str, ...] = (),
) -> IntakeResponse:
    future = runtime.intake.submit(
        source=source, integration=integration, alerts=alerts, delivery_ids=delivery_ids
    )
    return IntakeResponse.of(await asyncio.wrap_future(future))


def _unauthorized(source: str, what: str) -> Rejected:
    return _reject(source, "unauthorized", 401, "unauthorized", what)


async def _guarded(handler: Callable[[], Any]) -> Any:
    try:
        return await handler()
    except Rejected as rejected:
        return rejected.response
