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
# A verification counter, counted where the refire is seen: by the intake, after its commit.
REFIRED = Counter(
    "warroom_mitigation_refires",
    "Mitigated incidents a linked alert returned to triaged, by severity and whether it fired "
    "inside the verification window.",
    ["severity", "inside_window"],
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


def refired(severity: str, *, inside: bool) -> None:
    """Count a committed return to triaged after a linked alert fired again."""
    REFIRED.labels(severity=severity, inside_window=str(inside).lower()).inc()
