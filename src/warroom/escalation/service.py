"""Escalation: start with the incident, advance due steps on each tick, stop on acknowledgement.

The state is a row (GoAlert's design): a crash loses nothing, and several engines share the
work because each tick locks the rows it advances (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.escalation import personal
from warroom.escalation.config import TARGET, EscalationPolicy, EscalationStep
from warroom.escalation.models import ACTIVE, Escalation
from warroom.escalation.personal import Paging
from warroom.escalation.reach import describe_unreached
from warroom.incidents.models import Incident
from warroom.notify.cards import card_of
from warroom.notify.messages import Post
from warroom.notify.outbox import Message
from warroom.notify.ports import IncidentCard

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

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
    policy = drill_policy(config, incident) or config.escalation_policy(incident.service)
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


def drill_policy(config: WarroomConfig, incident: Incident) -> EscalationPolicy | None:
    """Return the policy of a drill whose participants opted in: them, at once, once.

    None for a real incident, and for a drill that pages the real rotation
    (`drills.participants: rotation`): that one follows the service's own policy.
    """
    participants = config.drills.participants
    if incident.drill_id is None or participants == "rotation":
        return None
    return EscalationPolicy(
        id="drill-participants",
        description="a drill's participants (drills.participants)",
        steps=[EscalationStep(after=timedelta(0), notify=[f"person:{p}" for p in participants])],
    )


def stop(session: Session, *, incident: Incident, now: datetime, reason: str) -> None:
    """Stop paging (acknowledged, mitigated, resolved…)."""
    row = session.scalar(
        select(Escalation).where(Escalation.incident_id == incident.id, Escalation.state == ACTIVE)
    )
    if row is not None:
        row.state, row.next_at, row.reason, row.updated_at = "stopped", None, reason, now
    personal.stop(session, incident_id=incident.id, now=now, reason=reason)


@dataclass
class StepState:
    """The moving part of an escalation row while a tick works on it."""

    id: int
    incident_id: int
    policy_version: str
    step: int
    loop: int
    next_at: datetime | None
    state: str = ACTIVE
    reason: str | None = None
    updated_at: datetime | None = None


def advance(
    row: StepState,
    policy: EscalationPolicy,
    incident: Any,  # an Incident, or a row with its columns
    paging: Paging,
    oncall: OnCall,
    events: list[dict[str, Any]],
    runs: list[dict[str, Any]],
) -> list[Message]:
    """Run the due step; a step that reaches nobody is skipped at once to the next one.

    Each person paged gets a page run (their own rules); `runs` collects the rows to write.
    """
    config, channels, now = paging.config, paging.channels, paging.now
    total = len(policy.steps)
    card = card_of(incident, config, config.notifications.base_url)
    due = row.next_at
    skipped: list[Skipped] = []

    def event(kind: str, text: str, data: dict[str, Any]) -> None:
        events.append(
            {
                "incident_id": incident.id,
                "at": now,
                "kind": kind,
                "actor": None,
                "source": "engine",
                "text": text,
                "data": data,
                "key_event": False,
            }
        )

    messages: list[Message] = []
    anchor = due or now  # later steps are timed from when this one was due, not from now
    while True:
        step = policy.steps[row.step]
        people, rooms = resolve(step.notify, incident, config, oncall, now)
        label = f"step {row.step + 1} of {total}" + (f", round {row.loop + 1}" if row.loop else "")
        started = personal.start(
            paging,
            incident=incident,
            people=people,
            loop=row.loop,
            step=row.step,
            card=card,
            label=label,
            due=due,
        )
        pages = started.messages + _posts(incident, row, rooms, channels, card, label, due)
        messages += pages
        runs += started.runs
        # Named but beyond reach (no Slack/e-mail set up, no address) is not "nobody on call":
        # the timeline says who it was and why, so the missing setting can be fixed.
        unreached = started.unreached
        lost_rooms = [] if "chat" in channels else rooms
        if pages:
            paged = started.paged
            posted = [] if lost_rooms else rooms
            data: dict[str, Any] = {
                "step": row.step,
                "loop": row.loop,
                "people": paged,
                "channels": posted,
            }
            text = f"Paged {', '.join(paged + posted)} ({label})"
            if unreached or lost_rooms:
                text += "; " + describe_unreached(unreached, lost_rooms)
                data["unreachable"] = list(unreached)
            event("paged", text, data)
        else:
            skipped.append(Skipped(row.step, unreached, lost_rooms))
        finished = _move_on(row, policy, anchor, now)
        if pages or finished or row.step == 0:  # a new round waits for its gap
            break
    if skipped:
        event("escalation_skipped", _skipped_text(skipped), _skipped_data(skipped, row.loop))
    if row.state == "exhausted":
        text = f"Escalation ended after {policy.repeat + 1} round(s) without acknowledgement"
        event("escalation_exhausted", text, {"policy": policy.id})
    return messages


@dataclass(frozen=True)
class Skipped:
    """A step that paged no one: whom it named but could not reach (person -> why), if anyone."""

    step: int
    unreached: dict[str, str]
    rooms: list[str]


def _skipped_text(skipped: list[Skipped]) -> str:
    """Say which steps reached no one: nobody on call, or who was on call and why unreached."""
    if not any(s.unreached or s.rooms for s in skipped):
        steps = ", ".join(str(s.step + 1) for s in skipped)
        return f"Nobody on call at step {steps}: moved on at once"
    parts = [
        f"step {s.step + 1}: {describe_unreached(s.unreached, s.rooms) or 'nobody on call'}"
        for s in skipped
    ]
    text = "; ".join(parts)
    return f"{text[0].upper()}{text[1:]}: moved on at once"


def _skipped_data(skipped: list[Skipped], loop: int) -> dict[str, Any]:
    """Return the skipped event's data: the steps, and whom each named but could not reach."""
    data: dict[str, Any] = {"steps": [s.step for s in skipped], "loop": loop}
    unreachable = [
        {"step": s.step, "people": s.unreached, "channels": s.rooms}
        for s in skipped
        if s.unreached or s.rooms
    ]
    if unreachable:
        data["unreachable"] = unreachable
    return data


def _move_on(row: StepState, policy: EscalationPolicy, anchor: datetime, now: datetime) -> bool:
    """Point the row at the next step (or round); return True when the policy is used up."""
    steps = policy.steps
    row.updated_at = now
    if row.step + 1 < len(steps):
        row.next_at = anchor + (steps[row.step + 1].after - steps[row.step].after)
        row.step += 1
        return False
    if row.loop < policy.repeat:
        gap = steps[-1].after - steps[-2].after if len(steps) > 1 else MIN_REPEAT_GAP
        row.next_at = anchor + max(gap, MIN_REPEAT_GAP)
        row.step, row.loop = 0, row.loop + 1
        return False
    row.state, row.next_at, row.reason = "exhausted", None, "no acknowledgement"
    return True


@lru_cache(maxsize=4096)
def _parse(target: str) -> re.Match[str] | None:
    """Parse a target once (the same few strings come back every tick)."""
    return TARGET.match(target)


def resolve(
    targets: list[str],
    incident: Any,
    config: WarroomConfig,
    oncall: OnCall,
    now: datetime,
) -> tuple[list[str], list[str]]:
    """Return (people, chat channels) a step's targets name at this moment."""
    people: list[str] = []
    rooms: list[str] = []
    service = config.service(incident.service) if incident.service else None
    for target in targets:
        match = _parse(target)
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


def _posts(
    incident: Any,
    row: StepState,
    rooms: list[str],
    channels: Collection[str],
    card: IncidentCard,
    label: str,
    due: datetime | None,
) -> list[Message]:
    """Return the posts of one step to the chat channels it names."""
    if "chat" not in channels:
        return []
    base = f"inc{incident.number}:page:{row.loop}:{row.step}"
    text = (
        f"You are paged for INC-{incident.number} ({incident.severity}): {incident.title} — {label}"
    )
    post = Post(text=text, card=card)  # one payload for every room: it is immutable
    return [Message(f"{base}:{room}", room, post, incident.id, due) for room in rooms]
