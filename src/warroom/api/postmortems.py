"""Postmortem routes: the document, its action items, the fishbone SVG and the export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from warroom.api.deps import (
    DB_INT_MAX,
    Responder,
    RuntimeDep,
    Viewer,
    VisibleIncident,
    access_of,
    actor_of,
)
from warroom.api.errors import ERROR_RESPONSES
from warroom.postmortem import export
from warroom.postmortem.schemas import (
    ActionItemCreate,
    ActionItemOut,
    ActionItemPatch,
    ExportOut,
    PostmortemOut,
    PostmortemUpdate,
)

# Registered before the incidents router: its POST /{ref}/{action} would catch these paths.
router = APIRouter(
    prefix="/api/v1/incidents",
    tags=["postmortems"],
    responses=ERROR_RESPONSES,
    dependencies=[VisibleIncident],
)
items_router = APIRouter(
    prefix="/api/v1/postmortems", tags=["postmortems"], responses=ERROR_RESPONSES
)
ItemId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="The action item's id")]


@router.get("/{ref}/postmortem", response_model=PostmortemOut)
def get_postmortem(ref: str, runtime: RuntimeDep, _principal: Viewer) -> PostmortemOut:
    """Return the postmortem of a resolved or closed incident (409 while it is open)."""
    return runtime.postmortems.get(ref)


@router.put("/{ref}/postmortem", response_model=PostmortemOut)
def put_postmortem(
    ref: str, body: PostmortemUpdate, request: Request, runtime: RuntimeDep, principal: Responder
) -> PostmortemOut:
    """Replace the postmortem's editable fields; every field is checked before any is saved."""
    actor = actor_of(principal, request)
    return runtime.postmortems.save(ref, actor=actor, values=body.model_dump())


@router.post(
    "/{ref}/postmortem/action-items",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionItemOut,
)
def add_action_item(
    ref: str, body: ActionItemCreate, request: Request, runtime: RuntimeDep, principal: Responder
) -> ActionItemOut:
    """Add a short- or long-term action item to the incident's postmortem (and a Jira issue)."""
    actor = actor_of(principal, request)
    return runtime.postmortems.add_item(
        ref,
        actor=actor,
        values=body.model_dump(exclude={"create_jira"}),
        create_jira=body.create_jira,
    )


@router.get(
    "/{ref}/postmortem/fishbone.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The fishbone diagram"}},
)
def fishbone_svg(ref: str, runtime: RuntimeDep, _principal: Viewer) -> Response:
    """Return the postmortem's fishbone diagram as SVG."""
    out = runtime.postmortems.get(ref)
    return Response(export.render_svg(out), media_type="image/svg+xml")


@router.get(
    "/{ref}/postmortem/timeline.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The timeline picture"}},
)
def timeline_svg(ref: str, runtime: RuntimeDep, _principal: Viewer) -> Response:
    """Return the incident's timeline as SVG: phases with durations, milestones, key events."""
    out = runtime.postmortems.get(ref)
    return Response(export.render_timeline(out), media_type="image/svg+xml")


@router.post("/{ref}/postmortem/export", response_model=ExportOut)
def export_postmortem(ref: str, runtime: RuntimeDep, _principal: Responder) -> ExportOut:
    """Write the postmortem as markdown, HTML and two SVGs into archive/; return the paths."""
    done = runtime.postmortems.export(ref)
    return ExportOut(incident=done.incident, paths=[str(p) for p in done.paths])


@items_router.patch("/action-items/{item_id}", response_model=ActionItemOut)
def patch_action_item(
    item_id: ItemId,
    body: ActionItemPatch,
    request: Request,
    runtime: RuntimeDep,
    principal: Responder,
) -> ActionItemOut:
    """Change an action item (owner, due date, status, …); send only what changes."""
    actor = actor_of(principal, request)
    return runtime.postmortems.change_item(
        item_id,
        actor=actor,
        access=access_of(principal, runtime),
        changes=body.model_dump(exclude_unset=True),
    )
