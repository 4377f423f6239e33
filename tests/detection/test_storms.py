"""Alert storms: past the threshold, new incidents are bundled under one parent that pages once."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers import Fakes
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.detection.models import Storm
from warroom.escalation.models import Escalation
from warroom.incidents.actor import Actor
from warroom.incidents.models import Incident
from warroom.notify.models import Notification
from warroom.runtime import Runtime

TOKEN = "am-storm-token"
AM = {"Authorization": f"Bearer {TOKEN}"}
THRESHOLD = 3


def settings(**storm: Any) -> dict[str, Any]:
    """Two services paging a channel each; storms after THRESHOLD new incidents a minute."""
    return {
        "people": [{"id": "alice", "name": "Alice", "slack": "UALICE1"}],
        "services": [
            {"id": "checkout", "escalation": "shop"},
            {"id": "cart", "escalation": "shop"},
            {"id": "search", "escalation": "other"},
        ],
        "escalation_policies": [
            {
                "id": "shop",
                "steps": [
                    {"after": "0m", "notify": ["person:alice"]},
                    {"after": "30m", "notify": ["person:alice"]},
                ],
            },
            {"id": "other", "steps": [{"after": "0m", "notify": ["person:alice"]}]},
        ],
        "incident_types": [
            {"id": "default", "name": "Default"},
            {"id": "security", "name": "Security", "restricted": True},
        ],
        "routes": [
            {"match": ['kind="breach"'], "incident_type": "security", "group_by": ["alertname"]},
            {"match": ['severity="critical"'], "severity": "SEV-1", "group_by": ["alertname"]},
            {"match": ['service=~".+"'], "severity": "SEV-2", "group_by": ["alertname"]},
        ],
        "integrations": {"alertmanager": [{"name": "prod", "token": TOKEN}]},
        "notifications": {
            "incident_channels": False,
            "rate_limits": {"person": {"count": 1000, "per": "1m"}},
        },
        "detection": {"storm": {"threshold": THRESHOLD, "window": "1m", **storm}},
    }


@pytest.fixture
def config() -> WarroomConfig:
    """Storms by service."""
    return WarroomConfig.model_validate(settings())


def fire(client: TestClient, name: str, service: str = "checkout", **labels: str) -> Any:
    """Send one Alertmanager group of one firing alert; return the answer's body."""
    alert = {
        "status": "firing",
        "labels": {"alertname": name, "service": service, **labels},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": "2026-12-05T08:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": f"fp-{name}-{service}",
    }
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "warroom",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "alerts": [alert],
    }
    response = client.post("/api/v1/intake/alertmanager", json=body, headers=AM)
    assert response.status_code == 200, response.text
    return response.json()


def pages(fakes: Fakes) -> list[str]:
    """Return the incidents alice was paged for, one line each (pages may come bundled)."""
    text = "\n".join(str(call["text"]) for call in fakes.dms("UALICE1"))
    return re.findall(r"paged for (INC-\d+ \(SEV-\d\): [^\n—]*)", text)


def test_below_the_threshold_each_incident_pages_alone(
    client: TestClient, api: TestClient, runtime: Runtime, fakes: Fakes
) -> None:
    for n in range(THRESHOLD):
        assert fire(client, f"A{n}")["incidents_opened"] == [f"INC-{n + 1}"]
    runtime.engine.run_once()
    assert len(pages(fakes)) == THRESHOLD
    listed = api.get("/api/v1/incidents").json()["items"]
    assert all(item["parent"] is None for item in listed)


def test_past_the_threshold_one_parent_pages_for_the_storm(
    client: TestClient, api: TestClient, runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    for n in range(THRESHOLD):
        fire(client, f"A{n}")
    runtime.engine.run_once()
    assert len(pages(fakes)) == THRESHOLD  # paged one by one until then
    # The next one starts the storm: a parent opens, and the three still waiting join it.
    opened = fire(client, f"A{THRESHOLD}")["incidents_opened"]
    assert opened == ["INC-4", "INC-5"]
    parent = api.get("/api/v1/incidents/INC-5").json()
    assert parent["title"] == "Alert storm on checkout"
    assert parent["source"] == "storm" and parent["severity"] == "SEV-2"
    assert parent["members"] == ["INC-1", "INC-2", "INC-3", "INC-4"]
    assert any(e["kind"] == "storm_started" for e in parent["timeline"])
    for n in range(20):  # a storm: twenty more, each its own group
        clock.advance(timedelta(seconds=1))
        fire(client, f"B{n}")
    runtime.engine.run_once()
    runtime.engine.run_once()
    texts = pages(fakes)
    assert len(texts) == THRESHOLD + 1  # the storm paged once, naming itself
    assert texts[-1].startswith("INC-5 (SEV-2): Alert storm on checkout")
    members = api.get("/api/v1/incidents", params={"parent": "INC-5", "limit": 200}).json()
    assert len(members["items"]) == 24
    child = api.get("/api/v1/incidents/INC-10").json()
    assert child["parent"] == "INC-5"
    assert any("Part of alert storm INC-5" in notice for notice in child["notices"])
    with runtime.db.session() as session:
        rows = session.execute(select(Escalation.incident_id, Escalation.reason)).all()
        escalations = {row.incident_id: row.reason for row in rows}
        storm = session.execute(select(Storm.__table__)).one()
    # The parent's, and the three that paged before the storm, stopped when they joined it;
    # the members born in the storm never started one.
    assert set(escalations) == {1, 2, 3, 5}
    assert [escalations[n] for n in (1, 2, 3, 5)] == ["storm_joined"] * 3 + [None]
    assert storm.members == 24 and storm.is_open and storm.parent_number == 5


def test_a_more_severe_member_raises_the_storm(
    client: TestClient, api: TestClient, runtime: Runtime
) -> None:
    for n in range(THRESHOLD + 1):
        fire(client, f"A{n}")
    assert api.get("/api/v1/incidents/INC-5").json()["severity"] == "SEV-2"
    fire(client, "Worse", severity="critical")
    member = api.get("/api/v1/incidents/INC-6").json()
    assert member["severity"] == "SEV-1" and member["parent"] == "INC-5"
    parent = api.get("/api/v1/incidents/INC-5").json()
    assert parent["severity"] == "SEV-1"
    [change] = [e for e in parent["timeline"] if e["kind"] == "severity_changed"]
    assert "INC-6 joined the storm at SEV-1" in change["text"]
    fire(client, "Milder")  # a SEV-2 member leaves the storm at SEV-1
    assert api.get("/api/v1/incidents/INC-5").json()["severity"] == "SEV-1"


def test_acknowledging_the_parent_acknowledges_every_member(
    client: TestClient, api: TestClient, runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    for n in range(THRESHOLD + 3):
        fire(client, f"A{n}")
    response = api.post("/api/v1/incidents/INC-5/acknowledge")
    assert response.status_code == 200, response.text
    for ref in ("INC-1", "INC-4", "INC-6", "INC-7"):
        member = api.get(f"/api/v1/incidents/{ref}").json()
        assert member["acknowledged_at"] is not None, ref
        assert member["acknowledged_by"] == "rita"
        [event] = [e for e in member["timeline"] if e["kind"] == "acknowledged"]
        assert event["text"] == "Acknowledged by rita with alert storm INC-5"
    # A member arriving later is answered for already.
    clock.advance(timedelta(seconds=5))
    fire(client, "Late")
    late = api.get("/api/v1/incidents/INC-8").json()
    assert late["parent"] == "INC-5" and late["acknowledged_at"] is not None
    runtime.engine.run_once()
    assert not any("Late" in text for text in pages(fakes))


def with_pagerduty() -> WarroomConfig:
    """Storms by service, and PagerDuty hears of every incident (the fakes stand in)."""
    document = settings()
    document["integrations"]["pagerduty_events"] = {"routing_key": "R" * 32}
    return WarroomConfig.model_validate(document)


@pytest.mark.parametrize("config", [with_pagerduty()])
def test_only_members_pagerduty_heard_of_are_acknowledged_there(
    client: TestClient, api: TestClient, runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    for n in range(THRESHOLD):  # these page on their own, PagerDuty too
        fire(client, f"A{n}")
    runtime.engine.run_once()
    for n in range(2):  # the storm: INC-4 and its parent INC-5, then INC-6 born in it
        fire(client, f"B{n}")
    assert api.post("/api/v1/incidents/INC-5/acknowledge").status_code == 200
    runtime.engine.run_once()
    with runtime.db.session() as session:
        rows = session.execute(
            select(Notification.action, Incident.number)
            .join(Incident, Incident.id == Notification.incident_id)
            .where(Notification.channel == "pager")
        ).all()
    triggered = {number for action, number in rows if action == "trigger"}
    acknowledged = {number for action, number in rows if action == "acknowledge"}
    assert triggered == {1, 2, 3, 5}  # the storm's members born in it never paged
    # Acknowledged where PagerDuty has an open incident; nothing sent for keys it never saw.
    assert acknowledged == {1, 2, 3, 5}


def test_the_storm_ends_after_a_quiet_window(
    client: TestClient, api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    for n in range(THRESHOLD + 1):
        fire(client, f"A{n}")
    clock.advance(timedelta(minutes=2))  # nothing joined for longer than the window
    opened = fire(client, "After")["incidents_opened"]
    assert opened == ["INC-6"]
    assert api.get("/api/v1/incidents/INC-6").json()["parent"] is None
    with runtime.db.session() as session:
        [storm] = session.execute(select(Storm.__table__)).all()
    assert not storm.is_open and storm.ended_at is not None
    # A new burst starts a new storm with a new parent.
    for n in range(THRESHOLD):
        fire(client, f"C{n}")
    parents = [i for i in api.get("/api/v1/incidents").json()["items"] if i["source"] == "storm"]
    assert [p["ref"] for p in parents] == ["INC-10", "INC-5"]


def test_restricted_incidents_and_other_services_stay_apart(
    client: TestClient, api: TestClient, tokens: dict[str, str]
) -> None:
    for n in range(THRESHOLD):
        fire(client, f"A{n}")
    fire(client, "Breach", kind="breach")  # restricted: neither counted nor bundled
    fire(client, "S1", service="search")  # another service, counted on its own
    refs = {i["title"]: i for i in api.get("/api/v1/incidents").json()["items"]}
    assert all(item["source"] != "storm" for item in refs.values())
    fire(client, "A9")  # the fourth on checkout
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    breach = api.get("/api/v1/incidents/INC-4", headers=admin).json()
    assert breach["visibility"] == "restricted" and breach["parent"] is None
    search = api.get("/api/v1/incidents/INC-5").json()
    assert search["parent"] is None
    parent = api.get("/api/v1/incidents/INC-7").json()
    assert parent["members"] == ["INC-1", "INC-2", "INC-3", "INC-6"]


def test_incidents_people_declare_are_not_counted(
    client: TestClient, runtime: Runtime, api: TestClient
) -> None:
    for n in range(THRESHOLD + 2):
        runtime.flows.declare(
            actor=Actor(name="rita", source="api"),
            title=f"By hand {n}",
            severity="SEV-2",
            service="checkout",
        )
    assert fire(client, "A0")["incidents_opened"] == [f"INC-{THRESHOLD + 3}"]


@pytest.mark.parametrize("config", [WarroomConfig.model_validate(settings(by="policy"))])
def test_a_storm_by_policy_counts_the_services_that_page_alike(
    client: TestClient, api: TestClient, config: WarroomConfig
) -> None:
    fire(client, "A0", service="checkout")
    fire(client, "A1", service="cart")
    fire(client, "A2", service="search")  # another policy
    fire(client, "A3", service="cart")
    opened = fire(client, "A4", service="checkout")["incidents_opened"]
    assert opened == ["INC-5", "INC-6"]
    parent = api.get("/api/v1/incidents/INC-6").json()
    assert parent["title"] == "Alert storm on policy shop"
    assert parent["service"] == "checkout"  # so it pages through shop's policy
    assert parent["members"] == ["INC-1", "INC-2", "INC-4", "INC-5"]


def test_a_limit_per_service_and_switching_off(client: TestClient, runtime: Runtime) -> None:
    limits = {"checkout": {"threshold": 5, "window": "1m"}}
    runtime.config_value = WarroomConfig.model_validate(settings(limits=limits))
    for n in range(5):
        assert len(fire(client, f"A{n}")["incidents_opened"]) == 1
    assert len(fire(client, "A5")["incidents_opened"]) == 2  # the sixth starts it
    runtime.config_value = WarroomConfig.model_validate(settings(enabled=False))
    for n in range(5):
        assert len(fire(client, f"B{n}", service="cart")["incidents_opened"]) == 1


def test_bad_storm_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        WarroomConfig.model_validate(settings(threshold=0))
    with pytest.raises(ValueError, match="by"):
        WarroomConfig.model_validate(settings(by="team"))
    response_error = None
    try:
        WarroomConfig.model_validate(settings(window="soon"))
    except ValueError as exc:
        response_error = str(exc)
    assert response_error is not None and "not a duration" in response_error


def test_a_bad_parent_filter_is_refused(api: TestClient) -> None:
    response = api.get("/api/v1/incidents", params={"parent": "checkout"})
    assert response.status_code == 422
    assert "parent 'checkout' is not an incident" in response.json()["error"]["message"]


def test_the_room_and_the_list_show_the_storm(client: TestClient, runtime: Runtime) -> None:
    from tests.web.test_pages import add_user, sign_in

    for n in range(THRESHOLD + 2):
        fire(client, f"A{n}")
    add_user(runtime, "wendy", "responder")
    sign_in(client, "wendy")
    parent = client.get("/incidents/INC-5")
    assert parent.status_code == 200
    assert 'href="/incidents?status=any&amp;parent=INC-5">5 incidents</a>' in parent.text
    member = client.get("/incidents/INC-6")
    assert '<dt>Alert storm</dt><dd><a href="/incidents/INC-5">INC-5</a>' in member.text
    assert "Part of alert storm INC-5: paged there, and acknowledged when INC-5 is." in member.text
    listed = client.get("/incidents", params={"status": "any", "parent": "INC-5"})
    assert listed.status_code == 200
    assert "The members of alert storm" in listed.text
    assert "/incidents/INC-1" in listed.text
    assert listed.text.count('/incidents/INC-5"') == 1  # the notice's link: not a member
    bad = client.get("/incidents", params={"parent": "storm"})
    assert bad.status_code == 422 and "parent &#39;storm&#39; is not an incident" in bad.text


def test_the_cli_shows_the_storm_and_lists_its_members(
    client: TestClient, live_server: str, tokens: dict[str, str]
) -> None:
    from tests.cli.test_incident_cli import data, invoke, ok

    for n in range(THRESHOLD + 1):
        fire(client, f"A{n}")
    token = tokens["responder"]
    shown = ok(invoke(live_server, token, "show", "INC-5"))
    assert "storm members" in shown and "4: INC-1, INC-2, INC-3, INC-4" in shown
    member = ok(invoke(live_server, token, "show", "INC-2"))
    assert "alert storm" in member and "Part of alert storm INC-5" in member
    listed = data(invoke(live_server, token, "list", "--parent", "INC-5", "--json"))
    assert [item["ref"] for item in listed["items"]] == ["INC-4", "INC-3", "INC-2", "INC-1"]


def test_config_check_names_a_storm_limit_for_an_unknown_service(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from warroom.cli.main import app

    path = tmp_path / "warroom.yaml"
    path.write_text(
        "services: [{id: checkout}]\n"
        "detection:\n  storm:\n    limits:\n      chekout: {threshold: 5}\n"
    )
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert f"{path}:5: detection.storm.limits.chekout: unknown service 'chekout'" in result.output


def test_the_war_board_shows_the_storm_not_its_members(
    client: TestClient, runtime: Runtime
) -> None:
    from tests.web.test_pages import add_user, sign_in

    for n in range(THRESHOLD + 2):
        fire(client, f"A{n}")
    fire(client, "Alone", service="search")
    add_user(runtime, "wendy", "responder")
    sign_in(client, "wendy")
    page = client.get("/").text
    start = page.index('id="open-title"')
    board = page[start : page.index("</section>", start)]  # the open incidents panel
    assert 'href="/incidents/INC-5"' in board and "Alert storm on checkout" in board
    assert "5 incidents in this storm" in board
    assert 'href="/incidents/INC-7"' in board  # search's own, in no storm
    for member in ("INC-1", "INC-4", "INC-6"):
        assert f'href="/incidents/{member}"' not in board


def test_details_read_together_are_those_read_one_by_one(
    client: TestClient, runtime: Runtime
) -> None:
    """The intake rewrites a drain's files from `load_details`: it must read what
    `load_detail` reads, members of a storm's parent included."""
    from warroom.incidents import service
    from warroom.incidents.details import load_detail, load_details

    for n in range(THRESHOLD + 2):
        fire(client, f"D{n}")
    scribe = Actor(name="alice", source="api", role="responder")
    for ref, role in (("INC-2", "scribe"), ("INC-2", "deputy"), ("INC-5", "scribe")):
        runtime.triage.change_role(ref, actor=scribe, role=role, person="alice")
    with runtime.db.session() as session:
        numbers = list(session.scalars(select(Incident.number).order_by(Incident.number.desc())))
        assert len(numbers) == THRESHOLD + 3  # and the storm's parent
        one_by_one = [load_detail(session, service.get(session, n)) for n in numbers]
        together = load_details(session, [*numbers, 999])  # an unknown number is left out
    assert [d.number for d in together] == numbers  # in the order asked
    assert together == one_by_one
    parent = next(d for d in together if d.source == "storm")
    assert parent.members and all(d.checklist and d.timeline for d in together)
    assert [len(d.roles) for d in together if d.roles] == [1, 2]  # INC-5, then INC-2
