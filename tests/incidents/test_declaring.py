"""Declaring in bulk: what a savepoint that rolled back declared leaves the session with it."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.incidents import timeline
from warroom.incidents.actor import Actor
from warroom.incidents.declaring import Declaration, declare_many
from warroom.incidents.models import TimelineEvent
from warroom.runtime import Runtime

ADA = Actor(name="ada", source="api", role="admin")


class Boom(Exception):
    """Raised to roll a savepoint back."""


def declare_in_savepoint(runtime: Runtime, session: Session, title: str) -> None:
    """Declare an incident in a savepoint that then fails."""
    with session.begin_nested():
        declare_many(
            session,
            config=runtime.config(),
            now=runtime.clock.now(),
            declarations=[Declaration(actor=ADA, title=title)],
        )
        raise Boom


def test_a_rolled_back_declaration_leaves_no_stale_incident_or_event(runtime: Runtime) -> None:
    # The intake retries each delivery of a failed run alone: on SQLite the good delivery's
    # incident takes the failed one's id, and a stale object from the first INSERT … RETURNING
    # would come back with the failed delivery's title, and its events be planned twice.
    with runtime.db.transaction() as session:
        with pytest.raises(Boom):
            declare_in_savepoint(runtime, session, "Bad delivery's alert")
        (good,) = declare_many(
            session,
            config=runtime.config(),
            now=runtime.clock.now(),
            declarations=[Declaration(actor=ADA, title="Good delivery's alert")],
        )
        assert good.title == "Good delivery's alert"
        planned = [(i.title, e.kind) for i, e in timeline.take_new_events(session)]
        assert planned == [("Good delivery's alert", "declared")]
    with runtime.db.session() as session:
        texts = list(session.scalars(select(TimelineEvent.text)))
    assert texts == [f"Declared INC-{good.number} (SEV-3): Good delivery's alert"]
