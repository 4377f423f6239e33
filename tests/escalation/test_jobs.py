"""The escalation steps module: the on-call lookup runs outside the write transaction."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from tests.helpers import Fakes, paging_config
from warroom.config import WarroomConfig
from warroom.escalation.jobs import EscalationSteps
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
