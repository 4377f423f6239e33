"""The one-click acknowledge link of a page: GET shows a confirm page, only POST acknowledges.

The link is the credential (signed for one person and one incident, single use), so these
pages need no session. A mail system's link scanner that fetches the link changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from warroom.api.deps import RuntimeDep
from warroom.audit import service as audit
from warroom.escalation import acks
from warroom.web.page import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Token = Annotated[str, Path(max_length=300)]
# Said to whoever holds the link, before and after.
STATES = {
    "used": (409, "This link was used already."),
    "expired": (410, "This link has expired: paging has ended. Sign in to acknowledge."),
    "invalid": (404, "This link is not valid (it may be cut short, or from another warroom)."),
}
NO_STORE = {"Cache-Control": "no-store"}


def _facts(request: Request, view: acks.LinkView) -> dict[str, Any]:
    """Read what the page shows while the session is open (the incident is a model)."""
    config = request.app.state.runtime.config()
    incident = view.incident
    person = config.person(view.person) if view.person else None
    restricted = incident is not None and incident.visibility == "restricted"
    return {
        "state": view.state,
        "message": STATES.get(view.state, (200, ""))[1],
        "ref": incident.ref if incident else None,
        "severity": incident.severity if incident else None,
        # The link may have been forwarded: a restricted incident shows only its codename.
        "title": "(restricted)" if restricted else (incident.title if incident else None),
        "person": person.name if person else view.person,
        "acknowledged_by": view.acknowledged_by,
    }


def _page(request: Request, facts: dict[str, Any], **values: Any) -> Response:
    state = str(facts["state"])
    status = 200 if values.get("done") else STATES.get(state, (200, ""))[0]
    page = render(request, "ack.html", status=status, **facts, **values)
    page.headers.update(NO_STORE)
    return page


@router.get("/ack/{token}")
def confirm_page(request: Request, token: Token, runtime: RuntimeDep) -> Response:
    """Show what the link acknowledges, and a button that does it (a GET changes nothing)."""
    with runtime.db.session() as session:
        view = acks.view_link(session, token=token, now=runtime.clock.now())
        facts = _facts(request, view)
    return _page(request, facts, token=token, done=None)


@router.post("/ack/{token}")
def acknowledge(request: Request, token: Token, runtime: RuntimeDep) -> Response:
    """Acknowledge the incident as the link's person; the link is then used up."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        view, done = acks.by_link(session, token=token, now=now)
        if done is not None and view.incident is not None and view.person is not None:
            audit.record(
                session,
                "incident.acknowledge",
                actor=view.person,
                at=now,
                target=view.incident.ref,
                outcome="ok" if done.ok else "failed",
                details={"via": "link"},
            )
        facts = _facts(request, view)
    return _page(request, facts, token=token, done=done.message if done else None)
