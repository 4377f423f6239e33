"""Postmortem routes: the document, its action items, the fishbone SVG and the export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response, status

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
from warroom.core.errors import Invalid
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


IfMatch = Annotated[
    str | None,
    Header(
        max_length=64,
        description='The version the edit was made from, as GET\'s ETag gave it: `"3"`.',
    ),
]


def etag(version: int) -> str:
    """Return the ETag of a postmortem version."""
    return f'"{version}"'


def version_of(if_match: str | None, body_version: int | None) -> int | None:
    """Return the version a save was made from: `If-Match` or the body's `version`."""
    if if_match is None or if_match.strip() == "*":
        return body_version
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 10:
        raise Invalid(f'If-Match {if_match!r} is not a postmortem version such as "3"')
    version = int(text)
    if body_version is not None and body_version != version:
        raise Invalid(
            f"If-Match says version {version} and the body says {body_version}; send one",
            {"field": "version"},
        )
    return version


@router.get("/{ref}/postmortem", response_model=PostmortemOut)
def get_postmortem(
    ref: str, response: Response, runtime: RuntimeDep, _principal: Viewer
) -> PostmortemOut:
    """Return the postmortem of a resolved or closed incident (409 while it is open).

    Its `version` (also the ETag) goes back with a save, so a concurrent save is not lost.
    """
    out = runtime.postmortems.get(ref)
    response.headers["ETag"] = etag(out.version)
    return out


@router.put("/{ref}/postmortem", response_model=PostmortemOut)
def put_postmortem(
    ref: str,
    body: PostmortemUpdate,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    principal: Responder,
    if_match: IfMatch = None,
) -> PostmortemOut:
    """Replace the postmortem's editable fields; every field is checked before any is saved.

    With `If-Match` or `version`, a save made from an older version than the stored one is
    refused with 409 (details: `current_version`) and writes nothing; without either, the
    save overwrites, as before.
    """
    actor = actor_of(principal, request)
    out = runtime.postmortems.save(
        ref,
        actor=actor,
        values=body.model_dump(exclude={"version"}),
        expected_version=version_of(if_match, body.version),
    )
    response.headers["ETag"] = etag(out.version)
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
def export_postmortem(ref: str, runtime: RuntimeDep, principal: Responder) -> ExportOut:
    """Write the postmortem as markdown, HTML and two SVGs into archive/; return the paths."""
    done = runtime.postmortems.export(ref, actor=principal.name)
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
