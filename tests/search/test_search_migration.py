"""Migration 0027 indexes what is already stored, oldest first, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, text, true

from tests.conftest import empty_postgres_database
from warroom.incidents.models import Incident, TimelineEvent
from warroom.migrations import migrate
from warroom.search import query
from warroom.search.service import SearchFilters, search
from warroom.storage.db import Database

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test alone."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with empty_postgres_database("search_backfill") as url:
        yield url


def _incident(number: int, title: str, detected: datetime) -> dict[str, object]:
    return {
        "number": number,
        "slug": f"inc-{number}",
        "title": title,
        "summary": "",
        "status": "resolved",
        "severity": "SEV-3",
        "peak_severity": "SEV-3",
        "incident_type": "default",
        "source": "test",
        "visibility": "public",
        "links": {},
        "detected_at": detected,
        "updated_at": detected,
    }


def test_the_upgrade_indexes_stored_rows_in_the_order_they_were_written(empty_url: str) -> None:
    db = Database(empty_url)
    with db.write_engine.begin() as connection:
        config = migrate.alembic_config(empty_url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0025")
    with db.write_engine.begin() as connection:
        first = connection.execute(
            insert(Incident.__table__).returning(Incident.__table__.c.id),
            _incident(1, "Pelican outage", T0),
        ).scalar_one()
        second = connection.execute(
            insert(Incident.__table__).returning(Incident.__table__.c.id),
            _incident(2, "Heron outage", T0 + timedelta(days=2)),
        ).scalar_one()
        # Detected before the others though opened after them (copied in, say): its own
        # document still comes after theirs, in incident order.
        connection.execute(insert(Incident.__table__), _incident(3, "Gull outage", T0 - DAY))
        notes = [
            (first, T0 + timedelta(days=1), "pelican note"),  # between the two incidents
            (second, T0, "backdated heron note"),  # before its incident: comes after it
        ]
        connection.execute(
            insert(TimelineEvent.__table__),
            [
                {
                    "incident_id": i,
                    "at": at,
                    "kind": "note",
                    "source": "test",
                    "text": words,
                    "data": {},
                    "key_event": False,
                }
                for i, at, words in notes
            ],
        )
    migrate.upgrade(db)
    with db.session() as session:
        order = session.execute(
            text("SELECT kind, body, heading FROM search_documents ORDER BY id")
        ).all()
        assert [(kind, body or heading) for kind, body, heading in order] == [
            ("incident", "Pelican outage"),
            ("note", "pelican note"),
            ("incident", "Heron outage"),
            ("incident", "Gull outage"),
            ("note", "backdated heron note"),
        ]
        terms = query.parse("outage")
        results = search(session, terms=terms, visible=true(), filters=SearchFilters())
        assert [hit.incident.ref for hit in results.hits] == ["INC-3", "INC-2", "INC-1"]
    db.dispose()


def test_0029_keeps_an_edited_document_in_place_and_downgrades(empty_url: str) -> None:
    db = Database(empty_url)
    migrate.upgrade(db)
    rename = "UPDATE incidents SET title = :title WHERE number = 1"
    documents = "SELECT id, heading FROM search_documents ORDER BY id"
    with db.write_engine.begin() as connection:
        for number, title in ((1, "Pelican outage"), (2, "Heron outage")):
            connection.execute(insert(Incident.__table__), _incident(number, title, T0))
        before = [i for i, _ in connection.execute(text(documents))]
        connection.execute(text(rename), {"title": "Pelican renamed"})
        after = [tuple(row) for row in connection.execute(text(documents))]
    # The renamed incident's document kept its id, ahead of the next incident's.
    assert after == [(before[0], "Pelican renamed"), (before[1], "Heron outage")]
    with db.write_engine.begin() as connection:
        config = migrate.alembic_config(empty_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0028")
    with db.write_engine.begin() as connection:
        connection.execute(text(rename), {"title": "Pelican again"})
        headings = [heading for _, heading in connection.execute(text(documents))]
    # 0027's triggers: the edit wrote a new document, after the others.
    assert headings == ["Heron outage", "Pelican again"]
    migrate.upgrade(db)
    db.dispose()
