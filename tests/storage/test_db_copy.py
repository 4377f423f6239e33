"""`warroom db copy --to URL`: SQLite to PostgreSQL, verified row by row (issue 17, item 4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from tests.conftest import empty_postgres_database, make_token
from warroom.app import build_runtime, create_app
from warroom.cli.main import app
from warroom.config import WarroomConfig
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime
from warroom.settings import Settings
from warroom.storage.base import Base

runner = CliRunner()
ACTOR = Actor(name="tester", source="api")


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """The source: SQLite, as a team that outgrew it has."""
    import shutil

    path = tmp_path / "warroom.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database of this test's own."""
    with empty_postgres_database("copy") as url:
        yield url


def rows_per_table(url: str) -> dict[str, int]:
    """Return the number of rows of every table of the models."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: conn.execute(select(func.count()).select_from(t)).scalar() or 0
                for t in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def test_a_whole_installation_moves_to_postgresql(
    runtime: Runtime,
    client: TestClient,
    env: dict[str, str],
    empty_postgres: str,
    settings: Settings,
    config: WarroomConfig,
) -> None:
    runtime.flows.declare(actor=ACTOR, title="Checkout down", severity="SEV-1")
    runtime.flows.declare(actor=ACTOR, title="Card data exposed", incident_type="security")
    runtime.flows.note("1", text="rolled back", actor=ACTOR)
    token = make_token(runtime, "ada", "admin")
    auth = {"Authorization": f"Bearer {token}"}
    upload = client.post(
        "/api/v1/incidents/INC-2/evidence", files={"file": ("a.pcap", b"x" * 1000)}, headers=auth
    )
    assert upload.status_code == 201, upload.text
    assert client.get("/api/v1/audit", headers=auth).status_code == 200  # an audit.read entry
    source = rows_per_table(str(settings.resolved_database_url()))
    runtime.db.dispose()

    done = runner.invoke(app, ["db", "copy", "--to", empty_postgres], env=env)
    assert done.exit_code == 0, (done.stdout, done.stderr)
    assert "every table compared row by row; audit log intact" in done.stdout
    copied = rows_per_table(empty_postgres)
    assert copied == source | {"audit_log": source["audit_log"] + 1}  # + its own db.copy entry

    # warroom on the new database: the token works, numbers and ids go on without collisions.
    moved = build_runtime(
        Settings(data_dir=settings.data_dir, database_url=empty_postgres,
                 runbooks_dir=settings.runbooks_dir),
        config=config,
        upgrade=False,
    )  # fmt: skip
    try:
        third = moved.flows.declare(actor=ACTOR, title="On PostgreSQL now", severity="SEV-3")
        assert third.ref == "INC-3"
        moved.flows.note("INC-3", text="first note here", actor=ACTOR)
        with TestClient(create_app(moved)) as there:
            me = there.get("/api/v1/me", headers=auth)
            assert me.status_code == 200 and me.json()["user"] == "ada"
            [item] = there.get("/api/v1/incidents/INC-2/evidence", headers=auth).json()
            assert item["name"] == "a.pcap"
    finally:
        moved.close()

    again = runner.invoke(app, ["db", "copy", "--to", empty_postgres], env=env)
    assert again.exit_code == 1
    assert "the target database is not empty" in again.stderr


def test_copying_onto_itself_is_refused(env: dict[str, str], settings: Settings) -> None:
    same = runner.invoke(app, ["db", "copy", "--to", settings.resolved_database_url()], env=env)
    assert same.exit_code == 1
    assert "--to names the database warroom uses now" in same.stderr
