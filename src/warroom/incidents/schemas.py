"""Validated input and output shapes of the incident API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.incidents.models import ChecklistItem, Incident, TimelineEvent

Visibility = Literal["public", "restricted"]
TITLE_MAX = 200


class Input(BaseModel):
    """Base of request bodies: unknown fields and NUL characters are refused."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL cannot store NUL in text, and no person types one.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


def _clean_title(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("title must not be empty")
    return value


class IncidentCreate(Input):
    """Declare an incident."""

    title: str = Field(max_length=TITLE_MAX, description="What is wrong, in one line.")
    severity: str | None = Field(
        default=None,
        description="SEV-1..SEV-4 (default: by type, else SEV-3). When unsure, choose the higher.",
    )
    summary: str = Field(default="", max_length=20_000)
    incident_type: str | None = Field(
        default=None, description="An incident type from warroom.yaml."
    )
    service: str | None = Field(default=None, max_length=64)
    commander: str | None = Field(default=None, max_length=64)
    visibility: Visibility | None = None
    started_at: datetime | None = Field(default=None, description="When impact began, if known.")
    runbook: str | None = Field(
        default=None, description="Template name; defaults by type/service."
    )
    owner: str | None = Field(default=None, max_length=64)
    module: str | None = Field(default=None, max_length=64)

    _title = field_validator("title")(_clean_title)


class IncidentUpdate(Input):
    """Change fields of an incident (each change is a timeline event)."""

    title: str | None = Field(default=None, max_length=TITLE_MAX)
    summary: str | None = Field(default=None, max_length=20_000)
    severity: str | None = None
    incident_type: str | None = None
    service: str | None = Field(default=None, max_length=64)
    commander: str | None = Field(default=None, max_length=64)
    impact: str | None = Field(default=None, max_length=5_000)
    scope: str | None = Field(default=None, max_length=5_000)
    priority: str | None = None
    visibility: Visibility | None = None
    started_at: datetime | None = None
    owner: str | None = Field(default=None, max_length=64)
    module: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(
        default=None, max_length=2_000, description="Why (kept on the timeline)."
    )

    @field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        return None if value is None else _clean_title(value)


class TransitionRequest(Input):
    """Move an incident along its lifecycle; triage may set the assessment in the same call."""

    note: str | None = Field(default=None, max_length=5_000)
    severity: str | None = None
    commander: str | None = Field(default=None, max_length=64)
    impact: str | None = Field(default=None, max_length=5_000)
    scope: str | None = Field(default=None, max_length=5_000)
    priority: str | None = None
    skip_verification: str | None = Field(
        default=None,
        min_length=1,
        max_length=1_000,
        description="Resolve even though Verification items are open: they are skipped "
        "with this reason (a false alarm, say).",
    )

    @field_validator("skip_verification")
    @classmethod
    def _reason(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("skip_verification must be a reason, not blank")
        return value.strip() if value is not None else None


class NoteCreate(Input):
    """Add a note to the timeline."""

    text: str = Field(min_length=1, max_length=20_000)
    key_event: bool = False
    at: datetime | None = Field(default=None, description="When it happened, if earlier than now.")

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


class Durations(BaseModel):
    """Seconds between milestones (None while a milestone is missing)."""

    time_to_detect: float | None
    time_to_acknowledge: float | None
    time_to_mitigate: float | None
    time_to_resolve: float | None


class ChecklistItemOut(BaseModel):
    """One checklist step."""

    id: int
    section: str
    text: str
    owner: str | None
    done_at: datetime | None
    done_by: str | None
    skipped_reason: str | None
    note: str | None

    @classmethod
    def of(cls, item: ChecklistItem) -> ChecklistItemOut:
        """Build from the model."""
        return cls(
            id=item.id,
            section=item.section,
            text=item.text,
            owner=item.owner,
            done_at=item.done_at,
            done_by=item.done_by,
            skipped_reason=item.skipped_reason,
            note=item.note,
        )


class TimelineEventOut(BaseModel):
    """One timeline event."""

    id: int
    at: datetime
    kind: str
    actor: str | None
    source: str
    text: str
    data: dict[str, Any]
    key_event: bool

    @classmethod
    def of(cls, event: TimelineEvent) -> TimelineEventOut:
        """Build from the model."""
        return cls(
            id=event.id,
            at=event.at,
            kind=event.kind,
            actor=event.actor,
            source=event.source,
            text=event.text,
            data=event.data,
            key_event=event.key_event,
        )


class IncidentOut(BaseModel):
    """An incident as the API shows it."""

    number: int
    ref: str
    slug: str
    title: str
    summary: str
    status: str
    severity: str
    incident_type: str
    service: str | None
    commander: str | None
    pending_commander: str | None
    impact: str | None
    scope: str | None
    priority: str | None
    visibility: str
    links: dict[str, str]
    source: str
    runbook_template: str | None
    owner: str | None
    module: str | None
    created_by: str | None
    acknowledged_by: str | None
    started_at: datetime | None
    detected_at: datetime
    acknowledged_at: datetime | None
    triaged_at: datetime | None
    mitigated_at: datetime | None
    verified_at: datetime | None = Field(
        default=None, description="When the linked alerts had stayed resolved for the window."
    )
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    durations: Durations
    allowed_actions: list[str]

    @classmethod
    def of(cls, incident: Incident) -> IncidentOut:
        """Build from the model."""
        from warroom.incidents.states import allowed_actions

        return cls(
            number=incident.number,
            ref=incident.ref,
            slug=incident.slug,
            title=incident.title,
            summary=incident.summary,
            status=incident.status,
            severity=incident.severity,
            incident_type=incident.incident_type,
            service=incident.service,
            commander=incident.commander,
            pending_commander=incident.pending_commander,
            impact=incident.impact,
            scope=incident.scope,
            priority=incident.priority,
            visibility=incident.visibility,
            links=dict(incident.links or {}),
            source=incident.source,
            runbook_template=incident.runbook_template,
            owner=incident.owner,
            module=incident.module,
            created_by=incident.created_by,
            acknowledged_by=incident.acknowledged_by,
            started_at=incident.started_at,
            detected_at=incident.detected_at,
            acknowledged_at=incident.acknowledged_at,
            triaged_at=incident.triaged_at,
            mitigated_at=incident.mitigated_at,
            verified_at=incident.verified_at,
            resolved_at=incident.resolved_at,
            closed_at=incident.closed_at,
            updated_at=incident.updated_at,
            durations=durations(incident),
            allowed_actions=allowed_actions(incident.status),
        )


class RoleOut(BaseModel):
    """Someone holding a response role now."""

    role: str
    person: str
    since: datetime
    assigned_by: str | None


class RoleChange(Input):
    """Give someone a role, or take it back."""

    role: str = Field(max_length=32, description="deputy, scribe, communications, sme, reporter")
    person: str = Field(min_length=1, max_length=64)


class IncidentDetail(IncidentOut):
    """An incident with its roles, checklist and timeline."""

    roles: list[RoleOut]
    checklist: list[ChecklistItemOut]
    timeline: list[TimelineEventOut]


class IncidentPage(BaseModel):
    """A page of incidents, newest first."""

    items: list[IncidentOut]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page.")


class TimelinePage(BaseModel):
    """A page of timeline events, oldest first."""

    items: list[TimelineEventOut]
    next_cursor: str | None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def durations(incident: Incident) -> Durations:
    """Compute time to detect (from impact start) and to acknowledge/mitigate/resolve."""
    return Durations(
        time_to_detect=_seconds(incident.started_at, incident.detected_at),
        time_to_acknowledge=_seconds(incident.detected_at, incident.acknowledged_at),
        time_to_mitigate=_seconds(incident.detected_at, incident.mitigated_at),
        time_to_resolve=_seconds(incident.detected_at, incident.resolved_at),
    )
