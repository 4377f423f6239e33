"""The search results page: the box in every page's header leads here."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from warroom.core.errors import Invalid
from warroom.incidents.states import STATUSES
from warroom.search import flows
from warroom.search.models import KINDS
from warroom.search.service import Results
from warroom.web.page import PageRoute, SignedIn, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Query(max_length=500)]
PER_PAGE = 20
FILTERS = ("service", "severity", "status", "type", "since", "until")


@router.get("/search")
def search_page(
    request: Request,
    viewer: SignedIn,
    q: Text = "",
    service: Text = "",
    severity: Text = "",
    status: Text = "",
    type: Text = "",
    since: Text = "",
    until: Text = "",
    page: Annotated[int, Query(ge=1, le=flows.PAGE_MAX)] = 1,
) -> HTMLResponse:
    """Search incidents; filters and page kept in the URL so a search can be shared."""
    runtime = viewer.runtime
    config = runtime.config()
    chosen = {"q": q, "service": service, "severity": severity, "status": status}
    chosen |= {"type": type, "since": since, "until": until}
    results: Results | None = None
    error = None
    if q.strip():
        try:
            filters = flows.build_filters(
                config,
                now=runtime.clock.now(),
                service=service,
                severity=[severity] if severity else None,
                status=[status] if status else None,
                incident_type=type,
                since=since,
                until=until,
            )
            results = flows.find(
                runtime.db,
                config,
                viewer.access,
                text=q,
                filters=filters,
                page=page,
                per_page=PER_PAGE,
            )
        except Invalid as exc:
            error = exc.message
    kept = {key: value for key, value in chosen.items() if value}
    next_page = results.next_page if results else None
    return render(
        request,
        "search.html",
        viewer,
        status=422 if error else 200,
        q=q,
        chosen=chosen,
        error=error,
        results=results,
        kinds=KINDS,
        statuses=STATUSES,
        types=[kind.id for kind in config.incident_types],
        filtered=any(chosen[name] for name in FILTERS),
        next_url=f"/search?{urlencode({**kept, 'page': next_page})}" if next_page else None,
        previous_url=f"/search?{urlencode({**kept, 'page': page - 1})}" if page > 1 else None,
    )
