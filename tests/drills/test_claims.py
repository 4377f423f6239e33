"""Each due step is claimed by one engine, and starting a drill runs that drill's steps alone.

A claim is a short transaction and a lease, not a row lock held while the step is sent.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.drills.conftest import start
from tests.drills.test_durable import ALREADY, TIMED, injected, restarted
from tests.helpers import Fakes
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock, ensure_utc
from warroom.detection.schemas import IngestResult
from warroom.drills.claims import CLAIMED, LEASE, Done, claim, mark, release
from warroom.drills.models import Drill, DrillStep
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


def test_a_step_is_sent_outside_any_transaction_under_a_claim(
    api: TestClient, runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    start(api, scenario=TIMED)
    clock.advance(timedelta(minutes=6))
    now = clock.now()
    real = runtime.drills.inject
    seen: list[tuple[str | None, Any, int]] = []

    def inject(**sent: Any) -> IngestResult:
        # Another engine looks at the step while it is being sent: claimed, and not locked.
        with runtime.db.write_engine.connect() as other:
            query = select(DrillStep.outcome, DrillStep.due_at).where(DrillStep.position == 1)
            if runtime.db.dialect == "postgresql":
                query = query.with_for_update(nowait=True)
            outcome, due_at = other.execute(query).one()
            other.rollback()
        seen.append((outcome, due_at, runtime.db.write_engine.pool.checkedout()))
        return real(**sent)

    runtime.drills.inject = inject
    runtime.drills.update(now)
    assert len(seen) == 1
    outcome, due_at, connections = seen[0]
    assert outcome.startswith(f"{CLAIMED}{runtime.drills.owner} #")  # the claim's own mark
    assert ensure_utc(due_at) == now + LEASE  # due again only once the lease has lapsed
    assert connections == 0  # no connection of the write pool kept while intake works
    with runtime.db.session() as session:
        step = session.scalars(select(DrillStep).where(DrillStep.position == 1)).one()
        drill = session.get(Drill, step.drill_id)
        assert drill is not None
        assert step.outcome == "joined INC-1"
        assert step.due_at == drill.started_at + timedelta(minutes=5)  # its own time again


def test_a_claim_lost_with_its_engine_lapses_after_the_lease(
    api: TestClient, runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    started = start(api, scenario=TIMED)
    clock.advance(timedelta(minutes=6))
    with runtime.db.transaction() as session:
        second = session.scalar(select(DrillStep.id).where(DrillStep.position == 1))
        assert second is not None
        # An engine claims the step, then its process dies before it sends it.
        assert claim(session, second, clock.now(), "gone:1") is not None
    sent: Counter[str] = Counter()
    counted(runtime, sent)
    outcome = runtime.drills.update(clock.now())
    assert sent == Counter()  # claimed elsewhere: not sent again while the lease lasts
    assert outcome.next_at == clock.now() + LEASE  # looked at again when it lapses
    shown = api.get(f"/api/v1/drills/{started['id']}").json()["steps"][1]
    assert shown["outcome"] == f"{CLAIMED}gone:1"
    clock.advance(LEASE)
    runtime.drills.update(clock.now())
    assert sent == Counter({f"drill-step-{second}": 1})
    alerts, _, outcomes = injected(runtime)
    assert alerts == 2 and outcomes[:2] == ["opened INC-1", "joined INC-1"]
    with runtime.db.session() as session:
        step = session.get(DrillStep, second)
        assert step is not None
        assert step.due_at == datetime.fromisoformat(started["started_at"]) + timedelta(minutes=5)


def test_starting_a_drill_waits_for_a_step_of_its_own_another_engine_is_sending(
    api: TestClient, runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    started = start(api, scenario=TIMED)
    clock.advance(timedelta(minutes=6))
    now = clock.now()
    with runtime.db.transaction() as session:
        second = session.scalar(select(DrillStep.id).where(DrillStep.position == 1))
        assert second is not None
        due_at = claim(session, second, now, "other:1")  # another engine is sending it
        assert due_at is not None

    def other_engine_done() -> None:
        with runtime.db.transaction() as session:
            mark(session, second, started["id"], now, Done("joined INC-1", 1, True), due_at)

    sent: Counter[str] = Counter()
    counted(runtime, sent)
    threading.Timer(0.3, other_engine_done).start()
    begun = time.monotonic()
    runtime.drills._run_own(started["id"], now)  # what starting a drill does for its steps
    assert time.monotonic() - begun >= 0.25  # it waited for the other engine…
    assert sent == Counter()  # …and sent nothing again
    _, _, outcomes = injected(runtime)
    assert outcomes[:2] == ["opened INC-1", "joined INC-1"]


def test_a_lapsed_claim_taken_again_is_not_given_back_by_the_first(
    api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    """Two threads of one process: the first's send outlasted its lease, the second claimed
    the step again; the first, failing, must not release the second's claim."""
    start(api, scenario=TIMED)
    clock.advance(timedelta(minutes=6))
    with runtime.db.transaction() as session:
        second = session.scalar(select(DrillStep.id).where(DrillStep.position == 1))
        assert second is not None
        due = claim(session, second, clock.now(), "host:7 #first")
        assert due is not None
    clock.advance(LEASE)
    with runtime.db.transaction() as session:
        assert claim(session, second, clock.now(), "host:7 #again") == due
    with runtime.db.transaction() as session:
        release(session, second, due, "host:7 #first")  # the first claimant gives up
    with runtime.db.session() as session:
        step = session.get(DrillStep, second)
        assert step is not None and step.outcome == f"{CLAIMED}host:7 #again"
        assert step.due_at == clock.now() + LEASE  # still the second's lease
