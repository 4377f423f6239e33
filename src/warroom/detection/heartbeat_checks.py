"""The engine's side of heartbeats: a silent one opens an incident, a recovered one resolves it.

Everything is read from the rows, under row locks another engine skips (`FOR UPDATE SKIP
LOCKED` on PostgreSQL; SQLite has one writer): the row moves to `down` in the transaction
that opens its incident, so a restart neither loses nor doubles it, and of two engines only
the one holding the row opens it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.core.durations import format_duration
from warroom.detection import storms
from warroom.detection.heartbeats import SOURCE, actor, resolve
from warroom.detection.models import Heartbeat
from warroom.incidents import service as incidents
from warroom.incidents import timeline
from warroom.incidents.flows import TemplateChoice
from warroom.incidents.lifecycle import Rules
from warroom.incidents.models import Incident
from warroom.incidents.states import OPEN_STATUSES

if TYPE_CHECKING:
    from warroom.config import WarroomConfig
    from warroom.detection.heartbeat_config import HeartbeatConfig

# Silent heartbeats handled per transaction (more is a backlog for the next round): each opens
# an incident, and a short transaction keeps the intake's writes from waiting on SQLite.
BATCH = 50
# (incident type, service) -> the runbook template of a new incident
TemplateChooser = Callable[[str | None, str | None], TemplateChoice]


@dataclass
class CheckResult:
    """What one check did: (incident number, event) for each incident it changed."""

    changed: list[tuple[int, str]] = field(default_factory=list)
    full: bool = False  # the batch limit was reached: more may be due now


def check(
    session: Session,
    *,
    config: WarroomConfig,
    now: datetime,
    rules: Rules,
    choose_template: TemplateChooser,
    limit: int = BATCH,
) -> CheckResult:
    """Open an incident for each heartbeat silent past its due time; resolve recovered ones."""
    result = CheckResult()
    silent = list(
        session.scalars(
            select(Heartbeat)
            .where(Heartbeat.state.in_(("up", "recovering")), Heartbeat.due_at <= now)
            .order_by(Heartbeat.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    result.full = len(silent) == limit
    for row in silent:
        beat = config.heartbeat(row.id)
        if beat is None:
            continue  # removed from warroom.yaml: the next sync retires it
        incident = _open_incident(session, row.incident_number)
        if row.state == "recovering" and incident is not None:
            _silent_again(
                session, config=config, beat=beat, row=row, incident=incident, now=now, rules=rules
            )
            result.changed.append((incident.number, "reopen"))
            continue
        opened = _open(
            session, config=config, beat=beat, row=row, now=now, rules=rules, choose=choose_template
        )
        result.changed.append((opened.number, "declared"))
        parents: list[int] = []
        storms.bundle(  # when warroom cannot hear its senders, they all fall silent at once
            session,
            incident=opened,
            config=config,
            now=now,
            open_parent=storms.opener(
                session,
                config=config,
                now=now,
                rules=rules,
                choose_template=choose_template,
                opened=parents,
            ),
            rules=rules,
        )
        result.changed += [(number, "declared") for number in parents]
    recovered = session.scalars(
        select(Heartbeat)
        .where(Heartbeat.state == "recovering", Heartbeat.resolve_at <= now, Heartbeat.due_at > now)
        .order_by(Heartbeat.resolve_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    for row in recovered:
        incident = _open_incident(session, row.incident_number)
        if incident is None:  # resolved by a person meanwhile
            row.state, row.incident_number, row.resolve_at = "up", None, None
            continue
        ended = resolve(session, config=config, row=row, incident=incident, now=now, rules=rules)
        result.changed.append((incident.number, "resolve" if ended else "heartbeat"))
    return result


def next_due(session: Session) -> datetime | None:
    """Return when the next heartbeat falls silent or ends its verification window."""
    silent = session.scalar(
        select(func.min(Heartbeat.due_at)).where(Heartbeat.state.in_(("up", "recovering")))
    )
    window = session.scalar(
        select(func.min(Heartbeat.resolve_at)).where(Heartbeat.state == "recovering")
    )
    return min((t for t in (silent, window) if t is not None), default=None)


def _open(
    session: Session,
    *,
    config: WarroomConfig,
    beat: HeartbeatConfig,
    row: Heartbeat,
    now: datetime,
    rules: Rules,
    choose: TemplateChooser,
) -> Incident:
    """Open the heartbeat's incident through the normal path: template, first IC, paging."""
    kind = beat.incident_type  # checked against incident_types when warroom.yaml loads
    chosen = choose(kind, beat.service)
    commander, reason = rules.command.first_commander(
        config, service=beat.service, reporter=None, at=now
    )
    last = row.last_seen_at
    expected = last + beat.interval if last is not None else None
    cadence = f"every {format_duration(beat.interval)}"
    if beat.grace:
        cadence += f", grace {format_duration(beat.grace)}"
    incident = incidents.declare(
        session,
        config=config,
        now=now,
        actor=actor(beat.id),
        commander=commander,
        commander_reason=reason,
        title=beat.incident_title(),
        severity=beat.severity,
        summary=f"warroom expects a ping from heartbeat {beat.id} {cadence}; the last came at "
        f"{_when(last)}. Whatever sends it (Alertmanager's Watchdog, a cron job, a pipeline) "
        f"has stopped or cannot reach warroom, so alerts of {beat.service} may not be arriving.",
        incident_type=kind,
        service=beat.service,
        started_at=min(expected, now) if expected is not None else None,
        runbook_template=chosen.name,
        checklist=chosen.checklist,
        owner=chosen.owner,
        module=beat.service or chosen.module,
    )
    silent_for = f" ({format_duration(now - last)} ago)" if last is not None else ""
    timeline.record(
        session,
        incident=incident,
        kind="heartbeat_missed",
        at=now,
        actor=actor(beat.id).name,
        source=SOURCE,
        key_event=True,
        text=f"Heartbeat {beat.id} ({cadence}) is silent: last seen {_when(last)}{silent_for}",
        data={
            "heartbeat": beat.id,
            "last_seen_at": last.isoformat() if last else None,
            "interval": format_duration(beat.interval),
            "grace": format_duration(beat.grace),
            "pings": row.pings,
        },
    )
    row.state, row.incident_number = "down", incident.number
    row.down_since, row.resolve_at, row.updated_at = now, None, now
    return incident


def _silent_again(
    session: Session,
    *,
    config: WarroomConfig,
    beat: HeartbeatConfig,
    row: Heartbeat,
    incident: Incident,
    now: datetime,
    rules: Rules,
) -> None:
    """Silent again inside the verification window: the same incident goes back to work."""
    timeline.record(
        session,
        incident=incident,
        kind="heartbeat_missed",
        at=now,
        actor=actor(beat.id).name,
        source=SOURCE,
        key_event=True,
        text=f"Heartbeat {beat.id} is silent again inside the verification window: "
        f"last seen {_when(row.last_seen_at)}",
        data={
            "heartbeat": beat.id,
            "last_seen_at": row.last_seen_at.isoformat() if row.last_seen_at else None,
            "again": True,
        },
    )
    if incident.status == "mitigated":
        incidents.transition(
            session,
            config=config,
            incident=incident,
            action="reopen",
            now=now,
            actor=actor(beat.id),
            rules=rules,
            note=f"heartbeat {beat.id} stopped again; the mitigation did not hold",
        )
    row.state, row.down_since, row.resolve_at, row.updated_at = "down", now, None, now


def _open_incident(session: Session, number: int | None) -> Incident | None:
    """Return the heartbeat's incident if it is still open."""
    if number is None:
        return None
    incident = session.scalars(select(Incident).where(Incident.number == number)).first()
    return incident if incident is not None and incident.status in OPEN_STATUSES else None


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "never"
