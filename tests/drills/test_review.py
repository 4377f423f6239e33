"""A drill ends with a review in its postmortem: time to each phase against the targets, and
the expected steps that were late or skipped."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.drills.conftest import start
from tests.helpers import verify
from tests.web.test_pages import add_user, sign_in
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime


def act(api: TestClient, clock: FrozenClock, minutes: int, action: str, body: Any = None) -> None:
    clock.advance(timedelta(minutes=minutes))
    answer = api.post(f"/api/v1/incidents/INC-1/{action}", json=body)
    assert answer.status_code == 200, answer.text


def run_the_drill(api: TestClient, clock: FrozenClock) -> dict[str, Any]:
    """The runbook's first example, a little slow: acknowledged at 6m, triaged at 16m, no
    status update, mitigated at 40m, resolved at 60m."""
    drill = start(api)
    act(api, clock, 6, "acknowledge")
    triage = {
        "commander": "alice",
        "severity": "SEV-2",
        "impact": "Checkout slow for everyone",
        "scope": "checkout",
        "priority": "P2",
    }
    act(api, clock, 10, "triage", triage)
    act(api, clock, 24, "mitigate", {"note": "Rolled back to the previous version"})
    clock.advance(timedelta(minutes=20))
    verify(api, "INC-1")
    answer = api.post("/api/v1/incidents/INC-1/resolve", json={"note": "Verified"})
    assert answer.status_code == 200, answer.text
    return drill


def test_the_review_times_each_phase_and_names_what_was_missed(
    api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    drill = run_the_drill(api, clock)
    review = api.get(f"/api/v1/drills/{drill['id']}").json()["review"]
    phases = {p["phase"]: (p["took_seconds"], p["verdict"]) for p in review["phases"]}
    assert phases == {
        "acknowledge": (360.0, "missed"),
        "triage": (960.0, "missed"),
        "mitigate": (2400.0, "met"),
        "resolve": (3600.0, "met"),
    }
    verdicts = {e["step"]: e["verdict"] for e in review["expected"]}
    assert verdicts == {
        "acknowledged within 5m": "late",
        "triaged within 15m": "late",
        "status_update within 25m": "skipped",
        "mitigated within 1h": "on time",
        "resolved within 4h": "on time",
    }
    assert review["missed"] == [
        "acknowledged within 5m",
        "triaged within 15m",
        "status_update within 25m",
    ]


def test_the_review_is_a_section_of_the_postmortem_export(
    api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    run_the_drill(api, clock)
    answer = api.post("/api/v1/incidents/INC-1/postmortem/export")
    assert answer.status_code == 200, answer.text
    paths = [Path(p) for p in answer.json()["paths"]]
    markdown = next(p for p in paths if p.name.endswith(".postmortem.md")).read_text()
    html = next(p for p in paths if p.name.endswith(".postmortem.html")).read_text()
    assert "## Drill review" in markdown
    assert "| acknowledge | 6m | 5m | missed |" in markdown
    assert "| status_update within 25m | 30m | — | skipped |" in markdown
    assert "Skipped or late: acknowledged within 5m, triaged within 15m, status_update" in markdown
    assert '<section id="drill-review">' in html and "skipped" in html


def test_a_real_postmortem_has_no_drill_review(
    api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    body = {"title": "Checkout down", "severity": "SEV-2", "service": "checkout"}
    assert api.post("/api/v1/incidents", json=body).status_code == 201
    answer = api.post("/api/v1/incidents/INC-1/resolve", json={"skip_verification": "test"})
    assert answer.status_code == 200, answer.text
    exported = api.post("/api/v1/incidents/INC-1/postmortem/export")
    assert exported.status_code == 200, exported.text
    markdown = next(p for p in exported.json()["paths"] if p.endswith(".md"))
    assert "Drill review" not in Path(markdown).read_text()


def test_the_postmortem_page_shows_the_review(
    client: TestClient, api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    run_the_drill(api, clock)
    add_user(runtime, "pia", "viewer")
    del client.headers["Authorization"]
    sign_in(client, "pia")
    page = client.get("/incidents/INC-1/postmortem")
    assert page.status_code == 200, page.text
    assert 'id="drill-review"' in page.text
    assert (
        '<td>acknowledge</td><td data-label="Took">6m</td><td data-label="Target">5m</td>'
        '<td data-label="Verdict">missed</td>'
    ) in page.text
    assert (
        '<td>status_update within 25m</td><td data-label="Deadline">30m</td>'
        '<td data-label="Done at">—</td><td data-label="Verdict"><strong>skipped'
    ) in page.text
