"""One engine tick over the due escalations, in a few set-based statements.

10,000 incidents may fall due at once (an outage pages every service); the tick reads the
due rows and their incidents with Core queries, works in Python, and writes the pages,
timeline events and new escalation positions with executemany.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from warroom.core.clock import ensure_utc
from warroom.escalation import rows
from warroom.escalation.config import EscalationPolicy
from warroom.escalation.models import ACTIVE, Escalation, PageRun
from warroom.escalation.personal import Paging
from warroom.escalation.service import OnCall, StepState, advance
from warroom.incidents import live
from warroom.incidents.models import IncidentGrant, TimelineEvent
from warroom.notify import outbox
from warroom.notify.outbox import Message
from warroom.storage import bulk
from warroom.storage.bus import LiveEvent

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.escalation")
ESCALATIONS = cast(Table, Escalation.__table__)
TIMELINE = cast(Table, TimelineEvent.__table__)
GRANTS = cast(Table, IncidentGrant.__table__)
RUNS = cast(Table, PageRun.__table__)
CHUNK = 2500
LIVE_COLUMNS = ("id", "incident_id", "kind")
# Policies are pinned by a hash of their content, so a parsed version never goes stale.
_POLICIES: dict[str, EscalationPolicy] = {}


@dataclass
class TickResult:
    """What one tick did."""

    advanced: int = 0
    stopped: int = 0
    messages: int = 0
    lateness: list[float] = field(default_factory=list)  # seconds between due and done
    full: bool = False  # the batch limit was reached: more may be due now
    claimed: int = 0  # due steps this tick took (others may hold more: SKIP LOCKED)


def tick(
    session: Session,
    *,
    config: WarroomConfig,
    oncall: OnCall,
    channels: set[str],
    now: datetime,
    limit: int = CHUNK,
    known_on_call: dict[str, dict[str, list[str]]] | None = None,
) -> TickResult:
    """Advance every escalation that is due (up to `limit`); return what was done.

    `known_on_call` (schedule -> layer -> people) saves asking an on-call source, which may
    be PagerDuty over HTTP, while this transaction holds the write lock.
    """
    e = ESCALATIONS.c
    # The incidents' columns come with the claim: one round trip, no list of 2,500 ids.
    statement = (
        select(
            *rows.COLUMNS, e.id.label("escalation_id"), e.policy_version, e.step, e.loop, e.next_at
        )
        .select_from(ESCALATIONS.join(rows.INCIDENTS, rows.INCIDENTS.c.id == e.incident_id))
        .where(e.state == ACTIVE, e.next_at <= now)
        .order_by(e.next_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Another engine skips the rows this one holds: each step runs once. Only the
        # escalations are locked: the incidents stay free for acknowledgements.
        statement = statement.with_for_update(skip_locked=True, of=ESCALATIONS)
    connection = session.connection()
    claimed = connection.execute(statement).all()
    result = TickResult(full=len(claimed) == limit, claimed=len(claimed))
    if not claimed:
        return result
    due = [
        StepState(r.escalation_id, r.id, r.policy_version, r.step, r.loop, r.next_at)
        for r in claimed
    ]
    incidents = {r.id: r for r in claimed}
    broken = _load_policies(session, {d.policy_version for d in due})
    who: dict[str, dict[str, list[str]]] = dict(known_on_call or {})

    def on_call(schedule: str, at: datetime) -> dict[str, list[str]]:
        if schedule not in who:  # once per schedule and tick
            who[schedule] = oncall(schedule, at)
        return who[schedule]

    messages: list[Message] = []
    events: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    paging = Paging(session, config, channels, now)
    for state in due:
        incident = incidents.get(state.incident_id)
        if incident is None:
            continue
        assert state.next_at is not None
        result.lateness.append((now - state.next_at).total_seconds())
        state.updated_at = now
        if incident.acknowledged_at is not None or incident.status != "detected":
            reason = "acknowledged" if incident.acknowledged_at is not None else incident.status
            state.state, state.next_at, state.reason = "stopped", None, reason
            result.stopped += 1
            continue
        if state.policy_version in broken:
            state.state, state.next_at = "broken", None
            state.reason = broken[state.policy_version][:200]
            continue
        try:
            policy = _POLICIES[state.policy_version]
            pages = advance(state, policy, incident, paging, on_call, events, runs)
        except Exception as exc:  # one bad row must not stop everyone else's paging
            log.exception("escalation %s of incident %s failed", state.id, state.incident_id)
            state.state, state.next_at = "broken", None
            state.reason = f"{type(exc).__name__}: {exc}"[:200]
            continue
        messages += pages
        result.advanced += 1
    _write(session, due, events, {r.id: r.number for r in claimed})
    if runs:
        bulk.insert(connection, RUNS, runs)
    if messages:
        result.messages = outbox.enqueue(
            session, messages, now=now, retry=config.notifications.retry
        )
    return result


def any_due(session: Session, now: datetime) -> bool:
    """Tell whether some escalation step is due (a cheap read before a tick)."""
    e = ESCALATIONS.c
    query = select(e.id).where(e.state == ACTIVE, e.next_at <= now).limit(1)
    return session.connection().execute(query).first() is not None


def next_due(session: Session) -> datetime | None:
    """Return when the next escalation step falls due, if any is active."""
    e = ESCALATIONS.c
    query = select(func.min(e.next_at)).where(e.state == ACTIVE)
    value = session.connection().execute(query).scalar()
    return ensure_utc(value) if value is not None else None


def _load_policies(session: Session, versions: set[str]) -> dict[str, str]:
    """Parse each pinned policy version not seen yet; return version -> error for bad ones."""
    e = ESCALATIONS.c
    broken: dict[str, str] = {}
    for version in versions - _POLICIES.keys():
        query = select(e.policy).where(e.policy_version == version).limit(1)
        snapshot = session.connection().execute(query).scalar_one()
        try:
            _POLICIES[version] = EscalationPolicy.model_validate(snapshot)
        except ValueError as exc:  # e.g. written by a newer release: leave it, say why
            log.error("escalation policy version %s cannot be read: %s", version, exc)
            broken[version] = f"policy version {version} cannot be read"
    return broken


def _write(
    session: Session, due: list[StepState], events: list[dict[str, Any]], numbers: dict[int, int]
) -> None:
    """Store the new positions and the timeline events with executemany."""
    connection = session.connection()
    e = ESCALATIONS.c
    statement = (
        update(ESCALATIONS)
        .where(e.id == bindparam("b_id"))
        .values(
            step=bindparam("b_step"),
            loop=bindparam("b_loop"),
            state=bindparam("b_state"),
            next_at=bindparam("b_next_at"),
            reason=bindparam("b_reason"),
            updated_at=bindparam("b_updated_at"),
        )
    )
    rows = [
        {
            "b_id": d.id,
            "b_step": d.step,
            "b_loop": d.loop,
            "b_state": d.state,
            "b_next_at": d.next_at,
            "b_reason": d.reason,
            "b_updated_at": d.updated_at,
        }
        for d in due
        if d.updated_at is not None
    ]
    if connection.dialect.name == "postgresql" and rows:
        # One statement for the whole tick instead of one per row.
        connection.exec_driver_sql(PG_UPDATE, _columns(rows))
    else:
        bulk.executemany(connection, statement, rows)
    if events and connection.dialect.name == "postgresql":
        # Inserted without the ORM; the ids come back for the live streams.
        written = bulk.unnest_insert(connection, TIMELINE, events, returning=LIVE_COLUMNS)
        found = [LiveEvent(numbers[r.incident_id], r.id, r.kind) for r in written]
        live.bulk_known(session, found)
    elif events:
        # Inserted without the ORM (no ids come back): the live streams find them by id.
        newest = connection.scalar(select(func.max(TIMELINE.c.id))) or 0
        bulk.executemany(connection, insert(TIMELINE), events)
        live.bulk_written(session, after=newest, incident_ids={e["incident_id"] for e in events})
    _let_in_paged(connection, events)


def _let_in_paged(connection: Connection, events: list[dict[str, Any]]) -> None:
    """Let the people paged for an incident see it, should it be (or become) restricted."""
    rows = {
        (event["incident_id"], person): event["at"]
        for event in events
        if event["kind"] == "paged"
        for person in event["data"].get("people", [])
    }
    if not rows:
        return
    values = [
        {"incident_id": incident_id, "person": person, "kind": "paged", "granted_at": at}
        for (incident_id, person), at in rows.items()
    ]
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    # Paged again in a later round: already in, nothing to add.
    connection.execute(dialect.insert(GRANTS).on_conflict_do_nothing(), values)


PG_UPDATE = """
UPDATE escalations AS e
SET step = u.step, loop = u.loop, state = u.state, next_at = u.next_at, reason = u.reason,
    updated_at = u.updated_at
FROM unnest(%(b_id)b::integer[], %(b_step)b::integer[], %(b_loop)b::integer[],
            %(b_state)b::varchar[], %(b_next_at)b::timestamptz[], %(b_reason)b::varchar[],
            %(b_updated_at)b::timestamptz[])
     AS u(id, step, loop, state, next_at, reason, updated_at)
WHERE e.id = u.id
"""


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Turn rows of parameters into one array per parameter (for unnest)."""
    return {name: [row[name] for row in rows] for name in rows[0]}
