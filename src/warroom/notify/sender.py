"""The sender: claims due outbox rows, calls the adapters outside any transaction, records.

A claim is a lease: if this process dies between claiming and recording, the lease runs
out and another sender (or this one, restarted) sends the row again under the same
idempotency key, which the receiver can use to drop the repeat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from warroom.config import WarroomConfig
from warroom.escalation.config import RateLimit
from warroom.incidents import timeline
from warroom.incidents.models import Incident
from warroom.notify import dispatch, metrics, outbox
from warroom.notify.models import Notification
from warroom.notify.ports import Adapters, DeliveryError
from warroom.storage.db import Database

log = logging.getLogger("warroom.notify")


@dataclass
class _Claimed:
    """A claimed row (detached copy of what the send needs) and the pages bundled with it."""

    id: int
    bundle: list[int]
    row: Notification
    bundled_rows: list[Notification]
    links: dict[str, str]


@dataclass
class Sender:
    """Sends what the outbox holds; `send_due` is one round, safe to run on many instances."""

    db: Database
    config: Callable[[], WarroomConfig]
    adapters: Callable[[], Adapters]
    now: Callable[[], datetime]
    owner: str
    workers: int = 8
    batch: int = 200
    _pool: ThreadPoolExecutor | None = field(default=None, init=False)

    def send_due(self) -> int:
        """Claim a batch of due rows, send them in parallel, record each outcome."""
        claimed = self._claim()
        if not claimed:
            return 0
        if self.workers <= 1 or len(claimed) == 1:
            for item in claimed:
                self._send_one(item)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sender")
            list(self._pool.map(self._send_one, claimed))
        return len(claimed)

    def close(self) -> None:
        """Stop the worker threads and hand back claims not yet sent."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self.db.transaction() as session:
            outbox.release_claims(session, owner=self.owner)

    def _claim(self) -> list[_Claimed]:
        """Lease due rows; defer those over their destination's rate limit; bundle pages."""
        config, now = self.config(), self.now()
        out: list[_Claimed] = []
        with self.db.transaction() as session:
            lease = config.notifications.claim_lease
            rows = outbox.claim(session, now=now, owner=self.owner, limit=self.batch, lease=lease)
            # Several pages to one person in this batch go out as one message.
            heads: dict[tuple[str, str], Notification] = {}
            bundled: dict[int, list[Notification]] = {}
            for row in rows:
                limit = _limit_for(row, config)
                if limit is not None and (row.channel, row.destination) not in heads:
                    wait_until = _over_limit(session, row, limit, now)
                    if wait_until is not None:
                        outbox.defer(row, until=wait_until)
                        continue
                if row.action == "page":
                    head = heads.setdefault((row.channel, row.destination), row)
                    if head is not row:
                        bundled.setdefault(head.id, []).append(row)
                        continue
                    more = outbox.bundle_candidates(session, head=row, now=now)
                    for other in more:
                        other.status, other.claimed_by = "sending", self.owner
                        other.claimed_until = now + lease
                    bundled.setdefault(row.id, []).extend(more)
                out.append(_Claimed(row.id, [], row, [], {}))
            for item in out:
                item.bundled_rows = bundled.get(item.id, [])
                item.bundle = [b.id for b in item.bundled_rows]
                if item.row.incident_id is not None:
                    incident = session.get(Incident, item.row.incident_id)
                    item.links = dict(incident.links or {}) if incident else {}
        return out

    def _send_one(self, item: _Claimed) -> None:
        """Send one claimed row and record the outcome in its own transaction."""
        config = self.config()
        try:
            outcome = dispatch.send(
                item.row,
                adapters=self.adapters(),
                config=config,
                links=item.links,
                bundle=item.bundled_rows,
            )
            error: DeliveryError | None = None
        except DeliveryError as exc:
            outcome, error = None, exc
        except Exception as exc:  # an adapter bug must not kill the sender; retry it
            log.exception("sending notification %s failed", item.id)
            outcome, error = None, DeliveryError(f"{type(exc).__name__}: {exc}")
        now = self.now()
        with self.db.transaction() as session:
            row = session.get(Notification, item.id)
            if row is None or row.status != "sending" or row.claimed_by != self.owner:
                return  # our lease ran out and someone else took it
            rows = [row] + [r for r in (session.get(Notification, i) for i in item.bundle) if r]
            if outcome is not None:
                for each in rows:
                    outbox.mark_sent(each, now=now, provider_id=outcome.provider_id)
                    if each is not row:
                        each.bundled_into = row.id
                self._apply(session, row, outcome, now, config)
                metrics.sent(row.channel, row.action, (now - row.due_at).total_seconds())
            else:
                assert error is not None
                for each in rows:
                    outbox.mark_failed(
                        each,
                        now=now,
                        error=str(error),
                        permanent=error.permanent,
                        retry=config.notifications.retry,
                    )
                metrics.failed(row.channel, row.status)
                if row.status == "dead":
                    self._record_dead(session, row, now)
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
        if row.incident_id is None:
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


def _over_limit(
    session: Session, row: Notification, limit: RateLimit, now: datetime
) -> datetime | None:
    """Return when the row may go if its destination is at its limit, else None."""
    recent = outbox.sent_since(session, destination=row.destination, since=now - limit.per)
    if len(recent) < limit.count:
        return None
    return min(recent) + limit.per + timedelta(milliseconds=10)
