"""Incident and timeline routes (JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Request, status
from pydantic import Field

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
from warroom.core.clock import ensure_utc
from warroom.core.errors import Invalid
from warroom.core.types import PersonId, Reason
from warroom.incidents.queries import ListFilters, parent_filter
from warroom.incidents.schemas import (
    IncidentCreate,
    IncidentDetail,
    IncidentPage,
    IncidentUpdate,
    Input,
    NoteCreate,
    NoteOut,
    RoleChange,
    TimelinePage,
    TransitionRequest,
)
from warroom.incidents.states import OPEN_STATUSES, STATUSES
from warroom.incidents.visibility import check_declare_public
from warroom.search.related_flows import MAX_LIMIT
from warroom.search.related_schemas import RelatedOut

router = APIRouter(
    prefix="/api/v1/incidents",
    tags=["incidents"],
    responses=ERROR_RESPONSES,
    dependencies=[VisibleIncident],
)
Action = Literal["triage", "mitigate", "resolve", "close", "reopen"]


def _split(values: list[str] | None) -> list[str] | None:
    """Accept both `?status=a&status=b` and `?status=a,b`."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IncidentDetail)
def declare(
    body: IncidentCreate, request: Request, runtime: RuntimeDep, principal: Responder
) -> IncidentDetail:
    """Declare an incident; its runbook file appears in `active/`."""
    fields = body.model_dump(exclude={"runbook"})
    if body.visibility == "public":
        check_declare_public(
            runtime.config(), access_of(principal, runtime), body.incident_type or "default"
        )
    if fields["started_at"] is not None:
        fields["started_at"] = ensure_utc(fields["started_at"])
    return runtime.flows.declare(actor=actor_of(principal, request), runbook=body.runbook, **fields)


@router.get("", response_model=IncidentPage)
def list_incidents(
    runtime: RuntimeDep,
    principal: Viewer,
    status_: Annotated[
        list[str] | None,
        Query(
            alias="status",
            description="detected, triaged, mitigated, resolved, closed, or `open` for the "
            "first three; repeat or comma-separate",
        ),
    ] = None,
    severity: Annotated[
        list[str] | None, Query(description="SEV-1…; repeat or comma-separate")
    ] = None,
    service: Annotated[str | None, Query(max_length=64)] = None,
    type_: Annotated[str | None, Query(alias="type", max_length=64)] = None,
    since: Annotated[datetime | None, Query(description="Detected at or after (ISO 8601)")] = None,
    commander: Annotated[str | None, Query(max_length=64, description="Its IC's id")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Words the title holds (any case)")
    ] = None,
    parent: Annotated[
        str | None,
        Query(max_length=32, description="The members of this alert storm (`INC-42`)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> IncidentPage:
    """List incidents, newest first, one page at a time."""
    statuses = _split(status_)
    if statuses and "open" in statuses:  # the incidents still being worked
        statuses = [s for s in statuses if s != "open"] + list(OPEN_STATUSES)
    bad = [s for s in statuses or [] if s not in STATUSES]
    if bad:
        raise Invalid(
            f"unknown status {', '.join(bad)}; use {', '.join(STATUSES)} or open",
            {"field": "status"},
        )
    severities = _split(severity)
    if severities:
        from warroom.incidents.fields import check_severity

        severities = [check_severity(runtime.config(), s) for s in severities]
    filters = ListFilters(
        status=statuses,
        severity=severities,
        service=service,
        incident_type=type_,
        since=ensure_utc(since) if since else None,
        commander=commander or None,
        text=(q or "").strip() or None,
        parent=parent_filter(parent),
    )
    items, next_cursor = runtime.flows.page(
        access=access_of(principal, runtime), filters=filters, limit=limit, cursor=cursor
    )
    return IncidentPage(items=items, next_cursor=next_cursor)


@router.get("/{ref}", response_model=IncidentDetail)
def show(ref: str, runtime: RuntimeDep, _principal: Viewer) -> IncidentDetail:
    """Show one incident (`42` or `INC-42`) with checklist and timeline."""
    return runtime.flows.get(ref)


@router.patch("/{ref}", response_model=IncidentDetail)
def update(
    ref: str, body: IncidentUpdate, request: Request, runtime: RuntimeDep, principal: Responder
) -> IncidentDetail:
    """Change fields; each change is written to the timeline."""
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    nulls = [k for k, v in changes.items() if v is None]
    if nulls:
        raise Invalid(f"cannot clear {', '.join(nulls)}; give a value", {"fields": nulls})
    if "started_at" in changes:
        changes["started_at"] = ensure_utc(changes["started_at"])
    return runtime.flows.update(
        ref,
        actor=actor_of(principal, request),
        changes=changes,
        reason=body.reason,
        access=access_of(principal, runtime),
    )


@router.post("/{ref}/acknowledge", response_model=IncidentDetail)
def acknowledge(
    ref: str, request: Request, runtime: RuntimeDep, principal: Responder
) -> IncidentDetail:
    """Acknowledge: stops paging; a milestone, not a status."""
    return runtime.flows.acknowledge(ref, actor=actor_of(principal, request))


@router.get("/{ref}/timeline", response_model=TimelinePage)
def get_timeline(
    ref: str,
    runtime: RuntimeDep,
    _principal: Viewer,
    after: Annotated[
        int, Query(ge=0, le=DB_INT_MAX, description="Return events with id greater than this")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> TimelinePage:
    """Read the timeline, oldest first (append-only: no route edits or deletes events)."""
    items = runtime.flows.timeline(ref, after_id=after, limit=limit + 1)
    next_cursor = str(items[limit - 1].id) if len(items) > limit else None
    return TimelinePage(items=items[:limit], next_cursor=next_cursor)


@router.get("/{ref}/related", response_model=RelatedOut)
def get_related(
    ref: str,
    runtime: RuntimeDep,
    principal: Viewer,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many to list")] = 5,
) -> RelatedOut:
    """List past incidents like this one (last 90 days) the caller may see, each with its
    score, the reasons and its postmortem's root cause and action items."""
    return runtime.related.for_reader(ref, access_of(principal, runtime), limit=limit)


@router.post("/{ref}/timeline", status_code=status.HTTP_201_CREATED, response_model=NoteOut)
def add_note(
    ref: str, body: NoteCreate, request: Request, runtime: RuntimeDep, principal: Responder
) -> NoteOut:
    """Add a note to the timeline (409 once the incident is closed: closed is final)."""
    at = ensure_utc(body.at) if body.at else None
    return runtime.flows.note(
        ref, actor=actor_of(principal, request), text=body.text, at=at, key_event=body.key_event
    )


class AccessGrant(Input):
    """Let someone into a restricted incident."""

    person: PersonId
    reason: Annotated[Reason, Field(min_length=1)]


@router.post("/{ref}/access", response_model=IncidentDetail)
def grant_access(
    ref: str, body: AccessGrant, request: Request, runtime: RuntimeDep, principal: Responder
) -> IncidentDetail:
    """Let a person into a restricted incident (admins, its access teams, its commander)."""
    return runtime.flows.grant(
        ref,
        actor=actor_of(principal, request),
        access=access_of(principal, runtime),
        person=body.person,
        reason=body.reason,
    )


class CommanderProposal(Input):
    """Name a new Incident Commander."""

    person: PersonId
    reason: Reason | None = None


@router.post("/{ref}/commander", response_model=IncidentDetail)
def propose_commander(
    ref: str, body: CommanderProposal, request: Request, runtime: RuntimeDep, principal: Responder
) -> IncidentDetail:
    """Hand command to someone: immediate with no IC yet, else pending until they accept."""
    return runtime.triage.propose_commander(
        ref, actor=actor_of(principal, request), person=body.person, reason=body.reason
    )


@router.post("/{ref}/commander/accept", response_model=IncidentDetail)
def accept_command(
    ref: str, request: Request, runtime: RuntimeDep, principal: Responder
) -> IncidentDetail:
    """Accept a pending handoff: the proposed person, or an admin on their behalf."""
    return runtime.triage.answer_handoff(
        ref, actor=actor_of(principal, request), accept=True, on_behalf=principal.role == "admin"
    )


@router.post("/{ref}/commander/decline", response_model=IncidentDetail)
def decline_command(
    ref: str, request: Request, runtime: RuntimeDep, principal: Responder
) -> IncidentDetail:
    """Decline a pending handoff; the current IC stays in charge."""
    return runtime.triage.answer_handoff(
        ref, actor=actor_of(principal, request), accept=False, on_behalf=principal.role == "admin"
    )


@router.post("/{ref}/roles", response_model=IncidentDetail)
def assign_role(
    ref: str, body: RoleChange, request: Request, runtime: RuntimeDep, principal: Responder
) -> IncidentDetail:
    """Give someone a role (deputy, scribe, communications, sme, reporter)."""
    return runtime.triage.change_role(
        ref, actor=actor_of(principal, request), role=body.role, person=body.person
    )


@router.post("/{ref}/roles/release", response_model=IncidentDetail)
def release_role(
    ref: str, body: RoleChange, request: Request, runtime: RuntimeDep, principal: Responder
) -> IncidentDetail:
    """Take a role back from someone."""
    return runtime.triage.change_role(
        ref, actor=actor_of(principal, request), role=body.role, person=body.person, release=True
    )


# Registered last so the fixed paths above (…/timeline) win over the {action} pattern.
@router.post("/{ref}/{action}", response_model=IncidentDetail)
def transition(
    ref: str,
    action: Action,
    request: Request,
    runtime: RuntimeDep,
    principal: Responder,
    body: Annotated[TransitionRequest | None, Body()] = None,
) -> IncidentDetail:
    """Move the incident: triage, mitigate, resolve, close or reopen (409 says what is allowed).

    Resolving needs the Verification checklist settled (the 409 lists open items) unless
    `skip_verification` gives the reason to skip them; closing needs a required postmortem
    done, unless an admin gives `waive_postmortem`. `false_alarm` ends it as a false alarm.
    """
    body = body or TransitionRequest()
    bends = {"skip_verification", "false_alarm", "waive_postmortem"}
    fields = body.model_dump(exclude_none=True, exclude={"note", *bends})
    return runtime.flows.transition(
        ref,
        action,
        actor=actor_of(principal, request),
        note=body.note,
        fields=fields,
        skip_verification=body.skip_verification,
        false_alarm=body.false_alarm,
        waive_postmortem=body.waive_postmortem,
    )
