"""Migration 0010 on both backends: earlier public updates keep the title they showed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from tests.conftest import empty_postgres_database
from warroom.migrations import migrate

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (migrations change the schema, so never a shared one)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with empty_postgres_database("mig") as url:
        yield url


def _upgrade(url: str, revision: str, *, down: bool = False) -> None:
    engine = create_engine(url)
    config = migrate.alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
    engine.dispose()


def test_earlier_public_updates_keep_the_title_they_showed(empty_url: str) -> None:
    _upgrade(empty_url, "0009")
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO incidents (id, number, slug, title, summary, status, severity,"
                " incident_type, visibility, links, source, detected_at, updated_at) VALUES"
                " (1, 1, 'checkout-is-down', 'Checkout is down', '', 'detected', 'SEV-2',"
                " 'default', 'public', '{}', 'api', :at, :at)"
            ),
            {"at": AT},
        )
        for update_id, public in ((1, True), (2, False)):
            conn.execute(
                text(
                    "INSERT INTO status_updates (id, incident_id, at, author, status, body,"
                    " components, public) VALUES (:id, 1, :at, 'rita', 'identified', 'Slow',"
                    " '{}', :public)"
                ),
                {"id": update_id, "at": AT, "public": public},
            )
    _upgrade(empty_url, "head")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, public_title FROM status_updates ORDER BY id")).all()
    assert [tuple(row) for row in rows] == [(1, "Checkout is down"), (2, None)]
    # From now on a public update without a public title cannot be stored at all.
    with pytest.raises(IntegrityError, match="public_has_title"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO status_updates (id, incident_id, at, status, body, components,"
                " public) VALUES (3, 1, :at, 'identified', 'Slow', '{}', :public)"
            ),
            {"at": AT, "public": True},
        )
    _upgrade(empty_url, "0009", down=True)
    with engine.connect() as conn:
        columns = conn.execute(text("SELECT * FROM status_updates")).keys()
    assert "public_title" not in columns
    engine.dispose()
