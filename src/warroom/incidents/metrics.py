"""Prometheus counters for incident activity, fed by the flows' listener hook."""

from __future__ import annotations

from prometheus_client import Counter

from warroom.incidents.schemas import IncidentDetail

INCIDENT_EVENTS = Counter(
    "warroom_incident_changes",
    "Incident changes by kind (declared, acknowledged, triage, mitigate, resolve, …).",
    ["event", "severity"],
)


def record(event: str, incident: IncidentDetail) -> None:
    """Count one incident change."""
    INCIDENT_EVENTS.labels(event=event, severity=incident.severity).inc()
