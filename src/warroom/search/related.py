"""Related incidents: past incidents that share a service, alert names, labels or words.

The score is a sum of points a person can check by eye (ADR 018): same service 3, same
alertname 3, each shared alert label 1 (up to 3), each shared significant word of title and
summary 1 (up to 3). An incident needs 2 points to be listed. Candidates are the incidents
detected in the 90 days before this one, the visibility rule applied in SQL, at most
`CANDIDATES` rows; the incident itself, its alert storm's kin and drills (unless it is one)
never count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from warroom.incidents.models import Incident, TimelineEvent

WINDOW = timedelta(days=90)
CANDIDATES = 300  # rows fetched at most: the same service's first, newest first
ANNOUNCED = 100  # fewer for the first Slack message: it is read while the incident is declared
THRESHOLD = 2
SERVICE_POINTS = 3
ALERTNAME_POINTS = 3
LABEL_CAP = 3
WORD_CAP = 3
# Labels that say nothing about what broke, or are scored on their own already.
IGNORED_LABELS = frozenset({"alertname", "service", "severity", "priority", "job", "prometheus"})
STOP_WORDS = frozenset(
    """a about after again all also an and any are as at be been before being but by can
    could did do does down during for from had has have how if in into is it its not of off
    on once only or other our out over same so some than that the their then there these
    they this those through to too under until up very was we were what when where which
    while who why will with would you your incident incidents issue issues problem problems
    alert alerts firing fired resolved new""".split()  # noqa: SIM905 (a list of 90 is unreadable)
)
_WORD = re.compile(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]")


def words(*texts: str | None) -> frozenset[str]:
    """Return the significant words of these texts: lower-case, 3+ letters, no stop words."""
    found: set[str] = set()
    for text in texts:
        for word in _WORD.findall((text or "").lower()):
            if len(word) >= 3 and word not in STOP_WORDS and not word.isdigit():
                found.add(word)
    return frozenset(found)


@dataclass(frozen=True)
class Signature:
    """What an incident is compared by: service, first alert's name and labels, words."""

    service: str | None
    alertname: str | None
    labels: frozenset[tuple[str, str]]
    words: frozenset[str]


def signature(incident: Incident | Past, first_alert: dict[str, Any] | None) -> Signature:
    """Return an incident's signature from its row and its first alert event's data."""
    raw = (first_alert or {}).get("labels") or {}
    labels = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    return Signature(
        service=incident.service,
        alertname=labels.get("alertname") or None,
        labels=frozenset((k, v) for k, v in labels.items() if k not in IGNORED_LABELS and v),
        words=words(incident.title, incident.summary),
    )


@dataclass(frozen=True)
class Past:
    """A past incident's columns the list needs (not the whole row: up to CANDIDATES of them)."""

    id: int
    number: int
    title: str
    summary: str
    service: str | None
    severity: str
    status: str
    detected_at: datetime

    @property
    def ref(self) -> str:
        """Return the incident's reference, INC-n."""
        return f"INC-{self.number}"


PAST_COLUMNS = (
    Incident.id,
    Incident.number,
    Incident.title,
    Incident.summary,
    Incident.service,
    Incident.severity,
    Incident.status,
    Incident.detected_at,
)


@dataclass(frozen=True)
class Match:
    """One related incident, its score and the reasons that make it up."""

    incident: Past
    score: int
    reasons: list[str]
    days_before: int

    @property
    def when(self) -> str:
        """Return how long before the incident this one was detected, in words."""
        if self.days_before == 0:
            return "the same day"
        return f"{self.days_before} day{'s' if self.days_before != 1 else ''} before"

    @property
    def explanation(self) -> str:
        """Return the reasons and the age as one line ("same service, …, 3 days before")."""
        return ", ".join([*self.reasons, self.when])


@dataclass(frozen=True)
class Related:
    """The related incidents of one incident, and how often it happened before."""

    matches: list[Match] = field(default_factory=list)
    repeats: int = 0  # same service and alertname in the window
    repeats_at_least: bool = False  # the candidate cap was hit: there may be more

    @property
    def repeats_text(self) -> str | None:
        """Return "3 times in the last 90 days", or None when it never happened before."""
        if not self.repeats:
            return None
        more = "at least " if self.repeats_at_least else ""
        times = "once" if self.repeats == 1 else f"{self.repeats} times"
        return f"{more}{times} in the last {WINDOW.days} days"


def score(mine: Signature, theirs: Signature) -> tuple[int, list[str]]:
    """Return the points two signatures share and the reasons, in the order they count."""
    points, reasons = 0, []
    if mine.service and mine.service == theirs.service:
        points += SERVICE_POINTS
        reasons.append("same service")
    if mine.alertname and mine.alertname == theirs.alertname:
        points += ALERTNAME_POINTS
        reasons.append(f"same alertname ({mine.alertname})")
    labels = sorted(mine.labels & theirs.labels)
    if labels:
        points += min(len(labels), LABEL_CAP)
        shown = ", ".join(f"{k}={v}" for k, v in labels[:LABEL_CAP])
        reasons.append(f"{_count(len(labels), 'shared label')} ({shown})")
    shared = sorted(mine.words & theirs.words)
    if shared:
        points += min(len(shared), WORD_CAP)
        reasons.append(f"{_count(len(shared), 'shared word')} ({', '.join(shared[:5])})")
    return points, reasons


def _count(n: int, noun: str) -> str:
    """Return "1 shared word" or "3 shared words"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def first_alert(session: Session, incident: Incident) -> dict[str, Any] | None:
    """Return the data of the incident's first alert event (its labels), if it has one."""
    stmt = (
        select(TimelineEvent.data)
        .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "alert")
        .order_by(TimelineEvent.id)
        .limit(1)
    )
    data = session.scalar(stmt)
    return data if isinstance(data, dict) else None


def _kin_excluded(incident: Incident) -> ColumnElement[bool]:
    """Return the rule that leaves out the incident, its storm's parent, members and siblings."""
    rules: list[ColumnElement[bool]] = [
        Incident.id != incident.id,
        or_(Incident.parent_number.is_(None), Incident.parent_number != incident.number),
    ]
    if incident.parent_number is not None:
        rules.append(Incident.number != incident.parent_number)
        # `!=` alone is NULL, so false, for every incident outside a storm.
        rules.append(
            or_(
                Incident.parent_number.is_(None),
                Incident.parent_number != incident.parent_number,
            )
        )
    return and_(*rules)


def find(
    session: Session,
    incident: Incident,
    *,
    seen: ColumnElement[bool],
    limit: int = 5,
    candidates: int = CANDIDATES,
) -> Related:
    """Return the incidents related to `incident` among those `seen` lets through."""
    since = incident.detected_at - WINDOW
    first = (
        select(TimelineEvent.data)
        .where(TimelineEvent.incident_id == Incident.id, TimelineEvent.kind == "alert")
        .order_by(TimelineEvent.id)
        .limit(1)
        .correlate(Incident)
        .scalar_subquery()
    )
    base = select(Incident.id).where(
        Incident.detected_at >= since,
        Incident.detected_at <= incident.detected_at,
        _kin_excluded(incident),
        seen,
    )
    if incident.drill_id is None:
        base = base.where(Incident.drill_id.is_(None))
    # Newest first by number (numbers follow detection): the (service, number) and number
    # indexes serve each part without sorting the whole window.
    newest = (Incident.number.desc(),)
    chosen: list[int] = []
    if incident.service:
        mine_first = base.where(Incident.service == incident.service)
        chosen = list(session.scalars(mine_first.order_by(*newest).limit(candidates)))
    same_full = len(chosen) == candidates
    if len(chosen) < candidates:
        others = base.order_by(*newest).limit(candidates - len(chosen))
        if incident.service:
            others = others.where(
                or_(Incident.service.is_(None), Incident.service != incident.service)
            )
        chosen += list(session.scalars(others))
    stmt = select(*PAST_COLUMNS, first.label("first_alert")).where(Incident.id.in_(chosen))
    rows = session.execute(stmt).all() if chosen else []
    mine = signature(incident, first_alert(session, incident))
    matches, repeats = [], 0
    for row in rows:
        other = Past(*row[: len(PAST_COLUMNS)])
        data = row.first_alert
        theirs = signature(other, data if isinstance(data, dict) else None)
        if mine.service and theirs.service == mine.service and theirs.alertname == mine.alertname:
            repeats += 1
        points, reasons = score(mine, theirs)
        if points >= THRESHOLD:
            days = (incident.detected_at - other.detected_at).days
            matches.append(Match(incident=other, score=points, reasons=reasons, days_before=days))
    matches.sort(key=lambda m: (-m.score, m.days_before, -m.incident.number))
    # Full to the cap with the same service, its rows may go on past what was fetched.
    capped = same_full
    return Related(matches=matches[:limit], repeats=repeats, repeats_at_least=capped)


def public_only() -> ColumnElement[bool]:
    """Return the rule for what a public channel may show: public incidents only."""
    return Incident.visibility == "public"
