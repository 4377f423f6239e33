"""Whoever is paged for a restricted incident may see it; who is not paged still may not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import make_token
from tests.helpers import Fakes, paging_config
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents.actor import Actor
from warroom.incidents.models import IncidentGrant
from warroom.runtime import Runtime


@pytest.fixture
def config() -> WarroomConfig:
    """alice is primary on call for checkout, bob secondary (and the team's lead)."""
    return paging_config()


def test_the_people_paged_are_let_in_once(
    runtime: Runtime, fakes: Fakes, client: TestClient, clock: FrozenClock
) -> None:
    actor = Actor(name="ada", source="api", role="admin")
    breach = runtime.flows.declare(
        actor=actor, title="Card data exposed", incident_type="security", service="checkout"
    )
    assert breach.visibility == "restricted" and breach.commander != "bob"
    alice = {"Authorization": f"Bearer {make_token(runtime, 'alice', 'viewer')}"}
    bob = {"Authorization": f"Bearer {make_token(runtime, 'bob', 'viewer')}"}
    url = f"/api/v1/incidents/{breach.ref}"
    assert client.get(url, headers=bob).status_code == 404

    runtime.engine.run_once()  # step 1 pages alice
    assert client.get(url, headers=alice).status_code == 200
    assert client.get(url, headers=bob).status_code == 404  # not paged yet
    clock.advance(timedelta(hours=2))  # past every step and into the next round
    for _ in range(6):
        runtime.engine.run_once()
    assert client.get(url, headers=bob).status_code == 200
    with runtime.db.session() as session:
        grants = [(g.person, g.kind) for g in session.scalars(select(IncidentGrant))]
    assert sorted(grants) == [("alice", "paged"), ("bob", "paged")]  # once each, in any round
