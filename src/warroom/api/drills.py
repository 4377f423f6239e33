"""Drill routes: start a practice incident, and read a drill with its review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from warroom.api.deps import DB_INT_MAX, Responder, RuntimeDep, Viewer, access_of, actor_of
from warroom.api.errors import ERROR_RESPONSES
from warroom.drills.schemas import DrillOut, DrillStart

router = APIRouter(prefix="/api/v1/drills", tags=["drills"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DrillOut)
def start(
    body: DrillStart, request: Request, runtime: RuntimeDep, principal: Responder
) -> DrillOut:
    """Start a drill: a practice incident marked DRILL, paging its participants only."""
    return runtime.drills.start(
        scenario=body.scenario,
        service_id=body.service,
        actor=actor_of(principal, request),
        access=access_of(principal, runtime),
    )


@router.get("/{drill_id}", response_model=DrillOut)
def show(
    drill_id: Annotated[int, Path(ge=1, le=DB_INT_MAX)],
    runtime: RuntimeDep,
    principal: Viewer,
) -> DrillOut:
    """Return a drill, its steps and its review (time to each phase, steps skipped)."""
    return runtime.drills.show(drill_id, access=access_of(principal, runtime))
