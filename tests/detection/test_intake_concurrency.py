"""Concurrent deliveries never open duplicate incidents or duplicate open alerts."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from warroom.config import WarroomConfig
from warroom.detection.models import Alert, AlertGroup
from warroom.incidents.models import Incident
from warroom.runtime import Runtime

TOKEN = "t0ken"


@pytest.fixture
def config() -> WarroomConfig:
    """An Alertmanager integration and a route grouping by alertname."""
    return WarroomConfig.model_validate(
        {
            "routes": [{"match": ['team="payments"'], "group_by": ["alertname"]}],
            "integrations": {"alertmanager": [{"name": "prod", "token": TOKEN}]},
        }
    )


def delivery(fingerprint: str, alertname: str = "HighCPUUsage") -> dict[str, Any]:
    return {
        "version": "4",
        "status": "firing",
        "receiver": "warroom",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": "firing",
                "fingerprint": fingerprint,
                "labels": {"alertname": alertname, "team": "payments", "fp": fingerprint},
                "annotations": {"summary": f"{alertname} {fingerprint}"},
                "startsAt": "2026-03-02T08:59:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph",
            }
        ],
    }


def counts(runtime: Runtime) -> tuple[int, int, int, int]:
    with runtime.db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Incident)) or 0,
            session.scalar(select(func.count()).select_from(Alert)) or 0,
            session.scalar(select(func.count()).select_from(AlertGroup)) or 0,
            session.scalar(select(func.max(Alert.seen_count))) or 0,
        )


def test_same_delivery_concurrently(live_server: str, runtime: Runtime) -> None:
    payload = delivery("aaaaaaaaaaaaaaaa")

    def send(_: int) -> int:
        response = httpx.post(
            f"{live_server}/api/v1/intake/alertmanager",
            json=payload,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(send, range(24)))
    assert statuses == [200] * 24
    assert counts(runtime) == (1, 1, 1, 24)


def test_one_group_many_alerts_concurrently(live_server: str, runtime: Runtime) -> None:
    payloads = [delivery(f"{index:016x}") for index in range(20)]

    def send(payload: dict[str, Any]) -> int:
        response = httpx.post(
            f"{live_server}/api/v1/intake/alertmanager",
            json=copy.deepcopy(payload),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(send, payloads))
    assert statuses == [200] * 20
    incidents, alerts, groups, _ = counts(runtime)
    assert (incidents, alerts, groups) == (1, 20, 1)
    with runtime.db.session() as session:
        linked = session.scalar(
            select(func.count()).select_from(Alert).where(Alert.incident_id.is_not(None))
        )
    assert linked == 20


def test_concurrent_storms_of_one_group(live_server: str, runtime: Runtime) -> None:
    """Batches of one new group race: one incident, every alert stored once and linked."""
    batches = []
    for batch in range(6):
        payload = delivery(f"{batch:04x}000000000000")
        template = payload["alerts"][0]
        payload["alerts"] = []
        for index in range(50):
            alert = copy.deepcopy(template)
            alert["fingerprint"] = f"{batch:04x}{index:012x}"
            alert["labels"]["fp"] = alert["fingerprint"]
            payload["alerts"].append(alert)
        batches.append(payload)
    batches += batches[:2]  # two batches are delivered twice

    def send(payload: dict[str, Any]) -> int:
        response = httpx.post(
            f"{live_server}/api/v1/intake/alertmanager",
            json=payload,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(send, batches)) == [200] * 8
    incidents, alerts, groups, max_seen = counts(runtime)
    assert (incidents, alerts, groups, max_seen) == (1, 300, 1, 2)
    with runtime.db.session() as session:
        unlinked = session.scalar(
            select(func.count()).select_from(Alert).where(Alert.incident_id.is_(None))
        )
    assert unlinked == 0
