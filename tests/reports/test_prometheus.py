"""Prometheus /metrics: incident counters and histograms, the open-incident gauge, and the
Grafana dashboard reading only metric names warroom exposes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO
from tests.helpers import SKIP, finish_postmortem
from warroom.app import build_runtime, create_app
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents import metrics
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime
from warroom.settings import Settings

RITA = Actor(name="rita", source="api")
DASHBOARD = REPO / "contrib" / "grafana" / "warroom.json"


@pytest.fixture(autouse=True)
def _fresh_milestones() -> Iterator[None]:
    """Forget observed milestones: each test's database numbers incidents from 1 again."""
    metrics._seen.clear()
    yield
    metrics._seen.clear()


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Return every sample of /metrics as (name, labels) -> value."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def open_gauge(client: TestClient) -> dict[tuple[str, str], float]:
    samples = scrape(client)
    return {
        (dict(labels)["severity"], dict(labels)["status"]): value
        for (name, labels), value in samples.items()
        if name == "warroom_open_incidents"
    }


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_open_incidents_gauge_reads_the_database(
    client: TestClient, runtime: Runtime, settings: Settings, config: WarroomConfig
) -> None:
    for severity in ("SEV-2", "SEV-2", "SEV-1", "SEV-3"):
        runtime.flows.declare(actor=RITA, title="x", severity=severity)
    runtime.flows.transition("INC-1", "mitigate", actor=RITA)
    runtime.flows.transition("INC-4", "resolve", actor=RITA, skip_verification=SKIP)
    gauge = open_gauge(client)
    assert gauge[("SEV-2", "detected")] == 1
    assert gauge[("SEV-2", "mitigated")] == 1
    assert gauge[("SEV-1", "detected")] == 1
    assert gauge[("SEV-3", "detected")] == 0  # resolved: not open
    assert gauge[("SEV-4", "triaged")] == 0  # every configured severity shows, at 0
    assert len(gauge) == len(config.severities) * 3
    # A restarted server (a new runtime on the same database) reports the same numbers.
    other = build_runtime(settings, clock=FrozenClock(runtime.clock.now()), config=config)
    try:
        with TestClient(create_app(other)) as fresh:
            assert open_gauge(fresh) == gauge
    finally:
        other.close()


def test_incident_counters_and_time_to_histograms(
    client: TestClient, api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    def hist(kind: str) -> tuple[float, float]:
        name = f"warroom_incident_time_to_{kind}_seconds"
        return value(f"{name}_count", severity="SEV-2"), value(f"{name}_sum", severity="SEV-2")

    before = {k: hist(k) for k in ("acknowledge", "mitigate", "resolve")}
    declared = value("warroom_incidents_declared_total", severity="SEV-2")
    resolved = value("warroom_incidents_resolved_total", severity="SEV-2")

    runtime.flows.declare(actor=RITA, title="Checkout slow", severity="SEV-2")
    clock.advance(timedelta(minutes=2))
    runtime.flows.acknowledge("INC-1", actor=RITA)
    runtime.flows.acknowledge("INC-1", actor=RITA)  # idempotent: observed once
    clock.advance(timedelta(minutes=8))
    runtime.flows.transition("INC-1", "mitigate", actor=RITA)
    runtime.flows.note("INC-1", actor=RITA, text="same instant as mitigation")
    clock.advance(timedelta(minutes=20))
    runtime.flows.transition("INC-1", "resolve", actor=RITA, skip_verification=SKIP)
    finish_postmortem(api, "INC-1")  # a SEV-2 closes only with its postmortem done
    clock.advance(timedelta(minutes=1))
    runtime.flows.transition("INC-1", "close", actor=RITA)  # closing is not a second resolve

    def delta(kind: str) -> tuple[float, float]:
        now = hist(kind)
        return now[0] - before[kind][0], now[1] - before[kind][1]

    assert delta("acknowledge") == pytest.approx((1, 120))  # sums of floats across tests
    assert delta("mitigate") == pytest.approx((1, 600))  # sums of floats across tests
    assert delta("resolve") == pytest.approx((1, 1800))  # sums of floats across tests
    assert value("warroom_incidents_declared_total", severity="SEV-2") - declared == 1
    assert value("warroom_incidents_resolved_total", severity="SEV-2") - resolved == 1

    # A forward skip from detected to resolved stamps mitigation and resolution at once.
    runtime.flows.declare(actor=RITA, title="False alarm", severity="SEV-2")
    clock.advance(timedelta(minutes=5))
    runtime.flows.transition("INC-2", "resolve", actor=RITA, skip_verification=SKIP)
    assert delta("mitigate") == pytest.approx((2, 900))  # sums of floats across tests
    assert delta("resolve") == pytest.approx((2, 2100))  # sums of floats across tests
    samples = scrape(client)
    assert samples[("warroom_incidents_resolved_total", (("severity", "SEV-2"),))] >= 2


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def declared_names(client: TestClient) -> set[str]:
    """Return the sample names each # TYPE line of /metrics promises."""
    text = client.get("/metrics").text
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def _names_in(expr: str) -> set[str]:
    return set(re.findall(r"\bwarroom_[a-z0-9_]+", expr))


def test_grafana_dashboard_reads_only_metrics_warroom_exposes(
    client: TestClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)

    # Some data first, so labelled metrics have samples.
    runtime.flows.declare(actor=RITA, title="x", severity="SEV-2")
    runtime.flows.acknowledge("INC-1", actor=RITA)
    runtime.flows.transition("INC-1", "resolve", actor=RITA, skip_verification=SKIP)
    assert client.post("/api/v1/intake/nonsense", content=b"{}").status_code == 404
    runtime.engine.tick()  # publishes engine lag; the outbox depth comes with reminders
    sampled = {name for name, _ in scrape(client)}
    # A labelled metric without samples yet still shows its # TYPE line: count those too.
    exposed = sampled | declared_names(client)

    used: set[str] = set()
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"
            names = _names_in(target["expr"])
            assert names, target["expr"]
            used |= names
    missing = sorted(used - exposed)
    assert not missing, f"the dashboard reads metrics /metrics does not expose: {missing}"
    for wanted in (
        "warroom_open_incidents",
        "warroom_incidents_declared_total",
        "warroom_incidents_resolved_total",
        "warroom_incident_time_to_acknowledge_seconds_bucket",
        "warroom_incident_time_to_resolve_seconds_bucket",
        "warroom_alerts_received_total",
        "warroom_intake_rejections_total",
        "warroom_notifications_sent_total",
        "warroom_notifications_failed_total",
        "warroom_outbox_depth",
        "warroom_engine_lag_seconds",
    ):
        assert wanted in used, wanted
    for incident_metric in used:  # these had data above, so they have samples
        if "incident" in incident_metric:
            assert incident_metric in sampled, incident_metric
