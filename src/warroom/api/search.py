"""Full-text search over incidents and what was written about them (JSON)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from warroom.api.deps import RuntimeDep, Viewer, access_of
from warroom.api.errors import ERROR_RESPONSES
from warroom.search import flows
from warroom.search.schemas import SearchPage

router = APIRouter(prefix="/api/v1/search", tags=["search"], responses=ERROR_RESPONSES)

When = Query(max_length=64, description="Detected at or after/before: `30d` ago or ISO 8601.")


@router.get("", response_model=SearchPage)
def search(
    runtime: RuntimeDep,
    principal: Viewer,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=500,
            description="Words all found in one place (title and summary, a note, …); "
            '"quoted words" together.',
        ),
    ],
    service: Annotated[str | None, Query(max_length=64)] = None,
    severity: Annotated[
        list[str] | None, Query(description="SEV-1…; repeat or comma-separate")
    ] = None,
    status: Annotated[
        list[str] | None,
        Query(description="detected, …, closed, or `open`; repeat or comma-separate"),
    ] = None,
    type_: Annotated[str | None, Query(alias="type", max_length=64)] = None,
    since: Annotated[str | None, When] = None,
    until: Annotated[str | None, When] = None,
    page: Annotated[int, Query(ge=1, le=flows.PAGE_MAX)] = 1,
    per_page: Annotated[int, Query(ge=1, le=flows.PER_PAGE_MAX)] = 20,
) -> SearchPage:
    """Search incidents you may see: titles, summaries, notes, status updates, postmortems,
    action items and alert labels; best match first, each with a quote."""
    config = runtime.config()
    filters = flows.build_filters(
        config,
        now=runtime.clock.now(),
        service=service,
        severity=severity,
        status=status,
        incident_type=type_,
        since=since,
        until=until,
    )
    results = flows.find(
        runtime.db,
        config,
        access_of(principal, runtime),
        text=q,
        filters=filters,
        page=page,
        per_page=per_page,
    )
    return SearchPage.of(results)
