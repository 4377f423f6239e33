"""Request and response shapes of the postmortem API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from warroom.core.types import LongText, PersonId, Title
from warroom.incidents.schemas import Input
from warroom.postmortem.models import ActionItem

Status = Literal["draft", "in_review", "done"]
ItemKind = Literal["short_term", "long_term"]
ItemStatus = Literal["open", "done", "wontfix"]
JIRA_KEY = r"^[A-Z][A-Z0-9_]{0,19}-[1-9][0-9]{0,9}$"


class PostmortemUpdate(Input):
    """Replace a postmortem's editable fields (the service checks each value)."""

    summary: LongText = ""
    impact: LongText = ""
    root_cause: LongText = ""
    # Loose here on purpose: the service names the bad entry's index in one clear message.
    five_whys: list[Any] = Field(
        default_factory=list,
        description="Up to 10 {question, answer} pairs, in order; at least one once done.",
    )
    fishbone: dict[str, Any] = Field(
        default_factory=dict, description="Category -> causes; configured categories plus any."
    )
    contributing_factors: list[Any] = Field(default_factory=list)
    went_well: list[Any] = Field(default_factory=list)
    went_poorly: list[Any] = Field(default_factory=list)
    got_lucky: list[Any] = Field(default_factory=list)
    status: Status = "draft"
    version: int | None = Field(
        default=None,
        ge=0,
        le=2**31 - 1,
        description="The version this edit was made from (GET's `version`); a save against an "
        'older one is refused with 409 instead of overwriting. Or send `If-Match: "<version>"`.',
    )


class ActionItemCreate(Input):
    """Add an action item to a postmortem."""

    kind: ItemKind = Field(description="short_term or long_term.")
    title: Title
    owner: PersonId | None = None
    due_date: date | None = None
    status: ItemStatus = "open"
    jira_key: str | None = Field(
        default=None, pattern=JIRA_KEY, description="An existing issue to link, e.g. OPS-123."
    )
    create_jira: bool | None = Field(
        default=None,
        description="Create a Jira issue for the item (integrations.jira_issues); "
        "default: the auto_create setting.",
    )


class ActionItemPatch(Input):
    """Change some fields of an action item (send only what changes; null clears)."""

    kind: ItemKind | None = None
    title: Title | None = None
    owner: PersonId | None = None
    due_date: date | None = None
    status: ItemStatus | None = None
    jira_key: str | None = Field(default=None, pattern=JIRA_KEY)


class ActionItemOut(BaseModel):
    """An action item as the API returns it."""

    id: int
    incident: str
    kind: ItemKind
    title: str
    owner: str | None
    due_date: date | None
    status: ItemStatus
    jira_key: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ActionItem, ref: str) -> ActionItemOut:
        """Build the output shape from a row."""
        return cls.model_validate(
            {
                "id": row.id,
                "incident": ref,
                "kind": row.kind,
                "title": row.title,
                "owner": row.owner,
                "due_date": row.due_date,
                "status": row.status,
                "jira_key": row.jira_key,
                "created_at": row.created_at,
                "updated_at": row.updated_at,
            }
        )


class Why(BaseModel):
    """One step of the 5 Whys chain."""

    question: str
    answer: str


class Milestones(BaseModel):
    """The four times of the runbook's timeline (plus acknowledgement and impact start)."""

    started: datetime | None
    detected: datetime
    acknowledged: datetime | None
    triaged: datetime | None
    mitigated: datetime | None
    resolved: datetime | None


class Spans(BaseModel):
    """Seconds between the milestones (None while one is missing)."""

    detection_to_triage: float | None
    triage_to_mitigation: float | None
    mitigation_to_resolution: float | None
    time_to_detect: float | None
    time_to_acknowledge: float | None
    time_to_mitigate: float | None
    time_to_resolve: float | None


class TimelineEntry(BaseModel):
    """A timeline event as the postmortem shows it; key events are starred."""

    at: datetime
    kind: str
    actor: str | None
    text: str
    key_event: bool


class TimelineSection(BaseModel):
    """The postmortem's timeline: milestones, spans between them, the events."""

    milestones: Milestones
    durations: Spans
    events: list[TimelineEntry]


class PostmortemOut(BaseModel):
    """A postmortem with its derived timeline, responders and action items."""

    incident: str  # INC-n
    title: str
    severity: str
    service: str | None
    commander: str | None
    status: Status
    required: bool
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    updated_by: str | None
    version: int = Field(description="How many times it was saved; send it back to save.")
    summary: str
    impact: str
    root_cause: str
    five_whys: list[Why]
    fishbone: dict[str, list[str]]
    contributing_factors: list[str]
    went_well: list[str]
    went_poorly: list[str]
    got_lucky: list[str]
    responders: list[str]
    timeline: TimelineSection
    action_items: list[ActionItemOut]


class ExportOut(BaseModel):
    """Where the exported files were written on the server."""

    incident: str
    paths: list[str]
