"""What the in-process benchmarks share: a scratch runtime on either backend, and running a
measurement on SQLite and on PostgreSQL (skipped, with the reason, when it is unreachable)."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bench.incidents import TEMPLATES, Unreachable, bench_config, scratch_postgres
from warroom.app import build_runtime
from warroom.config import WarroomConfig
from warroom.runtime import Runtime
from warroom.settings import Settings

NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass
class Backend:
    """Which database a measurement ran on, its version, or why it was skipped."""

    name: str
    version: str = ""
    skipped: str | None = None


@contextmanager
def scratch_runtime(database_url: str | None) -> Iterator[Runtime]:
    """Yield a runtime on a fresh database (SQLite in a temporary folder when no URL)."""
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        root = Path(tmp)
        settings = Settings(
            data_dir=root / "data", runbooks_dir=root / "runbooks", database_url=database_url
        )
        (root / "runbooks").mkdir()
        os.symlink(TEMPLATES, root / "runbooks" / "templates")
        runtime = build_runtime(settings, config=WarroomConfig.model_validate(bench_config()))
        try:
            yield runtime
        finally:
            runtime.close()


def run_on(
    backend: str, postgres_url: str, console: Console, measure: Callable[[str | None], None]
) -> Backend:
    """Run `measure(database_url)` on one backend; PostgreSQL in a scratch database."""
    result = Backend(name=NAMES[backend])
    console.rule(result.name)
    if backend == "sqlite":
        result.version = sqlite3.sqlite_version
        measure(None)
        return result
    try:
        with scratch_postgres(postgres_url) as (url, version):
            result.version = version
            measure(url)
    except Unreachable as exc:
        result.skipped = str(exc)
        console.print(f"[yellow]skipped:[/] {result.skipped}")
    return result
