"""Drill step claims: a step is claimed by marking it (a lease) in a short transaction,
sent with none open, then marked done or given back.

A claim names its engine and carries a mark of its own: an engine whose send outlasted the
lease cannot give back the claim another thread took since. A claim lost with its engine
lapses when its lease ends, and the step falls due again at its own time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from warroom.detection.models import Alert
from warroom.drills import service
from warroom.drills.models import Drill, DrillStep
from warroom.incidents.models import Incident

# A claim older than this was lost with its engine: the step falls due again. Far longer than
# an intake round trip; one that outlasts it is sent again and answered as a duplicate.
LEASE = timedelta(seconds=60)
CLAIMED = "being injected by "  # a claimed step's outcome, until it is marked done


@dataclass(frozen=True)
class Done:
    """What became of a step: its outcome, and the incident an injected one joined."""

    outcome: str
    number: int | None = None
    injected: bool = False


def claim(session: Session, step_id: int, now: datetime, owner: str) -> datetime | None:
    """Claim a due step (or one whose claim has lapsed); return its due time, None if taken.

    The claim moves its due time a lease ahead: no other engine finds it due meanwhile.
    The UPDATE decides: of two engines the second finds it no longer due (on PostgreSQL it
    waits for the first's short transaction, then reads the row again; SQLite has one writer).
    """
    found = session.execute(
        select(DrillStep.due_at, DrillStep.outcome, DrillStep.offset_seconds, Drill.started_at)
        .join(Drill, Drill.id == DrillStep.drill_id)
        .where(DrillStep.id == step_id, DrillStep.done_at.is_(None), DrillStep.due_at <= now)
    ).first()
    if found is None:
        return None
    due_at, outcome, offset, started_at = found
    if outcome is not None and outcome.startswith(CLAIMED):  # lapsed: its time is the lease's
        due_at = started_at + timedelta(seconds=offset)
    claimed = session.execute(
        update(DrillStep)
        .where(DrillStep.id == step_id, DrillStep.done_at.is_(None), DrillStep.due_at <= now)
        .values(due_at=now + LEASE, outcome=f"{CLAIMED}{owner}"[:200])
    )
    return due_at if claimed.rowcount else None  # type: ignore[attr-defined]


def release(session: Session, step_id: int, due_at: datetime, owner: str) -> None:
    """Give a claimed step back, due when it was, unless it is done or claimed again since."""
    session.execute(
        update(DrillStep)
        .where(
            DrillStep.id == step_id,
            DrillStep.done_at.is_(None),
            DrillStep.outcome == f"{CLAIMED}{owner}"[:200],
        )
        .values(due_at=due_at, outcome=None)
    )


def is_done(session: Session, step_id: int) -> bool:
    """Tell whether a step is done, or gone."""
    step = session.get(DrillStep, step_id)
    return step is None or step.done_at is not None


def mark(
    session: Session, step_id: int, drill_id: int, now: datetime, done: Done, due_at: datetime
) -> None:
    """Mark a step done (unless it already is), due when it was, and name the drill's incident."""
    number = done.number
    if number is None and done.injected:
        number = drill_incident(session, drill_id)
    marked = session.execute(
        update(DrillStep)
        .where(DrillStep.id == step_id, DrillStep.done_at.is_(None))
        .values(done_at=now, outcome=done.outcome, due_at=due_at)
    )
    if marked.rowcount and number is not None:  # type: ignore[attr-defined]
        session.execute(
            update(Drill)
            .where(Drill.id == drill_id, Drill.incident_number.is_(None))
            .values(incident_number=number)
        )


def drill_incident(session: Session, drill_id: int) -> int | None:
    """Find the incident a drill's alerts are linked to (after a step sent twice)."""
    return session.scalar(
        select(Incident.number)
        .join(Alert, Alert.incident_id == Incident.id)
        .where(Alert.source == service.SOURCE, Alert.integration == f"drill-{drill_id}")
        .order_by(Incident.number)
        .limit(1)
    )
