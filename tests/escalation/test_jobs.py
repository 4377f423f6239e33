"""The escalation steps module: the on-call lookup runs outside the write transaction, and
steps another engine holds are left to it."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import Fakes, paging_config
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.escalation.jobs import HELD_ELSEWHERE, EscalationSteps
from warroom.escalation.models import Escalation
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

ACTOR = Actor(name="tester", source="api")


@pytest.fixture
def config() -> WarroomConfig:
    """One service paging alice, then bob; PagerDuty on; two posts a minute per channel."""
    return paging_config()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # SQLite's write lock
def test_on_call_lookup_does_not_hold_the_sqlite_write_lock(runtime: Runtime, fakes: Fakes) -> None:
    path = runtime.db.write_engine.url.database
    assert path is not None
    locked: list[bool] = []
    steps = next(m for m in runtime.engine.modules if isinstance(m, EscalationSteps))
    original = steps.on_call_everywhere

    def probe(at: Any) -> dict[str, dict[str, list[str]]]:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            locked.append(False)
        except sqlite3.OperationalError:
            locked.append(True)
        finally:
            other.close()
        return original(at)

    steps.on_call_everywhere = probe
    runtime.flows.declare(actor=ACTOR, title="x", severity="SEV-1", service="checkout")
    runtime.engine.run_once()
    assert locked and not any(locked)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SKIP LOCKED
def test_due_steps_another_engine_holds_are_skipped_and_looked_at_again_shortly(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    runtime.flows.declare(actor=ACTOR, title="x", severity="SEV-1", service="checkout")
    steps = next(m for m in runtime.engine.modules if isinstance(m, EscalationSteps))
    now = clock.now()
    with runtime.db.write_engine.connect() as other, other.begin():
        # Another engine's tick, mid-transaction: it holds the due row.
        other.execute(select(Escalation.id).with_for_update()).all()
        outcome = steps.update(now)
    assert outcome.messages == 0 and not outcome.backlog
    # Not "due now", which would make the loop ask again at once, round after round.
    assert outcome.next_at == now + HELD_ELSEWHERE
    assert steps.update(now).messages > 0  # released: this engine takes it
