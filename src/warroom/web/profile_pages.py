"""The profile page: who you are, your time zone and theme, your own API tokens, and how
you are paged (contact methods and notification rules)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from warroom.api import contact_flows as contacts
from warroom.api import links
from warroom.api.deps import DB_INT_MAX
from warroom.auth import profile
from warroom.auth.scopes import describe
from warroom.core.durations import format_duration
from warroom.core.errors import WarroomError
from warroom.escalation import self_service, self_service_rules
from warroom.organisation import CONTACT_KINDS
from warroom.web.page import PageRoute, SignedIn, Viewer, render, see_other

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Short = Annotated[str, Form(max_length=64)]
Address = Annotated[str, Form(max_length=500)]
Steps = Annotated[str, Form(max_length=2000)]
MethodName = Annotated[str, Path(min_length=1, max_length=64)]
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
    notice: str | None = None,
    warnings: list[str] | None = None,
    steps_text: str | None = None,
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
        notice=notice,
        warnings=warnings or [],
        paging=_paging(viewer, steps_text),
    )


def _paging(viewer: Viewer, steps_text: str | None) -> dict[str, object] | None:
    """Return the viewer's methods and rules for the page; None if they are not a person."""
    config = viewer.runtime.config()
    if config.person(viewer.name) is None:
        return None
    with viewer.runtime.db.session() as session:
        methods = self_service.list_methods(session, config=config, person=viewer.name)
        rules = self_service_rules.effective_rules(session, config=config, person=viewer.name)
    lines = [f"{format_duration(s.after)}: {', '.join(s.via)}" for s in rules.steps]
    own = rules.source == self_service.OWN
    return {
        "methods": methods,
        "rules": rules,
        "kinds": CONTACT_KINDS,
        "steps_text": steps_text if steps_text is not None else ("\n".join(lines) if own else ""),
        "format_duration": format_duration,
    }


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


def _paging_change(
    request: Request, viewer: Viewer, change: Callable[[], tuple[str, list[str]]]
) -> Response:
    """Run a change to the viewer's methods or rules; show the page with what came of it."""
    try:
        notice, warnings = change()
    except WarroomError as exc:
        return _page(request, viewer, status=exc.status, error=exc.message)
    return _page(request, viewer, notice=notice, warnings=warnings)


@router.post("/profile/contact-methods")
def add_contact_method(
    request: Request, viewer: SignedIn, name: Short = "", kind: Short = "", to: Address = ""
) -> Response:
    """Add a contact method of your own; its code is sent at once."""

    def change() -> tuple[str, list[str]]:
        added = contacts.add_method(
            viewer.runtime, person=viewer.name, name=name.strip(), kind=kind, to=to
        )
        return f"A code was sent to {added.address}: type it below to verify {added.name}.", []

    return _paging_change(request, viewer, change)


@router.post("/profile/contact-methods/{name}/verify")
def verify_contact_method(
    name: MethodName, request: Request, viewer: SignedIn, code: Short = ""
) -> Response:
    """Verify one of your methods with the code sent to it."""

    def change() -> tuple[str, list[str]]:
        contacts.verify_method(viewer.runtime, person=viewer.name, name=name, code=code)
        return f"{name} is verified: pages can use it now.", []

    return _paging_change(request, viewer, change)


@router.post("/profile/contact-methods/{name}/resend")
def resend_contact_code(name: MethodName, request: Request, viewer: SignedIn) -> Response:
    """Send a new code to one of your unverified methods."""

    def change() -> tuple[str, list[str]]:
        sent = contacts.resend_code(viewer.runtime, person=viewer.name, name=name)
        return f"A new code was sent to {sent.address}.", []

    return _paging_change(request, viewer, change)


@router.post("/profile/contact-methods/{name}/remove")
def remove_contact_method(name: MethodName, request: Request, viewer: SignedIn) -> Response:
    """Remove one of your own methods."""

    def change() -> tuple[str, list[str]]:
        warnings = contacts.remove_method(viewer.runtime, person=viewer.name, name=name)
        return f"{name} removed.", warnings

    return _paging_change(request, viewer, change)


@router.post("/profile/notification-rules")
def set_notification_rules(request: Request, viewer: SignedIn, steps: Steps = "") -> Response:
    """Set your own rules from the editor: one step a line, `2m: sms, voice`."""
    try:
        parsed = [
            self_service_rules.parse_step(line) for line in steps.splitlines() if line.strip()
        ]
        rules = contacts.set_rules(viewer.runtime, person=viewer.name, steps=parsed)
    except WarroomError as exc:
        return _page(request, viewer, status=exc.status, error=exc.message, steps_text=steps)
    return _page(request, viewer, notice="Your rules are saved.", warnings=rules.warnings)


@router.post("/profile/notification-rules/clear")
def clear_notification_rules(request: Request, viewer: SignedIn) -> Response:
    """Drop your own rules: warroom.yaml's or the defaults apply again."""

    def change() -> tuple[str, list[str]]:
        contacts.clear_rules(viewer.runtime, person=viewer.name)
        return "Your own rules are gone: warroom.yaml's or the defaults apply again.", []

    return _paging_change(request, viewer, change)
