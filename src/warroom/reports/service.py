"""Incident metrics over a period: counts, MTTD/MTTA/MTTM/MTTR and overdue postmortem work."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    ColumnElement,
    Date,
    String,
    column,
    func,
    inspect,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.orm import Session

from warroom.core import durations
from warroom.core.errors import Invalid
from warroom.incidents.actor import Access
from warroom.incidents.models import Incident
from warroom.incidents.visibility import visible
from warroom.reports.schemas import (
    Counts,
    DurationStats,
    IncidentMetrics,
    LateActionItem,
    LatePostmortem,
    Overdue,
    Period,
    Stat,
)
from warroom.storage.base import UTCDateTime

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

DEFAULT_PERIOD = timedelta(days=30)
LATE_LISTED = 50  # overdue postmortems and action items listed by name (all are counted)
NO_SERVICE = "(none)"
# (name in the report, milestone it starts from, milestone it ends at)
DURATIONS = (
    ("mttd", "started_at", "detected_at"),
    ("mtta", "detected_at", "acknowledged_at"),
    ("mttm", "detected_at", "mitigated_at"),
    ("mttr", "detected_at", "resolved_at"),
)
COLUMNS = (
    Incident.number,
    Incident.title,
    Incident.severity,
    Incident.service,
    Incident.incident_type,
    Incident.status,
    Incident.started_at,
    Incident.detected_at,
    Incident.acknowledged_at,
    Incident.mitigated_at,
    Incident.resolved_at,
    Incident.closed_at,
    Incident.outcome,
)


@dataclass(frozen=True)
class Selection:
    """Incidents detected in [since, until), of these severities and services (None: any)."""

    since: datetime
    until: datetime
    severity: list[str] | None = None
    service: list[str] | None = None
    # What the caller may see (incidents.visibility); everything, for an admin.
    visible: ColumnElement[bool] = field(default_factory=true)
    drills: bool = False  # practice incidents (drills/) are left out unless asked for


@dataclass(frozen=True)
class IncidentTimes:
    """One selected incident's labels and milestones."""

    number: int
    title: str
    severity: str
    service: str | None
    incident_type: str
    status: str
    started_at: datetime | None
    detected_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    outcome: str | None = None  # "false_alarm", or None for a real incident

    def seconds(self, name: str) -> float | None:
        """Return a duration (mttd, mtta, mttm, mttr) in seconds; None if a milestone is missing."""
        _, start_name, end_name = next(d for d in DURATIONS if d[0] == name)
        start, end = getattr(self, start_name), getattr(self, end_name)
        return None if start is None or end is None else (end - start).total_seconds()


def _names(values: Iterable[str] | None) -> list[str] | None:
    """Accept both `?x=a&x=b` and `?x=a,b`; None when nothing is left."""
    found = [part.strip() for value in values or [] for part in value.split(",") if part.strip()]
    return found or None


def select_incidents(
    config: WarroomConfig,
    *,
    now: datetime,
    since: str | None = None,
    until: str | None = None,
    severity: Iterable[str] | None = None,
    service: Iterable[str] | None = None,
    access: Access,
    drills: bool = False,
) -> Selection:
    """Validate the report's filters (default: the last 30 days) or raise Invalid; the
    selection holds only what `access` may see."""
    end = durations.moment(until, field="until", now=now) if until else now
    try:
        start = durations.moment(since, field="since", now=now) if since else end - DEFAULT_PERIOD
    except OverflowError:  # `until` at the very start of the calendar
        raise Invalid(f"until {until!r} leaves no room for a period", {"field": "until"}) from None
    if start >= end:
        raise Invalid(
            f"since ({start.isoformat()}) must be before until ({end.isoformat()})",
            {"field": "since"},
        )
    severities = _names(severity)
    unknown = [s for s in severities or [] if s not in config.severities]
    if unknown:
        raise Invalid(
            f"unknown severity {', '.join(unknown)}; use {', '.join(config.severities)}",
            {"field": "severity"},
        )
    services = _names(service)
    known = {s.id for s in config.services}
    strange = [s for s in services or [] if known and s not in known and s != NO_SERVICE]
    if strange:
        raise Invalid(
            f"unknown service {', '.join(strange)}; use one of {', '.join(sorted(known))}",
            {"field": "service"},
        )
    return Selection(
        since=start,
        until=end,
        severity=severities,
        service=services,
        visible=visible(config, access),
        drills=drills,
    )


def incident_times(session: Session, selection: Selection) -> list[IncidentTimes]:
    """Return the selected incidents' milestones, oldest detection first."""
    stmt = (
        select(*COLUMNS)
        .where(Incident.detected_at >= selection.since, Incident.detected_at < selection.until)
        .order_by(Incident.detected_at, Incident.number)
    )
    stmt = stmt.where(*_label_filters(selection))
    return [IncidentTimes(**row._asdict()) for row in session.execute(stmt)]


def _label_filters(selection: Selection) -> list[ColumnElement[bool]]:
    """Return the WHERE clauses of the severity and service filters and of visibility."""
    clauses: list[ColumnElement[bool]] = [selection.visible]
    if not selection.drills:  # a drill's times would flatter (or spoil) the real ones
        clauses.append(Incident.drill_id.is_(None))
    if selection.severity:
        clauses.append(Incident.severity.in_(selection.severity))
    if selection.service:
        match: ColumnElement[bool] = Incident.service.in_(
            [s for s in selection.service if s != NO_SERVICE]
        )
        if NO_SERVICE in selection.service:
            match = or_(match, Incident.service.is_(None))
        clauses.append(match)
    return clauses


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the `fraction` percentile of sorted `values`, interpolating between ranks."""
    rank = fraction * (len(values) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return values[low] + (values[high] - values[low]) * (rank - low)


def stat(values: Iterable[float]) -> Stat:
    """Summarise durations as mean, p50, p90 and count."""
    ordered = sorted(values)
    if not ordered:
        return Stat(mean=None, p50=None, p90=None, count=0)
    # Milliseconds are plenty, and rounding hides float noise (510.00000000000006).
    return Stat(
        mean=round(sum(ordered) / len(ordered), 3),
        p50=round(percentile(ordered, 0.5), 3),
        p90=round(percentile(ordered, 0.9), 3),
        count=len(ordered),
    )


def duration_stats(incidents: Iterable[IncidentTimes]) -> DurationStats:
    """Summarise the four durations of some incidents."""
    chosen = list(incidents)
    found = {}
    for name, _, _ in DURATIONS:
        found[name] = stat(s for i in chosen if (s := i.seconds(name)) is not None)
    return DurationStats(**found)


def _grouped(incidents: list[IncidentTimes], key: str) -> dict[str, DurationStats]:
    groups: dict[str, list[IncidentTimes]] = {}
    for incident in incidents:
        groups.setdefault(getattr(incident, key) or NO_SERVICE, []).append(incident)
    return {name: duration_stats(groups[name]) for name in sorted(groups)}


def incident_metrics(session: Session, *, selection: Selection, now: datetime) -> IncidentMetrics:
    """Count and time the selected incidents; add the overdue postmortem work.

    False alarms are counted apart: they are in no other count and in no duration.
    """
    selected = incident_times(session, selection)
    incidents = [i for i in selected if i.outcome != "false_alarm"]

    def count(key: str) -> dict[str, int]:
        found = Counter(getattr(i, key) or NO_SERVICE for i in incidents)
        return dict(sorted(found.items()))

    return IncidentMetrics(
        period=Period(
            since=selection.since,
            until=selection.until,
            severity=selection.severity,
            service=selection.service,
        ),
        total=len(incidents),
        false_alarms=len(selected) - len(incidents),
        counts=Counts(
            severity=count("severity"),
            service=count("service"),
            type=count("incident_type"),
            status=count("status"),
        ),
        durations=duration_stats(incidents),
        by_severity=_grouped(incidents, "severity"),
        by_service=_grouped(incidents, "service"),
        overdue=overdue(session, selection=selection, now=now),
    )


def overdue(session: Session, *, selection: Selection, now: datetime) -> Overdue:
    """Count postmortems and open action items past due, for incidents of the selected
    severities and services (any period: overdue is about now).

    The postmortem tables come with migration 0008; before it they are absent and the counts
    are null. Read through lightweight table constructs so this module needs nothing from
    warroom.postmortem beyond its table and column names.
    """
    tables = set(inspect(session.connection()).get_table_names())
    if not {"postmortems", "postmortem_action_items"} <= tables:
        return Overdue(
            postmortems=None,
            action_items=None,
            note="postmortems are not recorded in this database yet (run `warroom db upgrade`)",
        )
    postmortems = table(
        "postmortems",
        column("id"),
        column("incident_id"),
        column("status", String()),
        column("due_at", UTCDateTime()),
    )
    items = table(
        "postmortem_action_items",
        column("id"),
        column("postmortem_id"),
        column("title", String()),
        column("owner", String()),
        column("jira_key", String()),
        column("status", String()),
        column("due_date", Date()),
    )
    today: date = now.date()
    late_postmortems = (
        select(func.count())
        .select_from(postmortems.join(Incident, Incident.id == postmortems.c.incident_id))
        .where(postmortems.c.due_at < now, postmortems.c.status != "done")
    )
    late_items = (
        select(func.count())
        .select_from(
            items.join(postmortems, postmortems.c.id == items.c.postmortem_id).join(
                Incident, Incident.id == postmortems.c.incident_id
            )
        )
        .where(items.c.due_date < today, items.c.status == "open")
    )
    labels = _label_filters(selection)
    late_postmortems, late_items = late_postmortems.where(*labels), late_items.where(*labels)
    # The same selections, listing the oldest first, so people see whose work is late.
    listed_postmortems = late_postmortems.with_only_columns(
        Incident.number,
        Incident.title,
        Incident.severity,
        Incident.commander,
        postmortems.c.status,
        postmortems.c.due_at,
    ).order_by(postmortems.c.due_at, Incident.number)
    listed_items = late_items.with_only_columns(
        items.c.id,
        Incident.number,
        items.c.title,
        items.c.owner,
        items.c.due_date,
        items.c.jira_key,
    ).order_by(items.c.due_date, items.c.id)
    return Overdue(
        postmortems=session.scalar(late_postmortems) or 0,
        action_items=session.scalar(late_items) or 0,
        late_postmortems=[
            LatePostmortem(
                incident=f"INC-{number}",
                title=title,
                severity=severity,
                commander=commander,
                status=status,
                due_at=due_at,
            )
            for number, title, severity, commander, status, due_at in session.execute(
                listed_postmortems.limit(LATE_LISTED)
            )
        ],
        late_action_items=[
            LateActionItem(
                id=item_id,
                incident=f"INC-{number}",
                title=title,
                owner=owner,
                due_date=due_date,
                jira_key=jira_key,
            )
            for item_id, number, title, owner, due_date, jira_key in session.execute(
                listed_items.limit(LATE_LISTED)
            )
        ],
    )
