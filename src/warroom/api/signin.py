"""Browser sign-in, sign-out and `GET /api/v1/me` (who the caller is)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException

from warroom.api.cookies import (
    FORM_TYPES,
    clear_cookie,
    cookie_principal,
    form_csrf,
    session_cookie,
    session_of,
    set_cookie,
)
from warroom.api.deps import RuntimeDep, Viewer, access_of
from warroom.api.errors import ERROR_RESPONSES, ErrorBody, error_response
from warroom.auth.passwords import MAX_LENGTH
from warroom.auth.throttle import Throttled
from warroom.core.errors import Unauthorized

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


class SignInBody(BaseModel):
    """A user name and password (and, with TOTP on, a code), as JSON or as a form post."""

    user: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_LENGTH)
    code: str | None = Field(
        default=None,
        max_length=64,
        description="With two-factor sign-in on: the authenticator's 6 digits or a recovery code.",
    )


class SignInOut(BaseModel):
    """The signed-in user; send `csrf_token` as X-CSRF-Token with every change."""

    user: str
    role: str
    csrf_token: str
    expires_at: datetime
    idle_expires_at: datetime
    second_factor: Literal["totp", "recovery_code"] | None = None
    recovery_codes_left: int | None = Field(
        default=None, description="With TOTP on: unused recovery codes (a used one is spent)."
    )


class SessionOut(BaseModel):
    """The browser session behind a cookie-authenticated request."""

    created_at: datetime
    expires_at: datetime
    idle_expires_at: datetime
    csrf_token: str
    sso: bool = Field(description="Signed in with single sign-on (else with a password).")


class MeOut(BaseModel):
    """Who the caller is and how they authenticated."""

    user: str
    role: str
    teams: list[str]
    authenticated_by: Literal["token", "session"]
    session: SessionOut | None = None


# The body is parsed by hand (JSON or form), so FastAPI would not describe it: say it here.
_BODY_SCHEMA = SignInBody.model_json_schema()


async def _credentials(request: Request) -> SignInBody:
    content_type = request.headers.get("content-type", "")
    data: Any
    if content_type.startswith(FORM_TYPES):
        form = await request.form()
        data = {key: form.get(key) for key in ("user", "password", "code") if key in form}
    elif content_type.startswith("application/json") or not content_type:
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, f"the request body is not valid JSON: {exc}") from None
    else:
        raise HTTPException(415, "send JSON or a form (application/x-www-form-urlencoded)")
    try:
        return SignInBody.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


@router.post(
    "/auth/sign-in",
    tags=["auth"],
    response_model=SignInOut,
    responses={429: {"model": ErrorBody, "description": "Too many failed sign-ins"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _BODY_SCHEMA},
                "application/x-www-form-urlencoded": {"schema": _BODY_SCHEMA},
            },
        }
    },
)
def sign_in(
    body: Annotated[SignInBody, Depends(_credentials)],
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    previous: Annotated[str | None, Depends(session_cookie)],
) -> Any:
    """Sign in with a password; the session cookie is set and the CSRF token returned."""
    try:
        signed = runtime.sign_ins.sign_in(
            name=body.user,
            password=body.password,
            client_address=request.client.host if request.client else "unknown",
            user_agent=request.headers.get("user-agent"),
            previous=previous,
            code=body.code or None,
        )
    except Throttled as exc:
        return error_response(
            exc.status, exc.code, exc.message, exc.details, {"Retry-After": str(exc.retry_after)}
        )
    now = runtime.clock.now()
    set_cookie(
        response, request, runtime, secret=signed.secret, expires_at=signed.expires_at, now=now
    )
    response.headers["Cache-Control"] = "no-store"
    return SignInOut(
        user=signed.user,
        role=signed.role,
        csrf_token=signed.csrf_token,
        expires_at=signed.expires_at,
        idle_expires_at=signed.idle_expires_at,
        second_factor=signed.factor.kind if signed.factor else None,
        recovery_codes_left=(signed.factor.recovery_codes_left if signed.factor else None),
    )


@router.post("/auth/sign-out", tags=["auth"], status_code=204, response_class=Response)
def sign_out(
    request: Request,
    runtime: RuntimeDep,
    cookie: Annotated[str | None, Depends(session_cookie)],
    form_token: Annotated[str | None, Depends(form_csrf)],
) -> Response:
    """End the browser's session and clear its cookie (needs the CSRF token)."""
    response = Response(status_code=204)
    if cookie:
        try:
            cookie_principal(request, runtime, secret=cookie, form_token=form_token)
        except Unauthorized:
            pass  # already ended or expired: only the cookie is left to clear
        else:
            runtime.sign_ins.sign_out(secret=cookie)
    clear_cookie(response, request, runtime)
    return response


@router.get("/me", tags=["auth"], response_model=MeOut)
def me(principal: Viewer, request: Request, runtime: RuntimeDep) -> MeOut:
    """Say who the caller is: user, role, teams, and the session when a cookie was used."""
    teams = sorted(access_of(principal, runtime).teams)
    info = session_of(request)
    session = (
        SessionOut(
            created_at=info.created_at,
            expires_at=info.expires_at,
            idle_expires_at=info.idle_expires_at,
            csrf_token=info.csrf_token,
            sso=info.sso,
        )
        if info
        else None
    )
    return MeOut(
        user=principal.name,
        role=principal.role,
        teams=teams,
        authenticated_by="session" if info else "token",
        session=session,
    )
