"""The runner runs its modules in order, isolates a failing one, and times each."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import START
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.engine import metrics
from warroom.engine.module import Module, Outcome
from warroom.engine.runner import Engine
from warroom.escalation.models import Escalation
from warroom.incidents.actor import Actor
from warroom.notify.fakes import FakeMailer
from warroom.notify.models import Notification
from warroom.notify.ports import Adapters
from warroom.runtime import Runtime

RITA = Actor(name="rita", source="api")


@dataclass
class Recorder:
    """A module that notes when it ran and answers with a given outcome."""

    name: str
    outcome: Outcome = field(default_factory=Outcome)
    interval: timedelta = timedelta(0)
    runs: list[datetime] = field(default_factory=list)

    def update(self, now: datetime) -> Outcome:
        self.runs.append(now)
        return self.outcome


@dataclass
class Broken:
    """A module whose update raises, as a cadence step did when it aborted whole ticks."""

    name: str = "broken"
    interval: timedelta = timedelta(0)

    def update(self, now: datetime) -> Outcome:
        raise RuntimeError("reminders exploded")


class NoSending:
    def send_due(self) -> int:
        return 0

    def close(self) -> None:
        pass


def _engine(clock: FrozenClock, *modules: Module) -> Engine:
    return Engine(modules=list(modules), sender=NoSending(), now=clock.now)


@pytest.fixture
def config() -> WarroomConfig:
    """Alice is primary on call for checkout; the default policy pages her at once."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "alice", "name": "Alice", "email": "alice@example.com"}],
            "schedules": [
                {
                    "id": "ops",
                    "timezone": "UTC",
                    "layers": [
                        {"name": "primary", "rotation": {"every": "1w", "participants": ["alice"]}}
                    ],
                }
            ],
            "services": [{"id": "checkout", "schedule": "ops"}],
        }
    )


def _pages(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return (
            session.scalar(
                select(func.count()).select_from(Notification).where(Notification.action == "page")
            )
            or 0
        )


def test_a_failing_module_neither_stops_the_next_nor_undoes_the_previous(
    runtime: Runtime, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Escalations commit, the next module raises, the one after still runs; pages stay."""
    runtime.adapters_override = Adapters(mailer=FakeMailer())
    runtime.flows.declare(actor=RITA, title="Checkout down", severity="SEV-1", service="checkout")
    escalations = runtime.engine.modules[0]
    assert escalations.name == "escalations"
    after = Recorder("after")
    engine = _engine(clock, escalations, Broken(), after)
    failures = metrics.MODULE_FAILURES.labels("broken")._value.get()

    done = engine.tick()

    assert done.failed == ["broken"]
    assert "engine module broken failed" in caplog.text
    assert metrics.MODULE_FAILURES.labels("broken")._value.get() == failures + 1
    assert after.runs == [clock.now()]  # the module after the broken one ran
    assert done.messages == _pages(runtime) == 1  # the escalation module's commit stayed
    with runtime.db.session() as session:
        assert session.scalars(select(Escalation.step)).one() == 1
    assert engine.last_tick is None  # a round with a failure does not count for /readyz
    assert gc.isenabled()  # the collector, paused while the steps were written, runs again


def test_modules_run_in_order_at_their_interval(clock: FrozenClock) -> None:
    order: list[str] = []

    @dataclass
    class Named(Recorder):
        def update(self, now: datetime) -> Outcome:
            order.append(self.name)
            return super().update(now)

    fast, slow = Named("fast"), Named("slow", interval=timedelta(seconds=15))
    engine = _engine(clock, fast, slow)
    engine.tick()
    clock.advance(timedelta(seconds=5))
    engine.tick()
    clock.advance(timedelta(seconds=10))
    engine.tick()
    assert order == ["fast", "slow", "fast", "fast", "slow"]
    assert engine.last_tick is not None


def test_a_backlog_runs_first_and_holds_back_later_modules(clock: FrozenClock) -> None:
    busy = Recorder("busy", outcome=Outcome(messages=3, backlog=True))
    later = Recorder("later")
    engine = _engine(clock, busy, later)
    done = engine.tick()
    assert (done.backlog, done.messages, later.runs) == (True, 3, [])
    busy.outcome = Outcome(next_at=START + timedelta(seconds=30))
    done = engine.tick()
    assert later.runs == [clock.now()]  # caught up: the held-back module runs now
    assert done.next_at == START + timedelta(seconds=30)


def test_each_module_is_timed(clock: FrozenClock) -> None:
    before = metrics.MODULE_SECONDS.labels("timed")._sum.get()
    engine = _engine(clock, Recorder("timed"))
    engine.tick()
    count = [
        s.value
        for m in metrics.MODULE_SECONDS.collect()
        for s in m.samples
        if s.name.endswith("_count") and s.labels == {"module": "timed"}
    ]
    assert count == [1.0]
    assert metrics.MODULE_SECONDS.labels("timed")._sum.get() >= before
