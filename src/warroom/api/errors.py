"""One error shape for every failure: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from warroom.audit import service as audit
from warroom.core.errors import Forbidden, Unauthorized, WarroomError
from warroom.core.validation import humane

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
}


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a sentence for people, and structured details."""

    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def _described(text: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": text}


# Declared on every API router so the OpenAPI document shows the real error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _described("Malformed JSON"),
    401: _described("Missing, unknown, revoked or expired API token, or a disabled user"),
    403: _described("The role or the token's scopes do not allow this"),
    404: _described("No such incident"),
    409: _described("Not allowed in the incident's current state"),
    422: _described("Invalid input; details name each field"),
}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Build the JSON error response."""
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _warroom_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WarroomError)
    if isinstance(exc, Forbidden) and not exc.audited:
        await run_in_threadpool(audit_denial, request, exc)
    headers = (
        {"WWW-Authenticate": 'Bearer realm="warroom"'} if isinstance(exc, Unauthorized) else None
    )
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (first.get("ctx") or {}).get("error", "")
        return error_response(
            400, "malformed_json", f"the request body is not valid JSON: {reason}".rstrip(": ")
        )
    details = [{"field": _field(tuple(e["loc"])), "message": humane(e)} for e in errors]
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return error_response(422, "invalid", message, details)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), None, dict(exc.headers or {}))


def _incident(ref: str | None) -> str | None:
    """Return the incident a route's `ref` names, written as the audit log writes it."""
    if not ref:
        return None
    number = ref.upper().removeprefix("INC-")
    return f"INC-{number}" if number.isdigit() else ref[:64]


def audit_denial(request: Request, exc: Forbidden) -> None:
    """Put a refused request on the audit log: who, what they asked, and why not."""
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        return
    principal = getattr(request.state, "principal", None)
    session = getattr(request.state, "browser_session", None)
    if principal is None and session is not None:
        principal = session.principal
    audit.record_now(
        runtime.db,
        "access.denied",
        actor=principal.name if principal is not None else "anonymous",
        at=runtime.clock.now(),
        target=_incident(request.path_params.get("ref")),
        outcome="denied",
        details={"request": f"{request.method} {request.url.path}", "reason": exc.message},
    )


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""
    app.add_exception_handler(WarroomError, _warroom_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
