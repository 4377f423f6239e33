"""A drain locks the heartbeats it pings before any of its groups opens an incident.

The engine's heartbeat check locks a heartbeat's row, then opens an incident (a storm's lock
on PostgreSQL). A drain taking them the other way round, across its groups, could deadlock
with it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from tests.detection.test_intake_merging import hold_writer, refuse_poison
from warroom.config import WarroomConfig
from warroom.detection import heartbeats, storms
from warroom.detection.models import Heartbeat
from warroom.detection.schemas import AlertIn
from warroom.incidents.models import Incident
from warroom.runtime import Runtime


@pytest.fixture
def config() -> WarroomConfig:
    """Watchdog alerts ping the `watchdog` heartbeat; every other alert opens an incident."""
    return WarroomConfig.model_validate(
        {
            "services": [{"id": "monitoring"}, {"id": "checkout"}],
            "heartbeats": [{"id": "watchdog", "service": "monitoring", "interval": "1m"}],
            "routes": [
                {"match": ['alertname="Watchdog"'], "heartbeat": "watchdog"},
                {"default": True, "severity": "SEV-3"},
            ],
        }
    )


def disk(fingerprint: str = "disk-1") -> AlertIn:
    return AlertIn(
        source="webhook",
        fingerprint=fingerprint,
        status="firing",
        labels={"alertname": "DiskFull", "service": "checkout"},
        title="Disk full",
    )


def watchdog(**extra: Any) -> AlertIn:
    return AlertIn(
        source="alertmanager",
        fingerprint="fp-watchdog",
        status="firing",
        labels={"alertname": "Watchdog", **extra},
        title="Watchdog",
    )


@pytest.fixture
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """The statements the intake's writer runs, in order."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if threading.current_thread().name == "intake":
            seen.append(" ".join(statement.split()))

    engine = runtime.db.write_engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def first(statements: list[str], *words: str) -> int:
    """The position of the first statement holding all `words`."""
    return next(i for i, s in enumerate(statements) if all(w in s for w in words))


def made(runtime: Runtime) -> None:
    """Give the heartbeat its row, as the engine does when it starts."""
    with runtime.db.transaction() as session:
        heartbeats.sync(session, config=runtime.config(), now=runtime.clock.now())


def pings(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(Heartbeat.pings).where(Heartbeat.id == "watchdog")) or 0


def test_a_later_groups_heartbeat_is_locked_before_an_earlier_group_opens_an_incident(
    runtime: Runtime, statements: list[str]
) -> None:
    made(runtime)
    gate = hold_writer(runtime)
    opening = runtime.intake.submit(source="webhook", integration="w", alerts=[disk()])
    pinging = runtime.intake.submit(source="alertmanager", integration="prod", alerts=[watchdog()])
    gate.set()
    assert opening.result(10).opened == [1]
    assert pinging.result(10).pinged == 1
    heartbeat = first(statements, "FROM heartbeats")
    assert heartbeat < first(statements, "INSERT INTO incidents")
    if runtime.db.dialect == "postgresql":
        assert "FOR UPDATE" in statements[heartbeat]
        assert heartbeat < first(statements, "pg_advisory_xact_lock")  # the storm's lock
    assert pings(runtime) == 1


def test_a_failing_delivery_keeps_no_ping_though_its_heartbeat_was_locked(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_poison(runtime, monkeypatch)
    made(runtime)
    gate = hold_writer(runtime)
    bad = runtime.intake.submit(
        source="alertmanager",
        integration="prod",
        alerts=[watchdog(), watchdog(poison="yes")],
    )
    good = runtime.intake.submit(source="webhook", integration="w", alerts=[disk()])
    gate.set()
    with pytest.raises(RuntimeError, match="cannot route"):
        bad.result(10)
    assert good.result(10).opened == [1]
    assert pings(runtime) == 0


def test_a_duplicate_delivery_does_not_ping_again(runtime: Runtime) -> None:
    gate = hold_writer(runtime)
    once = runtime.intake.submit(
        source="alertmanager", integration="prod", alerts=[watchdog()], delivery_ids=("d-1",)
    )
    again = runtime.intake.submit(
        source="alertmanager", integration="prod", alerts=[watchdog()], delivery_ids=("d-1",)
    )
    opening = runtime.intake.submit(source="webhook", integration="w", alerts=[disk()])
    gate.set()
    assert once.result(10).pinged == 1
    assert again.result(10).duplicate
    assert opening.result(10).opened == [1]
    assert pings(runtime) == 1
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_the_engines_order_heartbeat_then_storm_waits_instead_of_deadlocking(
    runtime: Runtime,
) -> None:
    made(runtime)
    scope = storms.scope_of(runtime.config(), "checkout").key
    with runtime.db.write_engine.connect() as engine, runtime.db.read_engine.connect() as watch:
        # The engine's heartbeat check: the heartbeat's row first…
        engine.execute(select(Heartbeat.id).where(Heartbeat.id == "watchdog").with_for_update())
        gate = hold_writer(runtime)
        opening = runtime.intake.submit(source="webhook", integration="w", alerts=[disk()])
        pinging = runtime.intake.submit(
            source="alertmanager", integration="prod", alerts=[watchdog()]
        )
        gate.set()
        waiting = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
        deadline = time.monotonic() + 10
        while not watch.execute(waiting).scalar():  # the drain waits for the row
            assert time.monotonic() < deadline, "the drain never waited for the heartbeat"
            time.sleep(0.02)
        # …then the storm's lock, as a silent heartbeat's incident takes it: free, not held
        # by a drain that opened its incident before it pinged.
        engine.execute(text("SET LOCAL lock_timeout = '5s'"))
        engine.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": storms._lock_id(scope)})
        engine.commit()
    assert opening.result(10).opened == [1]
    assert pinging.result(10).pinged == 1
