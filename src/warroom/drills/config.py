"""Drills (`drills:` in warroom.yaml): whom a practice incident pages, the targets it must meet."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.core.durations import Duration


class DrillTargets(BaseModel):
    """How soon after detection each phase should be reached (the drill's review compares)."""

    model_config = ConfigDict(extra="forbid")

    acknowledge: Duration = Field(
        default=timedelta(minutes=5), description="From detection to the first acknowledgement."
    )
    triage: Duration = Field(
        default=timedelta(minutes=15),
        description="From detection to triaged (IC, severity, assessment set).",
    )
    mitigate: Duration = Field(
        default=timedelta(hours=1), description="From detection to mitigated (impact stopped)."
    )
    resolve: Duration = Field(
        default=timedelta(hours=4), description="From detection to resolved (verified)."
    )


class DrillsConfig(BaseModel):
    """Practice incidents: marked DRILL, paging only their participants, out of the metrics."""

    model_config = ConfigDict(extra="forbid")

    participants: Literal["rotation"] | list[str] = Field(
        default="rotation",
        description="Who a drill pages: `rotation` (the service's real escalation policy and "
        "on-call rotation), or a list of person ids who opted in (paged at once, together).",
    )
    targets: DrillTargets = Field(
        default_factory=DrillTargets,
        description="The times the review holds a drill to; a scenario may set its own.",
    )

    @field_validator("participants")
    @classmethod
    def _someone(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("name at least one person, or write `rotation`")
        return value
