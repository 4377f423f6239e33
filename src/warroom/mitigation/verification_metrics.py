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
REFIRED = Counter(
    "warroom_mitigation_refires",
    "Mitigated incidents a linked alert returned to triaged, by severity and whether it fired "
    "inside the verification window.",
    ["severity", "inside_window"],
)


def swept(severities: dict[int, str], resolved: list[int]) -> None:
    """Count a committed sweep: windows passed, and the incidents resolved on their own."""
    for number, severity in severities.items():
        PASSED.labels(severity=severity).inc()
        if number in resolved:
            AUTO_RESOLVED.labels(severity=severity).inc()


def refired(severity: str, *, inside: bool) -> None:
    """Count a committed return to triaged after a linked alert fired again."""
    REFIRED.labels(severity=severity, inside_window=str(inside).lower()).inc()
