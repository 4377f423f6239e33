"""Single sign-on routes: off to the OpenID Connect provider, and back with a session."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.security import APIKeyCookie

from warroom.api.cookies import secure, session_cookie, set_cookie
from warroom.api.deps import RuntimeDep
from warroom.api.errors import ERROR_RESPONSES, ErrorBody, error_response
from warroom.core.errors import WarroomError
from warroom.runtime import Runtime

PREFIX = "/api/v1/auth/oidc"
FLOW_COOKIE = "warroom_oidc"
router = APIRouter(prefix=PREFIX, tags=["auth"], responses=ERROR_RESPONSES)
flow_cookie = APIKeyCookie(
    name=FLOW_COOKIE,
    auto_error=False,
    description="Set by the start route: ties the provider's answer to the browser that asked.",
)
_502: dict[int | str, dict[str, Any]] = {
    502: {"model": ErrorBody, "description": "The identity provider did not answer"}
}
Text = Annotated[str | None, Query(max_length=4096)]


def callback_url(request: Request, runtime: Runtime) -> str:
    """Return the redirect URI registered at the provider: <base_url>/api/v1/auth/oidc/callback."""
    base = runtime.config().notifications.base_url
    if base:
        return base.rstrip("/") + PREFIX + "/callback"
    return str(request.url_for("oidc_callback"))


@router.get(
    "/start",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "Off to the identity provider"}, **_502},
)
def oidc_start(
    request: Request,
    runtime: RuntimeDep,
    next: Annotated[str, Query(max_length=2048, description="A path here to land on")] = "/",
) -> Response:
    """Sign in with single sign-on: redirect to the provider (code flow, PKCE, nonce)."""
    begun = runtime.oidc.start(next_path=next, redirect_uri=callback_url(request, runtime))
    response = RedirectResponse(begun.url, status_code=302)
    response.set_cookie(
        FLOW_COOKIE,
        begun.secret,
        max_age=begun.max_age,
        path=PREFIX,
        httponly=True,
        # Lax: sent on the provider's top-level redirect back, never with a cross-site post.
        samesite="lax",
        secure=secure(request, runtime),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(
    "/callback",
    name="oidc_callback",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "Signed in: on to `next`"}, **_502},
)
def oidc_callback(
    request: Request,
    runtime: RuntimeDep,
    flow: Annotated[str | None, Depends(flow_cookie)],
    previous: Annotated[str | None, Depends(session_cookie)],
    code: Text = None,
    state: Text = None,
    error: Text = None,
    error_description: Text = None,
) -> Response:
    """Finish single sign-on: check the provider's answer, set the session cookie, go on."""
    try:
        done = runtime.oidc.finish(
            secret=flow,
            state=state,
            code=code,
            error=error,
            error_description=error_description,
            redirect_uri=callback_url(request, runtime),
            previous=previous,
            client_address=request.client.host if request.client else "unknown",
            user_agent=request.headers.get("user-agent"),
        )
    except WarroomError as exc:
        failed = error_response(exc.status, exc.code, exc.message, exc.details)
        _drop_flow(failed, request, runtime)  # the flow is spent either way
        return failed
    response = RedirectResponse(done.next_path, status_code=303)
    now = runtime.clock.now()
    signed = done.signed
    set_cookie(
        response, request, runtime, secret=signed.secret, expires_at=signed.expires_at, now=now
    )
    _drop_flow(response, request, runtime)
    response.headers["Cache-Control"] = "no-store"
    return response


def _drop_flow(response: Response, request: Request, runtime: Runtime) -> None:
    response.delete_cookie(
        FLOW_COOKIE, path=PREFIX, httponly=True, samesite="lax", secure=secure(request, runtime)
    )
