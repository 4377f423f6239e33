"""Injected steps are rows: an engine restart between steps neither loses nor doubles one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.drills.conftest import start
from tests.helpers import Fakes
from warroom.app import build_runtime
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.detection.models import Alert
from warroom.drills import service
from warroom.drills.models import DrillStep
from warroom.incidents.models import TimelineEvent
from warroom.runtime import Runtime
from warroom.settings import Settings

ALREADY = "injected already (after a restart, or by another engine): not sent again"
TIMED = """
name: timed
title: Timed drill
service: checkout
timeline:
  - at: 0s
    alert: {labels: {alertname: HighCPUUsage}, annotations: {summary: CPU hot}}
  - at: 5m
    alert: {labels: {alertname: HighLatency}, annotations: {summary: Slow answers}}
  - at: 10m
    report: {title: Customers say checkout hangs}
"""


@contextmanager
def restarted(settings: Settings, clock: FrozenClock, config: WarroomConfig) -> Iterator[Runtime]:
    """Another process on the same database (the first one is gone)."""
    fresh = build_runtime(settings, clock=clock, config=config, upgrade=False)
    fresh.adapters_override = Fakes().adapters
    try:
        yield fresh
    finally:
        fresh.close()


def injected(runtime: Runtime) -> tuple[int, int, list[str | None]]:
    """Return (alerts of the drill, alert events on its incident, each step's outcome)."""
    with runtime.db.session() as session:
        alerts = session.scalar(
            select(func.count()).select_from(Alert).where(Alert.source == "drill")
        )
        events = session.scalar(
            select(func.count())
            .select_from(TimelineEvent)
            .where(TimelineEvent.kind.in_(("alert", "alert_joined", "report")))
        )
        outcomes = list(session.scalars(select(DrillStep.outcome).order_by(DrillStep.position)))
    return alerts or 0, events or 0, outcomes


def test_a_step_due_while_the_engine_is_down_is_injected_after(
    api: TestClient,
    runtime: Runtime,
    fakes: Fakes,
    settings: Settings,
    clock: FrozenClock,
    config: WarroomConfig,
) -> None:
    start(api, scenario=TIMED)
    runtime.engine.run_once()
    assert injected(runtime)[2] == ["opened INC-1", None, None]
    runtime.engine.stop()  # the process goes away before the second step is due
    clock.advance(timedelta(minutes=6))
    with restarted(settings, clock, config) as fresh:
        fresh.engine.run_once()
        alerts, _, outcomes = injected(fresh)
        assert outcomes == ["opened INC-1", "joined INC-1", None]
        assert alerts == 2
        clock.advance(timedelta(minutes=5))
        fresh.engine.run_once()
        assert injected(fresh)[2][2] == "joined INC-1"
        assert fresh.flows.get("INC-1").title == "[DRILL] CPU hot"


def test_a_step_sent_before_a_crash_is_not_sent_again(
    api: TestClient,
    runtime: Runtime,
    fakes: Fakes,
    settings: Settings,
    clock: FrozenClock,
    config: WarroomConfig,
) -> None:
    drill = start(api, scenario=TIMED)
    clock.advance(timedelta(minutes=6))
    # The engine injected step 1 and died before marking it done: the delivery is stored,
    # the step row is not.
    with runtime.db.session() as session:
        step = session.scalars(select(DrillStep).where(DrillStep.position == 1)).one()
        record = service.get(session, drill["id"])
        session.expunge_all()
    runtime.drills.inject(
        source=service.SOURCE,
        integration=f"drill-{drill['id']}",
        alerts=[service.injected(record, step)],
        delivery_ids=(f"drill-step-{step.id}",),
    )
    runtime.engine.stop()
    before = injected(runtime)
    assert before[0] == 2 and before[2][1] is None
    with restarted(settings, clock, config) as fresh:
        fresh.engine.run_once()
        alerts, events, outcomes = injected(fresh)
    assert alerts == 2 and events == before[1]  # not doubled
    assert outcomes[1] == ALREADY
    assert outcomes[2] is None  # the report is not due yet


def test_steps_after_the_incident_resolved_are_not_injected(
    api: TestClient, runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    start(api, scenario=TIMED)
    answer = api.post("/api/v1/incidents/INC-1/resolve", json={"skip_verification": "drill"})
    assert answer.status_code == 200, answer.text
    clock.advance(timedelta(minutes=11))
    runtime.engine.run_once()
    alerts, _, outcomes = injected(runtime)
    assert alerts == 1
    assert outcomes[1:] == ["not injected: INC-1 is already resolved"] * 2
    listed = api.get("/api/v1/incidents").json()["items"]
    assert [i["ref"] for i in listed] == ["INC-1"]  # no second incident from a late alert


def test_two_engines_inject_a_due_step_once(
    api: TestClient,
    runtime: Runtime,
    fakes: Fakes,
    settings: Settings,
    clock: FrozenClock,
    config: WarroomConfig,
) -> None:
    start(api, scenario=TIMED)
    clock.advance(timedelta(minutes=6))
    with restarted(settings, clock, config) as other:
        together = threading.Barrier(2)
        failures: list[BaseException] = []

        def tick(engine: Runtime) -> None:
            try:
                together.wait(timeout=30)
                engine.drills.update(clock.now())
            except BaseException as exc:  # reported below, in the test thread
                failures.append(exc)

        threads = [threading.Thread(target=tick, args=(r,)) for r in (runtime, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []
        alerts, _, outcomes = injected(other)
    assert alerts == 2  # the second alert once, whichever engine sent it
    assert outcomes[1] in ("joined INC-1", ALREADY) and outcomes[2] is None
    with runtime.db.session() as session:
        done = session.scalar(
            select(func.count()).select_from(DrillStep).where(DrillStep.done_at.is_not(None))
        )
    assert done == 2
