"""Owner-only modes for what warroom keeps on disk: the data directory and SQLite's files."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("warroom.storage")

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def secure_dir(path: Path) -> list[str]:
    """Create `path` as 0700 (parents too), or take group and other bits off it if there."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return _tighten(path, DIR_MODE)


def secure_sqlite(database: Path) -> list[str]:
    """Create the database file 0600 if missing; take group and other bits off its files.

    SQLite gives its -wal, -shm and -journal files the main file's mode, so a main file
    created 0600 keeps the others 0600 too; files an older warroom left are fixed here.
    """
    database.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    # O_CREAT without O_TRUNC: an existing database is opened and left as it is.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    changed: list[str] = []
    for suffix in SQLITE_SUFFIXES:
        changed += _tighten(Path(f"{database}{suffix}"), FILE_MODE)
    return changed


def report(changed: list[str]) -> None:
    """Log, once, what had modes looser than owner-only and was tightened."""
    if changed:
        log.warning("tightened permissions (group and others had access): %s", ", ".join(changed))


def _tighten(path: Path, wanted: int) -> list[str]:
    """Remove group and other bits from `path`; return what changed, as `path 0644→0600`."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return []
    if not mode & 0o077:
        return []
    new = mode & ~0o077 & 0o7777 | (wanted & 0o700)
    os.chmod(path, new)
    return [f"{path} {mode:04o}→{new:04o}"]
