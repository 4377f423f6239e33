"""The drill form (on the declare page): start a practice incident and open its room."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from warroom.core.errors import Invalid, WarroomError
from warroom.drills.scenario import SHIPPED
from warroom.web.page import PageRoute, Responder, render, see_other

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Short = Annotated[str, Form(max_length=200)]


@router.post("/drills")
def start(
    request: Request, viewer: Responder, scenario: Short = "", service: Short = ""
) -> Response:
    """Start a drill from a shipped scenario; show its incident (or the form and what is wrong)."""
    runtime = viewer.runtime
    try:
        if scenario.strip() and scenario.strip() not in SHIPPED:
            raise Invalid(f"choose one of the shipped scenarios: {', '.join(SHIPPED)}")
        started = runtime.drills.start(
            scenario=scenario.strip() or None,
            service_id=service.strip() or None,
            actor=viewer.actor(),
            access=viewer.access,
        )
    except WarroomError as exc:
        config = runtime.config()
        return render(
            request,
            "incidents/declare.html",
            viewer,
            status=exc.status,
            types=config.incident_types,
            services=[item.id for item in config.services],
            values={},
            error=None,
            drill_error=str(exc),
            drill_scenarios=SHIPPED,
        )
    if started.incident is None:
        return see_other("/incidents")
    return see_other(f"/incidents/{started.incident}")
