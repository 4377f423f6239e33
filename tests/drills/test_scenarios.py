"""Scenario files: the shipped ones parse, and a bad one gets one clear line (API and CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.cli.test_incident_cli import PLAIN, error, ok
from warroom.cli.main import app
from warroom.core.errors import Invalid
from warroom.drills import scenario
from warroom.drills.models import Drill, DrillStep
from warroom.incidents.models import Incident
from warroom.runtime import Runtime

runner = CliRunner()
GOOD = """
name: tiny
title: Tiny drill
service: checkout
timeline:
  - at: 0s
    alert: {labels: {alertname: HighCPUUsage}}
  - at: 2m
    expect: acknowledged within 5m
"""
# (what is wrong, the field the error names, words of its message)
BAD = [
    (
        "name: x\ntitle: y\ntimeline:\n  - at: 2x\n    alert: {labels: {a: b}}\n",
        "timeline[0].at",
        "'2x' is not a duration",
    ),
    (
        "name: x\ntitle: y\ntimeline:\n  - at: 0s\n    expect: acked soon\n",
        "timeline[0].expect",
        "is not an expectation",
    ),
    (
        "name: x\ntitle: y\ntimeline:\n  - at: 0s\n    expect: paged within 5m\n",
        "timeline[0].expect",
        "'paged' is not a step",
    ),
    (
        "name: x\ntitle: y\ntimeline:\n  - at: 0s\n"
        "    alert: {labels: {a: b}}\n    report: {title: t}\n",
        "timeline[0]",
        "exactly one of alert, report or expect",
    ),
    (
        "name: x\ntitle: y\ntimeline:\n  - at: 1m\n    alert: {labels: {a: b}}\n",
        "scenario",
        "one must come at 0s",
    ),
    (
        "name: x\ntitle: y\nallow: [everything]\n"
        "timeline:\n  - at: 0s\n    alert: {labels: {a: b}}\n",
        "allow[0]",
        "status_page",
    ),
    ("name: x\ntitle: y\ntimelime: []\n", "timeline", "Field required"),
    ("name: x\ntitle: [unclosed\n", "scenario", "line 3"),
]


@pytest.mark.parametrize("name", scenario.SHIPPED)
def test_the_runbook_examples_ship_as_scenarios(name: str) -> None:
    text = scenario.shipped(name)
    assert text is not None
    parsed = scenario.parse(text)
    assert parsed.name == name and parsed.timeline[0].at.total_seconds() == 0
    assert any(e.kind == "expect" for e in parsed.timeline)


def test_the_default_is_high_cpu_at_sev_2() -> None:
    default = scenario.load(None)
    assert default.name == "high-cpu" and default.allow == []
    assert default.timeline[0].alert is not None
    assert default.timeline[0].alert.labels["severity"] == "SEV-2"
    assert scenario.load("data-breach").allow == ["executives"]


@pytest.mark.parametrize(("text", "field", "words"), BAD)
def test_a_bad_scenario_names_what_is_wrong(text: str, field: str, words: str) -> None:
    with pytest.raises(Invalid) as caught:
        scenario.parse(text)
    assert words in str(caught.value)
    assert caught.value.details["field"] == field  # type: ignore[attr-defined]
    assert "\n" not in str(caught.value)


def _counts(runtime: Runtime) -> tuple[int, int, int]:
    with runtime.db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Drill)) or 0,
            session.scalar(select(func.count()).select_from(DrillStep)) or 0,
            session.scalar(select(func.count()).select_from(Incident)) or 0,
        )


def test_the_api_answers_422_naming_the_field_and_keeps_nothing(
    api: TestClient, runtime: Runtime
) -> None:
    answer = api.post("/api/v1/drills", json={"scenario": BAD[0][0]})
    assert answer.status_code == 422
    assert "timeline[0].at" in answer.text and "'2x' is not a duration" in answer.text
    unknown = api.post("/api/v1/drills", json={"scenario": "no-such-drill"})
    assert unknown.status_code == 422 and "high-cpu, data-breach" in unknown.text
    wrong_service = api.post("/api/v1/drills", json={"service": "nowhere"})
    assert wrong_service.status_code == 422 and "unknown service 'nowhere'" in wrong_service.text
    assert _counts(runtime) == (0, 0, 0)


def test_a_viewer_cannot_start_a_drill(client: TestClient, tokens: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {tokens['viewer']}"}
    assert client.post("/api/v1/drills", json={}, headers=headers).status_code == 403


def test_the_cli_starts_a_drill_from_a_file(
    live_server: str, tokens: dict[str, str], tmp_path: Path, runtime: Runtime
) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(GOOD, encoding="utf-8")
    env = {"WARROOM_URL": live_server, "WARROOM_TOKEN": tokens["responder"], **PLAIN}
    out = ok(runner.invoke(app, ["drill", "--scenario", str(path)], env=env))
    assert out.startswith("Drill 1 (tiny) started: INC-1")
    default = ok(runner.invoke(app, ["drill", "--json"], env=env))
    assert '"scenario": "high-cpu"' in default and '"incident": "INC-2"' in default
    named = ok(runner.invoke(app, ["drill", "--scenario", "data-breach"], env=env))
    assert named.splitlines() == [
        "Drill 3 (data-breach) started: INC-3",
        "1 more to inject, the last at +10m",
        "follow it: warroom drill show 3; its review is also in the incident's postmortem",
    ]


def test_the_cli_refuses_a_bad_file_in_one_line(
    live_server: str, tokens: dict[str, str], tmp_path: Path, runtime: Runtime
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD[0][0], encoding="utf-8")
    env = {"WARROOM_URL": live_server, "WARROOM_TOKEN": tokens["responder"], **PLAIN}
    line = error(runner.invoke(app, ["drill", "--scenario", str(path)], env=env))
    wrong = "timeline[0].at: '2x' is not a duration; use e.g. 30s, 10m, 2h, 1d or 1h30m"
    assert line == f"error: {path}: {wrong}"
    missing = error(runner.invoke(app, ["drill", "--scenario", "no-such"], env=env))
    assert "no shipped scenario is called 'no-such'" in missing
    assert _counts(runtime) == (0, 0, 0)
