"""Checklist routes: read an incident's mitigation checklist, change one item."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from warroom.api.deps import DB_INT_MAX, Responder, RuntimeDep, Viewer, VisibleIncident, actor_of
from warroom.api.errors import ERROR_RESPONSES
from warroom.incidents import service as incidents
from warroom.mitigation import checklist
from warroom.mitigation.checklist import ChecklistChange, ChecklistChangeOut, ChecklistOut
from warroom.mitigation.checklist_flows import change_item

ItemId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="The item's id (from GET)")]

# Registered before the incidents router, like every router under /api/v1/incidents/{ref}/….
router = APIRouter(
    prefix="/api/v1/incidents",
    tags=["checklists"],
    responses=ERROR_RESPONSES,
    dependencies=[VisibleIncident],
)


@router.get("/{ref}/checklist", response_model=ChecklistOut)
def show(ref: str, runtime: RuntimeDep, _principal: Viewer) -> ChecklistOut:
    """Return the checklist grouped by section, with progress per section and overall."""
    with runtime.db.session() as session:
        return checklist.view(session, incident=incidents.get(session, ref))


@router.patch("/{ref}/checklist/{item_id}", response_model=ChecklistChangeOut)
def change(
    ref: str,
    item_id: ItemId,
    body: ChecklistChange,
    request: Request,
    runtime: RuntimeDep,
    principal: Responder,
) -> ChecklistChangeOut:
    """Mark an item done or not, skip it with a reason, set its owner or note."""
    return change_item(
        runtime.db,
        config=runtime.config(),
        now=runtime.clock.now(),
        ref=ref,
        item_id=item_id,
        request=body,
        actor=actor_of(principal, request),
        refresh=runtime.flows.refresh,
    )
