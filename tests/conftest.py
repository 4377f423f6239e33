"""Shared fixtures: every database test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tests.helpers import Fakes
from warroom.app import build_runtime, create_app
from warroom.audit.chain import GENESIS
from warroom.auth import service as auth
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.migrations import migrate
from warroom.migrations.registry import Base
from warroom.runtime import Runtime
from warroom.settings import Settings
from warroom.storage.db import Database

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
TEMPLATES = REPO / "docs" / "runbooks" / "templates"
POSTGRES_URL = os.environ.get(
    "WARROOM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_ALL = os.environ.get("WARROOM_REQUIRE_ALL") == "1"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def need(available: bool, reason: str) -> None:
    """Skip the test when a component is absent; fail instead under WARROOM_REQUIRE_ALL=1."""
    if available:
        return
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (WARROOM_REQUIRE_ALL=1 turns this skip into a failure)")
    pytest.skip(reason)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A migrated PostgreSQL database for this xdist worker, or None if unreachable."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    # The pid keeps concurrent pytest runs on one server from dropping each other's database.
    name = f"warroom_test_{_worker()}_{os.getpid()}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:  # unreachable server: tests needing it skip or fail via need()
        admin.dispose()
        yield None
        return
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def empty_postgres_database(label: str) -> Iterator[str]:
    """Yield the URL of a new, empty PostgreSQL database of this test alone; drop it after.

    For tests that migrate, copy into or drop a whole database (never the worker's shared one).
    """
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"warroom_{label}_{_worker()}_{os.getpid()}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:  # an unreachable server: need() skips or fails
        admin.dispose()
        need(False, f"PostgreSQL is not reachable at {POSTGRES_URL}")
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    engine = create_engine(url)
    with engine.begin() as conn:
        # The audit log refuses TRUNCATE by trigger: a test database may start over.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS}')"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A clean, migrated database URL; the test runs once per backend."""
    if request.param == "sqlite":
        path = tmp_path / "warroom.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    need(url is not None, f"PostgreSQL is not reachable at {POSTGRES_URL}")
    assert url is not None
    _truncate(url)
    return url


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """Environment for admin commands against this test's database (no warroom.yaml)."""
    return {
        "WARROOM_DATABASE_URL": database_url,
        "WARROOM_DATA_DIR": str(tmp_path / "var"),
        "WARROOM_RUNBOOKS_DIR": str(tmp_path / "runbooks"),
    }


@pytest.fixture
def clock() -> FrozenClock:
    """A clock that moves only when the test says so."""
    return FrozenClock(START)


@pytest.fixture
def runbooks_dir(tmp_path: Path) -> Path:
    """A runbook directory holding the shipped templates."""
    root = tmp_path / "runbooks"
    shutil.copytree(TEMPLATES, root / "templates")
    return root


@pytest.fixture
def settings(tmp_path: Path, database_url: str, runbooks_dir: Path) -> Settings:
    """Settings pointing at this test's database and folders."""
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        runbooks_dir=runbooks_dir,
        config=None,
    )


@pytest.fixture
def config() -> WarroomConfig:
    """The built-in configuration (the runbook's severities and the shipped types)."""
    return WarroomConfig()


@pytest.fixture
def runtime(settings: Settings, clock: FrozenClock, config: WarroomConfig) -> Iterator[Runtime]:
    """A runtime on this test's database, with the frozen clock."""
    rt = build_runtime(settings, clock=clock, config=config, upgrade=False)
    yield rt
    rt.close()


def make_token(runtime: Runtime, name: str, role: str) -> str:
    """Create a user with `role` and return a token for it."""
    with runtime.db.transaction() as session:
        user = auth.create_user(session, name=name, role=role, now=runtime.clock.now())
        return auth.create_token(session, user=user, name="test", now=runtime.clock.now())


@pytest.fixture
def tokens(runtime: Runtime) -> dict[str, str]:
    """Tokens for an admin, a responder and a viewer."""
    return {
        role: make_token(runtime, name, role)
        for name, role in (("ada", "admin"), ("rita", "responder"), ("vic", "viewer"))
    }


@pytest.fixture
def fakes(runtime: Runtime) -> Fakes:
    """Install recording fakes as the runtime's adapters; send on one thread."""
    recorded = Fakes()
    runtime.adapters_override = recorded.adapters
    runtime.engine.sender.workers = 1
    return recorded


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """An unauthenticated client of the app."""
    with TestClient(create_app(runtime), raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient, tokens: dict[str, str]) -> TestClient:
    """A client that sends the responder's token."""
    client.headers["Authorization"] = f"Bearer {tokens['responder']}"
    return client


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(runtime: Runtime) -> Iterator[str]:
    """Serve the app over a real socket on 127.0.0.1; yield its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # Generous: it only bounds a failure, and four workers on two loaded cores once took
    # more than ten seconds to start one.
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
