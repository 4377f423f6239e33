"""The escalation tick: a bad row is isolated, and steps fall due from the escalation's start."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.helpers import Fakes, paging_config
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.escalation.models import Escalation
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

ACTOR = Actor(name="tester", source="api")


@pytest.fixture
def config() -> WarroomConfig:
    """One service paging alice, then bob; PagerDuty on; two posts a minute per channel."""
    return paging_config()


def test_one_bad_escalation_row_does_not_stop_all_paging(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    runtime.flows.declare(actor=ACTOR, title="first", severity="SEV-2", service="checkout")
    runtime.flows.declare(actor=ACTOR, title="second", severity="SEV-2", service="checkout")
    runtime.engine.run_once()
    with runtime.db.transaction() as session:
        first = session.scalars(select(Escalation).order_by(Escalation.id)).first()
        assert first is not None
        session.execute(
            update(Escalation)
            .where(Escalation.id == first.id)
            .values(
                policy_version="0ld5naps40t0",
                policy={"id": "old", "steps": [{"after": "0m", "notify": ["pager:x"]}]},
            )
        )
    clock.advance(timedelta(minutes=5))
    # The engine's loop logs the failure and tries again next second, forever.
    with contextlib.suppress(Exception):
        runtime.engine.run_once()
    assert "UBOB1" in [a["channel"] for m, a in fakes.chat.calls if m == "post"], (
        "the second incident's secondary was never paged"
    )


def test_steps_are_due_after_the_start_of_the_escalation(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    runtime.flows.declare(actor=ACTOR, title="x", severity="SEV-2", service="checkout")
    clock.advance(timedelta(seconds=40))  # the first tick is late (a busy engine)
    runtime.engine.run_once()
    clock.advance(timedelta(minutes=4, seconds=20))  # 5 min after the escalation began
    runtime.engine.run_once()
    assert fakes.dms("UBOB1"), "the secondary (after: 5m) was not paged 5 min after the start"
