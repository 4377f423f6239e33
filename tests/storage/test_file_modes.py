"""The data directory is 0700 and SQLite's files 0600, fresh or left loose by an older warroom."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from warroom.app import build_runtime
from warroom.config import WarroomConfig
from warroom.settings import Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_something(settings: Settings) -> list[Path]:
    """Start warroom on `settings`, write a row, and return the database files (still open)."""
    runtime = build_runtime(settings, config=WarroomConfig(), upgrade=False)
    with runtime.db.transaction() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        session.execute(text("INSERT INTO probe VALUES (1)"))
    database = settings.data_dir / "warroom.db"
    files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    assert all(f.exists() for f in files), "WAL mode keeps -wal and -shm while open"
    for path in files:
        assert mode(path) == 0o600, path
    runtime.db.dispose()  # (close() would also release outbox claims: no tables here)
    return files


@pytest.fixture(autouse=True)
def loose_umask() -> object:
    """The umask many servers run with: without care, files come out world-readable."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_fresh_data_directory_is_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var" / "data", runbooks_dir=tmp_path / "runbooks")
    [database, *_] = write_something(settings)  # (checks -wal and -shm while they exist)
    assert mode(settings.data_dir) == 0o700
    assert mode(database) == 0o600


def test_an_existing_install_is_tightened_once_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "var"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    database = data / "warroom.db"
    # What an older warroom left: a WAL database whose files are world-readable.
    keep = sqlite3.connect(database)
    keep.execute("PRAGMA journal_mode=WAL")
    keep.execute("CREATE TABLE probe (x INTEGER)")
    keep.commit()
    for suffix in ("", "-wal", "-shm"):
        os.chmod(f"{database}{suffix}", 0o644)
    settings = Settings(data_dir=data, runbooks_dir=tmp_path / "runbooks")
    with caplog.at_level(logging.WARNING, logger="warroom.storage"):
        files = write_something(settings)
    assert mode(data) == 0o700
    for path in files:
        assert mode(path) == 0o600, path
    keep.close()
    [record] = [r for r in caplog.records if "tightened permissions" in r.getMessage()]
    message = record.getMessage()
    assert f"{data} 0755→0700" in message and f"{database} 0644→0600" in message
    assert f"{database}-wal 0644→0600" in message
    # A second start finds nothing to fix and says nothing.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="warroom.storage"):
        write_something(settings)
    assert not [r for r in caplog.records if "tightened" in r.getMessage()]
