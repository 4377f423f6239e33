"""The engine: a loop that runs its modules in order each round, and a loop that sends.

It keeps nothing in memory that matters: every module reads its due rows, so a restarted
engine (or another instance) carries on where this one stopped. Which modules run is decided
by the composition root (`warroom.runtime`); the runner only orders, times and isolates them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from warroom.engine import metrics
from warroom.engine.module import Module, Sending

log = logging.getLogger("warroom.engine")
TICK = 1.0  # seconds; woken earlier after writes


def instance_name() -> str:
    """Name this process among engines sharing a database (host:pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Round:
    """What one round of the modules did."""

    messages: int = 0
    backlog: bool = False  # a module has more due now: the next round starts at once
    failed: list[str] = field(default_factory=list)  # names of the modules that raised
    next_at: datetime | None = None  # the earliest work a module announced


@dataclass
class Engine:
    """Runs the modules and sends the outbox; `run_once` is one round, for tests and tools."""

    modules: Sequence[Module]
    sender: Sending
    now: Callable[[], datetime]
    owner: str = field(default_factory=instance_name)
    last_tick: float | None = field(default=None, init=False)  # monotonic, for /readyz
    _last_run: dict[str, datetime] = field(default_factory=dict, init=False)
    _wake: threading.Event = field(default_factory=threading.Event, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _send_wake: threading.Event = field(default_factory=threading.Event, init=False)
    _backlog: _Flag = field(default_factory=lambda: _Flag(), init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)

    def wake(self) -> None:
        """Run the next round and send round now (called after a commit that queued work)."""
        self._wake.set()
        self._send_wake.set()

    def tick(self) -> Round:
        """Run each module that is due, in order; one that raises is logged and skipped."""
        now = self.now()
        done = Round()
        for module in self.modules:
            last = self._last_run.get(module.name)
            if last is not None and now - last < module.interval:
                continue
            # Counted as run even if it fails: a broken module retries after its interval,
            # not every round.
            self._last_run[module.name] = now
            started = time.perf_counter()
            try:
                outcome = module.update(now)
            except Exception:  # its transaction rolled back; what earlier modules did stays
                log.exception("engine module %s failed", module.name)
                metrics.MODULE_FAILURES.labels(module.name).inc()
                done.failed.append(module.name)
                continue
            finally:
                metrics.MODULE_SECONDS.labels(module.name).observe(time.perf_counter() - started)
            done.messages += outcome.messages
            if outcome.next_at is not None:
                done.next_at = min(outcome.next_at, done.next_at or outcome.next_at)
            if outcome.backlog:  # what is due now goes first; later modules can wait a round
                done.backlog = True
                break
        if not done.failed:  # /readyz turns unhealthy when rounds keep failing
            metrics.TICKS.inc()
            self.last_tick = time.monotonic()
        return done

    def run_once(self) -> int:
        """Run one round, then send until nothing due is left; return how many were sent."""
        self.tick()
        total = 0
        while (count := self.sender.send_due()) > 0:
            total += count
        return total

    def start(self) -> None:
        """Run the round loop and the send loop on background threads."""
        self._stop.clear()
        for name, target in (("engine-tick", self._tick_loop), ("engine-send", self._send_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("engine started (%s)", self.owner)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current round and sends, hand back unsent claims, and stop."""
        self._stop.set()
        self._wake.set()
        self._send_wake.set()  # the send loop may be waiting a whole tick
        # Close the sender before joining its loop, not after: the round it is in then ends
        # with the sends already under way instead of delivering a whole batch to a slow
        # vendor first (SIGTERM must exit within seconds). close() waits for that round.
        self.sender.close()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        self.sender.close()  # again: a round that began just as we closed may hold claims

    def _tick_loop(self) -> None:
        while not self._stop.is_set():
            wait = TICK
            try:
                done = self.tick()
                if done.backlog:  # before waking the sender: it waits while we catch up
                    self._backlog.set()
                else:
                    self._backlog.clear()
                if done.messages:
                    self._send_wake.set()
                if done.backlog:
                    continue  # more is due right now
                if done.next_at is not None:
                    wait = max(0.0, min(TICK, (done.next_at - self.now()).total_seconds()))
            except Exception:  # the runner itself failed (the clock?): the rows are still there
                log.exception("engine round failed")
            if wait > 0:
                self._wake.wait(wait)
            self._wake.clear()
            self._send_wake.set()  # writes woke us: there may be outbox rows too

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            if self._backlog.is_set():
                # Many steps fell due at once: writing every page first, then sending, gets
                # each page into the outbox sooner (the two share one interpreter lock).
                self._backlog.wait_clear(0.05)
                continue
            try:
                sent = self.sender.send_due(stopping=self._stop.is_set)
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
        """Return how long ago the last clean round finished, if one has."""
        return None if self.last_tick is None else round(time.monotonic() - self.last_tick, 3)

    def healthy(self, now_monotonic: float | None = None) -> bool:
        """Tell whether the engine finished a clean round within the last few seconds."""
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
