"""Postmortem routes: the document, its action items, the fishbone SVG and the export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from warroom.api.deps import DB_INT_MAX, Responder, RuntimeDep, Viewer, actor_of
from warroom.api.errors import ERROR_RESPONSES
from warroom.core.errors import Conflict
from warroom.incidents import service as incidents
from warroom.postmortem import document, export, service
from warroom.postmortem.schemas import (
    ActionItemCreate,
    ActionItemOut,
    ActionItemPatch,
    ExportOut,
    PostmortemOut,
    PostmortemUpdate,
)

# Registered before the incidents router: its POST /{ref}/{action} would catch these paths.
router = APIRouter(prefix="/api/v1/incidents", tags=["postmortems"], responses=ERROR_RESPONSES)
items_router = APIRouter(
    prefix="/api/v1/postmortems", tags=["postmortems"], responses=ERROR_RESPONSES
)
ItemId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="The action item's id")]


def _load(runtime: RuntimeDep, ref: str) -> tuple[PostmortemOut, str, bool]:
    """Return the postmortem (created if the resolve hook has not yet), slug, restricted."""
    with runtime.db.transaction() as session:
        incident = incidents.get(session, ref)
        postmortem = service.find(session, incident)
        if postmortem is None:  # only creating needs the lock that keeps it to one row
            incident = incidents.get(session, ref, for_update=True)
            postmortem = service.ensure(
                session, config=runtime.config(), incident=incident, now=runtime.clock.now()
            )
        service.check_done(incident)  # reopened since: no postmortem while it is open
        out = document.build(session, incident=incident, postmortem=postmortem)
        return out, incident.slug, incident.visibility == "restricted"


@router.get("/{ref}/postmortem", response_model=PostmortemOut)
def get_postmortem(ref: str, runtime: RuntimeDep, _principal: Viewer) -> PostmortemOut:
    """Return the postmortem of a resolved or closed incident (409 while it is open)."""
    return _load(runtime, ref)[0]


@router.put("/{ref}/postmortem", response_model=PostmortemOut)
def put_postmortem(
    ref: str, body: PostmortemUpdate, request: Request, runtime: RuntimeDep, principal: Responder
) -> PostmortemOut:
    """Replace the postmortem's editable fields; every field is checked before any is saved."""
    actor = actor_of(principal, request)
    with runtime.db.transaction() as session:
        incident = incidents.get(session, ref, for_update=True)
        postmortem = service.update(
            session,
            config=runtime.config(),
            incident=incident,
            values=body.model_dump(),
            actor=actor.name,
            source=actor.source,
            now=runtime.clock.now(),
        )
        out = document.build(session, incident=incident, postmortem=postmortem)
        number = incident.number
    runtime.flows.refresh(number, "postmortem")
    return out


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
    with runtime.db.transaction() as session:
        incident = incidents.get(session, ref, for_update=True)
        item = service.add_item(
            session,
            config=runtime.config(),
            incident=incident,
            values=body.model_dump(exclude={"create_jira"}),
            actor=actor.name,
            source=actor.source,
            now=runtime.clock.now(),
            create_jira=body.create_jira,
        )
        out = ActionItemOut.of(item, incident.ref)
        number = incident.number
    runtime.flows.refresh(number, "postmortem")
    return out


@router.get(
    "/{ref}/postmortem/fishbone.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The fishbone diagram"}},
)
def fishbone_svg(ref: str, runtime: RuntimeDep, _principal: Viewer) -> Response:
    """Return the postmortem's fishbone diagram as SVG."""
    out = _load(runtime, ref)[0]
    return Response(export.render_svg(out), media_type="image/svg+xml")


@router.get(
    "/{ref}/postmortem/timeline.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The timeline picture"}},
)
def timeline_svg(ref: str, runtime: RuntimeDep, _principal: Viewer) -> Response:
    """Return the incident's timeline as SVG: phases with durations, milestones, key events."""
    out = _load(runtime, ref)[0]
    return Response(export.render_timeline(out), media_type="image/svg+xml")


@router.post("/{ref}/postmortem/export", response_model=ExportOut)
def export_postmortem(ref: str, runtime: RuntimeDep, _principal: Responder) -> ExportOut:
    """Write the postmortem as markdown, HTML and two SVGs into archive/; return the paths."""
    out, slug, restricted = _load(runtime, ref)
    try:
        paths = export.write(
            out, archive=runtime.runbooks.archive, slug=slug, restricted=restricted
        )
    except OSError as exc:
        where = runtime.runbooks.archive
        raise Conflict(f"cannot write the postmortem into {where}: {exc.strerror or exc}") from None
    return ExportOut(incident=out.incident, paths=[str(p) for p in paths])


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
    with runtime.db.transaction() as session:
        incident = service.incident_of_item(session, item_id)  # locked: one writer at a time
        item = service.get_item(session, item_id)
        service.update_item(
            session,
            item=item,
            incident=incident,
            changes=body.model_dump(exclude_unset=True),
            actor=actor.name,
            source=actor.source,
            now=runtime.clock.now(),
            config=runtime.config(),
        )
        out = ActionItemOut.of(item, incident.ref)
        number = incident.number
    runtime.flows.refresh(number, "postmortem")
    return out
