"""The sender: claims due outbox rows, calls the adapters outside any transaction, records.

A claim is a lease: if this process dies between claiming and recording, the lease runs
out and another sender (or this one, restarted) sends the row again under the same
idempotency key, which the receiver can use to drop the repeat.

Rounds are sized from the pace of the sends (notify/pace.py) and pipelined: while one
round's sends are under way, the round before is recorded and the next one claimed. A send
starts only if, at the slowest pace seen lately, it ends before its lease does (less a
margin to record it): a slow vendor cannot get a row sent twice by another instance, and
SIGTERM waits only for the sends under way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.incidents import timeline
from warroom.incidents.models import Incident
from warroom.notify import claims, dispatch, metrics, outbox
from warroom.notify.claims import Claimed
from warroom.notify.messages import Payload
from warroom.notify.models import Notification
from warroom.notify.pace import Pace
from warroom.notify.ports import Adapters, DeliveryError
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.notify")
# (session, the message sent, the provider's id, now, the configuration in force)
AfterSent = Callable[[Session, Payload, "str | None", datetime, "WarroomConfig"], None]
# (session, the row that is now dead, now): a page's person moves on to their next rule
AfterDead = Callable[[Session, Notification, datetime], None]
LEASE_MARGIN = timedelta(seconds=1)
_ACQUIRE_ATTEMPTS = 5


@dataclass(frozen=True)
class SentHook:
    """A phase's work after a send of certain kinds of message (run in the recording)."""

    kinds: tuple[type[Payload], ...]
    run: AfterSent


@dataclass
class _Result:
    """What became of one claimed row: an outcome or an error, and when."""

    item: Claimed
    outcome: dispatch.Outcome | None
    error: DeliveryError | None
    at: datetime


class _Round:
    """A round's sends: each task takes the next unsent row until none is left."""

    def __init__(self, claimed: list[Claimed]) -> None:
        self._rows = deque(enumerate(claimed))
        self._results: list[_Result | None] = [None] * len(claimed)
        self.tasks: list[Future[None]] = []

    def run(self, deliver: Callable[[Claimed], _Result]) -> None:
        """Send rows of the round until none is left (on as many threads as there are tasks)."""
        while True:
            try:
                index, item = self._rows.popleft()  # atomic: tasks never take the same row
            except IndexError:
                return
            self._results[index] = deliver(item)

    def results(self) -> list[_Result]:
        """Wait for every task; return the round's results in the order of its rows."""
        for task in self.tasks:
            task.result()  # an error in a task goes up, as it did from the send
        return [result for result in self._results if result is not None]


@dataclass
class Sender:
    """Sends what the outbox holds in rounds; `send_due` is safe to run on many instances."""

    db: Database
    config: Callable[[], WarroomConfig]
    adapters: Callable[[], Adapters]
    now: Callable[[], datetime]
    owner: str
    workers: int = 8
    # Rows a round claims per worker, sized from the pace of the sends (notify/pace.py):
    # a worker's share should take about `round_budget` seconds. It starts at
    # `batch_per_worker` and stays between `least_per_worker` and `most_per_worker`.
    batch_per_worker: int = 8
    least_per_worker: int = 1
    most_per_worker: int = 32
    round_budget: float = 0.5
    # How long one `send_due` keeps starting rounds before it returns (the engine's send
    # loop yields to a backlog of due steps between calls).
    keep_sending: float = 0.5
    # Phases' work a send calls for (the postmortem keeps a created issue's key), run in the
    # transaction that records the send; registered by the composition root.
    after_sent: Sequence[SentHook] = ()
    after_dead: Sequence[AfterDead] = ()
    _pool: ThreadPoolExecutor | None = field(default=None, init=False)
    # One `send_due` at a time, so close() can wait for the rounds in progress; while it
    # closes, no new send starts (SIGTERM must not wait for a batch to reach a slow vendor).
    _round: threading.Lock = field(default_factory=threading.Lock, init=False)
    _closing: threading.Event = field(default_factory=threading.Event, init=False)
    pace: Pace = field(init=False)

    def __post_init__(self) -> None:
        self.pace = Pace(
            budget=self.round_budget,
            least=self.least_per_worker,
            most=self.most_per_worker,
            start=self.batch_per_worker,
        )

    def send_due(self, stopping: Callable[[], bool] = lambda: False) -> int:
        """Send rounds of due rows until none is left or a while has passed; return how many.

        `stopping` is the caller's own stop flag: the engine's send loop may have decided to
        send just before its stop began and `close()` ran, and must not start a round after.

        Pipelined: while one round's sends are under way, this thread records the round
        before (one transaction) and claims the next (another), so the workers rarely wait
        for the database. Nothing is lost to the overlap: the next claim counts the round
        in flight against rate limits, and the outbox's order holds back what follows an
        unrecorded row.
        """
        with self._round:
            if self._closing.is_set() or stopping():
                return 0
            ends = time.monotonic() + self.keep_sending
            handled = 0
            claimed = self._claim()
            unrecorded: list[_Result] = []
            while claimed:
                sending = self._start(claimed)
                try:
                    if unrecorded:
                        self._record(unrecorded)
                        unrecorded = []
                    more = not (self._closing.is_set() or stopping()) and time.monotonic() < ends
                    following = self._claim(in_flight=claimed) if more else []
                except BaseException:  # keep what went out before the error goes up
                    self._record(unrecorded + sending.results())
                    raise
                unrecorded = sending.results()
                self.pace.round_ended()
                handled += len(claimed)
                claimed = following
            if unrecorded:
                self._record(unrecorded)
            return handled

    def close(self) -> None:
        """Stop sending: finish the sends in progress, hand back every claim not yet sent.

        Safe to call while another thread is in `send_due` (the engine does, at shutdown):
        the round in progress sends nothing more, records what it sent, and ends.
        """
        self._closing.set()
        with self._round:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
            try:
                with self.db.transaction() as session:
                    outbox.release_claims(session, owner=self.owner)
            except Exception as exc:  # the database is gone: stop anyway, the leases run out
                first = (str(exc).splitlines() or [type(exc).__name__])[0]
                log.warning("claims not handed back (their lease runs out instead): %s", first)
            # Usable again afterwards, as before (a test's runtime outlives its app's lifespan).
            self._closing.clear()

    def _start(self, claimed: list[Claimed]) -> _Round:
        """Start sending a round on the workers (or send it here, with one worker)."""
        sending = _Round(claimed)
        if self.workers <= 1:
            sending.run(self._deliver)
            return sending
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sender")
        # A task per worker, not per row: a Future per row (and its Condition) cost this
        # thread, whose CPU bounds the pace, some 7 µs a row.
        for _ in range(min(self.workers, len(claimed))):
            sending.tasks.append(self._pool.submit(sending.run, self._deliver))
        return sending

    def _claim(self, in_flight: Iterable[Claimed] = ()) -> list[Claimed]:
        """Lease the next round's rows (notify/claims.py), in a transaction of its own."""
        limit = max(1, self.workers) * self.pace.per_worker
        with self.db.transaction() as session:
            return claims.claim_round(
                session,
                config=self.config(),
                now=self.now(),
                owner=self.owner,
                limit=limit,
                in_flight=[item.row for item in in_flight],
            )

    def _deliver(self, item: Claimed) -> _Result:
        """Send one claimed row (no database work here: this is the slow, remote part)."""
        if self._closing.is_set():  # shutting down: leave it unsent, recorded as handed back
            return _Result(item, None, None, self.now())
        started = self.now()
        if item.lease_ends is not None and item.claimed_at is not None:
            # The send must end before the lease does (less a margin to record it), at the
            # slowest pace seen lately, or another sender may take the row over meanwhile:
            # leave it to the next claim. (At most half a lease: a fresh claim always sends.)
            lease = item.lease_ends - item.claimed_at
            takes = min(timedelta(seconds=self.pace.slowest), lease / 2)
            if started + takes >= item.lease_ends - LEASE_MARGIN:
                return _Result(item, None, None, started)
        adapters = self._acquire_adapters()
        if adapters is None:
            error = DeliveryError("the notification adapters are being replaced or closed")
            return _Result(item, None, error, self.now())
        try:
            outcome = dispatch.send(
                item.row,
                adapters=adapters,
                config=self.config(),
                links=item.links,
                bundle=item.bundled_rows,
            )
            result = _Result(item, outcome, None, self.now())
        except DeliveryError as exc:
            result = _Result(item, None, exc, self.now())
        except Exception as exc:  # an adapter bug must not kill the sender; retry it
            log.exception("sending notification %s failed", item.id)
            result = _Result(item, None, DeliveryError(f"{type(exc).__name__}: {exc}"), self.now())
        finally:
            adapters.release()  # the last send on replaced adapters closes them
        # Timed on the clock the leases are on (the injected one).
        self.pace.observe(max(0.0, (result.at - started).total_seconds()))
        return result

    def _acquire_adapters(self) -> Adapters | None:
        """Return the adapters in force, counted as in use by one more send."""
        # A reload may retire the adapters between asking and counting: ask again.
        for _ in range(_ACQUIRE_ATTEMPTS):
            adapters = self.adapters()
            if adapters.acquire():
                return adapters
        return None  # shutting down: the row goes back to the outbox to retry

    def _record(self, results: list[_Result]) -> None:
        """Record every outcome of a round in one transaction (one commit, one fsync)."""
        config = self.config()
        with self.db.transaction() as session:
            ids = [i for r in results for i in (r.item.id, *r.item.bundle)]
            # A row no longer ours: our lease ran out and someone else took it.
            mine = outbox.still_claimed(session, ids=ids, owner=self.owner)
            ours = [r for r in results if r.item.id in mine]
            sent = [(r, r.outcome) for r in ours if r.outcome is not None]
            self._record_sent(session, sent, mine, config)
            self._record_unsent(session, [r for r in ours if r.outcome is None], mine, config)

    def _record_sent(
        self,
        session: Session,
        results: list[tuple[_Result, dispatch.Outcome]],
        mine: set[int],
        config: WarroomConfig,
    ) -> None:
        """Mark the deliveries sent in one statement, then keep what each send produced."""
        sent: list[outbox.Sent] = []
        for result, outcome in results:
            head, provider_id = result.item.id, outcome.provider_id
            sent.append(outbox.Sent(head, result.at, provider_id))
            sent += [
                outbox.Sent(i, result.at, provider_id, bundled_into=head)
                for i in result.item.bundle
                if i in mine
            ]
        outbox.record_sent(session, sent)
        for result, outcome in results:
            row, now = result.item.row, result.at  # the claim's copy: what the send was of
            self._apply(session, row, outcome, now, config)
            metrics.sent(row.channel, row.action, (now - row.due_at).total_seconds())

    def _record_unsent(
        self, session: Session, results: list[_Result], mine: set[int], config: WarroomConfig
    ) -> None:
        """Record failures (retry later, or dead) and hand back what was not sent."""
        if not results:
            return
        ids = [i for r in results for i in (r.item.id, *r.item.bundle) if i in mine]
        loaded = {  # one query; the dict keeps them alive in the identity map
            n.id: n for n in session.scalars(select(Notification).where(Notification.id.in_(ids)))
        }
        retry = config.notifications.retry
        for result in results:
            item, error, now = result.item, result.error, result.at
            row = loaded[item.id]
            rows = [row] + [loaded[i] for i in item.bundle if i in loaded]
            if error is None:  # not sent (lease about to end, or closing): free it now
                for each in rows:
                    outbox.defer(each, until=now)
                continue
            for each in rows:
                outbox.mark_failed(
                    each,
                    now=now,
                    error=str(error),
                    permanent=error.permanent,
                    retry=retry,
                    retry_after=error.retry_after,
                )
            metrics.failed(row.channel, row.status)
            if row.status == "dead":
                self._record_dead(session, row, now)
                for dead_hook in self.after_dead:
                    with session.begin_nested():
                        dead_hook(session, row, now)
                log.warning("notification %s (%s) is dead: %s", row.key, row.channel, error)

    def _apply(
        self,
        session: Session,
        row: Notification,
        outcome: dispatch.Outcome,
        now: datetime,
        config: WarroomConfig,
    ) -> None:
        """Keep what the send produced: links on the incident, follow-ups, a timeline line."""
        if outcome.message is not None:
            for hook in self.after_sent:
                if not isinstance(outcome.message, hook.kinds):
                    continue  # most sends: no savepoint for a hook with nothing to do
                # A savepoint each: a hook that fails must not undo the round's other records
                # (their rows would be sent again once the lease ran out).
                try:
                    with session.begin_nested():
                        hook.run(session, outcome.message, outcome.provider_id, now, config)
                except Exception:
                    log.exception("after-send hook failed for notification %s", row.key)
        if row.incident_id is None or not (outcome.links or outcome.note or outcome.follow_ups):
            return
        incident = session.get(Incident, row.incident_id)
        if incident is None:
            return
        if outcome.links:
            incident.links = {**(incident.links or {}), **outcome.links}
        if outcome.note:
            timeline.record(
                session,
                incident=incident,
                kind="notification",
                text=outcome.note,
                at=now,
                actor=None,
                source=row.channel,
                data={"key": row.key, **outcome.links},
            )
            timeline.take_new_events(session)  # facts about sending: nothing to plan
        if outcome.follow_ups:
            outbox.enqueue(session, outcome.follow_ups, now=now, retry=config.notifications.retry)

    def _record_dead(self, session: Session, row: Notification, now: datetime) -> None:
        """Say on the incident's timeline that a message could not be delivered."""
        if row.incident_id is None:
            return
        incident = session.get(Incident, row.incident_id)
        if incident is None:
            return
        timeline.record(
            session,
            incident=incident,
            kind="notification_failed",
            text=f"Could not deliver {row.action} via {row.channel} to {row.destination}: "
            f"{(row.last_error or '')[:200]}",
            at=now,
            actor=None,
            source=row.channel,
            data={"key": row.key, "notification": row.id},
        )
        timeline.take_new_events(session)
