"""Prometheus counters of the verification window: how often mitigations hold, or do not."""

from __future__ import annotations

from prometheus_client import Counter

PASSED = Counter(
    "warroom_verification_windows_passed",
    "Mitigated incidents whose linked alerts stayed resolved for the window, by severity.",
    ["severity"],
)
AUTO_RESOLVED = Counter(
    "warroom_verification_auto_resolves",
    "Incidents resolved on their own when the verification window passed, by severity.",
    ["severity"],
)


def swept(severities: dict[int, str], resolved: list[int]) -> None:
    """Count a committed sweep: windows passed, and the incidents resolved on their own."""
    for number, severity in severities.items():
        PASSED.labels(severity=severity).inc()
        if number in resolved:
            AUTO_RESOLVED.labels(severity=severity).inc()
