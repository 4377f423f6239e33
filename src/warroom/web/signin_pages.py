"""The sign-in and sign-out pages (plain forms; the session is the API's, api/signin.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response

from warroom.api.cookies import clear_cookie, cookie_principal, session_cookie, set_cookie
from warroom.api.deps import RuntimeDep
from warroom.auth.oidc import check_next
from warroom.auth.second_factor import TotpRequired
from warroom.auth.throttle import Throttled
from warroom.core.errors import Invalid, Unauthorized, WarroomError
from warroom.web.page import PageRoute, render, see_other

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Field = Annotated[str, Form(max_length=1024)]


def _safe_next(value: str | None) -> str:
    try:
        return check_next(value)
    except Invalid:  # someone else's link: land on the war board, never off-site
        return "/"


def _sign_in_page(
    request: Request,
    *,
    next_path: str,
    user: str = "",
    error: str | None = None,
    code_needed: bool = False,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    runtime = request.app.state.runtime
    config = runtime.config()
    page = render(
        request,
        "signin.html",
        status=status,
        next_path=next_path,
        user=user,
        error=error,
        code_needed=code_needed,
        password_sign_in=config.auth.password_sign_in,
        sso=config.auth.oidc is not None,
    )
    page.headers.update(headers or {})
    return page


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    """Show the sign-in form (and the single sign-on button when it is set up)."""
    return _sign_in_page(request, next_path=_safe_next(next))


@router.post("/sign-in")
def sign_in(
    request: Request,
    runtime: RuntimeDep,
    previous: Annotated[str | None, Depends(session_cookie)],
    user: Field = "",
    password: Field = "",
    code: Field = "",
    next: Field = "/",
) -> Response:
    """Check the password (and code) and start a session; on to `next`."""
    next_path = _safe_next(next)
    if not user or not password:
        return _sign_in_page(
            request,
            next_path=next_path,
            user=user,
            status=422,
            error="Enter your user name and password.",
        )
    try:
        signed = runtime.sign_ins.sign_in(
            name=user,
            password=password,
            client_address=request.client.host if request.client else "unknown",
            user_agent=request.headers.get("user-agent"),
            previous=previous,
            code=code.strip() or None,
        )
    except Throttled as exc:
        return _sign_in_page(
            request,
            next_path=next_path,
            user=user,
            status=429,
            error=exc.message,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except TotpRequired:
        return _sign_in_page(
            request,
            next_path=next_path,
            user=user,
            status=401,
            code_needed=True,
            error="Enter the 6-digit code from your authenticator app, or a recovery code.",
        )
    except WarroomError as exc:
        return _sign_in_page(
            request,
            next_path=next_path,
            user=user,
            status=exc.status,
            error=exc.message,
            code_needed=bool(code),
        )
    response = see_other(next_path)
    now = runtime.clock.now()
    set_cookie(
        response, request, runtime, secret=signed.secret, expires_at=signed.expires_at, now=now
    )
    return response


@router.post("/sign-out")
def sign_out(
    request: Request,
    runtime: RuntimeDep,
    cookie: Annotated[str | None, Depends(session_cookie)],
    csrf_token: Field = "",
) -> Response:
    """End the session (the form carries its CSRF token) and go to the sign-in page."""
    response = see_other("/sign-in")
    if cookie:
        try:
            cookie_principal(request, runtime, secret=cookie, form_token=csrf_token)
        except Unauthorized:
            pass  # already ended or expired: only the cookie is left to clear
        else:  # a wrong CSRF token raised Forbidden: a page says so and nothing ends
            runtime.sign_ins.sign_out(secret=cookie)
    clear_cookie(response, request, runtime)
    return response
