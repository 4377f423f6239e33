"""Escalation: start with the incident, advance due steps on each tick, stop on acknowledgement.

The state is a row (GoAlert's design): a crash loses nothing, and several engines share the
work because each tick locks the rows it advances (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.config import WarroomConfig
from warroom.escalation.config import TARGET, EscalationPolicy
from warroom.escalation.models import ACTIVE, Escalation
from warroom.incidents import timeline
from warroom.incidents.models import Incident
from warroom.notify import outbox
from warroom.notify.cards import card_of, card_to_json
from warroom.notify.outbox import Message

log = logging.getLogger("warroom.escalation")
OnCall = Callable[[str, datetime], dict[str, list[str]]]  # schedule, at -> layer -> people
MIN_REPEAT_GAP = timedelta(minutes=5)


def start(session: Session, *, incident: Incident, config: WarroomConfig, now: datetime) -> None:
    """Begin paging for an incident whose severity pages (once; later calls change nothing)."""
    severity = config.severities.get(incident.severity)
    if severity is None or not severity.page or incident.acknowledged_at is not None:
        return
    if incident.status != "detected":
        return
    exists = session.scalar(select(Escalation.id).where(Escalation.incident_id == incident.id))
    if exists is not None:
        return
    policy = config.escalation_policy(incident.service)
    session.add(
        Escalation(
            incident_id=incident.id,
            policy_id=policy.id,
            policy_version=policy.version(),
            policy=policy.model_dump(mode="json"),
            step=0,
            loop=0,
            state=ACTIVE,
            started_at=now,
            next_at=now + policy.steps[0].after,
            updated_at=now,
        )
    )
    session.info["wake_engine"] = True


def stop(session: Session, *, incident: Incident, now: datetime, reason: str) -> None:
    """Stop paging (acknowledged, mitigated, resolved…)."""
    row = session.scalar(
        select(Escalation).where(Escalation.incident_id == incident.id, Escalation.state == ACTIVE)
    )
    if row is not None:
        row.state, row.next_at, row.reason, row.updated_at = "stopped", None, reason, now


@dataclass
class TickResult:
    """What one tick did."""

    advanced: int = 0
    stopped: int = 0
    messages: int = 0
    lateness: list[float] = field(default_factory=list)  # seconds between due and done


def tick(
    session: Session,
    *,
    config: WarroomConfig,
    oncall: OnCall,
    channels: set[str],
    now: datetime,
    limit: int = 1000,
) -> TickResult:
    """Advance every escalation that is due; return what was done."""
    statement = (
        select(Escalation)
        .where(Escalation.state == ACTIVE, Escalation.next_at <= now)
        .order_by(Escalation.next_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    result = TickResult()
    messages: list[Message] = []
    for row in session.scalars(statement):
        incident = session.get(Incident, row.incident_id)
        if incident is None:
            continue
        assert row.next_at is not None
        result.lateness.append((now - row.next_at).total_seconds())
        if incident.acknowledged_at is not None or incident.status != "detected":
            row.state, row.next_at, row.reason = "stopped", None, "acknowledged"
            row.updated_at = now
            result.stopped += 1
            continue
        messages += _advance(session, row, incident, config, oncall, channels, now)
        result.advanced += 1
    if messages:
        result.messages = outbox.enqueue(
            session, messages, now=now, retry=config.notifications.retry
        )
    return result


def _advance(
    session: Session,
    row: Escalation,
    incident: Incident,
    config: WarroomConfig,
    oncall: OnCall,
    channels: set[str],
    now: datetime,
) -> list[Message]:
    """Run the due step; a step that reaches nobody is skipped at once to the next one."""
    policy = EscalationPolicy.model_validate(row.policy)
    total = len(policy.steps)
    card = card_to_json(card_of(incident, config, config.notifications.base_url))
    skipped: list[int] = []
    while True:
        step = policy.steps[row.step]
        people, rooms = resolve(step.notify, incident, config, oncall, now)
        label = f"step {row.step + 1} of {total}" + (f", round {row.loop + 1}" if row.loop else "")
        messages = _pages(incident, row, people, rooms, config, channels, card, label)
        if people or rooms:
            reached = ", ".join(people + rooms)
            text = f"Paged {reached} ({label})"
            if not messages:
                text = f"Nobody could be reached for {reached} ({label}): no chat or email set up"
            timeline.record(
                session,
                incident=incident,
                kind="paged",
                text=text,
                at=now,
                actor=None,
                source="engine",
                data={"step": row.step, "loop": row.loop, "people": people, "channels": rooms},
            )
        else:
            skipped.append(row.step)
        finished = _move_on(row, policy, now)
        if people or rooms or finished:
            break
    if skipped:
        steps = ", ".join(str(s + 1) for s in skipped)
        timeline.record(
            session,
            incident=incident,
            kind="escalation_skipped",
            text=f"Nobody on call at step {steps}: moved on at once",
            at=now,
            actor=None,
            source="engine",
            data={"steps": skipped, "loop": row.loop},
        )
    if row.state == "exhausted":
        timeline.record(
            session,
            incident=incident,
            kind="escalation_exhausted",
            text=f"Escalation ended after {policy.repeat + 1} round(s) without acknowledgement",
            at=now,
            actor=None,
            source="engine",
            data={"policy": policy.id},
        )
    return messages


def _move_on(row: Escalation, policy: EscalationPolicy, now: datetime) -> bool:
    """Point the row at the next step (or round); return True when the policy is used up."""
    steps = policy.steps
    row.updated_at = now
    if row.step + 1 < len(steps):
        row.next_at = now + (steps[row.step + 1].after - steps[row.step].after)
        row.step += 1
        return False
    if row.loop < policy.repeat:
        gap = steps[-1].after - steps[-2].after if len(steps) > 1 else MIN_REPEAT_GAP
        row.next_at = now + max(gap, MIN_REPEAT_GAP)
        row.step, row.loop = 0, row.loop + 1
        return False
    row.state, row.next_at, row.reason = "exhausted", None, "no acknowledgement"
    return True


def resolve(
    targets: list[str],
    incident: Incident,
    config: WarroomConfig,
    oncall: OnCall,
    now: datetime,
) -> tuple[list[str], list[str]]:
    """Return (people, chat channels) a step's targets name at this moment."""
    people: list[str] = []
    rooms: list[str] = []
    service = config.service(incident.service) if incident.service else None
    for target in targets:
        match = TARGET.match(target)
        if match is None:
            continue
        found: list[str] = []
        if match.group("schedule"):
            schedule = match.group("schedule")
            if schedule == "@service":
                schedule = service.schedule if service else None
            if schedule:
                try:
                    layers = oncall(schedule, now)
                except Exception:  # the on-call source is down: this target reaches nobody
                    log.exception("cannot ask who is on call in %s", schedule)
                    layers = {}
                layer = match.group("layer")
                for name, names in layers.items():
                    if layer is None or name == layer:
                        found += names
        elif match.group("person"):
            found = [match.group("person")]
        elif match.group("team"):
            team_id = match.group("team")
            if team_id == "@service":
                team_id = service.team if service else None
            team = config.team(team_id) if team_id else None
            if team is not None:
                found = list(team.leads if match.group("part") == "leads" else team.members)
        elif match.group("channel"):
            channel = match.group("channel")
            rooms.append(channel if channel.startswith("#") else f"#{channel}")
        elif match.group("commander") and incident.commander:
            found = [incident.commander]
        people += [p for p in found if p not in people]
    return people, rooms


def _pages(
    incident: Incident,
    row: Escalation,
    people: list[str],
    rooms: list[str],
    config: WarroomConfig,
    channels: set[str],
    card: dict[str, object],
    label: str,
) -> list[Message]:
    """Return the page messages for one step: chat and/or email per person, posts per room."""
    rules = config.notifications
    base = f"inc{incident.number}:page:{row.loop}:{row.step}"
    text = f"You are paged for {incident.ref} ({incident.severity}): {incident.title} — {label}"
    out = []
    for person_id in people:
        person = config.person(person_id)
        if person is None:
            continue
        payload = {"card": card, "text": text, "person": person_id}
        if "chat" in rules.page_via and "chat" in channels and person.slack:
            out.append(
                Message(
                    f"{base}:{person_id}:chat",
                    "chat",
                    "page",
                    f"person:{person_id}",
                    payload | {"address": person.slack},
                    incident.id,
                )
            )
        if "email" in rules.page_via and "email" in channels and person.email:
            out.append(
                Message(
                    f"{base}:{person_id}:email",
                    "email",
                    "page",
                    f"person:{person_id}",
                    payload | {"address": str(person.email)},
                    incident.id,
                )
            )
    if "chat" in channels:
        for room in rooms:
            out.append(
                Message(
                    f"{base}:{room}",
                    "chat",
                    "post",
                    room,
                    {"card": card, "text": text},
                    incident.id,
                )
            )
    return out
