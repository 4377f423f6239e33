"""Update reminders (escalation/cadence.py): the SQL to plan them does not grow with incidents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from tests.helpers import Fakes, paging_config
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.escalation import cadence
from warroom.incidents.actor import Actor
from warroom.incidents.models import Incident
from warroom.runtime import Runtime
from warroom.status.models import StatusUpdate

ACTOR = Actor(name="tester", source="api")


@pytest.fixture
def config() -> WarroomConfig:
    """One service paging alice, then bob; PagerDuty on; two posts a minute per channel."""
    return paging_config()


def _reminder_statements(runtime: Runtime, clock: FrozenClock, incidents: int) -> int:
    """Declare incidents, let them go quiet past their cadence, count the SQL of reminders."""
    runtime.flows.declare(actor=ACTOR, title="warm-up", severity="SEV-3", service="checkout")
    runtime.engine.run_once()
    for index in range(incidents):
        runtime.flows.declare(
            actor=ACTOR, title=f"quiet {index}", severity="SEV-3", service="checkout"
        )
    clock.advance(timedelta(minutes=61))
    seen: list[str] = []

    def listener(*args: Any) -> None:
        seen.append(str(args[2])[:60])

    engine = runtime.db.write_engine
    with runtime.db.transaction() as session:
        session.connection()  # begin before counting
        event.listen(engine, "before_cursor_execute", listener)
        try:
            cadence.reminders(
                session, config=runtime.config(), channels={"chat", "email"}, now=clock.now()
            )
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    return len(seen)


def test_reminder_sql_does_not_grow_with_the_number_of_incidents(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    statements = _reminder_statements(runtime, clock, 12)
    assert statements <= 6, f"{statements} statements to plan reminders for 13 incidents"


def test_only_incidents_quiet_for_their_cadence_are_read(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    # Selected in SQL: reading every open incident each round made memory and time grow with
    # them (issue 17's soak). The quiet time runs from the last update, else from detection.
    every = {"SEV-1": timedelta(minutes=20), "SEV-3": timedelta(minutes=60)}

    def declare(title: str, severity: str) -> int:
        detail = runtime.flows.declare(
            actor=ACTOR, title=title, severity=severity, service="checkout"
        )
        return detail.number

    def overdue() -> set[int]:
        with runtime.db.session() as session:
            where = cadence._overdue(every, clock.now())
            return set(session.scalars(select(Incident.number).where(where)))

    quiet, urgent = declare("quiet", "SEV-3"), declare("urgent", "SEV-1")
    clock.advance(timedelta(minutes=30))
    updated = declare("updated", "SEV-1")
    clock.advance(timedelta(minutes=25))
    assert overdue() == {urgent, updated}  # quiet: 55 of its 60 minutes
    with runtime.db.transaction() as session:
        incident_id = session.scalars(select(Incident.id).where(Incident.number == updated)).one()
        session.add(
            StatusUpdate(
                incident_id=incident_id,
                at=clock.now(),
                author="rita",
                status="investigating",
                body="Looking",
                components={},
                public=False,
            )
        )
    clock.advance(timedelta(minutes=5))
    assert overdue() == {quiet, urgent}  # quiet: exactly its cadence; updated: 5 minutes ago
