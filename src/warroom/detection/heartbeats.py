"""Heartbeats: rows kept in step with warroom.yaml, pings, and what each heartbeat looks like now.

A heartbeat is a ping expected every `interval`. Its row holds when it last pinged and when
it falls silent (`due_at`); the engine (detection/heartbeat_checks.py) opens an incident for
each row past its `due_at`, and the next ping ends that incident here. GoAlert's heartbeat
monitors and Grafana OnCall's heartbeat integrations behave alike; like theirs, a heartbeat
that never pinged waits for its first ping before it can go silent.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from warroom.core.durations import format_duration
from warroom.core.errors import Conflict, NotFound
from warroom.detection.models import Heartbeat
from warroom.detection.rows import insert_for
from warroom.incidents import service as incidents
from warroom.incidents import timeline
from warroom.incidents.actor import Actor
from warroom.incidents.lifecycle import Rules
from warroom.incidents.models import Incident
from warroom.incidents.states import OPEN_STATUSES

if TYPE_CHECKING:
    from warroom.config import WarroomConfig
    from warroom.detection.heartbeat_config import HeartbeatConfig
    from warroom.detection.schemas import AlertIn

SOURCE = "heartbeat"  # the source of its incidents, and the actor of what a heartbeat does
STATES = ("waiting", "up", "down", "recovering", "retired")
LOCK_BY_ID = 1_000  # more rows to change than this: lock them all (no list of ids that long)


def actor(heartbeat_id: str) -> Actor:
    """Return the timeline actor of what one heartbeat does."""
    return Actor(name=f"{SOURCE}/{heartbeat_id}", source=SOURCE)


def _changes(beat: HeartbeatConfig | None, state: str, seconds: int) -> bool:
    """Tell whether a row must change to match its heartbeat in warroom.yaml (None: removed)."""
    if beat is None:
        return state != "retired"
    return state == "retired" or seconds != _seconds(beat.timeout)


def sync(session: Session, *, config: WarroomConfig, now: datetime) -> int:
    """Give every configured heartbeat a row, follow changed intervals, retire removed ones.

    Idempotent, so every engine may run it after each (re)load; returns the rows it changed
    or made (a row another engine made at the same moment counts here too).
    """
    wanted = {beat.id: beat for beat in config.heartbeats}
    seen = session.execute(select(Heartbeat.id, Heartbeat.state, Heartbeat.timeout_seconds))
    known = {
        heartbeat_id: _changes(wanted.get(heartbeat_id), state, seconds)
        for heartbeat_id, state, seconds in seen
    }
    stale = [heartbeat_id for heartbeat_id, changes in known.items() if changes]
    # Only rows that change are locked (a ping racing a changed interval must not get a due
    # time from a stale last ping), so a sync with nothing to do writes nothing.
    locking = select(Heartbeat).with_for_update()
    if len(stale) <= LOCK_BY_ID:
        locking = locking.where(Heartbeat.id.in_(stale))
    rows = {row.id: row for row in session.scalars(locking)} if stale else {}
    changed = 0
    missing = [
        {
            "id": beat.id,
            "state": "waiting",
            "timeout_seconds": _seconds(beat.timeout),
            "pings": 0,
            "updated_at": now,
        }
        for beat in wanted.values()
        if beat.id not in known
    ]
    if missing:  # another engine may insert the same ones at the same time: theirs stand
        insert = insert_for(session)
        # One statement, executed for many rows: compiled once, however many heartbeats.
        session.execute(insert(Heartbeat).on_conflict_do_nothing(), missing)
        changed += len(missing)
    for row in rows.values():
        beat = wanted.get(row.id)
        if not _changes(beat, row.state, row.timeout_seconds):
            continue  # locked with all the others, or changed meanwhile by another engine
        if beat is None:
            if row.state != "retired":
                row.state, row.updated_at = "retired", now
                changed += 1
            continue
        seconds = _seconds(beat.timeout)
        if row.state == "retired":  # back in warroom.yaml: it waits for a ping, as a new one does
            row.state, row.last_seen_at = "waiting", None
            row.incident_number = row.down_since = row.resolve_at = None
        elif row.timeout_seconds == seconds:
            continue
        row.timeout_seconds = seconds
        row.due_at = row.last_seen_at + beat.timeout if row.last_seen_at else None
        row.updated_at = now
        changed += 1
    return changed


@dataclass(frozen=True)
class Pinged:
    """What a ping did: the heartbeat's state after it, and the incident it changed, if any."""

    heartbeat: str
    state: str
    incident: int | None = None  # the incident the ping mitigated or resolved
    resolved: bool = False


def ping(
    session: Session, *, config: WarroomConfig, heartbeat_id: str, now: datetime, rules: Rules
) -> Pinged:
    """Record a ping; a heartbeat that was silent ends its incident (caller commits)."""
    beat = config.heartbeat(heartbeat_id)
    if beat is None:
        raise NotFound(f"no heartbeat {heartbeat_id!r} in warroom.yaml (heartbeats:)")
    row = _locked(session, beat, now)
    was, silent_since = row.state, row.last_seen_at
    row.last_seen_at, row.due_at = now, now + beat.timeout
    row.pings += 1
    row.timeout_seconds = _seconds(beat.timeout)
    row.updated_at = now
    if was in ("waiting", "up", "retired"):
        if was == "retired":  # back in warroom.yaml before the engine's next sync
            row.incident_number = row.down_since = row.resolve_at = None
        row.state = "up"
        return Pinged(beat.id, row.state)
    if was == "recovering":
        return Pinged(beat.id, row.state, row.incident_number)
    incident = _incident(session, row.incident_number)
    row.down_since = None
    if incident is None or incident.status not in OPEN_STATUSES:
        # Resolved by a person while still silent: nothing left to end.
        row.state, row.incident_number = "up", None
        return Pinged(beat.id, row.state)
    quiet = f" after {format_duration(now - silent_since)} of silence" if silent_since else ""
    timeline.record(
        session,
        incident=incident,
        kind="heartbeat_resumed",
        at=now,
        actor=actor(beat.id).name,
        source=SOURCE,
        key_event=True,
        text=f"Heartbeat {beat.id} pinged again{quiet}",
        data={"heartbeat": beat.id, "last_seen_before": _iso(silent_since)},
    )
    settings = config.verification
    if settings.resolves_on_its_own(incident.severity):
        # The verification window: it must keep pinging that long before it resolves.
        if incident.status in ("detected", "triaged"):
            incidents.transition(
                session,
                config=config,
                incident=incident,
                action="mitigate",
                now=now,
                actor=actor(beat.id),
                rules=rules,
                note=f"heartbeat {beat.id} pings again; it resolves once it has kept pinging "
                f"for the {format_duration(settings.window)} verification window",
            )
        row.state, row.resolve_at = "recovering", now + settings.window
        return Pinged(beat.id, row.state, incident.number)
    resolved = resolve(session, config=config, row=row, incident=incident, now=now, rules=rules)
    return Pinged(beat.id, row.state, incident.number, resolved=resolved)


def resolve(
    session: Session,
    *,
    config: WarroomConfig,
    row: Heartbeat,
    incident: Incident,
    now: datetime,
    rules: Rules,
) -> bool:
    """Resolve a heartbeat's incident: the pings it waited for are its verification.

    Should a lifecycle rule refuse, the ping still counts: the incident stays open for the
    responders, and its timeline says why.
    """
    reason = f"heartbeat {row.id} pings again (last at {_iso(row.last_seen_at)})"
    row.state, row.incident_number, row.resolve_at = "up", None, None
    try:
        with session.begin_nested():
            incidents.transition(
                session,
                config=config,
                incident=incident,
                action="resolve",
                now=now,
                actor=actor(row.id),
                rules=rules,
                note=reason,
                skip_verification=reason,
            )
        return True
    except Conflict as refused:
        timeline.record(
            session,
            incident=incident,
            kind="heartbeat_resumed",
            at=now,
            actor=actor(row.id).name,
            source=SOURCE,
            text=f"Heartbeat {row.id} pings again, but the incident cannot resolve on its own: "
            f"{refused.message}",
            data={"heartbeat": row.id, "refused": refused.message},
        )
        return False


@dataclass(frozen=True)
class HeartbeatStatus:
    """One configured heartbeat as it is now."""

    id: str
    service: str
    interval: timedelta
    grace: timedelta
    severity: str
    state: str
    last_seen_at: datetime | None
    due_at: datetime | None
    pings: int
    incident: int | None

    def seconds_since(self, now: datetime) -> float | None:
        """Return how long ago the last ping came, if one has."""
        if self.last_seen_at is None:
            return None
        return max(0.0, (now - self.last_seen_at).total_seconds())


def statuses(
    session: Session,
    *,
    config: WarroomConfig,
    visible: ColumnElement[bool] | None = None,
    types: Collection[str] | None = None,
) -> list[HeartbeatStatus]:
    """Return every configured heartbeat with its row (waiting where it has none yet).

    With `types` (the restricted incident types the caller may see), a heartbeat that opens
    incidents of another restricted type is left out: its state alone would tell that one of
    them is open.
    An incident is shown while it is open: one resolved by hand while the heartbeat stays
    silent is not "its open incident". With `visible`, one the caller may not see is left out
    (a restricted type's).
    """
    rows = {row.id: row for row in session.scalars(select(Heartbeat))}
    numbers = {row.incident_number for row in rows.values() if row.incident_number is not None}
    if numbers:
        open_ = select(Incident.number).where(
            Incident.number.in_(numbers), Incident.status.in_(OPEN_STATUSES)
        )
        numbers = set(session.scalars(open_ if visible is None else open_.where(visible)))
    restricted = {t.id for t in config.incident_types if t.restricted}
    found = []
    for beat in config.heartbeats:
        # Its incidents' type: none set means the default type, which may be restricted too.
        kind = beat.incident_type or "default"
        if types is not None and kind in restricted - set(types):
            continue
        row = rows.get(beat.id)
        state = "waiting" if row is None or row.state == "retired" else row.state
        found.append(
            HeartbeatStatus(
                id=beat.id,
                service=beat.service,
                interval=beat.interval,
                grace=beat.grace,
                severity=beat.severity,
                state=state,
                last_seen_at=row.last_seen_at if row else None,
                due_at=row.due_at if row else None,
                pings=row.pings if row else 0,
                incident=row.incident_number if row and row.incident_number in numbers else None,
            )
        )
    return found


def is_ping(alert: AlertIn) -> bool:
    """Tell whether an alert routed to a heartbeat pings it: only a firing one does (the
    Watchdog resolving is its pings stopping, which the engine sees)."""
    return alert.status == "firing" and alert.event is None


def lock(session: Session, heartbeat_ids: Collection[str]) -> None:
    """Lock these heartbeats' rows for the transaction, in id order (their pings come later).

    A row not made yet is not locked: the engine has none to hold either.
    """
    stmt = (
        select(Heartbeat.id)
        .where(Heartbeat.id.in_(sorted(heartbeat_ids)))
        .order_by(Heartbeat.id)
        .with_for_update()
    )
    session.execute(stmt).all()


def _locked(session: Session, beat: HeartbeatConfig, now: datetime) -> Heartbeat:
    """Return the heartbeat's row, locked for this transaction (made if the engine has not)."""
    stmt = select(Heartbeat).where(Heartbeat.id == beat.id).with_for_update()
    row = session.scalars(stmt).first()
    if row is not None:
        return row
    insert = insert_for(session)
    session.execute(
        insert(Heartbeat)
        .values(
            id=beat.id,
            state="waiting",
            timeout_seconds=_seconds(beat.timeout),
            pings=0,
            updated_at=now,
        )
        .on_conflict_do_nothing()
    )
    row = session.scalars(stmt.execution_options(populate_existing=True)).first()
    assert row is not None
    return row


def _incident(session: Session, number: int | None) -> Incident | None:
    """Return the incident with this number, if there is one."""
    if number is None:
        return None
    return session.scalars(select(Incident).where(Incident.number == number)).first()


def _seconds(value: timedelta) -> int:
    return int(value.total_seconds())


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
