"""Database-level guarantees: append-only timeline, unique gap-free numbers under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from warroom.incidents.actor import Actor
from warroom.incidents.models import Incident, TimelineEvent
from warroom.runtime import Runtime


def test_timeline_rows_cannot_be_changed_or_deleted(api: TestClient, runtime: Runtime) -> None:
    api.post("/api/v1/incidents", json={"title": "x"})
    with pytest.raises(DBAPIError, match="append-only"), runtime.db.transaction() as session:
        session.execute(update(TimelineEvent).values(text="rewritten history"))
    with pytest.raises(DBAPIError, match="append-only"), runtime.db.transaction() as session:
        session.execute(delete(TimelineEvent))
    with runtime.db.session() as session:
        texts = list(session.scalars(select(TimelineEvent.text)))
    assert len(texts) == 2 and texts[0].startswith("Declared INC-1")


def test_concurrent_declares_get_distinct_consecutive_numbers(runtime: Runtime) -> None:
    actor = Actor(name="load", source="api")

    def declare(index: int) -> int:
        return runtime.flows.declare(actor=actor, title=f"Concurrent {index}").number

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = sorted(pool.map(declare, range(40)))
    assert numbers == list(range(1, 41))
    with runtime.db.session() as session:
        assert len(list(session.scalars(select(Incident.id)))) == 40


def test_failed_declare_leaves_no_rows(runtime: Runtime) -> None:
    from warroom.core.errors import Invalid

    with pytest.raises(Invalid):
        runtime.flows.declare(actor=Actor(name="x", source="api"), title="x", severity="SEV-7")
    with runtime.db.session() as session:
        assert list(session.scalars(select(Incident.id))) == []
        assert list(session.scalars(select(TimelineEvent.id))) == []
    # the number is not burnt either
    assert runtime.flows.declare(actor=Actor(name="x", source="api"), title="y").number == 1
