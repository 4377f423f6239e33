"""Request dependencies: the runtime, the authenticated principal, its role and token scopes."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from warroom.api.cookies import cookie_principal, form_csrf, session_cookie
from warroom.auth import service as auth
from warroom.auth import trail
from warroom.auth.scopes import check_request, describe
from warroom.auth.service import Principal
from warroom.core.errors import Forbidden, Unauthorized
from warroom.incidents.actor import Access, Actor
from warroom.incidents.visibility import access_for
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


def _authenticated(runtime: Runtime, token: str) -> Principal:
    """Return the token's principal, stamping its last use when that is stale."""
    now = runtime.clock.now()
    try:
        with runtime.db.reading() as connection:
            principal = auth.authenticate(connection, token=token, now=now)
    except auth.TokenRejected as exc:
        # Only a token that does not work costs a write; a valid one stays read-only (ADR 010).
        trail.token_rejected(
            runtime.db, at=now, reason=exc.reason, prefix=exc.prefix, owner=exc.owner
        )
        raise
    if principal.touch_token and principal.token_id is not None:
        # For `tokens list`: which tokens are still in use. A few writes an hour per token.
        with runtime.db.transaction() as session:
            auth.record_use(session, token_id=principal.token_id, now=now)
    return principal


def _principal(
    runtime: RuntimeDep,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    cookie: Annotated[str | None, Depends(session_cookie)],
    form_token: Annotated[str | None, Depends(form_csrf)],
) -> Principal:
    if credentials is None and cookie:  # a browser (api/cookies.py); a bearer token wins
        principal = cookie_principal(request, runtime, secret=cookie, form_token=form_token)
    elif not (credentials and credentials.scheme.lower() == "bearer" and credentials.credentials):
        raise Unauthorized("missing API token: send 'Authorization: Bearer <token>'")
    else:
        principal = _authenticated(runtime, credentials.credentials)
        # The one place token scopes are enforced: read for GET/HEAD, write for any change.
        check_request(principal.scopes, method=request.method, path=request.url.path)
    request.state.principal = principal  # for the audit entry of a refusal (api/errors.py)
    ref = request.path_params.get("ref")
    if ref is not None:
        # A per-incident route (`…/incidents/{ref}/…`): the visibility check runs here, in
        # the same thread-pool hop as authentication, not in a second sync dependency (ADR
        # 010); before the role check, so a hidden incident answers 404 whatever the role.
        runtime.flows.check_visible(
            ref, access_of(principal, runtime), request=f"{request.method} {request.url.path}"
        )
    return principal


def calendar_principal(runtime: RuntimeDep, request: Request) -> Principal:
    """Authenticate an iCal feed: a calendar token in `?token=`, or any reading token as header.

    Calendar apps cannot send headers, so the token rides in the URL, where it is copied into
    calendars and shared: only a calendar token (which opens nothing else) may go there.
    """
    query = request.query_params.get("token")
    header = request.headers.get("authorization", "")
    token = query or header.removeprefix("Bearer ").strip()
    if not token:
        raise Unauthorized(
            "missing API token: add ?token=<calendar token> to the calendar URL "
            "(warroom tokens create USER --scope calendar)"
        )
    principal = _authenticated(runtime, token)
    if query and "calendar" not in principal.scopes:
        raise Forbidden(
            f"this token has scope {describe(principal.scopes)}, and a token in a URL must be a "
            "calendar token (it can read only the calendars); create one with "
            f"`warroom tokens create {principal.name} --scope calendar`"
        )
    if not principal.scopes & {"read", "calendar"}:
        raise Forbidden(f"this token has scope {describe(principal.scopes)}; iCal needs read")
    return principal


def require(role: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """Return a dependency that needs at least `role`."""

    # Async: no I/O here, and a sync dependency costs a thread hop on every request.
    async def check(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        principal.require(role)
        return principal

    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
Responder = Annotated[Principal, Depends(require("responder"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Calendar = Annotated[Principal, Depends(calendar_principal)]


def actor_of(principal: Principal, request: Request) -> Actor:
    """Return the timeline actor for a request (the CLI marks itself with a header)."""
    source = request.headers.get("x-warroom-client", "api")
    if source not in ("api", "cli", "web", "demo"):
        source = "api"
    access = access_of(principal, request.app.state.runtime)
    return Actor(name=principal.name, source=source, role=principal.role, teams=access.teams)


def access_of(principal: Principal, runtime: Runtime) -> Access:
    """Return who is asking, with their teams, for the visibility rule."""
    return access_for(
        runtime.config(), user=principal.name, role=principal.role, sso_teams=principal.sso_teams
    )


async def incident_visible(principal: Annotated[Principal, Depends(_principal)]) -> None:
    """Answer 404 on any `…/incidents/{ref}/…` route when the caller may not see `ref`.

    Every router of per-incident routes carries this: one place decides, before the route
    reads or changes anything (ADR 008). The check itself runs in `_principal`, which every
    authenticated route depends on: this dependency makes sure it runs on the routers that
    need it even for a route that asked for no role.
    """


VisibleIncident = Depends(incident_visible)


def is_admin(runtime: RuntimeDep, request: Request) -> bool:
    """Tell whether the caller sent an admin's token; anyone else (or no token) is anonymous."""
    # Read by hand, not through `bearer`: the route needs no token, and its OpenAPI entry
    # must not say it does.
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    try:
        principal = _authenticated(runtime, token.strip())
        principal.require("admin")
    except (Unauthorized, Forbidden):
        return False
    return True


AdminOrAnonymous = Annotated[bool, Depends(is_admin)]
