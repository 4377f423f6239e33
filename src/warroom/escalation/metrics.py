"""Prometheus metrics of escalation: how late the engine advances due steps, and how many."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

# The name is older than the engine's modules: dashboards and alerts know it by it.
ENGINE_LAG = Gauge(
    "warroom_engine_lag_seconds", "How late the most overdue escalation step was in the last tick"
)
# Per process: with several engines, each one's share of the work.
STEPS = Counter(
    "warroom_escalation_steps_total", "Due escalation steps this engine advanced or stopped"
)
