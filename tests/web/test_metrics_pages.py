"""The metrics page: MTTx charts with their tables and CSV, on-call load, and visibility."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from tests.web.test_pages import add_user, sign_in
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents import service as incidents
from warroom.incidents import timeline
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime
from warroom.web.charts import Series, bar_chart, line_chart, nice_time_top, nice_top

MARKER = "METRICS-LEAK-4410"
SKIP = "not what this test is about"
ADA = Actor(name="ada", source="api", role="admin")


@pytest.fixture
def config() -> WarroomConfig:
    """Checkout on a weekly rotation of alice and bob."""
    rotation = {"every": "1w", "handoff": "Mon 09:00", "start": "2026-01-05"}
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob"}],
            "services": [{"id": "checkout", "schedule": "payments"}],
            "schedules": [
                {
                    "id": "payments",
                    "timezone": "Europe/Berlin",
                    "layers": [
                        {
                            "name": "primary",
                            "rotation": {**rotation, "participants": ["alice", "bob"]},
                        }
                    ],
                }
            ],
        }
    )


def paged(runtime: Runtime, ref: str, person: str) -> None:
    with runtime.db.transaction() as session:
        incident = incidents.get(session, ref)
        timeline.record(
            session, incident=incident, kind="paged", text=f"Paged {person}",
            at=runtime.clock.now(), actor=None, source="engine", data={"people": [person]},
        )  # fmt: skip


@pytest.fixture
def history(runtime: Runtime, clock: FrozenClock) -> tuple[str, str]:
    """A public SEV-2 on checkout acknowledged in 5 minutes, resolved in an hour (alice
    paged); a restricted SEV-1 breach acknowledged in 2 hours (bob paged)."""
    add_user(runtime, "vic", "viewer")
    add_user(runtime, "ada", "admin")
    public = runtime.flows.declare(
        actor=ADA, title="Checkout is slow", severity="SEV-2", service="checkout"
    ).ref
    paged(runtime, public, "alice")
    clock.advance(timedelta(minutes=5))
    runtime.flows.acknowledge(public, actor=ADA)
    clock.advance(timedelta(minutes=55))
    runtime.flows.transition(public, "resolve", actor=ADA, skip_verification=SKIP)
    breach = runtime.flows.declare(
        actor=ADA, title=f"Data exposed {MARKER}", severity="SEV-1", incident_type="security"
    )
    assert breach.visibility == "restricted"
    paged(runtime, breach.ref, "bob")
    clock.advance(timedelta(hours=2))
    runtime.flows.acknowledge(breach.ref, actor=ADA)
    return public, breach.ref


def test_charts_tables_and_csv_count_only_what_the_viewer_may_see(
    client: TestClient, history: tuple[str, str]
) -> None:
    sign_in(client, "vic")
    page = client.get("/reports")
    assert page.status_code == 200
    text = page.text
    assert MARKER not in text
    assert text.count('<svg class="chart"') == 3  # by severity, service, month
    for chart in ("by-severity", "by-service", "by-month"):
        assert f'<title id="{chart}-t">' in text and f'<desc id="{chart}-d">' in text
    svg = text.split('<svg class="chart" id="by-severity"', 1)[1].split("</svg>", 1)[0]
    ElementTree.fromstring('<svg class="chart" id="by-severity"' + svg + "</svg>")  # well formed
    assert "SEV-2, Time to acknowledge: 5m" in svg
    assert "SEV-1" not in svg  # the breach is the only SEV-1, and vic may not see it
    assert "1 incident detected" in text
    csv = client.get("/reports/incidents.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == 2 and MARKER not in csv.text
    assert 'href="/reports/incidents.csv"' in text
    # On-call load: both on the rotation, only alice's page counts for vic.
    load = text.split('id="load-h"', 1)[1]
    assert '<th scope="row">alice</th><td>' in load
    assert '<th scope="row">bob</th>' in load
    alice = load.split('<th scope="row">alice</th>', 1)[1].split("</tr>", 1)[0]
    bob = load.split('<th scope="row">bob</th>', 1)[1].split("</tr>", 1)[0]
    assert alice.endswith("<td>1</td><td>1</td>")
    assert bob.endswith("<td>0</td><td>0</td>")


def test_an_admin_sees_the_restricted_incident_in_the_figures(
    client: TestClient, history: tuple[str, str]
) -> None:
    sign_in(client, "ada")
    text = client.get("/reports").text
    assert "2 incidents detected" in text
    assert "SEV-1, Time to acknowledge: 2h 0m" in text
    bob = text.split('<th scope="row">bob</th>', 1)[1].split("</tr>", 1)[0]
    assert bob.endswith("<td>1</td><td>1</td>")
    csv = client.get("/reports/incidents.csv?severity=SEV-1").text
    assert MARKER in csv and "Checkout is slow" not in csv


def test_filters_live_in_the_url_and_bad_ones_say_why(
    client: TestClient, history: tuple[str, str]
) -> None:
    sign_in(client, "vic")
    page = client.get("/reports?period=30d&severity=SEV-2&service=checkout")
    assert page.status_code == 200
    assert (
        'href="/reports/incidents.csv?period=30d&amp;severity=SEV-2&amp;service=checkout"'
        in page.text
    )
    wrong = client.get("/reports?severity=SEV-9")
    assert wrong.status_code == 422 and "unknown severity" in wrong.text
    empty = client.get("/reports?service=(none)")
    assert empty.status_code == 200 and "No incidents in this period." in empty.text


def test_the_chart_renderer() -> None:
    assert [nice_top(v) for v in (0, 7, 130, 2600)] == [1.0, 10, 200, 5000]
    # Time axes step by round minutes and hours: 41m of data tops out at 1h (4 × 15m).
    assert [nice_time_top(v) for v in (0, 200, 41 * 60, 5 * 3600)] == [4, 240, 3600, 8 * 3600]
    series = [
        Series("Time to acknowledge", "A", [60.0, None]),
        Series("Time to resolve", "R", [600.0, 30.0]),
    ]
    bars = bar_chart("c1", "A <title>", "A desc & more", ["SEV-1", "SEV-2"], series)
    root = ElementTree.fromstring(str(bars))
    ns = "{http://www.w3.org/2000/svg}"
    assert root.find(f"{ns}title").text == "A <title>"  # escaped in, read back
    assert len(root.findall(f"{ns}rect")) == 3  # the missing value draws no bar
    lines = line_chart("c2", "t", "d", ["2026-01", "2026-02"], series)
    root = ElementTree.fromstring(str(lines))
    assert len(root.findall(f"{ns}polyline")) == 1  # a single point draws no line
