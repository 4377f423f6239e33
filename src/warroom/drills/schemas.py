"""What the API shows of drills, and what it takes to start one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from warroom.core.durations import format_duration
from warroom.drills.models import Drill, DrillStep
from warroom.drills.review import Review


@dataclass(frozen=True)
class IncidentInfo:
    """What a drill's answer says of its incident besides its number."""

    status: str
    participants: list[str]


class DrillStart(BaseModel):
    """Start a drill: a shipped scenario by name, or a scenario's YAML."""

    model_config = ConfigDict(extra="forbid")

    scenario: str | None = Field(
        default=None,
        max_length=64 * 1024,
        description="A shipped scenario's name (high-cpu, data-breach) or a scenario's YAML; "
        "none: high-cpu, the runbook's first worked example.",
    )
    service: str | None = Field(
        default=None, max_length=64, description="The service the injected alerts name."
    )


class StepOut(BaseModel):
    """One timeline entry of a drill and what became of it."""

    position: int
    kind: str
    at: str
    due_at: datetime
    done_at: datetime | None
    outcome: str | None
    body: dict[str, object]

    @classmethod
    def of(cls, step: DrillStep) -> StepOut:
        """Build from the row."""
        return cls(
            position=step.position,
            kind=step.kind,
            at=format_duration(timedelta(seconds=step.offset_seconds)),
            due_at=step.due_at,
            done_at=step.done_at,
            outcome=step.outcome,
            body=dict(step.body),
        )


class PhaseOut(BaseModel):
    """Time to one phase against its target (seconds)."""

    phase: str
    took_seconds: float | None
    target_seconds: float
    verdict: str


class ExpectedOut(BaseModel):
    """One expected step (seconds from the drill's start)."""

    step: str
    deadline_seconds: float
    done_seconds: float | None
    verdict: str


class ReviewOut(BaseModel):
    """A drill's review."""

    phases: list[PhaseOut]
    expected: list[ExpectedOut]
    missed: list[str] = Field(description="Expected steps skipped or late.")

    @classmethod
    def of(cls, review: Review) -> ReviewOut:
        """Build from the review."""
        return cls(
            phases=[
                PhaseOut(
                    phase=p.phase,
                    took_seconds=p.took.total_seconds() if p.took is not None else None,
                    target_seconds=p.target.total_seconds(),
                    verdict=p.verdict,
                )
                for p in review.phases
            ],
            expected=[
                ExpectedOut(
                    step=e.text,
                    deadline_seconds=e.deadline.total_seconds(),
                    done_seconds=e.done.total_seconds() if e.done is not None else None,
                    verdict=e.verdict,
                )
                for e in review.expected
            ],
            missed=[e.text for e in review.missed],
        )


class DrillOut(BaseModel):
    """A drill run."""

    id: int
    drill: bool = Field(default=True, description="Always true: this is a practice run.")
    scenario: str
    title: str
    service: str | None
    allow: list[str] = Field(description="What the scenario lets it reach outside warroom.")
    started_by: str | None
    started_at: datetime
    incident: str | None = Field(description="The practice incident (INC-n), once opened.")
    incident_status: str | None = Field(
        default=None, description="Its incident's status (detected … closed), once opened."
    )
    participants: list[str] = Field(
        default_factory=list,
        description="Who took part: the incident's commander, those holding (or who held) a "
        "role, and those paged for it; empty while it has no incident.",
    )
    steps: list[StepOut]
    review: ReviewOut | None = None

    @classmethod
    def of(
        cls,
        drill: Drill,
        steps: list[DrillStep],
        review: Review | None = None,
        *,
        incident: IncidentInfo | None = None,
    ) -> DrillOut:
        """Build from the rows (with its incident: that one's status and participants)."""
        return cls(
            id=drill.id,
            scenario=drill.scenario,
            title=drill.title,
            service=drill.service,
            allow=list(drill.allow or []),
            started_by=drill.started_by,
            started_at=drill.started_at,
            incident=f"INC-{drill.incident_number}" if drill.incident_number else None,
            incident_status=incident.status if incident is not None else None,
            participants=incident.participants if incident is not None else [],
            steps=[StepOut.of(s) for s in steps],
            review=ReviewOut.of(review) if review is not None else None,
        )
