"""Incident metrics over a period, as JSON and as CSV."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from warroom.api.deps import RuntimeDep, Viewer, access_of
from warroom.api.errors import ERROR_RESPONSES
from warroom.reports import service
from warroom.reports.exports import export_csv
from warroom.reports.schemas import IncidentMetrics

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"], responses=ERROR_RESPONSES)

Since = Annotated[
    str | None,
    Query(max_length=64, description="Detected at or after: `30d` ago or ISO 8601 (default 30d)."),
]
Until = Annotated[
    str | None, Query(max_length=64, description="Detected before: `1d` ago or ISO 8601 (now).")
]
Severities = Annotated[
    list[str] | None, Query(description="SEV-1…; repeat or comma-separate (default: all).")
]
Drills = Annotated[
    bool, Query(description="Include practice incidents (`warroom drill`); left out by default.")
]
Services = Annotated[
    list[str] | None,
    Query(description="Service ids; repeat or comma-separate; `(none)` for incidents without."),
]


@router.get("/incidents", response_model=IncidentMetrics)
def incident_metrics(
    runtime: RuntimeDep,
    principal: Viewer,
    since: Since = None,
    until: Until = None,
    severity: Severities = None,
    service_: Annotated[list[str] | None, Query(alias="service")] = None,
    drills: Drills = False,
) -> IncidentMetrics:
    """Count incidents and give MTTD, MTTA, MTTM and MTTR (mean, p50, p90) over a period."""
    now = runtime.clock.now()
    selection = service.select_incidents(
        runtime.config(),
        now=now,
        since=since,
        until=until,
        severity=severity,
        service=service_,
        access=access_of(principal, runtime),
        drills=drills,
    )
    with runtime.db.session() as session:
        return service.incident_metrics(session, selection=selection, now=now)


@router.get(
    "/incidents.csv",
    response_class=Response,
    responses={200: {"description": "One row per incident", "content": {"text/csv": {}}}},
)
def incident_metrics_csv(
    request: Request,
    runtime: RuntimeDep,
    principal: Viewer,
    since: Since = None,
    until: Until = None,
    severity: Severities = None,
    service_: Annotated[list[str] | None, Query(alias="service")] = None,
    drills: Drills = False,
) -> Response:
    """Export the selected incidents as CSV with their durations in seconds."""
    selection = service.select_incidents(
        runtime.config(),
        now=runtime.clock.now(),
        since=since,
        until=until,
        severity=severity,
        service=service_,
        access=access_of(principal, runtime),
        drills=drills,
    )
    body = export_csv(
        runtime.db,
        selection,
        actor=principal.name,
        at=runtime.clock.now(),
        request=f"GET {request.url.path}?{request.url.query}".rstrip("?"),
    )
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="incidents.csv"'},
    )
