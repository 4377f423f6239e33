"""Prometheus metrics of data retention."""

from __future__ import annotations

from prometheus_client import Counter

DELETED = Counter(
    "warroom_retention_deleted_total", "Rows deleted by data retention, by kind", ["kind"]
)
