"""Prometheus metrics of escalation: how late the engine advances due steps."""

from __future__ import annotations

from prometheus_client import Gauge

# The name is older than the engine's modules: dashboards and alerts know it by it.
ENGINE_LAG = Gauge(
    "warroom_engine_lag_seconds", "How late the most overdue escalation step was in the last tick"
)
