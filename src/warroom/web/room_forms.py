"""The incident room's other forms: command handoff, roles, access, actions, status updates,
a checklist item's owner.

Like the lifecycle forms (incident_forms.py) each goes through the flow the API uses, answers a
success with a redirect, and a refusal with the room, the reason and nothing changed. An
action's run and a status update's preview are shown on the room at once instead: a result
is seen once, and a preview is not saved.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from warroom.api.deps import DB_INT_MAX
from warroom.api.status import post_status_update
from warroom.core.errors import ActionTimedOut, Invalid, WarroomError
from warroom.mitigation.action_flows import run_action
from warroom.status.schemas import StatusUpdateCreate
from warroom.web.incident_forms import change_checklist, problem
from warroom.web.incident_pages import room
from warroom.web.page import PageRoute, Responder, Viewer, see_other

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Short = Annotated[str, Form(max_length=200)]
Long = Annotated[str, Form(max_length=20000)]
ActionName = Annotated[str, Path(max_length=64)]
ItemId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]


def _refused(request: Request, viewer: Viewer, ref: str, exc: Exception) -> Response:
    """Show the room again with why the change was refused."""
    if isinstance(exc, ValidationError):
        return room(request, viewer, ref, error=problem(exc), status=422)
    assert isinstance(exc, WarroomError)
    return room(request, viewer, ref, error=exc.message, status=exc.status)


@router.post("/incidents/{ref}/commander")
def propose_commander(
    ref: str, request: Request, viewer: Responder, person: Short = "", reason: Short = ""
) -> Response:
    """Hand command to someone (pending until they accept, when someone is in charge)."""
    try:
        if not person.strip():
            raise Invalid("choose who takes command")
        viewer.runtime.triage.propose_commander(
            ref, actor=viewer.actor(), person=person.strip(), reason=reason.strip() or None
        )
    except WarroomError as exc:
        return _refused(request, viewer, ref, exc)
    return see_other(f"/incidents/{ref}#people")


@router.post("/incidents/{ref}/commander/{answer}")
def answer_handoff(
    ref: str,
    answer: Annotated[str, Path(pattern="^(accept|decline)$")],
    request: Request,
    viewer: Responder,
) -> Response:
    """Accept or decline command (the proposed person, or an admin for them)."""
    try:
        viewer.runtime.triage.answer_handoff(
            ref,
            actor=viewer.actor(),
            accept=answer == "accept",
            on_behalf=viewer.principal.role == "admin",
        )
    except WarroomError as exc:
        return _refused(request, viewer, ref, exc)
    return see_other(f"/incidents/{ref}#people")


@router.post("/incidents/{ref}/roles")
def change_role(
    ref: str,
    request: Request,
    viewer: Responder,
    role: Short = "",
    person: Short = "",
    release: Short = "",
) -> Response:
    """Give someone a response role, or take it back."""
    try:
        if not role or not person:
            raise Invalid("choose a role and a person")
        viewer.runtime.triage.change_role(
            ref, actor=viewer.actor(), role=role, person=person, release=bool(release)
        )
    except WarroomError as exc:
        return _refused(request, viewer, ref, exc)
    return see_other(f"/incidents/{ref}#people")


@router.post("/incidents/{ref}/access")
def grant_access(
    ref: str, request: Request, viewer: Responder, person: Short = "", reason: Short = ""
) -> Response:
    """Let a person into a restricted incident, with the reason on the timeline."""
    try:
        if not person.strip() or not reason.strip():
            raise Invalid("say who to let in and why")
        viewer.runtime.flows.grant(
            ref,
            actor=viewer.actor(),
            access=viewer.access,
            person=person.strip(),
            reason=reason.strip(),
        )
    except WarroomError as exc:
        return _refused(request, viewer, ref, exc)
    return see_other(f"/incidents/{ref}#people")


@router.post("/incidents/{ref}/actions/{name}")
async def run(ref: str, name: ActionName, request: Request, viewer: Responder) -> Response:
    """Run a configured action (a dangerous one needs its confirm box ticked); show its run."""
    form = await request.form()
    params = {
        key.removeprefix("param."): value
        for key, value in form.items()
        if key.startswith("param.") and isinstance(value, str) and value != ""
    }
    confirm = form.get("confirm") == "yes"
    # The action waits for a command or an HTTP call: never on the event loop.
    return await run_in_threadpool(_run, request, viewer, ref, name, params, confirm)


def _run(
    request: Request, viewer: Viewer, ref: str, name: str, params: dict[str, Any], confirm: bool
) -> Response:
    runtime = viewer.runtime
    try:
        result = run_action(
            db=runtime.db,
            actions=runtime.config().actions,
            now=runtime.clock.now,
            ref=ref,
            name=name,
            params=params,
            confirm=confirm,
            role=viewer.principal.role,
            actor=viewer.actor(),
        )
    except ActionTimedOut as exc:  # on the timeline already; the room shows the record
        return room(request, viewer, ref, error=exc.message, status=exc.status)
    except WarroomError as exc:
        return _refused(request, viewer, ref, exc)
    runtime.flows.refresh(int(result.incident.removeprefix("INC-")), "action")
    return room(request, viewer, ref, action_result=result)


@router.post("/incidents/{ref}/status-updates")
def status_update(
    ref: str,
    request: Request,
    viewer: Responder,
    status: Short = "",
    body: Long = "",
    public: Short = "",
    public_title: Short = "",
    preview: Short = "",
) -> Response:
    """Post a status update, or (the Preview button) show how the public page would word it."""
    values: dict[str, Any] = {"status": status, "body": body, "public": bool(public)}
    if public_title.strip():
        values["public_title"] = public_title.strip()
    try:
        update = StatusUpdateCreate.model_validate(values)
    except ValidationError as exc:
        return _refused(request, viewer, ref, exc)
    if preview:
        return room(request, viewer, ref, update_preview=update)
    try:
        post_status_update(
            viewer.runtime,
            ref,
            actor=viewer.actor(),
            status=update.status,
            body=update.body,
            components={},
            public=update.public,
            public_title=update.public_title,
        )
    except WarroomError as exc:
        return _refused(request, viewer, ref, exc)
    return see_other(f"/incidents/{ref}#updates")


@router.post("/incidents/{ref}/checklist/{item_id}/owner")
def checklist_owner(
    ref: str, item_id: ItemId, request: Request, viewer: Responder, owner: Short = ""
) -> Response:
    """Give a checklist item an owner (a configured person, when people are configured), or
    take it away (an empty choice); the change goes on the timeline as the API's does."""
    try:
        change_checklist(viewer, ref, item_id, {"owner": owner.strip() or None})
    except (ValidationError, WarroomError) as exc:
        return _refused(request, viewer, ref, exc)
    return see_other(f"/incidents/{ref}#check-{item_id}")
