"""A drill's review: time to acknowledge and to each phase against the targets, and the
expected steps that were on time, late or skipped. Shown in the drill's postmortem."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import ensure_utc
from warroom.core.durations import format_duration
from warroom.drills.config import DrillTargets
from warroom.drills.models import Drill, DrillStep
from warroom.drills.scenario import MILESTONES, expectation
from warroom.incidents.models import Incident, TimelineEvent

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

# (phase, the incident's milestone, the target's name)
PHASES = (
    ("acknowledge", "acknowledged_at", "acknowledge"),
    ("triage", "triaged_at", "triage"),
    ("mitigate", "mitigated_at", "mitigate"),
    ("resolve", "resolved_at", "resolve"),
)


@dataclass(frozen=True)
class PhaseTime:
    """How long the drill took to reach one phase, against its target."""

    phase: str
    target: timedelta
    took: timedelta | None  # None: not reached

    @property
    def verdict(self) -> str:
        """Return `met`, `missed` or `not reached`."""
        if self.took is None:
            return "not reached"
        return "met" if self.took <= self.target else "missed"


@dataclass(frozen=True)
class Expected:
    """One expected step of the scenario and what became of it."""

    text: str  # "acknowledged within 5m"
    deadline: timedelta  # from the drill's start
    done: timedelta | None  # from the drill's start; None: never

    @property
    def verdict(self) -> str:
        """Return `on time`, `late` or `skipped`."""
        if self.done is None:
            return "skipped"
        return "on time" if self.done <= self.deadline else "late"


@dataclass(frozen=True)
class Review:
    """The review of one drill."""

    drill: int
    scenario: str
    incident: str | None
    phases: list[PhaseTime]
    expected: list[Expected]

    @property
    def missed(self) -> list[Expected]:
        """Return the expected steps that were skipped or late."""
        return [e for e in self.expected if e.verdict != "on time"]


def review(session: Session, *, drill: Drill, config: WarroomConfig) -> Review:
    """Build a drill's review from its incident's milestones and timeline, as they are now."""
    incident = None
    if drill.incident_number is not None:
        incident = session.scalars(
            select(Incident).where(Incident.number == drill.incident_number)
        ).first()
    raw = drill.definition.get("targets")
    targets = DrillTargets.model_validate(raw) if raw else config.drills.targets
    started = ensure_utc(drill.started_at)
    phases = []
    for phase, milestone, target in PHASES:
        took = None
        if incident is not None and getattr(incident, milestone) is not None:
            took = ensure_utc(getattr(incident, milestone)) - ensure_utc(incident.detected_at)
        phases.append(PhaseTime(phase, getattr(targets, target), took))
    firsts = _first_events(session, incident) if incident is not None else {}
    expected = []
    for step in session.scalars(
        select(DrillStep)
        .where(DrillStep.drill_id == drill.id, DrillStep.kind == "expect")
        .order_by(DrillStep.position)
    ):
        text = str(step.body.get("expect"))
        wanted = expectation(text)
        deadline = timedelta(seconds=step.offset_seconds) + wanted.within
        if wanted.step in MILESTONES:
            at = getattr(incident, MILESTONES[wanted.step]) if incident is not None else None
        else:
            at = firsts.get(wanted.step)
        done = ensure_utc(at) - started if at is not None else None
        expected.append(Expected(text, deadline, done))
    ref = f"INC-{drill.incident_number}" if drill.incident_number else None
    return Review(drill.id, drill.scenario, ref, phases, expected)


def _first_events(session: Session, incident: Incident) -> dict[str, datetime]:
    """Return kind -> when the incident's timeline first had an event of that kind."""
    rows = session.execute(
        select(TimelineEvent.kind, TimelineEvent.at)
        .where(TimelineEvent.incident_id == incident.id)
        .order_by(TimelineEvent.id)
    )
    found: dict[str, datetime] = {}
    for kind, at in rows:
        found.setdefault(kind, at)
    return found


def _span(value: timedelta | None) -> str:
    return "—" if value is None else format_duration(value)


def render_markdown(r: Review) -> str:
    """Return the review as a markdown section of the postmortem."""
    lines = [
        "## Drill review",
        "",
        f"Drill {r.drill} ({r.scenario}), a practice incident: left out of metrics and reports.",
        "",
        "| Phase | Took | Target | Verdict |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {p.phase} | {_span(p.took)} | {format_duration(p.target)} | {p.verdict} |"
        for p in r.phases
    ]
    lines += ["", "| Expected step | Deadline | Done at | Verdict |", "|---|---|---|---|"]
    lines += [
        f"| {e.text} | {format_duration(e.deadline)} | {_span(e.done)} | {e.verdict} |"
        for e in r.expected
    ]
    missed = r.missed
    lines += ["", "Skipped or late: " + (", ".join(e.text for e in missed) if missed else "none")]
    return "\n".join(lines) + "\n"


def render_html(r: Review) -> str:
    """Return the review as an HTML section of the postmortem (every value escaped)."""
    phases = "".join(
        f"<tr><td>{escape(p.phase)}</td><td>{_span(p.took)}</td>"
        f"<td>{format_duration(p.target)}</td><td>{escape(p.verdict)}</td></tr>"
        for p in r.phases
    )
    expected = "".join(
        f"<tr><td>{escape(e.text)}</td><td>{format_duration(e.deadline)}</td>"
        f"<td>{_span(e.done)}</td><td>{escape(e.verdict)}</td></tr>"
        for e in r.expected
    )
    missed = ", ".join(escape(e.text) for e in r.missed) or "none"
    return (
        '<section id="drill-review"><h2>Drill review</h2>'
        f"<p>Drill {r.drill} ({escape(r.scenario)}), a practice incident: left out of metrics "
        "and reports.</p>"
        "<table><thead><tr><th>Phase</th><th>Took</th><th>Target</th><th>Verdict</th></tr>"
        f"</thead><tbody>{phases}</tbody></table>"
        "<table><thead><tr><th>Expected step</th><th>Deadline</th><th>Done at</th>"
        f"<th>Verdict</th></tr></thead><tbody>{expected}</tbody></table>"
        f"<p>Skipped or late: {missed}</p></section>"
    )
