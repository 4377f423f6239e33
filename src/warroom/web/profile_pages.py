"""The profile page: who you are, your time zone and theme, your own API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from warroom.api import links
from warroom.api.deps import DB_INT_MAX
from warroom.auth import profile
from warroom.auth.scopes import describe
from warroom.core.errors import WarroomError
from warroom.web.page import PageRoute, SignedIn, Viewer, render, see_other

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Short = Annotated[str, Form(max_length=64)]
# What the token form offers: a label and the scopes it grants.
TOKEN_KINDS = {
    "read": ("Read only (scripts, dashboards)", ("read",)),
    "write": ("Read and write (the CLI)", ("read", "write")),
    "calendar": ("Calendar only (your on-call shifts in a calendar app)", ("calendar",)),
}


def _page(
    request: Request,
    viewer: Viewer,
    *,
    status: int = 200,
    error: str | None = None,
    new_token: str | None = None,
    new_kind: str | None = None,
) -> HTMLResponse:
    runtime = viewer.runtime
    now = runtime.clock.now()
    with runtime.db.session() as session:
        tokens = [
            {
                "id": token.id,
                "name": token.name,
                "prefix": token.prefix,
                "scopes": describe(token.scopes.split()),
                "created_at": token.created_at,
                "last_used_at": token.last_used_at,
                "expires_at": token.expires_at,
            }
            for token in profile.own_tokens(session, user=viewer.name, now=now)
        ]
    base = links.site(viewer.runtime)  # never from the Host header
    calendar_url = (
        f"{base}/api/v1/people/{viewer.name}/ical?token={new_token}"
        if new_token and new_kind == "calendar"
        else None
    )
    return render(
        request,
        "profile.html",
        viewer,
        status=status,
        error=error,
        tokens=tokens,
        kinds=TOKEN_KINDS,
        zones=profile.time_zones(),
        new_token=new_token,
        calendar_url=calendar_url,
        teams=sorted(viewer.access.teams),
    )


@router.get("/profile")
def profile_page(request: Request, viewer: SignedIn) -> HTMLResponse:
    """Show the profile."""
    return _page(request, viewer)


@router.post("/profile/preferences")
def preferences(
    request: Request, viewer: SignedIn, time_zone: Short = "", theme: Short = ""
) -> Response:
    """Save the time zone and theme (empty: the browser's zone, the system's theme)."""
    try:
        with viewer.runtime.db.transaction() as session:
            profile.set_preferences(
                session, user=viewer.name, time_zone=time_zone or None, theme=theme or None
            )
    except WarroomError as exc:
        return _page(request, viewer, status=exc.status, error=exc.message)
    return see_other("/profile")


@router.post("/profile/tokens")
def create_token(
    request: Request,
    viewer: SignedIn,
    name: Short = "",
    kind: Short = "write",
    expires_days: Short = "",
) -> Response:
    """Create one of your own tokens; it is shown on this page once."""
    runtime = viewer.runtime
    now = runtime.clock.now()
    try:
        if kind not in TOKEN_KINDS:
            raise WarroomError(f"unknown kind of token {kind!r}; use read, write or calendar")
        days = int(expires_days) if expires_days.strip() else None
        if days is not None and not 1 <= days <= 3650:
            raise ValueError
    except ValueError:
        return _page(request, viewer, status=422, error="expiry: a number of days, 1 to 3650")
    except WarroomError as exc:
        return _page(request, viewer, status=422, error=exc.message)
    try:
        with runtime.db.transaction() as session:
            token = profile.create_own_token(
                session,
                user=viewer.name,
                name=name,
                scopes=TOKEN_KINDS[kind][1],
                expires_at=now + timedelta(days=days) if days else None,
                now=now,
            )
    except WarroomError as exc:
        return _page(request, viewer, status=exc.status, error=exc.message)
    return _page(request, viewer, status=201, new_token=token, new_kind=kind)


@router.post("/profile/tokens/{token_id}/revoke")
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=DB_INT_MAX)], request: Request, viewer: SignedIn
) -> Response:
    """Revoke one of your own tokens at once."""
    runtime = viewer.runtime
    try:
        with runtime.db.transaction() as session:
            profile.revoke_own_token(
                session, user=viewer.name, token_id=token_id, now=runtime.clock.now()
            )
    except WarroomError as exc:
        return _page(request, viewer, status=exc.status, error=exc.message)
    return see_other("/profile")
