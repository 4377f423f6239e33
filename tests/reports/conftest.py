"""Fixtures for incident metrics: incidents with milestones at known times."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from tests.conftest import START
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents.actor import Actor
from warroom.incidents.models import Incident
from warroom.runtime import Runtime

MIN = timedelta(minutes=1)
NOW = START + timedelta(days=1)  # when the report is asked for


@pytest.fixture
def config() -> WarroomConfig:
    """Two services, the built-in severities and types."""
    return WarroomConfig.model_validate({"services": [{"id": "checkout"}, {"id": "search"}]})


def make(
    runtime: Runtime,
    title: str,
    *,
    severity: str,
    status: str,
    detected: datetime,
    service: str | None = None,
    incident_type: str = "default",
    started: timedelta | None = None,
    ack: timedelta | None = None,
    mitigated: timedelta | None = None,
    resolved: timedelta | None = None,
) -> int:
    """Declare an incident, then set its status and milestones (offsets from detection)."""
    detail = runtime.flows.declare(
        actor=Actor(name="rita", source="api"),
        title=title,
        severity=severity,
        service=service,
        incident_type=incident_type,
    )
    values = {
        "status": status,
        "detected_at": detected,
        "started_at": detected - started if started is not None else None,
        "acknowledged_at": detected + ack if ack is not None else None,
        "mitigated_at": detected + mitigated if mitigated is not None else None,
        "resolved_at": detected + resolved if resolved is not None else None,
    }
    with runtime.db.transaction() as session:
        session.execute(update(Incident).where(Incident.number == detail.number).values(**values))
    return detail.number


@pytest.fixture
def known(runtime: Runtime, clock: FrozenClock) -> list[int]:
    """Four incidents in the last day and one 40 days old; the clock then stands at NOW.

    mtta 60, 120, 300, 600 · mttm 600, 1200, 7200 · mttr 1800, 3600, 7200 · mttd 600, 300.
    """
    numbers = [
        make(
            runtime,
            "Checkout down",
            severity="SEV-1",
            service="checkout",
            status="closed",
            detected=START,
            started=10 * MIN,
            ack=1 * MIN,
            mitigated=10 * MIN,
            resolved=30 * MIN,
        ),
        make(
            runtime,
            "Checkout slow",
            severity="SEV-2",
            service="checkout",
            status="resolved",
            detected=START + 2 * MIN,
            ack=2 * MIN,
            mitigated=20 * MIN,
            resolved=60 * MIN,
        ),
        make(
            runtime,
            "Search errors",
            severity="SEV-2",
            service="search",
            status="triaged",
            incident_type="resource-saturation",
            detected=START + 3 * MIN,
            started=5 * MIN,
            ack=5 * MIN,
        ),
        make(
            runtime,
            "Typo on the home page",
            severity="SEV-3",
            status="resolved",
            detected=START + 4 * MIN,
            ack=10 * MIN,
            mitigated=120 * MIN,
            resolved=120 * MIN,
        ),
        make(
            runtime,
            "Old outage",
            severity="SEV-1",
            service="checkout",
            status="closed",
            detected=START - timedelta(days=39),
            ack=99 * MIN,
            resolved=999 * MIN,
        ),
    ]
    clock.set(NOW)
    return numbers
