"""Prometheus metrics of the outbox: deliveries, failures, delays, depth."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SENT = Counter("warroom_notifications_sent_total", "Notifications delivered", ["channel", "action"])
FAILED = Counter(
    "warroom_notifications_failed_total",
    "Failed notification attempts (status after the attempt: failed or dead)",
    ["channel", "status"],
)
DELAY = Histogram(
    "warroom_notification_delay_seconds",
    "From when a notification was due to when it was delivered",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 1800),
)
OUTBOX = Gauge("warroom_outbox_depth", "Notifications by status", ["status"])


def sent(channel: str, action: str, delay_seconds: float) -> None:
    """Count a delivery and how late it was."""
    SENT.labels(channel, action).inc()
    DELAY.observe(max(0.0, delay_seconds))


def failed(channel: str, status: str) -> None:
    """Count a failed attempt."""
    FAILED.labels(channel, status).inc()


def depth(counts: dict[str, int]) -> None:
    """Publish the outbox depth by status."""
    for status in ("pending", "sending", "failed", "dead", "sent", "cancelled"):
        OUTBOX.labels(status).set(counts.get(status, 0))
