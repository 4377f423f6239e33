"""The one-click acknowledge link: GET shows a confirm page, POST acknowledges, once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers import Fakes
from warroom.audit.models import AuditEntry
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

BASE = "https://warroom.example.com"


@pytest.fixture
def config() -> WarroomConfig:
    """Alice is paged by Slack and e-mail; Bob, ten minutes later, by Slack."""
    return WarroomConfig.model_validate(
        {
            "people": [
                {"id": "alice", "name": "Alice Ng", "slack": "UALICE1", "email": "a@example.com"},
                {"id": "bob", "name": "Bob", "slack": "UBOB1"},
            ],
            "escalation_policies": [
                {
                    "id": "default",
                    "steps": [
                        {"after": "0m", "notify": ["person:alice"]},
                        {"after": "10m", "notify": ["person:bob"]},
                    ],
                }
            ],
            "notifications": {"default_policy": "default", "base_url": BASE},
        }
    )


def declare(runtime: Runtime, **fields: str) -> None:
    """Declare a SEV-1 and run the engine once: Alice is paged."""
    runtime.flows.declare(
        actor=Actor(name="tester", source="api"), title="Card data exposed", severity="SEV-1",
        **fields,
    )  # fmt: skip
    runtime.engine.run_once()


def link_of(fakes: Fakes, user: str = "UALICE1") -> str:
    """Return the path of the acknowledge link in the person's Slack DM."""
    [dm] = [d for d in fakes.dms(user) if "You are paged" in d["text"]]
    found = re.search(rf"Acknowledge: {re.escape(BASE)}(/ack/\S+)", dm["text"])
    assert found is not None, dm["text"]
    return found.group(1)


def test_get_changes_nothing_and_post_acknowledges_once(
    runtime: Runtime, fakes: Fakes, client: TestClient
) -> None:
    declare(runtime)
    path = link_of(fakes)
    for _ in range(2):  # a mail scanner fetches it, then the person opens it
        page = client.get(path)
        assert page.status_code == 200
        assert "Acknowledge INC-1?" in page.text and "Alice Ng" in page.text
        assert "Card data exposed" in page.text
        assert page.headers["cache-control"] == "no-store"
    assert runtime.flows.get("1").acknowledged_at is None

    done = client.post(path)
    assert done.status_code == 200
    assert "INC-1 acknowledged. Thank you, alice." in done.text
    incident = runtime.flows.get("1")
    assert incident.acknowledged_by == "alice"
    [event] = [e for e in incident.timeline if e.kind == "acknowledged"]
    assert (event.actor, event.source) == ("alice", "link")
    with runtime.db.session() as session:
        [entry] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "incident.acknowledge")
        ).all()
        assert (entry.actor, entry.target, entry.details) == ("alice", "INC-1", {"via": "link"})

    again = client.post(path)  # used: it says who acknowledged, and changes nothing
    assert again.status_code == 200 and "acknowledged by alice" in again.text


def test_a_tampered_or_foreign_link_is_refused(
    runtime: Runtime, fakes: Fakes, client: TestClient
) -> None:
    declare(runtime)
    path = link_of(fakes)
    body, signature = path.removeprefix("/ack/").split(".")
    other = "A" if signature[0] != "A" else "B"
    for bad in (f"/ack/{body}.{other}{signature[1:]}", f"/ack/{body}", "/ack/x.y", "/ack/a.b.c"):
        answer = client.post(bad)
        assert answer.status_code == 404, bad
        assert "This link is not valid" in answer.text
    assert client.post("/ack/" + "A" * 400).status_code == 422  # longer than any link
    assert runtime.flows.get("1").acknowledged_at is None


def test_a_restricted_incident_shows_only_its_codename(
    runtime: Runtime, fakes: Fakes, client: TestClient
) -> None:
    declare(runtime, incident_type="security")
    page = client.get(link_of(fakes))
    assert page.status_code == 200
    assert "INC-1" in page.text and "(restricted)" in page.text
    assert "Card data exposed" not in page.text


def test_the_link_outlives_the_last_step_but_not_paging(
    runtime: Runtime, fakes: Fakes, client: TestClient, clock: FrozenClock
) -> None:
    declare(runtime)
    alice = link_of(fakes)
    clock.advance(timedelta(minutes=10))
    runtime.engine.run_once()  # Bob is paged: the policy is used up, nobody acknowledged yet
    bob = link_of(fakes, "UBOB1")
    assert client.get(alice).status_code == 200  # still unacknowledged: Alice may still
    runtime.flows.transition("1", "mitigate", actor=Actor(name="carol", source="api"))
    gone = client.post(bob)  # paging ended with the mitigation: the link with it
    assert gone.status_code == 410 and "This link has expired" in gone.text
    assert runtime.flows.get("1").acknowledged_at is None


def test_a_day_old_link_has_expired(
    runtime: Runtime, fakes: Fakes, client: TestClient, clock: FrozenClock
) -> None:
    declare(runtime)
    clock.advance(timedelta(hours=24))
    assert client.post(link_of(fakes)).status_code == 410
    assert runtime.flows.get("1").acknowledged_at is None
