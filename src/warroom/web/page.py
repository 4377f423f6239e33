"""What every signed-in page shares: who is asking, the CSRF check, rendering and HTML errors.

Pages authenticate by the session cookie alone (a browser sends no bearer token). A page
asked for without a live session redirects to `/sign-in?next=…`; a form post must carry the
session's CSRF token in its `csrf_token` field; `…/{ref}/…` pages answer 404 for an incident
the user may not see, exactly as the API does (ADR 008).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2_fragments import render_block
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from warroom.api.cookies import cookie_principal, form_csrf, session_cookie
from warroom.api.deps import RuntimeDep, access_of, actor_of
from warroom.api.errors import audit_denial
from warroom.auth.service import Principal
from warroom.auth.sessions import SessionInfo
from warroom.core.errors import Forbidden, Unauthorized, WarroomError
from warroom.incidents.actor import Access, Actor
from warroom.runtime import Runtime
from warroom.web.templating import environment, severity_badge, zone_named

ZONE_COOKIE = "warroom_tz"  # the browser's own zone, set by app.js, until a profile says one
# No script or style from anywhere but warroom itself, no framing (clickjacking).
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


class SignInNeeded(Exception):
    """No live browser session: the page redirects to sign-in."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in person a page is for."""

    principal: Principal
    session: SessionInfo
    access: Access
    zone: ZoneInfo
    request: Request
    runtime: Runtime

    @property
    def name(self) -> str:
        """Return the user's name."""
        return self.principal.name

    @property
    def csrf_token(self) -> str:
        """Return the token every form of this session carries."""
        return self.session.csrf_token

    @property
    def theme(self) -> str:
        """Return the page theme: light, dark, or auto (the system's)."""
        return self.session.theme or "auto"

    def actor(self) -> Actor:
        """Return the timeline actor for a change made from a page."""
        actor = actor_of(self.principal, self.request)
        return Actor(name=actor.name, source="web", role=actor.role, teams=actor.teams)

    def can(self, role: str) -> bool:
        """Tell whether the user has at least `role`."""
        try:
            self.principal.require(role)
        except WarroomError:
            return False
        return True


def _viewer(
    request: Request,
    runtime: RuntimeDep,
    cookie: Annotated[str | None, Depends(session_cookie)],
    form_token: Annotated[str | None, Depends(form_csrf)],
) -> Viewer:
    # Sync, so it runs in the thread pool: it reads the session and, for an incident's page,
    # the incident's visibility, in one hop.
    if not cookie:
        raise SignInNeeded
    try:
        principal = cookie_principal(request, runtime, secret=cookie, form_token=form_token)
    except Unauthorized:
        raise SignInNeeded from None
    info: SessionInfo = request.state.browser_session
    access = access_of(principal, runtime)
    ref = request.path_params.get("ref")
    if ref is not None:
        runtime.flows.check_visible(ref, access, request=f"{request.method} {request.url.path}")
    zone = zone_named(info.time_zone) if info.time_zone else zone_of(request)
    return Viewer(principal, info, access, zone, request, runtime)


def zone_of(request: Request) -> ZoneInfo:
    """Return the zone the browser said it is in (app.js sets the cookie), else UTC."""
    return zone_named(unquote(request.cookies.get(ZONE_COOKIE, "")))


SignedIn = Annotated[Viewer, Depends(_viewer)]


def needs(role: str) -> Callable[[Viewer], Coroutine[Any, Any, Viewer]]:
    """Return a dependency that needs the signed-in user to have at least `role`."""

    async def check(viewer: SignedIn) -> Viewer:
        viewer.principal.require(role)
        return viewer

    return check


Responder = Annotated[Viewer, Depends(needs("responder"))]
Admin = Annotated[Viewer, Depends(needs("admin"))]


def _context(viewer: Viewer | None, request: Request, values: Mapping[str, Any]) -> dict[str, Any]:
    runtime: Runtime = request.app.state.runtime
    config = runtime.config()
    ranks = {name: rank for rank, name in enumerate(config.severities)}

    def sev(name: str) -> Markup:
        known = config.severities.get(name)
        return severity_badge(
            name, ranks.get(name, len(ranks)), known.description if known else None
        )

    context: dict[str, Any] = {
        "viewer": viewer,
        "now": runtime.clock.now(),
        "zone": viewer.zone if viewer else zone_of(request),
        "path": request.url.path,
        "sev": sev,
        "severities": config.severities,
    }
    context.update(values)
    return context


def render(
    request: Request,
    template: str,
    viewer: Viewer | None = None,
    *,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """Render a whole page."""
    html = environment().get_template(template).render(_context(viewer, request, values))
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def render_fragment(
    request: Request, template: str, block: str, viewer: Viewer, **values: Any
) -> HTMLResponse:
    """Render one block of a page: the same markup the whole page has, for live updates."""
    html = render_block(environment(), template, block, _context(viewer, request, values))
    return HTMLResponse(html, headers=SECURITY_HEADERS)


def see_other(url: str) -> RedirectResponse:
    """Answer a form post with a redirect, so a reload does not post it again."""
    return RedirectResponse(url, status_code=303)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """Render the error page: a title for the status, and what went wrong."""
    titles = {401: "Sign-in needed", 403: "Not allowed", 404: "Not found", 409: "Not now"}
    # No Viewer here (the error may come before one is made), but a session read on the way
    # still has the user's saved theme: a dark-theme user's "Not found" is dark too.
    session: SessionInfo | None = getattr(request.state, "browser_session", None)
    return render(
        request,
        "error.html",
        status=status,
        title=titles.get(status, "Something is wrong"),
        message=message,
        theme=(session.theme if session else None) or "auto",
    )


class PageRoute(APIRoute):
    """A route that answers its errors with pages, and a missing session with a redirect."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler: the dependencies and the page both run inside."""
        handle = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handle(request)
            except SignInNeeded:
                target = request.url.path
                if request.url.query:
                    target += f"?{request.url.query}"
                if request.method != "GET":  # a post's page is not one to come back to
                    target = request.headers.get("referer", "/") or "/"
                return see_other(f"/sign-in?next={quote(target, safe='')}")
            except WarroomError as exc:
                if isinstance(exc, Forbidden) and not exc.audited:
                    await run_in_threadpool(audit_denial, request, exc)
                return error_page(request, exc.status, str(exc))
            except RequestValidationError as exc:
                wrong = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'][1:]) or 'form'}: {e['msg']}"
                    for e in exc.errors()
                )
                return error_page(request, 422, wrong or "the form is not valid")

        return page
