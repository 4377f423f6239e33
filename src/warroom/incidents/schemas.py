"""Validated input and output shapes of the incident API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from warroom.core.types import LongText, Name, Paragraph, PersonId, Reason
from warroom.incidents import held
from warroom.incidents.models import ChecklistItem, Incident, TimelineEvent
from warroom.incidents.states import allowed_actions

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
        raise ValueError("must not be empty")
    return value


# No min_length: the validator's "must not be empty" also covers a blank title.
IncidentTitle = Annotated[str, Field(max_length=TITLE_MAX), AfterValidator(_clean_title)]


def _given(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must be a reason, not blank")
    return value


# A reason a lifecycle rule is bent for: it goes on the timeline, so it must say something.
GivenReason = Annotated[str, Field(max_length=1_000), AfterValidator(_given)]


class IncidentCreate(Input):
    """Declare an incident."""

    title: IncidentTitle = Field(description="What is wrong, in one line.")
    severity: str | None = Field(
        default=None,
        description="SEV-1..SEV-4 (default: by type, else SEV-3). When unsure, choose the higher.",
    )
    summary: LongText = ""
    incident_type: str | None = Field(
        default=None, description="An incident type from warroom.yaml."
    )
    service: Name | None = None
    commander: Name | None = None
    visibility: Visibility | None = None
    started_at: datetime | None = Field(default=None, description="When impact began, if known.")
    runbook: str | None = Field(
        default=None, description="Template name; defaults by type/service."
    )
    owner: Name | None = None
    module: Name | None = None


class IncidentUpdate(Input):
    """Change fields of an incident (each change is a timeline event)."""

    title: IncidentTitle | None = None
    summary: LongText | None = None
    severity: str | None = None
    incident_type: str | None = None
    service: Name | None = None
    commander: Name | None = None
    impact: Paragraph | None = None
    scope: Paragraph | None = None
    priority: str | None = None
    visibility: Visibility | None = None
    started_at: datetime | None = None
    owner: Name | None = None
    module: Name | None = None
    reason: Reason | None = Field(default=None, description="Why (kept on the timeline).")


class TransitionRequest(Input):
    """Move an incident along its lifecycle; triage may set the assessment in the same call."""

    note: Paragraph | None = None
    severity: str | None = None
    commander: Name | None = None
    impact: Paragraph | None = None
    scope: Paragraph | None = None
    priority: str | None = None
    skip_verification: GivenReason | None = Field(
        default=None,
        description="Resolve even though Verification items are open: they are skipped "
        "with this reason.",
    )
    false_alarm: GivenReason | None = Field(
        default=None,
        description="Resolve or close it as a false alarm, with the reason: verification is "
        "skipped with it, no postmortem is owed, and metrics count it apart.",
    )
    waive_postmortem: GivenReason | None = Field(
        default=None,
        description="Admins only: close without the required postmortem, for this reason "
        "(kept on the timeline).",
    )


class NoteCreate(Input):
    """Add a note to the timeline."""

    text: Annotated[LongText, Field(min_length=1)]
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

    model_config = ConfigDict(from_attributes=True)

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
        return cls.model_validate(item)


class TimelineEventOut(BaseModel):
    """One timeline event."""

    model_config = ConfigDict(from_attributes=True)

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
        # From a dict, which pydantic reads faster than attributes: a room shows 500 events.
        return cls.model_validate({name: getattr(event, name) for name in _EVENT_FIELDS})


_EVENT_FIELDS = tuple(TimelineEventOut.model_fields)


class NoteOut(TimelineEventOut):
    """A note just added, with its number among the incident's notes."""

    number: int = Field(description="1 for the incident's first note, 2 for the next, …")


class IncidentOut(BaseModel):
    """An incident as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    number: int
    ref: str
    slug: str
    title: str
    summary: str
    status: str
    severity: str
    peak_severity: str = Field(description="The highest severity it ever had.")
    outcome: str | None = Field(
        default=None, description="`false_alarm` when it was ended as one; null otherwise."
    )
    outcome_reason: str | None = None
    suggested_severity: str | None = Field(
        default=None, description="The severity a viewer's report suggested (kept, not applied)."
    )
    paging_held: bool = Field(
        default=False,
        description="A viewer's report: nobody is paged until a responder triages it.",
    )
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
    parent: str | None = Field(
        default=None,
        description="The alert storm this incident is bundled under (INC-n): it pages for "
        "the storm, and acknowledging it acknowledges this incident.",
    )
    notices: list[str] = Field(
        default_factory=list,
        description="What a person should know about the incident's state, in plain words "
        "(a proposed Incident Commander who has not accepted yet, say).",
    )
    drill: bool = Field(
        default=False,
        description="A practice incident (`warroom drill`): pages its participants only, "
        "left out of metrics and reports.",
    )
    drill_id: int | None = Field(default=None, description="The drill run it belongs to.")

    @classmethod
    def of(cls, incident: Incident) -> IncidentOut:
        """Build from the model: its columns one to one, plus what the API derives."""
        return cls.model_validate(cls.values_of(incident))

    @staticmethod
    def values_of(incident: Incident) -> dict[str, Any]:
        """Return the fields `of` builds from the model, as a dict."""
        # A dict, not the row itself: pydantic reads a dict several times faster than it
        # reads attributes, and the war board builds 200 of these per page.
        values = {name: getattr(incident, name) for name in _ROW_FIELDS}
        values["links"] = dict(incident.links or {})  # None until the row is flushed
        values["durations"] = durations(incident)
        values["allowed_actions"] = allowed_actions(
            incident.status, acknowledged=incident.acknowledged_at is not None
        )
        values["notices"] = notices(incident)
        values["parent"] = f"INC-{incident.parent_number}" if incident.parent_number else None
        values["drill"] = incident.drill_id is not None
        return values


# IncidentOut's fields read from the row as they are (the rest are derived in `of`).
_ROW_FIELDS = tuple(
    name
    for name in IncidentOut.model_fields
    if name not in {"links", "durations", "allowed_actions", "notices", "parent", "drill"}
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
    person: PersonId


class IncidentDetail(IncidentOut):
    """An incident with its roles, checklist and timeline."""

    roles: list[RoleOut]
    checklist: list[ChecklistItemOut]
    timeline: list[TimelineEventOut]
    members: list[str] = Field(
        default_factory=list,
        description="For an alert storm's parent: the incidents bundled under it (INC-n).",
    )


class IncidentPage(BaseModel):
    """A page of incidents, newest first."""

    items: list[IncidentOut]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page.")


class TimelinePage(BaseModel):
    """A page of timeline events, oldest first."""

    items: list[TimelineEventOut]
    next_cursor: str | None


def notices(incident: Incident) -> list[str]:
    """Return what a person should know about the incident's state that its fields hide."""
    found = []
    if incident.drill_id is not None:
        found.append(
            f"DRILL: a practice incident (drill {incident.drill_id}); it pages its participants "
            "only and is left out of metrics and reports"
        )
    if incident.pending_commander and incident.status != "closed":  # closed: moot
        path = f"/api/v1/incidents/{incident.ref}/commander"
        found.append(
            f"{incident.pending_commander} is proposed as Incident Commander; "
            f"{incident.commander or 'nobody'} stays in charge until "
            f"{incident.pending_commander} accepts (POST {path}/accept) or declines "
            f"(POST {path}/decline)"
        )
    if incident.outcome == "false_alarm":
        found.append(f"Ended as a false alarm: {incident.outcome_reason}")
    waiting = held.notice(incident)
    if waiting:
        found.append(waiting)
    if incident.parent_number and incident.status in ("detected", "triaged"):
        parent = f"INC-{incident.parent_number}"
        found.append(
            f"Part of alert storm {parent}: paged there, and acknowledged when {parent} is"
        )
    return found


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
