"""Schema migrations: upgrade to head, and tell whether a database is current."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from warroom.core.errors import Conflict
from warroom.storage.db import Database

MIGRATIONS_DIR = Path(__file__).parent  # env.py, versions/
log = logging.getLogger("warroom.storage")


def alembic_config(url: str) -> Config:
    """Return an Alembic config pointing at our migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# Any constant: the instances of one installation take the same lock, nobody else uses it.
MIGRATION_LOCK = 0x77617272  # "warr"


def upgrade(db: Database) -> None:
    """Bring the database schema up to the newest migration."""
    config = alembic_config(db.url)
    before = current_revision(db)
    known = {script.revision for script in _scripts().walk_revisions()}
    if before is not None and before not in known:
        raise Conflict(
            f"the database is at migration {before}, newer than this warroom knows (its "
            f"newest is {head_revision()}): run the newer warroom, or restore a backup "
            "made with this one"
        )
    with db.write_engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two instances starting at once on an empty database: one migrates, the other
            # waits here and then finds nothing left to do (SQLite's write lock does this).
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    after = current_revision(db)
    if after != before:
        log.info("database schema upgraded from %s to %s", before or "empty", after)


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str | None:
    """Return the newest migration's revision id."""
    return _scripts().get_current_head()


def current_revision(db: Database) -> str | None:
    """Return the revision the database is at (None if never migrated)."""
    with db.read_engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
