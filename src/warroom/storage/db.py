"""Database engines and sessions: SQLite (WAL, foreign keys, durable) or PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from warroom.storage import savepoints
from warroom.storage.files import secure_sqlite

log = logging.getLogger("warroom.storage")
# Work left in session.info for a before-commit listener is kept under keys with this prefix
# (incidents.timeline keeps the new events there for the notification planner); a listener
# pops what it takes, so a key still there at commit is work nobody did.
LISTENER_WORK_PREFIX = "warroom."


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (payloads, timeline data) through orjson: the stdlib codec showed in profiles.
JSON_CODEC: dict[str, Any] = {"json_serializer": _dumps, "json_deserializer": orjson.loads}


class Database:
    """Owns the engines; hands out read sessions and write transactions."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        # What had looser modes than owner-only and was tightened (the caller logs it).
        self.tightened: list[str] = []
        if self.dialect == "sqlite":
            database = parsed.database
            if database and database != ":memory:" and not database.startswith("file:"):
                # Incidents, tokens and sessions live here: owner-only, like restricted runbooks.
                self.tightened = secure_sqlite(Path(database))
            # Two engines on one file: writes take the lock up front (BEGIN IMMEDIATE) so
            # two writers never deadlock upgrading a read lock; reads stay concurrent.
            self.read_engine = _sqlite_engine(url, begin="BEGIN", echo=echo)
            self.write_engine = _sqlite_engine(url, begin="BEGIN IMMEDIATE", echo=echo)
        else:
            self.read_engine = create_engine(
                url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20, **JSON_CODEC
            )
            self.write_engine = self.read_engine
        # Listeners wired by the composition root: the notification planner runs before
        # each commit; waking the engine runs after it.
        self.before_commit: list[Callable[[Session], None]] = []
        self.after_commit: list[Callable[[Session], None]] = []
        self._warned_untaken = False
        self._reads = sessionmaker(self.read_engine, expire_on_commit=False)
        self._writes = sessionmaker(self.write_engine, expire_on_commit=False)
        savepoints.install(self._writes)

    @property
    def is_sqlite(self) -> bool:
        """Tell whether this is the embedded SQLite backend."""
        return self.dialect == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session for reading; it is rolled back at the end."""
        with self._reads() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """Yield a connection for a few Core reads; it is rolled back at the end."""
        # For what every request reads (its token, the incident's visibility): an ORM
        # session costs more than such a query does (docs/adr/010-access-control-cost.md).
        with self.read_engine.connect() as connection:
            if not self.is_sqlite:
                # Autocommit: one round trip per read, not BEGIN, SELECT and ROLLBACK (halves
                # a token lookup on PostgreSQL); the level is reset when the pool takes it back.
                connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yield a session whose work commits at the end, or rolls back on error."""
        with self._writes() as session:
            with session.begin():
                yield session
                self.run_before_commit(session)
            for hook in self.after_commit:
                hook(session)

    def listen_writes(self, name: str, fn: Callable[..., None]) -> None:
        """Attach an SQLAlchemy session event (`before_commit`, …) to the write sessions."""
        event.listen(self._writes, name, fn)

    def run_before_commit(self, session: Session) -> None:
        """Let listeners add their rows (the outbox, escalations) to the work being committed.

        The group committer calls this at the end of each job's savepoint, so a listener's
        failure fails that job alone.
        """
        for hook in self.before_commit:
            hook(session)
        untaken = [k for k in session.info if str(k).startswith(LISTENER_WORK_PREFIX)]
        if untaken and not self._warned_untaken:
            # Without the planner a commit would silently queue no notifications: say so
            # (once per Database, the commit goes on: tests and tools may mean it).
            self._warned_untaken = True
            log.warning(
                "a transaction wrote %s but no before-commit listener took it: no "
                "notifications are planned for it (install the planner, as "
                "warroom.runtime.Runtime does)",
                ", ".join(sorted(map(str, untaken))),
            )

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            self.write_engine.dispose()


def _sqlite_engine(url: str, *, begin: str, echo: bool) -> Engine:
    """Create a SQLite engine with our pragmas and explicit transaction control."""
    engine = create_engine(
        url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}, **JSON_CODEC
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL: a 2xx means the row survived a power cut (Alertmanager will not resend).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine
