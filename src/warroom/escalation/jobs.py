"""The escalation phase's engine modules: advancing due steps, and cadence reminders."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from warroom.engine.module import Outcome
from warroom.escalation import cadence, personal
from warroom.escalation import metrics as escalation_metrics
from warroom.escalation import tick as ticks
from warroom.escalation.service import OnCall
from warroom.notify import metrics, outbox
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

CADENCE_EVERY = timedelta(seconds=15)
# Due steps another engine holds (SKIP LOCKED) are looked at again this soon: it commits
# them, or its transaction ends with its process and the locks go.
HELD_ELSEWHERE = timedelta(milliseconds=50)


def _nobody(_at: datetime) -> dict[str, dict[str, list[str]]]:
    return {}


@dataclass
class EscalationSteps:
    """Advance every due escalation step in one transaction (up to the tick's batch limit)."""

    db: Database
    config: Callable[[], WarroomConfig]
    oncall: OnCall
    channels: Callable[[], set[str]]
    # Who is on call in every schedule, asked before the write lock (PagerDuty is HTTP).
    on_call_everywhere: Callable[[datetime], dict[str, dict[str, list[str]]]] = _nobody
    name: str = "escalations"
    interval: timedelta = field(default=timedelta(0))

    def update(self, now: datetime) -> Outcome:
        """Advance due steps; report a backlog when the batch limit was reached."""
        config, channels = self.config(), self.channels()
        known: dict[str, dict[str, list[str]]] = {}
        with self.db.session() as session:
            due = ticks.any_due(session, now)
        if due:
            known = self.on_call_everywhere(now)  # before the write lock, not under it
        # Pausing the collector is process-wide: only while due steps hold the write lock.
        with _collector_paused() if due else nullcontext(), self.db.transaction() as session:
            result = ticks.tick(
                session,
                config=config,
                oncall=self.oncall,
                channels=channels,
                now=now,
                known_on_call=known,
            )
        escalation_metrics.ENGINE_LAG.set(max(result.lateness, default=0.0))
        escalation_metrics.STEPS.inc(len(result.lateness))
        if result.full:
            return Outcome(messages=result.messages, backlog=True)
        with self.db.session() as session:
            next_at = ticks.next_due(session)
        if next_at is not None and next_at <= now:
            # Due, yet not ours: another engine holds those rows. Without a pause this
            # loop would ask again at once, round after round, until that engine commits.
            next_at = now + HELD_ELSEWHERE
        return Outcome(messages=result.messages, next_at=next_at)


@dataclass
class PageRuns:
    """Send each paged person's later rules as they fall due (push now, SMS after 2m, …)."""

    db: Database
    config: Callable[[], WarroomConfig]
    channels: Callable[[], set[str]]
    name: str = "page_runs"
    interval: timedelta = field(default=timedelta(0))

    def update(self, now: datetime) -> Outcome:
        """Advance the due runs in one transaction; report a backlog when the batch is full."""
        config, channels = self.config(), self.channels()
        with self.db.transaction() as session:
            paging = personal.Paging(session, config, channels, now)
            messages, full = personal.tick(paging)
            queued = outbox.enqueue(session, messages, now=now, retry=config.notifications.retry)
        if full:
            return Outcome(messages=queued, backlog=True)
        with self.db.session() as session:
            next_at = personal.next_due(session)
        return Outcome(messages=queued, next_at=next_at)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (ADR 007).

    A tick of 2,500 steps allocates tens of thousands of short-lived, acyclic dicts and
    rows; the collector would run over them some 240 times per 10,000 steps, while
    every other writer waits for the lock. Objects are still counted meanwhile, so the
    collection the block skipped runs right after it, in whichever thread allocates next.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


@dataclass
class Reminders:
    """Remind the IC and the liaison of open incidents whose status update is overdue."""

    db: Database
    config: Callable[[], WarroomConfig]
    channels: Callable[[], set[str]]
    name: str = "reminders"
    interval: timedelta = field(default=CADENCE_EVERY)

    def update(self, now: datetime) -> Outcome:
        """Queue the reminders that are due (one transaction); publish the outbox depth."""
        config, channels = self.config(), self.channels()
        with self.db.transaction() as session:
            messages = cadence.reminders(session, config=config, channels=channels, now=now)
            queued = outbox.enqueue(session, messages, now=now, retry=config.notifications.retry)
            metrics.depth(outbox.depth(session))
        return Outcome(messages=queued)
