"""Cookie authentication for browsers: the session cookie, its CSRF check, the cookie's flags."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import Request, Response
from fastapi.security import APIKeyCookie

from warroom.auth.service import Principal
from warroom.auth.sessions import COOKIE, CSRF_FIELD, CSRF_HEADER, SessionInfo, csrf_matches
from warroom.core.errors import Forbidden
from warroom.runtime import Runtime

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CSRF_WRONG = "missing or wrong CSRF token: send the X-CSRF-Token header (or csrf_token field)"

session_cookie = APIKeyCookie(
    name=COOKIE,
    auto_error=False,
    description="A browser session from `POST /api/v1/auth/sign-in`; changes need X-CSRF-Token.",
)


def _cookie_only(request: Request) -> bool:
    bearer = request.headers.get("authorization", "").lower().startswith("bearer ")
    return COOKIE in request.cookies and not bearer


async def form_csrf(request: Request) -> str | None:
    """Return the `csrf_token` field of a form post authenticated by cookie, if any."""
    # Only read the form when the cookie is what authenticates a change: the body is parsed
    # once (Starlette keeps it for the route), and bearer and JSON requests are not touched.
    content_type = request.headers.get("content-type", "")
    if request.method in SAFE_METHODS or not _cookie_only(request):
        return None
    if not content_type.startswith(FORM_TYPES):
        return None
    value = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else None


def cookie_principal(
    request: Request, runtime: Runtime, *, secret: str, form_token: str | None
) -> Principal:
    """Authenticate by session cookie; a change must carry the session's CSRF token."""
    info = runtime.sign_ins.authenticate(secret=secret)
    if request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER) or form_token
        if not csrf_matches(secret, given):
            raise Forbidden(CSRF_WRONG)
    request.state.browser_session = info
    return info.principal


def session_of(request: Request) -> SessionInfo | None:
    """Return the session that authenticated this request, if a cookie did."""
    info = getattr(request.state, "browser_session", None)
    return info if isinstance(info, SessionInfo) else None


def secure(request: Request, runtime: Runtime) -> bool:
    """Tell whether the cookie gets the Secure flag (auth.sessions.secure_cookie)."""
    mode = runtime.config().auth.sessions.secure_cookie
    if mode != "auto":
        return mode == "always"
    base_url = runtime.config().notifications.base_url or ""
    # Behind a TLS-terminating proxy the scheme comes from X-Forwarded-Proto (uvicorn trusts
    # it from FORWARDED_ALLOW_IPS); base_url covers a proxy that does not send it.
    return base_url.lower().startswith("https://") or request.url.scheme == "https"


def set_cookie(
    response: Response,
    request: Request,
    runtime: Runtime,
    *,
    secret: str,
    expires_at: datetime,
    now: datetime,
) -> None:
    """Give the browser its session cookie, kept until the session's absolute expiry."""
    samesite: Literal["lax"] = "lax"
    response.set_cookie(
        COOKIE,
        secret,
        max_age=max(0, int((expires_at - now).total_seconds())),
        path="/",
        httponly=True,
        samesite=samesite,
        secure=secure(request, runtime),
    )


def clear_cookie(response: Response, request: Request, runtime: Runtime) -> None:
    """Tell the browser to drop its session cookie."""
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="lax", secure=secure(request, runtime)
    )
