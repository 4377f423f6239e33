"""Read-only alert routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from warroom.api.deps import DB_INT_MAX, RuntimeDep, Viewer, access_of
from warroom.api.errors import ERROR_RESPONSES
from warroom.detection.api_schemas import AlertOut, AlertPage
from warroom.detection.queries import list_alerts
from warroom.incidents import service as incidents
from warroom.incidents.visibility import visible

router = APIRouter(prefix="/api/v1", tags=["alerts"], responses=ERROR_RESPONSES)


@router.get("/alerts", response_model=AlertPage)
def alerts(
    runtime: RuntimeDep,
    principal: Viewer,
    status: Annotated[str | None, Query(description="firing or resolved")] = None,
    source: Annotated[str | None, Query(max_length=32)] = None,
    incident: Annotated[str | None, Query(description="42 or INC-42")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        int | None, Query(ge=1, le=DB_INT_MAX, description="next_cursor of the previous page")
    ] = None,
) -> AlertPage:
    """List stored alerts, newest first (none of an incident the caller may not see)."""
    config, access = runtime.config(), access_of(principal, runtime)
    if incident:  # one incident's alerts: a read of it (audited when it is restricted)
        runtime.flows.check_visible(
            incident, access, request=f"GET /api/v1/alerts?incident={incident}"
        )
    with runtime.db.session() as session:
        incident_id = incidents.get(session, incident).id if incident else None
        rows, next_cursor = list_alerts(
            session,
            status=status,
            source=source,
            incident_id=incident_id,
            limit=limit,
            before_id=cursor,
            visible=visible(config, access),
        )
        return AlertPage(items=[AlertOut.of(a, n) for a, n in rows], next_cursor=next_cursor)
