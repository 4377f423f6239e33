"""The migrations and the models describe the same schema, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from warroom.migrations import migrate
from warroom.migrations.registry import Base
from warroom.search.models import compared
from warroom.storage.db import Database


def test_autogenerate_finds_no_difference(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": compared})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_database_is_at_head(database_url: str) -> None:
    db = Database(database_url)
    assert migrate.current_revision(db) == migrate.head_revision() is not None
    db.dispose()


def test_sqlite_pragmas(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    migrate.upgrade(db)
    with db.session() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    db.dispose()


def test_a_database_newer_than_this_warroom_is_one_readable_line(
    env: dict[str, str], database_url: str
) -> None:
    from sqlalchemy import create_engine, text
    from typer.testing import CliRunner

    from warroom.cli.main import app
    from warroom.migrations.migrate import head_revision

    head = head_revision()
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    try:
        result = CliRunner().invoke(app, ["db", "upgrade"], env=env)
    finally:  # the PostgreSQL database is the worker's: give the next test a current one
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        engine.dispose()
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: the database is at migration 0099, newer than this warroom knows (its newest "
        f"is {head}): run the newer warroom, or restore a backup made with this one"
    ]
