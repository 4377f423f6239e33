"""A viewer's report (runbook Example 2): default severity, nobody paged until a responder
triages it, then paged and mailed as the triaged severity calls for."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers import Fakes, paging_config
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.escalation.models import Escalation
from warroom.runtime import Runtime

CTO = "cto@example.com"
REPORT = {
    "title": "My account was disabled and I did not do it",
    "summary": "Someone changed my e-mail address first.",
    "severity": "critical",
    "service": "checkout",
}


@pytest.fixture
def config() -> WarroomConfig:
    """One service paging alice then bob; PagerDuty; executives hear of every SEV-1."""
    config = paging_config()
    config.notifications.executives = [CTO]
    return config


def headers(tokens: dict[str, str], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def report(client: TestClient, tokens: dict[str, str], role: str = "viewer") -> dict[str, Any]:
    """Report REPORT as `role`; return INC-1 as the responder sees it."""
    answer = client.post("/api/v1/reports", json=REPORT, headers=headers(tokens, role))
    assert answer.status_code == 201, answer.text
    shown = client.get("/api/v1/incidents/1", headers=headers(tokens, "responder"))
    return dict(shown.json())


def escalations(runtime: Runtime) -> list[str]:
    with runtime.db.session() as session:
        return [row.state for row in session.scalars(select(Escalation))]


def paged(fakes: Fakes) -> tuple[list[str], list[str], list[str]]:
    """(PagerDuty actions, executives' mail subjects, people messaged directly)."""
    executives = [a["subject"] for _, a in fakes.mail.calls if a["to"] == [CTO]]
    direct = [a["channel"] for m, a in fakes.chat.calls if m == "post" and a["channel"][0] == "U"]
    return [a["action"] for _, a in fakes.pager.calls], executives, direct


def test_a_viewers_report_pages_nobody_until_a_responder_triages_it(
    client: TestClient,
    runtime: Runtime,
    fakes: Fakes,
    clock: FrozenClock,
    tokens: dict[str, str],
) -> None:
    incident = report(client, tokens)
    assert (incident["severity"], incident["suggested_severity"]) == ("SEV-3", "SEV-1")
    assert incident["paging_held"] is True
    assert any("nobody is paged until a responder triages it" in n for n in incident["notices"])
    declared = incident_timeline(client, tokens)[0]
    assert "a viewer's report; suggested SEV-1" in declared["text"]

    # An hour passes: the escalation policy would have reached bob by now; nobody is paged.
    for _ in range(4):
        clock.advance(timedelta(minutes=15))
        runtime.engine.run_once()
    assert paged(fakes) == ([], [], [])
    assert escalations(runtime) == []

    # The on-call engineer triages it to SEV-1 (Example 2): executives hear, PagerDuty pages.
    triage = {"severity": "SEV-1", "commander": "alice", "impact": "one account taken over"}
    triage |= {"scope": "accounts", "priority": "P1"}
    answer = client.post(
        "/api/v1/incidents/1/triage", json=triage, headers=headers(tokens, "responder")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["paging_held"] is False
    assert not [n for n in answer.json()["notices"] if "viewer" in n]
    runtime.engine.run_once()
    pager, executives, _ = paged(fakes)
    assert pager == ["trigger"]
    assert len(executives) == 1 and "SEV-1" in executives[0]
    triaged = [e for e in incident_timeline(client, tokens) if e["kind"] == "triaged"]
    assert "paging released at SEV-1" in triaged[0]["text"]
    # Released once: a later change pages by the usual rules, not again for the release.
    runtime.engine.run_once()
    assert paged(fakes)[:2] == (["trigger"], executives)


def test_a_responders_report_pages_at_once(
    client: TestClient, runtime: Runtime, fakes: Fakes, tokens: dict[str, str]
) -> None:
    incident = report(client, tokens, role="responder")
    assert (incident["severity"], incident["paging_held"]) == ("SEV-1", False)
    assert incident["suggested_severity"] is None
    runtime.engine.run_once()
    pager, executives, _ = paged(fakes)
    assert pager == ["trigger"] and len(executives) == 1
    assert escalations(runtime) == ["active"]


def test_a_held_report_acknowledged_or_raised_still_pages_nobody(
    client: TestClient, runtime: Runtime, fakes: Fakes, tokens: dict[str, str]
) -> None:
    report(client, tokens)
    responder = headers(tokens, "responder")
    assert client.post("/api/v1/incidents/1/acknowledge", headers=responder).status_code == 200
    raised = client.patch("/api/v1/incidents/1", json={"severity": "SEV-1"}, headers=responder)
    assert raised.status_code == 200, raised.text
    runtime.engine.run_once()
    assert paged(fakes)[:2] == ([], [])  # only triage releases it
    assert raised.json()["paging_held"] is True


def incident_timeline(client: TestClient, tokens: dict[str, str]) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/incidents/1/timeline", headers=headers(tokens, "responder"))
    return list(answer.json()["items"])
