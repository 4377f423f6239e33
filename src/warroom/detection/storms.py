"""Alert storms: past a rate of new incidents in one scope, they are bundled under a parent.

Every incident an alert opens is counted with the others of its scope (its service, or the
services of its escalation policy) opened within the window. Up to the threshold each pages
on its own; the next one opens a parent incident that pages once and names the storm, and
every member is linked under it: the recent ones nobody has acknowledged yet, and each new
one while the storm lasts. Members page no more (the planner keeps them quiet), and
acknowledging the parent acknowledges them all (incidents/service.py). PagerDuty's
intelligent grouping and Grafana OnCall's alert groups behave alike.

Restricted incidents never join: the parent is public, and a breach keeps its own paging.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.orm import Session

from warroom.core.durations import format_duration
from warroom.detection.models import Storm
from warroom.incidents import service as incidents
from warroom.incidents import timeline
from warroom.incidents.actor import Actor
from warroom.incidents.flows import TemplateChoice
from warroom.incidents.lifecycle import Rules
from warroom.incidents.models import Incident
from warroom.incidents.states import OPEN_STATUSES

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

SOURCE = "storm"  # the parent's source, and the actor of what a storm does
# Incidents opened by monitoring count towards a storm (heartbeats too: when warroom cannot
# hear its senders, every heartbeat falls silent at once); reports (Jira, Slack, the web form)
# and incidents people declare do not.
ALERT_SOURCES = ("alertmanager", "grafana", "pagerduty", "webhook", "heartbeat")
# Opens the parent incident: (title, severity, summary, service) -> the new incident.
OpenParent = Callable[[str, str, str, str | None], Incident]
# The open storms one transaction has met, by scope key: (storm, parent).
Known = dict[str, tuple[Storm, Incident]]


@dataclass(frozen=True)
class Scope:
    """What a storm counts together: one service, or the services of one policy."""

    key: str  # "service:checkout", "policy:payments-default"
    id: str  # the service or policy id (`detection.storm.limits` is keyed by it)
    label: str  # for people: "checkout", "policy payments-default"
    services: tuple[str | None, ...]  # None: incidents without a service

    def where(self) -> ColumnElement[bool]:
        """Return the condition selecting incidents of this scope."""
        named = [s for s in self.services if s is not None]
        clauses = [Incident.service.in_(named)] if named else []
        if None in self.services:
            clauses.append(Incident.service.is_(None))
        return or_(*clauses)


def opener(
    session: Session,
    *,
    config: WarroomConfig,
    now: datetime,
    rules: Rules,
    choose_template: Callable[[str | None, str | None], TemplateChoice],
    opened: list[int],
) -> OpenParent:
    """Return how a storm's parent opens: a new incident with its template and first IC.

    The parent's number is appended to `opened`.
    """

    def open_parent(title: str, severity: str, summary: str, service: str | None) -> Incident:
        chosen = choose_template(None, service)
        commander, reason = rules.command.first_commander(
            config, service=service, reporter=None, at=now
        )
        parent = incidents.declare(
            session,
            config=config,
            now=now,
            actor=Actor(name=None, source=SOURCE),
            commander=commander,
            commander_reason=reason,
            title=title,
            severity=severity,
            summary=summary,
            service=service,
            runbook_template=chosen.name,
            checklist=chosen.checklist,
            owner=chosen.owner,
            module=service or chosen.module,
        )
        opened.append(parent.number)
        return parent

    return open_parent


def scope_of(config: WarroomConfig, service: str | None) -> Scope:
    """Return the scope an incident of this service is counted in."""
    if config.detection.storm.by == "policy":
        policy = config.escalation_policy(service).id
        members: list[str | None] = [
            s.id for s in config.services if config.escalation_policy(s.id).id == policy
        ]
        if config.escalation_policy(None).id == policy:
            members.append(None)  # incidents without a service follow the default policy
        if service not in members:  # an unknown service still counts with its policy
            members.append(service)
        return Scope(f"policy:{policy}", policy, f"policy {policy}", tuple(members))
    name = service or "-"
    return Scope(f"service:{name}", name, service or "no service", (service,))


def bundle(
    session: Session,
    *,
    incident: Incident,
    config: WarroomConfig,
    now: datetime,
    open_parent: OpenParent,
    rules: Rules,
    known: Known | None = None,
) -> Incident | None:
    """Count a new alert-opened incident; link it under its scope's storm if there is one.

    Returns the parent when this incident started the storm (a new incident), else None.
    `known` remembers the open storms this transaction has already found or started, so the
    thousand members of one storm ask for it once.
    """
    started = bundle_many(
        session,
        incidents=[incident],
        config=config,
        now=now,
        open_parent=open_parent,
        rules=rules,
        known={} if known is None else known,
    )
    return started[0][1] if started else None


def bundle_many(
    session: Session,
    *,
    incidents: list[Incident],
    config: WarroomConfig,
    now: datetime,
    open_parent: OpenParent,
    rules: Rules,
    known: Known,
) -> list[tuple[int, Incident]]:
    """Count new alert-opened incidents in order, as `bundle` does each; return (index of the
    incident that started it, parent) for each storm started.

    Members joining a storm already known are linked together: a drain of a storm's new
    incidents writes their "storm_joined" events in one statement.
    """
    joining: dict[str, tuple[Storm, Incident, list[Incident]]] = {}

    def link_waiting() -> None:
        for storm, parent, members in joining.values():
            join_many(session, storm=storm, parent=parent, members=members, now=now)
        joining.clear()

    started: list[tuple[int, Incident]] = []
    for index, incident in enumerate(incidents):
        if not _counts(config, incident):
            continue
        scope = scope_of(config, incident.service)
        found = known.get(scope.key)
        if found is not None and _lasting(config, scope, found, now):
            storm, parent = found
            joining.setdefault(scope.key, (storm, parent, []))[2].append(incident)
            _raise(session, config=config, parent=parent, member=incident, now=now, rules=rules)
            continue
        link_waiting()  # counting below must see every member already linked
        opened = _count(
            session,
            incident=incident,
            scope=scope,
            config=config,
            now=now,
            open_parent=open_parent,
            rules=rules,
            known=known,
        )
        if opened is not None:
            started.append((index, opened))
    link_waiting()
    return started


def _counts(config: WarroomConfig, incident: Incident) -> bool:
    """Tell whether a new incident counts towards a storm at all."""
    if not config.detection.storm.enabled:
        return False
    if incident.visibility == "restricted" or incident.paging_held:
        return False
    if incident.drill_id is not None:  # a drill pages its participants, never as a storm
        return False
    # One already linked was opened together with the incident that started its storm.
    return incident.parent_number is None


def _lasting(
    config: WarroomConfig, scope: Scope, found: tuple[Storm, Incident], now: datetime
) -> bool:
    """Tell whether a storm this transaction knows still takes new members."""
    storm, parent = found
    window = config.detection.storm.limit(scope.id).window
    return parent.status in OPEN_STATUSES and storm.last_joined_at >= now - window


def _count(
    session: Session,
    *,
    incident: Incident,
    scope: Scope,
    config: WarroomConfig,
    now: datetime,
    open_parent: OpenParent,
    rules: Rules,
    known: Known,
) -> Incident | None:
    """Count one incident in its scope (locked): join the open storm, or start one past the
    threshold. Returns the parent of a storm it started."""
    limit = config.detection.storm.limit(scope.id)
    _lock(session, scope.key)
    storm = session.scalars(select(Storm).where(Storm.scope == scope.key, Storm.is_open)).first()
    if storm is not None:
        current = session.scalars(
            select(Incident).where(Incident.number == storm.parent_number)
        ).first()
        if current is not None and _lasting(config, scope, (storm, current), now):
            join_many(session, storm=storm, parent=current, members=[incident], now=now)
            _raise(session, config=config, parent=current, member=incident, now=now, rules=rules)
            known[scope.key] = (storm, current)
            return None
        storm.is_open, storm.ended_at = False, now  # it has passed: the next one is counted
        known.pop(scope.key, None)
    session.flush()  # the new incident counts itself (and an ended storm frees its scope)
    # The incidents this scope's monitoring opened within the window (this one included).
    recent_here = (
        scope.where(),
        Incident.detected_at >= now - limit.window,
        Incident.source.in_(ALERT_SOURCES),
        Incident.visibility != "restricted",
    )
    counted = select(func.count()).select_from(Incident).where(*recent_here)
    recent = session.scalar(counted) or 0
    if recent <= limit.threshold:
        return None
    waiting = (  # …of those, the ones in no storm that nobody has answered yet
        Incident.parent_number.is_(None),
        Incident.acknowledged_at.is_(None),
        Incident.status == "detected",
        Incident.paging_held.is_(False),
    )
    members = list(
        session.scalars(select(Incident).where(*recent_here, *waiting).order_by(Incident.number))
    )
    order = list(config.severities)
    worst = min((m.severity for m in members), key=order.index, default=incident.severity)
    parent = open_parent(
        f"Alert storm on {scope.label}",
        worst,
        f"More than {limit.threshold} new incidents within {format_duration(limit.window)} on "
        f"{scope.label}. Their pages are bundled here: acknowledging this incident "
        "acknowledges every incident of the storm.",
        # By policy too: the parent pages through the scope's policy, which its service names.
        incident.service,
    )
    storm = Storm(
        scope=scope.key,
        parent_number=parent.number,
        started_at=now,
        last_joined_at=now,
        members=0,
        is_open=True,
    )
    session.add(storm)
    timeline.record(
        session,
        incident=parent,
        kind="storm_started",
        at=now,
        actor=None,
        source=SOURCE,
        text=f"Alert storm: {recent} new incidents within {format_duration(limit.window)} on "
        f"{scope.label} (threshold {limit.threshold}): "
        + ", ".join(f"{m.ref} {m.title}" for m in members[:10])
        + (f" and {len(members) - 10} more" if len(members) > 10 else "")
        + "; their pages are bundled here, and so are those of the incidents that follow",
        data={
            "scope": scope.key,
            "recent": recent,
            "threshold": limit.threshold,
            "members": [m.number for m in members],
        },
    )
    join_many(session, storm=storm, parent=parent, members=members, now=now)
    known[scope.key] = (storm, parent)
    return parent


def join_many(
    session: Session, *, storm: Storm, parent: Incident, members: list[Incident], now: datetime
) -> None:
    """Link incidents under the storm's parent (their own paging stops: the planner).

    Only a member's timeline says so: the parent's lists who started the storm, and its
    members are a query (`?parent=`), so a storm of thousands does not rewrite its file each time.
    """
    if not members:
        return
    for member in members:
        member.parent_number = parent.number
    storm.members += len(members)
    storm.last_joined_at = now
    text = f"Part of alert storm {parent.ref}: paged there, and acknowledged with it"
    timeline.record_all(
        session,
        [(member, "storm_joined", text, {"parent": parent.number}) for member in members],
        at=now,
        actor=None,
        source=SOURCE,
    )
    if parent.acknowledged_at is None:
        return
    for member in members:
        if member.status == "detected":
            # Someone already answers for the storm: a late member is theirs too.
            incidents.acknowledge(
                session,
                incident=member,
                now=now,
                actor=Actor(parent.acknowledged_by, SOURCE),
                parent=parent,
            )


def _raise(
    session: Session,
    *,
    config: WarroomConfig,
    parent: Incident,
    member: Incident,
    now: datetime,
    rules: Rules,
) -> None:
    """Raise the parent to a more severe member's severity: the storm pages as its worst."""
    order = list(config.severities)
    if member.severity not in order or parent.severity not in order:
        return
    if order.index(member.severity) >= order.index(parent.severity):
        return
    if parent.status not in ("detected", "triaged"):
        return
    incidents.update(
        session,
        config=config,
        incident=parent,
        now=now,
        actor=Actor(None, SOURCE),
        changes={"severity": member.severity},
        rules=rules,
        reason=f"{member.ref} joined the storm at {member.severity}",
    )


def _lock(session: Session, key: str) -> None:
    """On PostgreSQL, let one transaction at a time count and start a storm in this scope.

    SQLite has one writer already. The lock ends with the transaction.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_id(key)})


def _lock_id(key: str) -> int:
    """Return a stable 63-bit id for an advisory lock on a storm scope."""
    return (0x5702 << 32) | zlib.crc32(key.encode())
