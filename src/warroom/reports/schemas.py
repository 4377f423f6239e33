"""Shapes of the incident metrics report."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class Stat(BaseModel):
    """Mean, median and 90th percentile of one duration, in seconds (None without samples)."""

    mean: float | None
    p50: float | None
    p90: float | None
    count: int = Field(description="How many incidents had both milestones.")


class DurationStats(BaseModel):
    """The four durations of a set of incidents."""

    mttd: Stat = Field(description="Time to detect: detected − started (where started is set).")
    mtta: Stat = Field(description="Time to acknowledge: acknowledged − detected.")
    mttm: Stat = Field(description="Time to mitigate: mitigated − detected.")
    mttr: Stat = Field(description="Time to resolve: resolved − detected.")


class Counts(BaseModel):
    """How many incidents, by each dimension (`(none)` for an incident without a service)."""

    severity: dict[str, int]
    service: dict[str, int]
    type: dict[str, int]
    status: dict[str, int]


class LatePostmortem(BaseModel):
    """A required postmortem past its due date and not done."""

    incident: str
    title: str
    severity: str
    commander: str | None
    status: str
    due_at: datetime


class LateActionItem(BaseModel):
    """An open action item past its due date."""

    id: int
    incident: str
    title: str
    owner: str | None
    due_date: date
    jira_key: str | None


class Overdue(BaseModel):
    """Postmortem work past its due date (counts, and the oldest first); null while warroom
    cannot tell."""

    postmortems: int | None
    action_items: int | None
    note: str | None = None
    late_postmortems: list[LatePostmortem] = Field(default_factory=list)
    late_action_items: list[LateActionItem] = Field(default_factory=list)


class Period(BaseModel):
    """The selection: incidents detected in [since, until) matching the filters."""

    since: datetime
    until: datetime
    severity: list[str] | None
    service: list[str] | None


class IncidentMetrics(BaseModel):
    """Counts and durations over the incidents detected in a period."""

    period: Period
    total: int = Field(description="Incidents, false alarms not included.")
    false_alarms: int = Field(
        description="Incidents ended as false alarms: in no other count and in no duration."
    )
    counts: Counts
    durations: DurationStats
    by_severity: dict[str, DurationStats]
    by_service: dict[str, DurationStats]
    overdue: Overdue
