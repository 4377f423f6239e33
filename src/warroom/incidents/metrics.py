"""Prometheus metrics of incidents: counters and histograms fed by the flows' listener hook,
and the open-incident gauge read from the database on each scrape."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from warroom.incidents.models import Incident
from warroom.incidents.schemas import IncidentDetail
from warroom.incidents.states import OPEN_STATUSES

if TYPE_CHECKING:
    from warroom.storage.db import Database

INCIDENT_EVENTS = Counter(
    "warroom_incident_changes",
    "Incident changes by kind (declared, acknowledged, triage, mitigate, resolve, …).",
    ["event", "severity"],
)
DECLARED = Counter("warroom_incidents_declared", "Incidents declared, by severity.", ["severity"])
RESOLVED = Counter(
    "warroom_incidents_resolved",
    "Incidents resolved (a forward skip to closed counts too), by severity.",
    ["severity"],
)
FALSE_ALARMS = Counter(
    "warroom_incidents_false_alarms",
    "Incidents ended as false alarms, by severity (not in the resolved count or durations).",
    ["severity"],
)
# From 30 s to a week: incidents are acknowledged in minutes and resolved in hours or days.
BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 604800)
TIME_TO = {
    "acknowledged_at": Histogram(
        "warroom_incident_time_to_acknowledge_seconds",
        "From detection to the first acknowledgement.",
        ["severity"],
        buckets=BUCKETS,
    ),
    "mitigated_at": Histogram(
        "warroom_incident_time_to_mitigate_seconds",
        "From detection to mitigation.",
        ["severity"],
        buckets=BUCKETS,
    ),
    "resolved_at": Histogram(
        "warroom_incident_time_to_resolve_seconds",
        "From detection to resolution.",
        ["severity"],
        buckets=BUCKETS,
    ),
}

# Milestones already observed, so a repeated (idempotent) acknowledge or a refresh of the
# runbook file does not count twice. Bounded: only recent changes can be repeated.
_seen: OrderedDict[tuple[int, str, datetime], None] = OrderedDict()
_seen_lock = threading.Lock()
_SEEN_MAX = 4096


def _first_time(key: tuple[int, str, datetime]) -> bool:
    with _seen_lock:
        if key in _seen:
            return False
        _seen[key] = None
        if len(_seen) > _SEEN_MAX:
            _seen.popitem(last=False)
        return True


def record(event: str, incident: IncidentDetail) -> None:
    """Count one incident change, and observe the milestones it reached (drills: neither)."""
    if incident.drill:  # practice: not an incident of the service, nor a time to respond
        return
    INCIDENT_EVENTS.labels(event=event, severity=incident.severity).inc()
    if event == "declared":
        DECLARED.labels(severity=incident.severity).inc()
    for milestone, histogram in TIME_TO.items():
        reached: datetime | None = getattr(incident, milestone)
        # A milestone stamped by this change carries the change's own time (updated_at);
        # one reached earlier, or none, is not this change's to observe.
        if reached is None or reached != incident.updated_at:
            continue
        if not _first_time((incident.number, milestone, reached)):
            continue
        if milestone == "resolved_at" and incident.outcome == "false_alarm":
            # Counted apart: a false alarm's "time to resolve" would flatter the real ones.
            FALSE_ALARMS.labels(severity=incident.severity).inc()
            continue
        histogram.labels(severity=incident.severity).observe(
            max(0.0, (reached - incident.detected_at).total_seconds())
        )
        if milestone == "resolved_at":
            RESOLVED.labels(severity=incident.severity).inc()


class OpenIncidents:
    """A collector of open incidents by severity and status, counted in the database."""

    NAME = "warroom_open_incidents"
    HELP = "Open incidents (detected, triaged or mitigated) by severity and status."

    def __init__(self, db: Database, severities: Callable[[], Iterable[str]]) -> None:
        self.db = db
        self.severities = severities

    def describe(self) -> Iterator[Metric]:
        """Name the metric without touching the database."""
        yield GaugeMetricFamily(self.NAME, self.HELP, labels=["severity", "status"])

    def collect(self) -> Iterator[Metric]:
        """Count open incidents with one GROUP BY; configured severities show as 0 when none."""
        counts = dict.fromkeys(
            ((severity, status) for severity in self.severities() for status in OPEN_STATUSES), 0
        )
        stmt = (
            select(Incident.severity, Incident.status, func.count())
            .where(Incident.status.in_(OPEN_STATUSES), Incident.drill_id.is_(None))
            .group_by(Incident.severity, Incident.status)
        )
        with self.db.session() as session:
            for severity, status, count in session.execute(stmt):
                counts[(severity, status)] = int(count)
        family = GaugeMetricFamily(self.NAME, self.HELP, labels=["severity", "status"])
        for (severity, status), count in sorted(counts.items()):
            family.add_metric([severity, status], count)
        yield family


def exposition(
    db: Database, severities: Callable[[], Iterable[str]], others: Iterable[Collector] = ()
) -> bytes:
    """Return the process's metrics plus the database-backed ones, in Prometheus text format.

    `others`: more collectors read at scrape time (the phases', e.g. heartbeat ages).
    """
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(OpenIncidents(db, severities))
    for collector in others:
        scrape.register(collector)
    return generate_latest(REGISTRY) + generate_latest(scrape)
