"""`/api/v1/me/totp`: a user turns their own TOTP second factor on and off."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from warroom.api.cookies import session_of
from warroom.api.deps import RuntimeDep, Viewer
from warroom.api.errors import ERROR_RESPONSES, ErrorBody, error_response
from warroom.auth.passwords import MAX_LENGTH
from warroom.auth.throttle import Throttled

router = APIRouter(prefix="/api/v1/me/totp", tags=["auth"], responses=ERROR_RESPONSES)
THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "Too many wrong codes or passwords"}
}
Code = Field(min_length=1, max_length=64, description="The authenticator's current 6 digits.")


class TotpStatusOut(BaseModel):
    """Whether two-factor sign-in is on for the caller."""

    enabled: bool
    pending: bool = Field(description="An enrolment was started and awaits its first code.")
    confirmed_at: datetime | None
    recovery_codes_left: int


class EnrolmentOut(BaseModel):
    """A new secret, shown once: scan `otpauth_uri` as a QR code or type `secret`."""

    secret: str
    otpauth_uri: str
    confirm_with: str = "POST /api/v1/me/totp/confirm with {code}"


class PasswordIn(BaseModel):
    """The caller's password, asked again before a factor is added to their account."""

    password: str = Field(min_length=1, max_length=MAX_LENGTH)


class CodeIn(BaseModel):
    """A current code from the authenticator app."""

    code: str = Code


class TurnOffIn(BaseModel):
    """Proof that the caller is the account's owner: a code, a recovery code or the password."""

    code: str | None = Field(default=None, min_length=1, max_length=64)
    password: str | None = Field(default=None, min_length=1, max_length=MAX_LENGTH)


class RecoveryCodesOut(BaseModel):
    """Recovery codes, shown once: each signs in once in place of a code."""

    recovery_codes: list[str]


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _throttled(exc: Throttled) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)}
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


@router.get("", response_model=TotpStatusOut)
def totp_status(principal: Viewer, runtime: RuntimeDep) -> TotpStatusOut:
    """Say whether the caller has two-factor sign-in, and how many recovery codes are left."""
    state = runtime.totp.status(principal)
    return TotpStatusOut(
        enabled=state.enabled,
        pending=state.pending,
        confirmed_at=state.confirmed_at,
        recovery_codes_left=state.recovery_codes_left,
    )


@router.post("", status_code=201, response_model=EnrolmentOut, responses=THROTTLED)
def totp_begin(
    body: PasswordIn, principal: Viewer, runtime: RuntimeDep, request: Request, response: Response
) -> Any:
    """Start enrolment (needs the password): a new secret, shown once; on once confirmed."""
    try:
        enrolment = runtime.totp.begin(principal, password=body.password, address=_address(request))
    except Throttled as exc:
        return _throttled(exc)
    response.headers["Cache-Control"] = "no-store"
    return EnrolmentOut(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)


@router.post("/confirm", response_model=RecoveryCodesOut)
def totp_confirm(
    body: CodeIn, principal: Viewer, runtime: RuntimeDep, request: Request, response: Response
) -> RecoveryCodesOut:
    """Turn two-factor sign-in on with a first code; returns 10 recovery codes, shown once."""
    info = session_of(request)
    codes = runtime.totp.confirm(
        principal, code=body.code, keep_session=info.session_id if info else None
    )
    response.headers["Cache-Control"] = "no-store"
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/recovery-codes", response_model=RecoveryCodesOut, responses=THROTTLED)
def totp_recovery_codes(
    body: CodeIn, principal: Viewer, runtime: RuntimeDep, request: Request, response: Response
) -> Any:
    """Replace the recovery codes (the old ones stop working); needs a current code."""
    try:
        codes = runtime.totp.regenerate(principal, code=body.code, address=_address(request))
    except Throttled as exc:
        return _throttled(exc)
    response.headers["Cache-Control"] = "no-store"
    return RecoveryCodesOut(recovery_codes=codes)


@router.delete("", status_code=204, response_class=Response, responses=THROTTLED)
def totp_turn_off(
    body: TurnOffIn, principal: Viewer, runtime: RuntimeDep, request: Request
) -> Response:
    """Turn two-factor sign-in off; needs a current code, a recovery code or the password."""
    try:
        runtime.totp.turn_off(
            principal, code=body.code, password=body.password, address=_address(request)
        )
    except Throttled as exc:
        return _throttled(exc)
    return Response(status_code=204)
