"""A drill reaches nothing outside warroom unless its scenario says so, and pages only its
participants: the planner decides (escalation/planner.py), one test per channel."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.drills.conftest import drill_settings, start
from tests.helpers import Fakes
from warroom.config import WarroomConfig
from warroom.notify.fakes import FakeTracker, Recorder
from warroom.runtime import Runtime

ALL = ["status_page", "executives", "jira", "webhooks", "pagerduty"]


def scenario(allow: list[str]) -> str:
    """A one-alert scenario allowing `allow`."""
    return f"""
name: quiet
title: Quiet drill
service: checkout
allow: [{", ".join(allow)}]
timeline:
  - at: 0s
    alert: {{labels: {{alertname: HighCPUUsage}}, annotations: {{summary: CPU hot}}}}
"""


def run(runtime: Runtime) -> None:
    for _ in range(3):
        runtime.engine.run_once()


def recorder(fakes: Fakes, name: str) -> Recorder:
    found = getattr(fakes.adapters, name)
    assert isinstance(found, Recorder)
    return found


@pytest.mark.parametrize("allowed", [False, True], ids=["quiet", "allowed"])
def test_executive_mail(api: TestClient, runtime: Runtime, fakes: Fakes, allowed: bool) -> None:
    start(api, scenario=scenario(["executives"] if allowed else []))
    run(runtime)
    executive = [a for _, a in fakes.mail.calls if a["to"] == ["cto@example.com"]]
    assert len(executive) == (1 if allowed else 0)
    if allowed:
        assert executive[0]["subject"].startswith("[SEV-2] INC-1 [DRILL] CPU hot")


@pytest.mark.parametrize("allowed", [False, True], ids=["quiet", "allowed"])
def test_pagerduty(api: TestClient, runtime: Runtime, fakes: Fakes, allowed: bool) -> None:
    start(api, scenario=scenario(["pagerduty"] if allowed else []))
    run(runtime)
    assert [a["action"] for _, a in fakes.pager.calls] == (["trigger"] if allowed else [])


@pytest.mark.parametrize("allowed", [False, True], ids=["quiet", "allowed"])
def test_webhooks(api: TestClient, runtime: Runtime, fakes: Fakes, allowed: bool) -> None:
    start(api, scenario=scenario(["webhooks"] if allowed else []))
    run(runtime)
    api.post("/api/v1/incidents/INC-1/acknowledge").raise_for_status()
    run(runtime)
    events = [a["event"] for _, a in recorder(fakes, "webhook").calls]
    expected = ["incident.declared", "incident.commander_changed", "incident.acknowledged"]
    assert events == (expected if allowed else [])


@pytest.mark.parametrize("allowed", [False, True], ids=["quiet", "allowed"])
def test_status_page(api: TestClient, runtime: Runtime, fakes: Fakes, allowed: bool) -> None:
    start(api, scenario=scenario(["status_page"] if allowed else []))
    update = {"status": "investigating", "body": "Looking", "public_title": "Checkout slow"}
    answer = api.post("/api/v1/incidents/INC-1/status-updates", json=update)
    assert answer.status_code == 201, answer.text
    run(runtime)
    assert len(recorder(fakes, "status_page").calls) == (1 if allowed else 0)
    # warroom's own public page never shows a practice incident.
    assert "Checkout slow" not in api.get("/api/v1/status").text


@pytest.mark.parametrize("allowed", [False, True], ids=["quiet", "allowed"])
def test_jira(
    api: TestClient, runtime: Runtime, fakes: Fakes, tracked: FakeTracker, allowed: bool
) -> None:
    start(api, scenario=scenario(["jira"] if allowed else []))
    resolved = api.post("/api/v1/incidents/INC-1/resolve", json={"skip_verification": "drill"})
    assert resolved.status_code == 200, resolved.text
    item = {"kind": "short_term", "title": "Alert on CPU earlier", "create_jira": True}
    added = api.post("/api/v1/incidents/INC-1/postmortem/action-items", json=item)
    assert added.status_code == 201, added.text
    run(runtime)
    assert len([c for c in tracked.calls if c[0] == "create_issue"]) == (1 if allowed else 0)


def test_a_real_incident_reaches_every_channel(
    api: TestClient, runtime: Runtime, fakes: Fakes, tracked: FakeTracker
) -> None:
    """The same set-up without a drill: each channel the tests above keep quiet is used."""
    body: dict[str, Any] = {"title": "CPU hot", "severity": "SEV-2", "service": "checkout"}
    assert api.post("/api/v1/incidents", json=body).status_code == 201
    update = {"status": "investigating", "body": "Looking", "public_title": "Checkout slow"}
    assert api.post("/api/v1/incidents/INC-1/status-updates", json=update).status_code == 201
    run(runtime)
    assert [a["to"] for _, a in fakes.mail.calls].count(["cto@example.com"]) == 1
    assert fakes.pager.calls and recorder(fakes, "webhook").calls
    assert recorder(fakes, "status_page").calls


def test_the_rotation_is_paged_by_default(api: TestClient, runtime: Runtime, fakes: Fakes) -> None:
    start(api)
    run(runtime)
    assert fakes.dms("UALICE1") and not fakes.dms("UCAROL1")


@pytest.fixture
def opted_in() -> WarroomConfig:
    return WarroomConfig.model_validate(drill_settings(participants=["carol"]))


def test_only_the_participants_who_opted_in_are_paged(
    api: TestClient, runtime: Runtime, fakes: Fakes, opted_in: WarroomConfig, clock: Any
) -> None:
    from datetime import timedelta

    runtime.config_value = opted_in
    start(api)
    for _ in range(4):  # well past every step of the real policy
        run(runtime)
        clock.advance(timedelta(minutes=10))
    assert fakes.dms("UCAROL1") and all("[DRILL]" in c["text"] for c in fakes.dms("UCAROL1"))
    assert fakes.dms("UALICE1") == [] and fakes.dms("UBOB1") == []
    assert {tuple(a["to"]) for _, a in fakes.mail.calls} == {("carol@example.com",)}
    # The first participant is the drill's IC (reminders go to the IC, invitations too).
    assert api.get("/api/v1/incidents/INC-1").json()["commander"] == "carol"
