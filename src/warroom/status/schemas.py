"""Request and response shapes: status updates, and the public summary (Statuspage-like)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from warroom.incidents.schemas import IncidentTitle, Input
from warroom.status.models import BODY_MAX, StatusUpdate

UpdateStatus = Literal["investigating", "identified", "monitoring", "resolved"]
ComponentStatus = Literal[
    "operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"
]
Indicator = Literal["none", "minor", "major", "critical"]


class StatusUpdateCreate(Input):
    """Post a status update on an incident."""

    status: UpdateStatus = Field(description="investigating, identified, monitoring or resolved.")
    body: str = Field(max_length=BODY_MAX, description="What people should know, in plain words.")
    components: dict[str, ComponentStatus] = Field(
        default_factory=dict, description="Component id -> its status now (from status_page:)."
    )
    public: bool = Field(default=True, description="Show it on the public status page.")
    public_title: IncidentTitle | None = Field(
        default=None,
        description=(
            "The incident's name on the status page, the feed and Statuspage. Required on the"
            " incident's first public update (its own title is internal); later public updates"
            " keep the last one unless given. Not allowed on a private update."
        ),
    )

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value


class StatusUpdateOut(BaseModel):
    """A status update as the API returns it."""

    id: int
    incident: str  # INC-n
    at: datetime
    author: str | None
    status: UpdateStatus
    body: str
    components: dict[str, ComponentStatus]
    public: bool
    public_title: str | None  # the incident's public name from this update on; None if private

    @classmethod
    def of(cls, row: StatusUpdate, ref: str) -> StatusUpdateOut:
        """Build the output shape from a row."""
        return cls.model_validate(
            {
                "id": row.id,
                "incident": ref,
                "at": row.at,
                "author": row.author,
                "status": row.status,
                "body": row.body,
                "components": row.components,
                "public": row.public,
                "public_title": row.public_title,
            }
        )


class StatusUpdateList(BaseModel):
    """An incident's status updates, newest first."""

    items: list[StatusUpdateOut]


# The public summary below follows Atlassian Statuspage's /api/v2/summary.json so tools
# that read one can read the other; nothing in it names a person.


class PageInfo(BaseModel):
    """The page itself."""

    id: str = "warroom"
    name: str
    url: str | None
    time_zone: str = "Etc/UTC"
    updated_at: datetime


class OverallStatus(BaseModel):
    """The one-line answer to "is anything wrong?"."""

    indicator: Indicator
    description: str


class PublicComponent(BaseModel):
    """A component and how it is doing now."""

    id: str
    name: str
    description: str | None
    group: str | None
    position: int
    status: ComponentStatus
    updated_at: datetime | None  # when an update last changed it; None: never


class AffectedComponent(BaseModel):
    """A component an update names, with the status it gave."""

    code: str
    name: str
    new_status: ComponentStatus


class PublicUpdate(BaseModel):
    """A public status update."""

    id: str
    status: UpdateStatus
    body: str
    created_at: datetime
    display_at: datetime
    affected_components: list[AffectedComponent]


class PublicIncident(BaseModel):
    """A public incident with its public updates, newest first."""

    id: str  # INC-n
    name: str  # the public title its latest public update carries, never the internal title
    status: UpdateStatus  # that of its latest public update
    impact: Indicator
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    shortlink: str | None
    components: list[str]
    incident_updates: list[PublicUpdate]


class PublicStatus(BaseModel):
    """The public status page's content: overall status, components and incidents."""

    page: PageInfo
    status: OverallStatus
    components: list[PublicComponent]
    incidents: list[PublicIncident] = Field(description="Open incidents, newest first.")
    past_incidents: list[PublicIncident] = Field(
        description="Incidents resolved within history_days, newest first."
    )
