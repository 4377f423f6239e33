"""Drills are left out of MTTx metrics and reports by default (`?drills=true` brings them in)."""

from __future__ import annotations

import zlib
from datetime import timedelta

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from tests.drills.conftest import start
from warroom.core.clock import FrozenClock
from warroom.incidents import metrics as prometheus
from warroom.runtime import Runtime


def test_reports_leave_drills_out(api: TestClient, runtime: Runtime, clock: FrozenClock) -> None:
    start(api)
    clock.advance(timedelta(minutes=2))
    assert api.post("/api/v1/incidents/INC-1/acknowledge").status_code == 200
    body = {"title": "Checkout down", "severity": "SEV-2", "service": "checkout"}
    assert api.post("/api/v1/incidents", json=body).status_code == 201
    clock.advance(timedelta(minutes=10))
    assert api.post("/api/v1/incidents/INC-2/acknowledge").status_code == 200
    clock.advance(timedelta(minutes=1))
    real = api.get("/api/v1/metrics/incidents", params={"since": "1d"}).json()
    assert real["total"] == 1
    assert real["durations"]["mtta"]["mean"] == 600.0  # the real one's ten minutes alone
    both = api.get("/api/v1/metrics/incidents", params={"since": "1d", "drills": "true"}).json()
    assert both["total"] == 2 and both["durations"]["mtta"]["count"] == 2
    csv = api.get("/api/v1/metrics/incidents.csv", params={"since": "1d"}).text
    assert "Checkout down" in csv and "[DRILL]" not in csv


def test_prometheus_leaves_drills_out(api: TestClient, runtime: Runtime) -> None:
    start(api)
    text = prometheus.exposition(runtime.db, lambda: ["SEV-2"]).decode()
    assert 'warroom_open_incidents{severity="SEV-2",status="detected"} 0.0' in text
    body = {"title": "Checkout down", "severity": "SEV-2", "service": "checkout"}
    assert api.post("/api/v1/incidents", json=body).status_code == 201
    text = prometheus.exposition(runtime.db, lambda: ["SEV-2"]).decode()
    assert 'warroom_open_incidents{severity="SEV-2",status="detected"} 1.0' in text


def test_a_drill_is_not_observed_in_the_histograms(
    api: TestClient, runtime: Runtime, clock: FrozenClock, database_url: str
) -> None:
    # The histograms are the process's: a time of this run's own, so the other backend's run
    # (same incident numbers) is not taken for a repeat of this one.
    clock.advance(timedelta(seconds=zlib.crc32(database_url.encode()) % 86400))
    histogram = prometheus.TIME_TO["acknowledged_at"].labels(severity="SEV-2")
    before = _count(histogram)
    start(api)
    assert api.post("/api/v1/incidents/INC-1/acknowledge").status_code == 200
    assert _count(histogram) == before
    body = {"title": "Checkout down", "severity": "SEV-2", "service": "checkout"}
    assert api.post("/api/v1/incidents", json=body).status_code == 201
    assert api.post("/api/v1/incidents/INC-2/acknowledge").status_code == 200
    assert _count(histogram) == before + 1


def _count(histogram: object) -> float:
    """Return how many observations a histogram child holds."""
    samples = histogram.collect()[0].samples  # type: ignore[attr-defined]
    return float(next(s.value for s in samples if s.name.endswith("_count")))


def test_a_drill_counts_as_alerts_received_but_not_as_incidents(api: TestClient) -> None:
    """What docs/drills.md says: the intake counters count a drill, under source="drill"."""

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    alerts = ("warroom_alerts_received_total", {"source": "drill", "outcome": "new"})
    declared = ("warroom_incidents_declared_total", {"severity": "SEV-2"})
    changes = ("warroom_incident_changes_total", {"event": "declared", "severity": "SEV-2"})
    before = [sample(name, **labels) for name, labels in (alerts, declared, changes)]
    start(api)
    after = [sample(name, **labels) for name, labels in (alerts, declared, changes)]
    assert [b - a for a, b in zip(before, after, strict=True)] == [1.0, 0.0, 0.0]
