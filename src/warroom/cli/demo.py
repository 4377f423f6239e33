"""`warroom demo`: replay the runbook's two examples through the public API."""

from __future__ import annotations


def demo() -> None:
    """Replay the runbook's two examples (placeholder)."""
