"""The escalation tick writes its timeline events without the ORM: they go live all the same
(on PostgreSQL only the commit tells; on SQLite the poll would also find them, later)."""

from __future__ import annotations

import pytest

from tests.helpers import Fakes, paging_config
from tests.sse import listen
from warroom.config import WarroomConfig
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime


@pytest.fixture
def config() -> WarroomConfig:
    """alice is primary on call for checkout."""
    return paging_config()


def test_a_page_reaches_the_live_streams(runtime: Runtime, fakes: Fakes) -> None:
    actor = Actor(name="ada", source="api", role="admin")
    runtime.flows.declare(
        actor=actor, title="Checkout is down", service="checkout", severity="SEV-1"
    )

    got = listen(
        runtime, runtime.engine.run_once, until=lambda got: any(e.kind == "paged" for e in got)
    )
    paged = [e for e in got if e.kind == "paged"]
    assert [e.number for e in paged] == [1]
    timeline = runtime.flows.get("INC-1").timeline
    assert paged[0].id in {e.id for e in timeline if e.kind == "paged"}
    assert len({e.id for e in got}) == len(got)  # each once
