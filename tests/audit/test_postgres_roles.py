"""docs/security.md's PostgreSQL grants: the server runs on them, and cannot rewrite history."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import POSTGRES_URL, _truncate, need
from warroom.audit import service as audit
from warroom.audit.verify import verify
from warroom.storage.db import Database

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def documented_grants(role: str) -> list[str]:
    """Return the statements of the doc's ```sql block, for `role`."""
    text_ = DOC.read_text(encoding="utf-8")
    (block,) = re.findall(r"```sql\n(.*?)```", text_, flags=re.S)
    return [s.strip() for s in block.replace("warroom_app", role).split(";") if s.strip()]


@pytest.fixture
def app_url(postgres_database: str | None) -> Iterator[str]:
    """The test database as a login role given only the documented grants."""
    need(postgres_database is not None, f"PostgreSQL is not reachable at {POSTGRES_URL}")
    assert postgres_database is not None
    database_url = postgres_database
    _truncate(database_url)
    role = f"warroom_app_{os.getpid()}"
    owner = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with owner.connect() as connection:
        connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        for statement in documented_grants(f'"{role}"'):
            connection.execute(text(statement))
    yield make_url(database_url).set(username=role).render_as_string(hide_password=False)
    with owner.connect() as connection:
        connection.execute(text(f'DROP OWNED BY "{role}"'))
        connection.execute(text(f'DROP ROLE "{role}"'))
    owner.dispose()


def test_the_server_role_writes_the_log_and_cannot_undo_it(app_url: str) -> None:
    db = Database(app_url)
    audit.install(db)

    for n in range(3):
        with db.transaction() as session:
            audit.record(session, "token.create", actor="ada", at=datetime.now(UTC), target=f"t{n}")
    assert verify(db).checked == 3
    for statement in (
        "DROP TRIGGER audit_log_append_only ON audit_log",
        "SET session_replication_role = replica",
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "DELETE FROM timeline_events",
    ):
        refused = r"must be owner|permission denied"
        with pytest.raises(DBAPIError, match=refused), db.write_engine.begin() as connection:
            connection.execute(text(statement))
    assert verify(db).ok
    db.dispose()


def test_the_server_starts_and_works_as_that_role(app_url: str, tmp_path: Path) -> None:
    from warroom.app import build_runtime
    from warroom.config import WarroomConfig
    from warroom.incidents.actor import Actor
    from warroom.settings import Settings

    settings = Settings(
        data_dir=tmp_path / "var", database_url=app_url, runbooks_dir=tmp_path / "rb", config=None
    )
    runtime = build_runtime(settings, config=WarroomConfig())  # upgrades: nothing to do
    try:
        actor = Actor(name="ada", source="api", role="admin")
        detail = runtime.flows.declare(
            actor=actor, title="Card data in the logs", incident_type="security"
        )
        assert detail.visibility == "restricted" and actor.access is not None
        runtime.flows.check_visible(detail.ref, actor.access, request="GET /test")
        assert verify(runtime.db).checked == 1  # the restricted incident's access
    finally:
        runtime.close()
