"""Report a problem: the form anyone signed in may use (viewers included), as intake's
`POST /api/v1/reports`. A viewer's report pages nobody until a responder triages it."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from warroom.detection.sources import report
from warroom.web.incident_forms import problem
from warroom.web.page import PageRoute, SignedIn, Viewer, render, see_other

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Short = Annotated[str, Form(max_length=200)]
Long = Annotated[str, Form(max_length=20000)]


def _form(
    request: Request, viewer: Viewer, *, values: dict[str, str], error: str | None, status: int
) -> HTMLResponse:
    config = viewer.runtime.config()
    return render(
        request,
        "report.html",
        viewer,
        status=status,
        values=values,
        error=error,
        services=[service.id for service in config.services],
        held=viewer.principal.role == "viewer",
    )


@router.get("/report")
def report_form(request: Request, viewer: SignedIn) -> HTMLResponse:
    """Show the report form, with what each severity means."""
    return _form(request, viewer, values={}, error=None, status=200)


@router.post("/report")
async def send_report(
    request: Request,
    viewer: SignedIn,
    title: Short = "",
    severity: Short = "",
    service: Short = "",
    summary: Long = "",
) -> Response:
    """Open the report as its own incident, you its reporter; on to its room."""
    values = {"title": title, "severity": severity, "service": service, "summary": summary}
    try:
        body = report.ReportIn.model_validate({k: v for k, v in values.items() if v.strip()})
    except ValidationError as exc:
        return _form(request, viewer, values=values, error=problem(exc), status=422)
    alert = report.to_alert(body, reporter=viewer.name, held=viewer.principal.role == "viewer")
    future = viewer.runtime.intake.submit(source="web", integration="web", alerts=[alert])
    result = await asyncio.wrap_future(future)
    numbers = result.opened or result.linked
    return see_other(f"/incidents/INC-{numbers[0]}" if numbers else "/")
