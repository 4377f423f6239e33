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


def rejection(
    source: str, reason: str, status: int, code: str, message: str, details: Any = None
) -> Rejected:
    """Count a refused delivery of `source` and return it as a `Rejected` to raise."""
    metrics.rejected(source, reason)
    return Rejected(error_response(status, code, message, details))


async def read_body(request: Request, source: str, limit: int) -> bytes:
    """Read the raw body, refusing more than `limit` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise rejection(
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
            raise rejection(
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
        raise rejection(source, "invalid", 422, "invalid", "NUL characters are not accepted")
    return body


def configured_instances(runtime: Runtime, source: str) -> list[Any]:
    """Return the configured instances of the `source` integration, or reject with a 404."""
    configured = runtime.config().integrations.configured(source)
    if not configured:
        raise rejection(
            source,
            "not_configured",
            404,
            "not_found",
            f"the {source} intake is not configured: add integrations.{source} to warroom.yaml",
        )
    return configured


def parse_body(source: str, parse: Callable[[bytes], T], body: bytes) -> T:
    """Parse the body with `parse`; malformed JSON is a 400, an invalid field a 422."""
    try:
        return parse(body)
    except Invalid as exc:
        malformed = exc.message.startswith("malformed JSON")
        raise rejection(
            source,
            "malformed" if malformed else "invalid",
            400 if malformed else 422,
            "malformed_json" if malformed else "invalid",
            exc.message,
            exc.details,  # e.g. {"index": 3, "field": "startsAt"} for a bad alert of a batch
        ) from None


async def ingest_alerts(
    runtime: Runtime,
    source: str,
    integration: str,
    alerts: list[AlertIn],
    delivery_ids: tuple[str, ...] = (),
) -> IntakeResponse:
    """Submit the parsed alerts to the intake worker and answer with what it did."""
    future = runtime.intake.submit(
        source=source, integration=integration, alerts=alerts, delivery_ids=delivery_ids
    )
    return IntakeResponse.of(await asyncio.wrap_future(future))


def unauthorized(source: str, what: str) -> Rejected:
    """Return a 401 refusal of `source` saying `what` was missing or wrong."""
    return rejection(source, "unauthorized", 401, "unauthorized", what)


async def run_guarded(handler: Callable[[], Any]) -> Any:
    """Run an intake handler, answering a `Rejected` with its response."""
    try:
        return await handler()
    except Rejected as rejected:
        return rejected.response
