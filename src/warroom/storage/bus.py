"""The live bus: committed timeline events fanned out to the open streams of this process.

Every stream (web/events.py) subscribes with an asyncio queue on the server's event loop.
Events reach the bus from three places: the commit itself (SQLite, this process), PostgreSQL
LISTEN (every instance's commits, this one's included) and, on SQLite, a poll of the newest
id that picks up what other processes (`warroom serve --workers N`) committed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

log = logging.getLogger("warroom.storage")

CHANNEL = "warroom_events"
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more: a transaction that wrote many
# events (an alert storm) sends them in chunks; an event is well under 80 bytes.
NOTIFY_CHUNK = 80
POLL_SECONDS = 0.5  # SQLite: how soon another process's commit reaches this one's streams
CATCH_UP_LIMIT = 1000  # more missed than this and the streams are told to reload
QUEUE_LIMIT = 1000  # batches waiting for one slow stream before it is told to reload
RECENT = 10_000  # ids remembered to drop an event that arrives twice (commit and poll)


class LiveEvent(NamedTuple):
    """A committed timeline event: its incident's number, its id and its kind (nothing else:
    what a stream may show is decided per viewer, and the page fetches the rest)."""

    number: int
    id: int
    kind: str


# Put on a subscriber's queue when events may have been missed: the page must reload.
LOST: list[LiveEvent] = []


@dataclass(eq=False)
class Subscription:
    """One stream's queue of event batches on its event loop."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[list[LiveEvent]] = field(default_factory=asyncio.Queue)
    lost: bool = False

    async def get(self) -> list[LiveEvent]:
        """Wait for the next batch (`LOST` once events may have been missed)."""
        return await self.queue.get()

    def _put(self, batch: list[LiveEvent]) -> None:
        """Queue a batch (on the loop's thread); past the limit, tell the stream to reload."""
        if self.lost:
            return
        if batch is LOST or self.queue.qsize() >= QUEUE_LIMIT:
            self.lost = True
            batch = LOST
        self.queue.put_nowait(batch)


class Bus:
    """Fans committed events out to subscribers; listens (PostgreSQL) or polls (SQLite)."""

    def __init__(
        self,
        url: str,
        *,
        head: Callable[[], int],
        since: Callable[[int, int], list[LiveEvent]],
    ) -> None:
        self.url = url
        self.postgres = make_url(url).get_backend_name() == "postgresql"
        self._head = head  # the newest timeline event id in the database
        self._since = since  # (after_id, limit) -> committed events, oldest first
        self._lock = threading.Lock()
        self._subscribers: dict[asyncio.AbstractEventLoop, set[Subscription]] = {}
        self._recent: set[int] = set()
        self._recent_order: deque[int] = deque()
        self._last_id = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # PostgreSQL: LISTEN is in place (tests wait on it)

    # -- subscribers -------------------------------------------------------------------

    def subscribe(self, loop: asyncio.AbstractEventLoop) -> Subscription:
        """Return a new subscription on `loop`; starts the listener or poller if need be."""
        subscription = Subscription(loop)
        with self._lock:
            self._subscribers.setdefault(loop, set()).add(subscription)
        self.start()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to `subscription`."""
        with self._lock:
            group = self._subscribers.get(subscription.loop)
            if group is not None:
                group.discard(subscription)
                if not group:
                    del self._subscribers[subscription.loop]

    # -- publishing --------------------------------------------------------------------

    def publish(self, events: Iterable[LiveEvent]) -> None:
        """Deliver committed events (from any thread), each once, to every subscriber."""
        with self._lock:
            fresh = [e for e in events if e.id not in self._recent]
            for e in fresh:
                self._remember(e.id)
            if not fresh:
                return
            self._last_id = max(self._last_id, max(e.id for e in fresh))
            groups = [(loop, list(subs)) for loop, subs in self._subscribers.items()]
        self._deliver(groups, fresh)

    def lost(self) -> None:
        """Tell every subscriber that events may have been missed (they reload)."""
        with self._lock:
            groups = [(loop, list(subs)) for loop, subs in self._subscribers.items()]
        self._deliver(groups, LOST)

    def _deliver(
        self,
        groups: list[tuple[asyncio.AbstractEventLoop, list[Subscription]]],
        batch: list[LiveEvent],
    ) -> None:
        # One wake-up per event loop, not per stream: 200 streams cost one call here.
        for loop, subs in groups:
            try:
                loop.call_soon_threadsafe(_fan_out, subs, batch)
            except RuntimeError:  # that loop has closed (its server stopped): forget it
                with self._lock:
                    self._subscribers.pop(loop, None)

    def _remember(self, event_id: int) -> None:
        self._recent.add(event_id)
        self._recent_order.append(event_id)
        if len(self._recent_order) > RECENT:
            self._recent.discard(self._recent_order.popleft())

    # -- PostgreSQL NOTIFY -------------------------------------------------------------

    @staticmethod
    def notify(connection: Connection, events: list[LiveEvent]) -> None:
        """Send the events with NOTIFY on `connection` (delivered when its transaction commits)."""
        for start in range(0, len(events), NOTIFY_CHUNK):
            chunk = [list(e) for e in events[start : start + NOTIFY_CHUNK]]
            connection.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": orjson.dumps(chunk).decode()},
            )

    # -- the background thread ---------------------------------------------------------

    def start(self) -> None:
        """Start listening (PostgreSQL) or polling (SQLite), once."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            target = self._listen if self.postgres else self._poll
            self._thread = threading.Thread(target=target, name="live-bus", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the background thread and drop every subscriber."""
        self._stop.set()
        with self._lock:
            thread, self._thread = self._thread, None
            self._subscribers.clear()
        if thread is not None:
            thread.join(timeout)

    def _catch_up(self, after: int) -> int:
        """Publish what was committed after id `after`; return the newest id now known."""
        missed = self._since(after, CATCH_UP_LIMIT + 1)
        if len(missed) > CATCH_UP_LIMIT:
            self.lost()
            return self._head()
        self.publish(missed)
        return max([after, *(e.id for e in missed)])

    def _poll(self) -> None:
        """SQLite: publish what other processes committed (this one's is already out)."""
        # A cursor of its own: this process's commits, published at once, may have passed
        # another process's that the poll has yet to see.
        cursor: int | None = None
        while cursor is None:
            if self._stop.is_set():
                return
            try:
                cursor = self._head()
            except Exception:
                log.exception("live updates: cannot read the newest timeline event")
                self._stop.wait(POLL_SECONDS)
        while not self._stop.wait(POLL_SECONDS):
            try:
                if self._head() > cursor:
                    cursor = self._catch_up(cursor)
            except Exception:  # a locked or busy file: try again on the next round
                log.exception("live updates: polling the timeline failed")

    def _listen(self) -> None:
        """PostgreSQL: LISTEN on one connection; reconnect and catch up when it drops."""
        conninfo = make_url(self.url).set(drivername="postgresql")
        dsn = conninfo.render_as_string(hide_password=False)
        delay = 0.1
        first = True
        while not self._stop.is_set():
            try:
                if first:  # read before LISTEN: what commits while it is set up is caught up
                    self._last_id = max(self._last_id, self._head())
                    first = False
                with psycopg.connect(
                    dsn, autocommit=True, application_name="warroom-live"
                ) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    # What was committed while we were not (yet) listening.
                    self._last_id = self._catch_up(self._last_id)
                    self.listening.set()
                    delay = 0.1
                    self._receive(connection)
            except Exception as exc:
                self.listening.clear()
                if self._stop.is_set():
                    return
                # A restarted or failed-over server is expected: one line, not a traceback.
                log.warning("live updates: the LISTEN connection failed (%s); reconnecting", exc)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
        self.listening.clear()

    def _receive(self, connection: psycopg.Connection[Any]) -> None:
        """Publish notifications until stopped; check the connection when it is quiet."""
        checked = time.monotonic()
        while not self._stop.is_set():
            # A short timeout: close() is heard within it.
            for note in connection.notifies(timeout=0.25):
                try:
                    self.publish(LiveEvent(*item) for item in orjson.loads(note.payload))
                except (ValueError, TypeError):
                    log.warning("live updates: ignoring a malformed notification")
            if time.monotonic() - checked > 15:
                # A connection lost without a word raises nothing while we only wait.
                connection.execute("SELECT 1")
                checked = time.monotonic()


def _fan_out(subscriptions: list[Subscription], batch: list[LiveEvent]) -> None:
    """Queue a batch for each subscriber (runs on their event loop)."""
    for subscription in subscriptions:
        subscription._put(batch)
