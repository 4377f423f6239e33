"""Prometheus metrics of the engine's rounds and of each module."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TICKS = Counter("warroom_engine_ticks_total", "Engine rounds in which every due module succeeded")
MODULE_SECONDS = Histogram(
    "warroom_engine_module_seconds",
    "How long one update of an engine module took",
    ["module"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
MODULE_FAILURES = Counter(
    "warroom_engine_module_failures_total", "Engine module updates that raised", ["module"]
)
