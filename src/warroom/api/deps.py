"""Request dependencies: the runtime, the authenticated principal and its role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from warroom.api.cookies import cookie_principal, form_csrf, session_cookie
from warroom.auth import service as auth
from warroom.auth.service import Principal
from warroom.core.errors import Unauthorized
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

# Ids and cursors above this cannot exist (32-bit integer columns) and would overflow them.
DB_INT_MAX = 2**31 - 1
SilenceId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="The silence's id")]

bearer = HTTPBearer(auto_error=False, description="An API token from `warroom tokens create`.")


async def get_runtime(request: Request) -> Runtime:
    """Return the app's runtime (async: a sync dependency would cost a thread hop per request)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _principal(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    request: Request,
    cookie: Annotated[str | None, Depends(session_cookie)],
    form_token: Annotated[str | None, Depends(form_csrf)],
) -> Principal:
    if credentials is None and cookie:  # a browser (api/cookies.py); a bearer token wins
        return cookie_principal(request, runtime, secret=cookie, form_token=form_token)
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("missing API token: send 'Authorization: Bearer <token>'")
    now = runtime.clock.now()
    with runtime.db.session() as session:
        principal = auth.authenticate(session, token=credentials.credentials, now=now)
    if principal.touch_token and principal.token_id is not None:
        # For `tokens list`: which tokens are still in use. A few writes an hour per token.
        with runtime.db.transaction() as session:
            auth.record_use(session, token_id=principal.token_id, now=now)
    return principal


def require(role: str) -> Callable[[Principal], Principal]:
    """Return a dependency that needs at least `role`."""

    def check(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        principal.require(role)
        return principal

    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
Responder = Annotated[Principal, Depends(require("responder"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def actor_of(principal: Principal, request: Request) -> Actor:
    """Return the timeline actor for a request (the CLI marks itself with a header)."""
    source = request.headers.get("x-warroom-client", "api")
    if source not in ("api", "cli", "web", "demo"):
        source = "api"
    return Actor(name=principal.name, source=source, role=principal.role)
