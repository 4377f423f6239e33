"""Bulk opening: the new groups of one delivery open their incidents together, each as it
would open alone (checklist, events, alerts, storm), in a few statements for all of them."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from tests.detection.test_storms import AM, settings
from warroom.config import WarroomConfig
from warroom.detection.models import Alert, AlertGroup, Storm
from warroom.incidents.models import ChecklistItem, Incident, TimelineEvent
from warroom.runtime import Runtime


@pytest.fixture
def config() -> WarroomConfig:
    """Storms by service past three new incidents a minute (tests/detection/test_storms.py)."""
    return WarroomConfig.model_validate(settings())


def delivery(groups: dict[str, int], service: str = "checkout") -> dict[str, Any]:
    """One Alertmanager webhook: for each alertname, that many firing alerts (one group each)."""
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": name, "service": service, "instance": f"i{n}"},
            "annotations": {"summary": f"{name} on i{n}"},
            "startsAt": f"2026-03-02T08:0{n}:00Z",  # before the frozen clock,
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"fp-{name}-{n}",
        }
        for name, count in groups.items()
        for n in range(count)
    ]
    return {"version": "4", "status": "firing", "receiver": "warroom", "alerts": alerts}


def post(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    """Deliver one webhook; return the answer's body."""
    response = client.post("/api/v1/intake/alertmanager", json=body, headers=AM)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_each_new_group_opens_its_incident_with_all_its_alerts(
    client: TestClient, api: TestClient, runtime: Runtime
) -> None:
    answer = post(client, delivery({"DiskFull": 3, "CpuHigh": 2}))
    assert answer["incidents_opened"] == ["INC-1", "INC-2"]
    assert answer["new"] == 5
    disk = api.get("/api/v1/incidents/INC-1").json()
    assert disk["title"] == "DiskFull on i0" and disk["status"] == "detected"
    assert disk["severity"] == "SEV-2"  # the route's
    assert disk["started_at"].startswith("2026-03-02T08:00:00")  # the earliest alert's start
    kinds = [e["kind"] for e in disk["timeline"]]
    assert kinds[0] == "declared" and kinds.count("alert") == 3
    texts = [e["text"] for e in disk["timeline"] if e["kind"] == "alert"]
    assert texts[0] == "Alertmanager alert: DiskFull on i0"  # the alert that opened it
    assert texts[1:] == [f"Alertmanager alert joined: DiskFull on i{n}" for n in (1, 2)]
    with runtime.db.session() as session:
        linked = Counter(
            session.execute(select(Incident.number).join(Alert, Alert.incident_id == Incident.id))
            .scalars()
            .all()
        )
        assert linked == {1: 3, 2: 2}
        groups = session.execute(select(AlertGroup.group_key, AlertGroup.incident_id)).all()
        assert len(groups) == 2 and all(incident_id is not None for _, incident_id in groups)
        first_alert = session.scalars(select(Alert).where(Alert.fingerprint == "fp-DiskFull-0"))
        opening = next(e for e in disk["timeline"] if e["kind"] == "alert")
        assert opening["data"]["alert_id"] == first_alert.one().id


def test_a_storm_in_one_delivery_joins_each_member_once(
    client: TestClient, api: TestClient, runtime: Runtime
) -> None:
    # Six new groups at once on one service (threshold 3): the first to be counted starts
    # the storm and takes in every one of them; the later ones must not join twice.
    answer = post(client, delivery({f"A{n}": 1 for n in range(6)}))
    assert answer["incidents_opened"] == [f"INC-{n}" for n in range(1, 8)]
    parent = api.get("/api/v1/incidents/INC-7").json()
    assert parent["source"] == "storm"
    assert parent["members"] == [f"INC-{n}" for n in range(1, 7)]
    with runtime.db.session() as session:
        (storm,) = session.scalars(select(Storm)).all()
        assert storm.members == 6
        joined = Counter(
            session.scalars(
                select(TimelineEvent.incident_id).where(TimelineEvent.kind == "storm_joined")
            )
        )
        assert sorted(joined.values()) == [1] * 6


def test_a_hundred_new_groups_take_a_few_statements(
    client: TestClient, runtime: Runtime, config: WarroomConfig
) -> None:
    # One at a time, a new group took some twenty statements; together, each kind of row is
    # one statement for all (the storm's joins, one per member, aside).
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.current_thread().name == "intake":  # the writer (not the files, the engine)
            statements.append(statement)

    engine = runtime.db.write_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        answer = post(client, delivery({f"G{n}": 2 for n in range(100)}, service="search"))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(answer["incidents_opened"]) == 101  # the hundred and their storm's parent
    inserts = Counter(s.split("(")[0].strip() for s in statements if s.startswith("INSERT"))
    assert inserts["INSERT INTO incidents"] == 2  # the hundred, then the storm's parent
    assert inserts["INSERT INTO alerts"] == 1
    assert inserts["INSERT INTO alert_groups"] == 1
    assert inserts["INSERT INTO checklist_items"] <= 2
    assert inserts["INSERT INTO timeline_events"] <= 6  # with the storm's hundred joins
    assert len(statements) < 50  # one at a time, it was some two thousand
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 200
        per_incident = Counter(session.scalars(select(ChecklistItem.incident_id)))
        assert len(per_incident) == 101 and len(set(per_incident.values())) == 1


def test_a_group_another_writer_opened_meanwhile_is_left_to_the_one_by_one_path(
    runtime: Runtime,
) -> None:
    # Between looking for open groups and inserting its own, another instance may open one
    # of them (PostgreSQL, several instances): that group is given back, nothing written.
    from warroom.detection.bulk_open import open_in_bulk
    from warroom.detection.schemas import AlertIn, IngestResult, RouteDecision
    from warroom.detection.sources import alertmanager

    alerts = alertmanager.parse(json.dumps(delivery({"Mine": 2, "Theirs": 1})).encode())
    decision = RouteDecision(route=0, service="checkout", severity="SEV-2")
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        decide = runtime.intake._decider("alertmanager", "prod")
        intake = runtime.intake._intake(session, "alertmanager", "prod", now, decide)
        theirs = "alertmanager:prod:theirs"
        session.add(AlertGroup(group_key=theirs, is_open=True, incident_id=None, created_at=now))
        session.flush()
        fresh: dict[str, list[tuple[AlertIn, RouteDecision]]] = {
            "alertmanager:prod:mine": [(a, decision) for a in alerts if "Mine" in a.fingerprint],
            theirs: [(a, decision) for a in alerts if "Theirs" in a.fingerprint],
        }
        result = IngestResult(source="alertmanager")
        handled, taken = open_in_bulk(
            intake.linker,
            integration="prod",
            fresh=fresh,
            results=[result],
            owner_of={a.fingerprint: 0 for a in alerts},
            declare=intake.declaration,
            bundle=intake.count_storms,
        )
    assert taken == [theirs]
    assert sorted(handled) == ["fp-Mine-0", "fp-Mine-1"]
    assert result.opened == [1]
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        stored = set(session.scalars(select(Alert.fingerprint)))
        assert stored == {"fp-Mine-0", "fp-Mine-1"}
