"""Prometheus counters for intake: alerts by outcome, rejected deliveries by reason."""

from __future__ import annotations

from prometheus_client import Counter

from warroom.detection.schemas import IngestResult

ALERTS = Counter(
    "warroom_alerts_received", "Alerts received, by source and outcome.", ["source", "outcome"]
)
REJECTIONS = Counter(
    "warroom_intake_rejections",
    "Deliveries refused before any effect (bad signature, too large, malformed…).",
    ["source", "reason"],
)
OUTCOMES = ("new", "repeated", "resolved", "silenced", "dropped", "ignored")


def record(source: str, result: IngestResult) -> None:
    """Count a processed delivery's alerts."""
    for outcome in OUTCOMES:
        value = getattr(result, outcome)
        if value:
            ALERTS.labels(source=source, outcome=outcome).inc(value)


def rejected(source: str, reason: str) -> None:
    """Count a refused delivery."""
    REJECTIONS.labels(source=source, reason=reason).inc()
