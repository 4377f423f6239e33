"""The engine: a loop that advances escalations, reminds, and drives the sender.

It keeps nothing in memory that matters: every tick reads the due rows, so a restarted
engine (or another instance) carries on where this one stopped.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from warroom.escalation import cadence
from warroom.escalation import service as escalation
from warroom.escalation import tick as ticks
from warroom.mitigation import verification, verification_metrics
from warroom.notify import metrics, outbox
from warroom.notify.ports import Adapters
from warroom.notify.sender import Sender
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.engine")
TICK = 1.0  # seconds; woken earlier after writes
CADENCE_EVERY = timedelta(seconds=15)
VERIFY_EVERY = timedelta(seconds=15)  # verification windows are minutes long


@dataclass
class Engine:
    """Ticks escalations and sends the outbox; `run_once` is one round, for tests and tools."""

    db: Database
    config: Callable[[], WarroomConfig]
    adapters: Callable[[], Adapters]
    now: Callable[[], datetime]
    oncall: escalation.OnCall
    channels: Callable[[], set[str]]
    # Who is on call in every schedule, asked before the write lock (PagerDuty is HTTP).
    on_call_everywhere: Callable[[datetime], dict[str, dict[str, list[str]]]] = lambda _at: {}
    # Told (number, event) after the engine changed an incident, to rewrite its runbook file
    # and run the flows' listeners (a resolve starts the postmortem).
    on_changed: Callable[[int, str], object] | None = None
    workers: int = 8
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    last_tick: float | None = field(default=None, init=False)  # monotonic, for /readyz
    _wake: threading.Event = field(default_factory=threading.Event, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _send_wake: threading.Event = field(default_factory=threading.Event, init=False)
    _backlog: _Flag = field(default_factory=lambda: _Flag(), init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)
    _last_cadence: datetime | None = field(default=None, init=False)
    _last_verify: datetime | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.sender = Sender(
            db=self.db,
            config=self.config,
            adapters=self.adapters,
            now=self.now,
            owner=self.owner,
            workers=self.workers,
        )

    def wake(self) -> None:
        """Run the next tick and send round now (called after a commit that queued work)."""
        self._wake.set()
        self._send_wake.set()

    def tick(self) -> ticks.TickResult:
        """Advance due escalations (one transaction), then, when caught up, the reminders."""
        config, now, channels = self.config(), self.now(), self.channels()
        known: dict[str, dict[str, list[str]]] = {}
        with self.db.session() as session:
            due = ticks.any_due(session, now)
        if due:
            known = self.on_call_everywhere(now)  # before the write lock, not under it
        # A tick allocates thousands of short-lived dicts; the cyclic collector finds no
        # garbage in them but would scan the heap repeatedly while the write lock is held.
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            with self.db.transaction() as session:
                result = ticks.tick(
                    session,
                    config=config,
                    oncall=self.oncall,
                    channels=channels,
                    now=now,
                    known_on_call=known,
                )
        finally:
            if gc_was_on:
                gc.enable()
        due_reminders = self._last_cadence is None or now - self._last_cadence >= CADENCE_EVERY
        if due_reminders and not result.full:  # pages first; reminders can wait a tick
            self._last_cadence = now
            with self.db.transaction() as session:
                messages = cadence.reminders(session, config=config, channels=channels, now=now)
                result.messages += outbox.enqueue(
                    session, messages, now=now, retry=config.notifications.retry
                )
                metrics.depth(outbox.depth(session))
        due_verify = self._last_verify is None or now - self._last_verify >= VERIFY_EVERY
        if due_verify and not result.full:
            self._last_verify = now
            self.verify(now)
        metrics.TICKS.inc()
        metrics.ENGINE_LAG.set(max(result.lateness, default=0.0))
        self.last_tick = time.monotonic()
        return result

    def verify(self, now: datetime | None = None) -> verification.SweepResult:
        """Sweep mitigated incidents whose verification window passed (one transaction)."""
        config, when = self.config(), now or self.now()
        with self.db.transaction() as session:
            result = verification.sweep(session, config=config, now=when)
        verification_metrics.swept(result.severities, result.resolved)
        for number in result.verified:
            if self.on_changed is None:
                break
            try:
                self.on_changed(number, "resolve" if number in result.resolved else "verified")
            except Exception:  # the change is committed; the file catches up on the next one
                log.exception("cannot refresh INC-%s after verification", number)
        return result

    def run_once(self) -> int:
        """Tick, then send until nothing due is left; return how many rows were sent."""
        self.tick()
        total = 0
        while (count := self.sender.send_due()) > 0:
            total += count
        return total

    def start(self) -> None:
        """Run the tick loop and the send loop on background threads."""
        self._stop.clear()
        for name, target in (("engine-tick", self._tick_loop), ("engine-send", self._send_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("engine started (%s)", self.owner)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current tick and sends, hand back unsent claims, and stop."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        self.sender.close()

    def _tick_loop(self) -> None:
        while not self._stop.is_set():
            wait = TICK
            try:
                result = self.tick()
                if result.full:  # before waking the sender: it waits while we catch up
                    self._backlog.set()
                else:
                    self._backlog.clear()
                if result.messages:
                    self._send_wake.set()
                if result.full:
                    continue  # more steps are due right now
                wait = self._until_next_step()
            except Exception:  # a bad tick must not end the engine; the rows are still there
                log.exception("engine tick failed")
            if wait > 0:
                self._wake.wait(wait)
            self._wake.clear()
            self._send_wake.set()  # writes woke us: there may be outbox rows too

    def _until_next_step(self) -> float:
        """Return seconds until the next escalation step falls due (at most one tick)."""
        with self.db.session() as session:
            next_at = ticks.next_due(session)
        if next_at is None:
            return TICK
        return max(0.0, min(TICK, (next_at - self.now()).total_seconds()))

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            if self._backlog.is_set():
                # Many steps fell due at once: writing every page first, then sending, gets
                # each page into the outbox sooner (the two share one interpreter lock).
                self._backlog.wait_clear(0.05)
                continue
            try:
                sent = self.sender.send_due()
            except Exception:
                log.exception("sending failed")
                sent = 0
            if sent:
                continue  # more may be due (the next of an incident's ordered messages)
            self._send_wake.wait(TICK)
            self._send_wake.clear()

    @property
    def running(self) -> bool:
        """Tell whether this process runs the engine's threads."""
        return bool(self._threads)

    def seconds_since_tick(self) -> float | None:
        """Return how long ago the last tick finished, if one has."""
        return None if self.last_tick is None else round(time.monotonic() - self.last_tick, 3)

    def healthy(self, now_monotonic: float | None = None) -> bool:
        """Tell whether the engine ticked within the last few seconds."""
        if not self._threads:
            return True  # not running in this process (`serve --no-engine`)
        if self.last_tick is None:
            return False
        return (now_monotonic or time.monotonic()) - self.last_tick < 10 * TICK


class _Flag:
    """A flag one thread sets while it has a backlog; another can wait for it to clear."""

    def __init__(self) -> None:
        self._set = False
        self._cleared = threading.Condition()

    def set(self) -> None:
        """Raise the flag."""
        with self._cleared:
            self._set = True

    def clear(self) -> None:
        """Lower the flag and wake whoever waits for that."""
        with self._cleared:
            self._set = False
            self._cleared.notify_all()

    def is_set(self) -> bool:
        """Tell whether the flag is up."""
        return self._set

    def wait_clear(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) until the flag is lowered."""
        with self._cleared:
            if self._set:
                self._cleared.wait(timeout)
