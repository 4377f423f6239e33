"""The incident forms: declare, acknowledge (one or many), lifecycle moves, notes, checklist.

Each is a plain form post that works without JavaScript: it does the change through the same
flows as the API, then redirects (303) to the page to see, so a reload never posts twice. A
refused change shows the page again with what was wrong, and changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError

from warroom.api.deps import DB_INT_MAX
from warroom.core.errors import Invalid, WarroomError
from warroom.drills.scenario import SHIPPED
from warroom.incidents.schemas import IncidentCreate, NoteCreate, TransitionRequest
from warroom.incidents.visibility import check_declare_public
from warroom.mitigation.checklist import ChecklistChange
from warroom.mitigation.checklist_flows import change_item
from warroom.web.incident_pages import room
from warroom.web.page import PageRoute, Responder, Viewer, render, see_other

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Short = Annotated[str, Form(max_length=200)]
Long = Annotated[str, Form(max_length=20000)]
LIFECYCLE = ("triage", "mitigate", "resolve", "close", "reopen")


def problem(exc: ValidationError) -> str:
    """Say what is wrong with a form in one line."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'form'}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )


def in_page_terms(exc: WarroomError) -> str:
    """Say a lifecycle gate's refusal with what to do on the pages, not the API's fields."""
    details = exc.details if isinstance(exc.details, dict) else {}
    ref = details.get("ref")
    if exc.code != "postmortem_not_done" or not ref or details.get("postmortem_status") is None:
        return str(exc)
    due = f", due {str(details['due_at'])[:10]}" if details.get("due_at") else ""
    worst = details.get("peak_severity")
    owed = f" (it was {worst} at its worst)" if worst != details.get("severity") else ""
    return (
        f"{ref} needs its postmortem done before it closes{owed}; the postmortem is "
        f"{str(details['postmortem_status']).replace('_', ' ')}{due}. Open Postmortem: the "
        "editor, write the summary, the root cause and at least one why, set its status to "
        "Done and save; then close it here."
    )


def _given(**fields: str) -> dict[str, str]:
    """Keep the fields a person filled in (an empty box means "not given")."""
    return {key: value.strip() for key, value in fields.items() if value and value.strip()}


@router.post("/incidents")
def declare(
    request: Request,
    viewer: Responder,
    title: Short = "",
    severity: Short = "",
    incident_type: Short = "",
    service: Short = "",
    summary: Long = "",
    visibility: Short = "",
) -> Response:
    """Declare an incident and open its room."""
    runtime = viewer.runtime
    values = _given(
        title=title,
        severity=severity,
        incident_type=incident_type,
        service=service,
        summary=summary,
        visibility=visibility,
    )
    try:
        body = IncidentCreate.model_validate(values)
        if body.visibility == "public":
            check_declare_public(runtime.config(), viewer.access, body.incident_type or "default")
        fields = body.model_dump(exclude={"runbook"})
        detail = runtime.flows.declare(actor=viewer.actor(), **fields)
    except (ValidationError, WarroomError) as exc:
        error = problem(exc) if isinstance(exc, ValidationError) else str(exc)
        config = runtime.config()
        return render(
            request,
            "incidents/declare.html",
            viewer,
            status=422 if isinstance(exc, ValidationError) else exc.status,
            types=config.incident_types,
            services=[item.id for item in config.services],
            values=values,
            error=error,
            drill_scenarios=SHIPPED,
        )
    return see_other(f"/incidents/{detail.ref}")


@router.post("/incidents/acknowledge")
def acknowledge_many(
    request: Request,
    viewer: Responder,
    ref: Annotated[list[str], Form(max_length=32)] = [],  # noqa: B006 (FastAPI copies it)
) -> Response:
    """Acknowledge every incident ticked in the list (alert storms)."""
    if not ref:
        raise Invalid("tick at least one incident to acknowledge")
    for one in ref[:200]:
        # Each on its own: one the user may not see, or one closed since, skips only itself.
        try:
            viewer.runtime.flows.check_visible(
                one, viewer.access, request="POST /incidents/acknowledge"
            )
            viewer.runtime.flows.acknowledge(one, actor=viewer.actor())
        except WarroomError:
            continue
    back = request.headers.get("referer") or ""
    same_site = back.startswith(str(request.base_url))
    return see_other(back if same_site else "/incidents")


@router.post("/incidents/{ref}/acknowledge")
def acknowledge(ref: str, request: Request, viewer: Responder) -> Response:
    """Acknowledge: the Incident Commander has it."""
    try:
        viewer.runtime.flows.acknowledge(ref, actor=viewer.actor())
    except WarroomError as exc:
        return room(request, viewer, ref, error=str(exc), status=exc.status)
    return see_other(f"/incidents/{ref}")


@router.post("/incidents/{ref}/lifecycle")
def move(
    ref: str,
    request: Request,
    viewer: Responder,
    action: Short = "",
    note: Long = "",
    severity: Short = "",
    commander: Short = "",
    impact: Long = "",
    scope: Long = "",
    priority: Short = "",
    incident_type: Short = "",
    skip_verification: Short = "",
    false_alarm: Short = "",
    waive_postmortem: Short = "",
) -> Response:
    """Move the incident: triage (with the assessment, and its type), mitigate, resolve,
    close, reopen."""
    if action not in LIFECYCLE:
        return room(request, viewer, ref, error=f"unknown action {action!r}", status=422)
    given = _given(
        note=note,
        severity=severity,
        commander=commander,
        impact=impact,
        scope=scope,
        priority=priority,
        skip_verification=skip_verification,
        false_alarm=false_alarm,
        waive_postmortem=waive_postmortem,
    )
    try:
        body = TransitionRequest.model_validate(given)
        fields: dict[str, Any] = body.model_dump(
            exclude_none=True,
            exclude={"note", "skip_verification", "false_alarm", "waive_postmortem"},
        )
        if action == "triage" and incident_type.strip():
            # A report triaged as what it turned out to be (a data breach: security, restricted).
            fields["incident_type"] = incident_type.strip()
        viewer.runtime.flows.transition(
            ref,
            action,
            actor=viewer.actor(),
            note=body.note,
            fields=fields or None,
            skip_verification=body.skip_verification,
            false_alarm=body.false_alarm,
            waive_postmortem=body.waive_postmortem,
        )
    except ValidationError as exc:
        return room(request, viewer, ref, error=problem(exc), status=422)
    except WarroomError as exc:
        return room(request, viewer, ref, error=in_page_terms(exc), status=exc.status)
    return see_other(f"/incidents/{ref}")


@router.post("/incidents/{ref}/notes")
def add_note(
    ref: str, request: Request, viewer: Responder, text: Long = "", key_event: Short = ""
) -> Response:
    """Add a note to the timeline."""
    try:
        body = NoteCreate.model_validate({"text": text.strip(), "key_event": bool(key_event)})
        viewer.runtime.flows.note(
            ref, actor=viewer.actor(), text=body.text, key_event=body.key_event
        )
    except ValidationError:
        return room(request, viewer, ref, error="write something in the note first", status=422)
    except WarroomError as exc:
        return room(request, viewer, ref, error=str(exc), status=exc.status)
    return see_other(f"/incidents/{ref}#timeline")


@router.post("/incidents/{ref}/checklist/{item_id}")
def checklist_item(
    ref: str,
    item_id: Annotated[int, Path(ge=1, le=DB_INT_MAX)],
    request: Request,
    viewer: Responder,
    done: Short = "",
    skipped_reason: Short = "",
) -> Response:
    """Tick an item done, undo it, or skip it with a reason."""
    values: dict[str, Any] = {}
    if skipped_reason.strip():
        values["skipped_reason"] = skipped_reason.strip()
    elif done in ("true", "false"):
        values["done"] = done == "true"
    else:
        return room(
            request, viewer, ref, error="say done, not done, or why it is skipped", status=422
        )
    try:
        change_checklist(viewer, ref, item_id, values)
    except ValidationError as exc:
        return room(request, viewer, ref, error=problem(exc), status=422)
    except WarroomError as exc:
        return room(request, viewer, ref, error=str(exc), status=exc.status)
    return see_other(f"/incidents/{ref}#checklist")


def change_checklist(viewer: Viewer, ref: str, item_id: int, values: dict[str, Any]) -> None:
    """Change a checklist item as the API's PATCH does (raises what it raises)."""
    runtime = viewer.runtime
    change_item(
        runtime.db,
        config=runtime.config(),
        now=runtime.clock.now(),
        ref=ref,
        item_id=item_id,
        request=ChecklistChange.model_validate(values),
        actor=viewer.actor(),
        refresh=runtime.flows.refresh,
    )
