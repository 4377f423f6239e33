"""Each due step is claimed by one engine, and starting a drill runs that drill's steps alone."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.drills.conftest import start
from tests.drills.test_durable import ALREADY, TIMED, injected, restarted
from tests.helpers import Fakes
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.detection.schemas import IngestResult
from warroom.drills.models import DrillStep
from warroom.engine.module import Outcome
from warroom.runtime import Runtime
from warroom.settings import Settings


def counted(runtime: Runtime, sent: Counter[str]) -> None:
    """Count each delivery the runtime's drills inject, slowed so two engines overlap."""
    real = runtime.drills.inject

    def inject(*, delivery_ids: tuple[str, ...] = (), **rest: Any) -> IngestResult:
        sent.update(delivery_ids)
        time.sleep(0.3)  # long enough for the other engine to reach the same step
        return real(delivery_ids=delivery_ids, **rest)

    runtime.drills.inject = inject


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_two_engines_running_at_once_inject_each_step_once(
    api: TestClient,
    runtime: Runtime,
    fakes: Fakes,
    settings: Settings,
    clock: FrozenClock,
    config: WarroomConfig,
) -> None:
    start(api, scenario=TIMED)
    clock.advance(timedelta(minutes=11))  # both later steps are due
    sent: Counter[str] = Counter()
    with restarted(settings, clock, config) as other:
        together = threading.Barrier(2)
        outcomes: list[Outcome] = []
        failures: list[BaseException] = []

        def tick(engine: Runtime) -> None:
            try:
                together.wait(timeout=30)
                outcomes.append(engine.drills.update(clock.now()))
            except BaseException as exc:  # reported below, in the test thread
                failures.append(exc)

        for engine in (runtime, other):
            counted(engine, sent)
        threads = [threading.Thread(target=tick, args=(r,)) for r in (runtime, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []
        alerts, _, steps = injected(other)
    assert sorted(sent.values()) == [1, 1]  # each step sent once, by one engine or the other
    assert alerts == 3 and ALREADY not in steps  # two alerts and a report
    assert steps == ["opened INC-1", "joined INC-1", "joined INC-1"]
    # An engine that found a due step held elsewhere looks again soon, not at once.
    assert all(o.next_at is None or o.next_at > clock.now() for o in outcomes)


def test_starting_a_drill_runs_only_its_own_steps(
    api: TestClient, runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    first = start(api, scenario=TIMED)
    clock.advance(timedelta(minutes=6))  # the first drill's second step is due: the engine's
    second = start(api, scenario=TIMED)
    with runtime.db.session() as session:
        rows = session.execute(
            select(DrillStep.drill_id, DrillStep.position, DrillStep.outcome).order_by(
                DrillStep.drill_id, DrillStep.position
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        (first["id"], 0, "opened INC-1"),
        (first["id"], 1, None),  # not sent by someone else's POST
        (first["id"], 2, None),
        (second["id"], 0, "opened INC-2"),
        (second["id"], 1, None),
        (second["id"], 2, None),
    ]
    assert second["steps"][0]["outcome"] == "opened INC-2"  # the answer says what it did
    runtime.engine.run_once()  # the engine's, on its round
    with runtime.db.session() as session:
        late = session.scalar(
            select(DrillStep.outcome).where(
                DrillStep.drill_id == first["id"], DrillStep.position == 1
            )
        )
    assert late == "joined INC-1"
