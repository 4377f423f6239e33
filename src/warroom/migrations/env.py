"""Alembic environment: runs against the connection or URL warroom hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from warroom.migrations.registry import Base
from warroom.search.models import compared

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Run migrations on the connection given in attributes, else on the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
        compare_type=True,
        include_name=compared,  # the search index's FTS5 table and tsvector column
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
