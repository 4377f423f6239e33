"""The sender: claims due outbox rows, calls the adapters outside any transaction, records.

A claim is a lease: if this process dies between claiming and recording, the lease runs
out and another sender (or this one, restarted) sends the row again under the same
idempotency key, which the receiver can use to drop the repeat.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.incidents import timeline
from warroom.incidents.models import Incident
from warroom.notify import dispatch, metrics, outbox
from warroom.notify.config import RateLimit
from warroom.notify.messages import Payload
from warroom.notify.models import Notification
from warroom.notify.ports import Adapters, DeliveryError
from warroom.notify.twilio_config import ChannelRate
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.notify")
# (session, the message sent, the provider's id, now, the configuration in force)
AfterSent = Callable[[Session, Payload, "str | None", datetime, "WarroomConfig"], None]
# (session, the row that is now dead, now): a page's person moves on to their next rule
AfterDead = Callable[[Session, Notification, datetime], None]
LEASE_MARGIN = timedelta(seconds=1)
# Pages that may go out together as one message; a call or a push stays one per incident.
BUNDLED = frozenset({"chat", "email", "sms"})
_ACQUIRE_ATTEMPTS = 5


@dataclass
class _Claimed:
    """A claimed row (detached copy of what the send needs) and the pages bundled with it."""

    id: int
    bundle: list[int]
    row: Notification
    bundled_rows: list[Notification]
    links: dict[str, str]
    lease_ends: datetime | None = None


@dataclass
class _Result:
    """What became of one claimed row: an outcome or an error, and when."""

    item: _Claimed
    outcome: dispatch.Outcome | None
    error: DeliveryError | None
    at: datetime


@dataclass
class Sender:
    """Sends what the outbox holds; `send_due` is one round, safe to run on many instances."""

    db: Database
    config: Callable[[], WarroomConfig]
    adapters: Callable[[], Adapters]
    now: Callable[[], datetime]
    owner: str
    workers: int = 8
    # Small rounds: a claim must not outlive its lease while slow vendors time out, and the
    # outcomes of a round are recorded in one commit.
    batch_per_worker: int = 8
    # Phases' work a send calls for (the postmortem keeps a created issue's key), run in the
    # transaction that records the send; registered by the composition root.
    after_sent: Sequence[AfterSent] = ()
    after_dead: Sequence[AfterDead] = ()
    _pool: ThreadPoolExecutor | None = field(default=None, init=False)
    # One round at a time, so close() can wait for the round in progress; while it closes, no
    # new send starts (SIGTERM must not wait for a whole batch to reach a slow vendor).
    _round: threading.Lock = field(default_factory=threading.Lock, init=False)
    _closing: threading.Event = field(default_factory=threading.Event, init=False)

    def send_due(self) -> int:
        """Claim a batch of due rows, send them in parallel, record the outcomes together."""
        with self._round:
            if self._closing.is_set():
                return 0
            claimed = self._claim()
            if not claimed:
                return 0
            if self.workers <= 1 or len(claimed) == 1:
                results = [self._deliver(item) for item in claimed]
            else:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sender")
                results = list(self._pool.map(self._deliver, claimed))
            self._record(results)
            return len(claimed)

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

    def _claim(self) -> list[_Claimed]:
        """Lease due rows; defer those over their destination's rate limit; bundle pages."""
        config, now = self.config(), self.now()
        out: list[_Claimed] = []
        with self.db.transaction() as session:
            lease = config.notifications.claim_lease
            limit = max(1, self.workers) * self.batch_per_worker
            rows = outbox.claim(session, now=now, owner=self.owner, limit=limit, lease=lease)
            incidents = _incidents(session, {row.incident_id for row in rows} - {None})
            budgets = _Budgets(session, config, now, rows)
            # Several pages to one person in this batch go out as one message.
            heads: dict[tuple[str, str], Notification] = {}
            bundled: dict[int, list[Notification]] = {}
            for row in rows:
                if row.action == "page" and _answered(incidents.get(row.incident_id)):
                    outbox.cancel(
                        row, reason="the incident was acknowledged before this page went out"
                    )
                    continue
                bundles = row.action == "page" and row.channel in BUNDLED
                head = heads.get((row.channel, row.destination)) if bundles else None
                if head is not None:
                    bundled.setdefault(head.id, []).append(row)
                    continue
                wait_until = budgets.take(row)
                if wait_until is not None:
                    outbox.defer(row, until=wait_until)
                    continue
                if bundles:
                    heads[(row.channel, row.destination)] = row
                    more = outbox.bundle_candidates(session, head=row, now=now)
                    for other in more:
                        other.status, other.claimed_by = "sending", self.owner
                        other.claimed_until = now + lease
                    bundled.setdefault(row.id, []).extend(more)
                out.append(_Claimed(row.id, [], row, [], {}))
            for item in out:
                item.bundled_rows = bundled.get(item.id, [])
                item.bundle = [b.id for b in item.bundled_rows]
                found = incidents.get(item.row.incident_id)
                item.links = dict(found.links or {}) if found is not None else {}
                item.lease_ends = now + lease
        return out

    def _deliver(self, item: _Claimed) -> _Result:
        """Send one claimed row (no database work here: this is the slow, remote part)."""
        if self._closing.is_set():  # shutting down: leave it unsent, recorded as handed back
            return _Result(item, None, None, self.now())
        if item.lease_ends is not None and self.now() >= item.lease_ends - LEASE_MARGIN:
            # Too late: another sender may take it over any moment; leave it to the next claim.
            return _Result(item, None, None, self.now())
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
            return _Result(item, outcome, None, self.now())
        except DeliveryError as exc:
            return _Result(item, None, exc, self.now())
        except Exception as exc:  # an adapter bug must not kill the sender; retry it
            log.exception("sending notification %s failed", item.id)
            return _Result(item, None, DeliveryError(f"{type(exc).__name__}: {exc}"), self.now())
        finally:
            adapters.release()  # the last send on replaced adapters closes them

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
        retry = config.notifications.retry
        with self.db.transaction() as session:
            ids = [i for r in results for i in (r.item.id, *r.item.bundle)]
            loaded = {  # one query; the dict keeps them alive in the identity map
                n.id: n
                for n in session.scalars(select(Notification).where(Notification.id.in_(ids)))
            }
            for result in results:
                item, outcome, error, now = result.item, result.outcome, result.error, result.at
                row = loaded.get(item.id)
                if row is None or row.status != "sending" or row.claimed_by != self.owner:
                    continue  # our lease ran out and someone else took it
                rows = [row] + [loaded[i] for i in item.bundle if i in loaded]
                if outcome is not None:
                    for each in rows:
                        outbox.mark_sent(each, now=now, provider_id=outcome.provider_id)
                        if each is not row:
                            each.bundled_into = row.id
                    self._apply(session, row, outcome, now, config)
                    metrics.sent(row.channel, row.action, (now - row.due_at).total_seconds())
                    continue
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
                # A savepoint each: a hook that fails must not undo the round's other records
                # (their rows would be sent again once the lease ran out).
                try:
                    with session.begin_nested():
                        hook(session, outcome.message, outcome.provider_id, now, config)
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


def _channel_rate(channel: str, config: WarroomConfig) -> ChannelRate | None:
    """Return the provider's limit for a whole channel (Twilio's SMS and voice), if set."""
    twilio = config.integrations.twilio
    if twilio is None:
        return None
    return {"sms": twilio.sms_rate, "voice": twilio.voice_rate}.get(channel)


def _limit_for(row: Notification, config: WarroomConfig) -> RateLimit | None:
    """Return the rate limit that applies to a row's destination, if any."""
    limits = config.notifications.rate_limits
    if row.destination.startswith("person:"):
        return limits.get("person")
    if row.channel == "chat" and row.destination.startswith("#"):
        return limits.get("channel")
    if row.channel == "email":
        return limits.get("email")
    return None


class _Budgets:
    """How many more messages each destination may get now, under its rate limit."""

    def __init__(
        self, session: Session, config: WarroomConfig, now: datetime, rows: list[Notification]
    ) -> None:
        self.config, self.now = config, now
        # (channel, destination) -> (messages left, when the window frees up)
        self.left: dict[tuple[str, str], tuple[int, datetime]] = {}
        # channel -> (messages left, when the window frees up), for a provider's own limit
        self.channel_left: dict[str, tuple[int, datetime]] = {}
        for channel in sorted({r.channel for r in rows}):
            rate = _channel_rate(channel, config)
            if rate is not None:
                count, oldest = outbox.sent_on_channel(
                    session, channel=channel, since=now - rate.per
                )
                free_at = (oldest or now) + rate.per + timedelta(milliseconds=10)
                self.channel_left[channel] = (rate.count - count, free_at)
        limits = {(r.channel, r.destination): _limit_for(r, config) for r in rows}
        limited = {where: limit for where, limit in limits.items() if limit is not None}
        if not limited:
            return
        longest = max(limit.per for limit in limited.values())
        recent = outbox.sent_since(  # one query for the whole round
            session, destinations=sorted({d for _, d in limited}), since=now - longest
        )
        for (channel, destination), limit in limited.items():
            times = [
                at
                for c, d, at in recent
                if c == channel and d == destination and at >= now - limit.per
            ]
            free_at = (min(times) if times else now) + limit.per + timedelta(milliseconds=10)
            self.left[(channel, destination)] = (limit.count - len(times), free_at)

    def take(self, row: Notification) -> datetime | None:
        """Use one message of the row's budget; return when to retry if there is none left."""
        whole = self.channel_left.get(row.channel)
        if whole is not None:  # the provider's limit for the whole account comes first
            left, free_at = whole
            if left <= 0:
                return free_at
            self.channel_left[row.channel] = (left - 1, free_at)
        where = (row.channel, row.destination)
        if where not in self.left:
            return None
        left, free_at = self.left[where]
        if left <= 0:
            return free_at
        self.left[where] = (left - 1, free_at)
        return None


def _incidents(session: Session, incident_ids: set[int | None]) -> dict[int | None, Any]:
    """Return incident id -> (links, status, acknowledged_at), in one query."""
    if not incident_ids:
        return {}
    rows = session.execute(
        select(Incident.id, Incident.links, Incident.status, Incident.acknowledged_at).where(
            Incident.id.in_(incident_ids)
        )
    )
    return {row.id: row for row in rows}


def _answered(incident: Any) -> bool:
    """Tell whether paging for this incident is over (acknowledged, or moved on)."""
    return incident is not None and (
        incident.acknowledged_at is not None or incident.status != "detected"
    )
