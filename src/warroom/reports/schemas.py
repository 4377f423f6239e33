"""Shapes of the incident metrics report."""

from __future__ import annotations

from datetime import datetime

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


class Overdue(BaseModel):
    """Postmortem work past its due date; null while warroom cannot tell."""

    postmortems: int | None
    action_items: int | None
    note: str | None = None


class Period(BaseModel):
    """The selection: incidents detected in [since, until) matching the filters."""

    since: datetime
    until: datetime
    severity: list[str] | None
    service: list[str] | None


class IncidentMetrics(BaseModel):
    """Counts and durations over the incidents detected in a period."""

    period: Period
    total: int
    counts: Counts
    durations: DurationStats
    by_severity: dict[str, DurationStats]
    by_service: dict[str, DurationStats]
    overdue: Overdue
