"""A drill is marked DRILL everywhere: incident, title, channel, pages, e-mail subjects."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from tests.drills.conftest import drill_settings, start
from tests.helpers import Fakes
from warroom.config import WarroomConfig
from warroom.runtime import Runtime


def test_a_drill_opens_a_marked_incident_through_intake(
    api: TestClient, runtime: Runtime, fakes: Fakes
) -> None:
    drill = start(api)
    assert drill["scenario"] == "high-cpu" and drill["incident"] == "INC-1"
    assert drill["steps"][0]["outcome"] == "opened INC-1"
    incident = api.get("/api/v1/incidents/INC-1").json()
    assert incident["drill"] is True and incident["drill_id"] == drill["id"]
    assert incident["title"] == "[DRILL] CPU usage above 90% for 5 minutes"
    assert incident["severity"] == "SEV-2" and incident["service"] == "checkout"
    assert incident["source"] == "drill"
    assert any(n.startswith("DRILL:") for n in incident["notices"])
    alerts = api.get("/api/v1/alerts", params={"incident": "INC-1"})
    if alerts.status_code == 200:  # the alert carries the drill's label
        assert "warroom_drill" in alerts.text
    real = api.get("/api/v1/incidents", params={"limit": 50}).json()["items"]
    assert [i["drill"] for i in real] == [True]


def test_channel_pages_and_mail_say_drill(api: TestClient, runtime: Runtime, fakes: Fakes) -> None:
    start(api)
    runtime.engine.run_once()
    runtime.engine.run_once()
    (room,) = [a for m, a in fakes.chat.calls if m == "create_channel"]
    assert room["name"].startswith("drill-inc-1-")
    dms = fakes.dms("UALICE1")
    assert dms and all("[DRILL]" in str(call["text"]) for call in dms)
    subjects = [a["subject"] for _, a in fakes.mail.calls]
    assert subjects, "alice is paged by e-mail too"
    assert all("[DRILL]" in subject for subject in subjects)
    announced = [
        a for m, a in fakes.chat.calls if m == "post" and a["channel"] == "#incident-response"
    ]
    assert announced and all("[DRILL]" in str(a["text"]) for a in announced)


def test_a_real_incident_is_not_marked(api: TestClient, runtime: Runtime, fakes: Fakes) -> None:
    answer = api.post(
        "/api/v1/incidents",
        json={"title": "Checkout down", "severity": "SEV-2", "service": "checkout"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["drill"] is False
    runtime.engine.run_once()
    (room,) = [a for m, a in fakes.chat.calls if m == "create_channel"]
    assert room["name"] == "inc-1-checkout-down"
    assert not any("DRILL" in a["subject"] for _, a in fakes.mail.calls)


def test_editing_the_title_keeps_the_mark(api: TestClient, runtime: Runtime) -> None:
    start(api)
    answer = api.patch("/api/v1/incidents/INC-1", json={"title": "CPU hot on app-1"})
    assert answer.status_code == 200, answer.text
    assert api.get("/api/v1/incidents/INC-1").json()["title"] == "[DRILL] CPU hot on app-1"


@pytest.fixture
def restricted() -> WarroomConfig:
    settings = drill_settings()
    settings["incident_types"] = [
        {"id": "default", "name": "General"},
        {"id": "security", "name": "Security", "restricted": True},
    ]
    settings["routes"].insert(0, {"match": ['kind="breach"'], "incident_type": "security"})
    return WarroomConfig.model_validate(settings)


def test_a_restricted_drill_keeps_its_mark_under_the_codename(
    api: TestClient, runtime: Runtime, fakes: Fakes, restricted: WarroomConfig
) -> None:
    runtime.config_value = restricted
    scenario = """
name: breach
title: Breach drill
service: checkout
timeline:
  - at: 0s
    alert: {labels: {alertname: Exfiltration, kind: breach, severity: SEV-1}}
"""
    start(api, scenario=scenario)
    runtime.engine.run_once()
    runtime.engine.run_once()
    (room,) = [a for m, a in fakes.chat.calls if m == "create_channel"]
    assert room["name"] == "drill-inc-1" and room["private"] is True
    # PagerDuty is not the drill's to reach; e-mail pages go under the codename, marked.
    assert fakes.pager.calls == []
    subjects = [a["subject"] for _, a in fakes.mail.calls]
    assert subjects and all("[DRILL]" in s for s in subjects)
    assert all(a["to"] != ["cto@example.com"] for _, a in fakes.mail.calls)


def test_a_drill_on_a_hidden_incident_is_no_drill(
    client: TestClient, tokens: dict[str, str], runtime: Runtime, restricted: WarroomConfig
) -> None:
    runtime.config_value = restricted
    scenario = """
name: breach
title: Breach drill
service: checkout
timeline:
  - at: 0s
    alert: {labels: {alertname: Exfiltration, kind: breach, severity: SEV-1}}
"""
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    started = client.post("/api/v1/drills", json={"scenario": scenario}, headers=admin)
    assert started.status_code == 201, started.text
    assert client.get("/api/v1/drills/1", headers=admin).json()["incident"] == "INC-1"
    hidden = client.get("/api/v1/drills/1", headers=viewer)
    assert hidden.status_code == 404 and hidden.json()["error"]["message"] == "no drill 1"
    assert "Exfiltration" not in hidden.text
    assert client.get("/api/v1/drills/2", headers=admin).status_code == 404
    # A responder outside the breach starts one: told it started, not which incident it is.
    responder = {"Authorization": f"Bearer {tokens['responder']}"}
    second = client.post("/api/v1/drills", json={"scenario": scenario}, headers=responder)
    assert second.status_code == 201, second.text
    assert second.json()["incident"] is None and "INC-" not in second.text
    assert second.json()["steps"][0]["outcome"] == "opened a restricted incident"


def test_starting_a_drill_is_audited(
    client: TestClient, tokens: dict[str, str], runtime: Runtime
) -> None:
    responder = {"Authorization": f"Bearer {tokens['responder']}"}
    assert client.post("/api/v1/drills", json={}, headers=responder).status_code == 201
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    entries = client.get("/api/v1/audit", headers=admin).json()["entries"]
    [entry] = [e for e in entries if e["action"] == "drill.start"]
    assert entry["actor"] == "rita" and entry["target"] == "drill-1"
    assert entry["details"] == {"scenario": "high-cpu", "service": "checkout"}


def test_every_page_text_takes_the_marked_title() -> None:
    from types import SimpleNamespace

    from warroom.core.clock import ensure_utc
    from warroom.escalation.personal import push_text, sms_text, voice_text
    from warroom.notify.cards import card_of, card_to_json, codename

    row = SimpleNamespace(
        number=7,
        title="CPU hot",  # edited without the mark: the card puts it back
        severity="SEV-2",
        commander=None,
        links={},
        detected_at=ensure_utc(datetime(2026, 3, 2, 9, 0)),
        summary="",
        status="detected",
        service="checkout",
        visibility="public",
        drill_id=3,
    )
    card = card_of(row, WarroomConfig(), None)
    assert card.drill and card.title == "[DRILL] CPU hot"
    assert "[DRILL] CPU hot" in sms_text(card, "4821", "https://w/ack/x")
    assert "[DRILL] CPU hot" in voice_text(card)
    assert push_text(card, "primary on call").startswith("DRILL — ")
    assert codename(card).title == "[DRILL] (restricted)"
    assert card_to_json(card)["drill"] is True
    real = card_of(SimpleNamespace(**{**vars(row), "drill_id": None}), WarroomConfig(), None)
    assert real.title == "CPU hot" and "drill" not in card_to_json(real)
    assert not push_text(real, "primary on call").startswith("DRILL")
