"""The incident row lock lets rows that point at the incident be written (PostgreSQL).

An acknowledge holds the incident's row lock while it stops the escalation; the escalation
engine holds the escalation row while it inserts timeline events, whose foreign-key check
takes KEY SHARE on the incident. With FOR UPDATE each waited for the other: a deadlock, and a
500 to the acknowledge (bench.incidents found it). FOR NO KEY UPDATE lets the insert through.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, insert, text

from warroom.incidents import service
from warroom.incidents.actor import Actor
from warroom.incidents.models import TimelineEvent
from warroom.runtime import Runtime

ACTOR = Actor(name="rita", source="api", role="responder")


# PostgreSQL only: SQLite has no row locks (one writer at a time).
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_event_is_written_while_the_incident_is_locked(runtime: Runtime) -> None:
    assert runtime.db.write_engine.dialect.name == "postgresql"
    runtime.flows.declare(actor=ACTOR, title="Checkout down")
    other = create_engine(runtime.db.write_engine.url)
    try:
        with runtime.db.transaction() as session:
            incident = service.get(session, 1, for_update=True)  # as an acknowledge does
            with other.begin() as conn:
                # Blocked by a FOR UPDATE lock, this would fail after a second; it must not.
                conn.execute(text("SET LOCAL lock_timeout = '1s'"))
                conn.execute(
                    insert(TimelineEvent).values(
                        incident_id=incident.id,
                        at=datetime.now(UTC),
                        kind="paged",
                        actor="warroom/escalation",
                        source="engine",
                        text="Paged alice",
                        data={},
                        key_event=False,
                    )
                )
        with other.connect() as conn:
            kinds = conn.execute(text("SELECT kind FROM timeline_events")).scalars().all()
        assert "paged" in kinds
    finally:
        other.dispose()
