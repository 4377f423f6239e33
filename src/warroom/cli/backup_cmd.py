"""`warroom backup FILE` and `warroom restore FILE`: the database and evidence in one archive."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from warroom.cli.common import (
    database_errors_as_exit,
    errors_as_exit,
    fail,
    local_admin,
    local_runtime,
    settings_of,
)

if TYPE_CHECKING:
    from warroom.storage.db import Database


def backup(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The archive to write (a tar file, mode 0600).")],
) -> None:
    """Write the database and the evidence files to one archive, while warroom runs.

    SQLite is copied with its online backup API, PostgreSQL with pg_dump; every file's SHA-256
    goes into the archive's manifest. Runbook files are not kept: a restore writes them again.
    """
    from sqlalchemy import text

    from warroom.audit import service as audit
    from warroom.storage import backup as archive

    settings = settings_of(ctx)
    if file.exists() and file.is_dir():
        fail(f"{file} is a directory: give the archive's file name")
    url = settings.resolved_database_url()
    with errors_as_exit(), database_errors_as_exit(url), local_admin() as actor:
        runtime = local_runtime(settings)
        with runtime.db.session() as session:
            revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        made = archive.create(
            url=url,
            data_dir=settings.data_dir,
            target=file,
            revision=revision,
            progress=lambda step: typer.echo(f"{step}…", err=True),
            portable=lambda path: _to_sqlite(runtime.db, path),
        )
        audit.record_now(
            runtime.db,
            "backup.create",
            actor=actor,
            at=runtime.clock.now(),
            target=file.name,
            details={"backend": made.backend, "files": made.files, "bytes": made.bytes},
        )
    typer.echo(
        f"backup written to {file}: {made.backend} database at migration {made.revision}, "
        f"{made.files - 1} evidence files, {made.bytes:,} bytes"
    )


def restore(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="An archive `warroom backup` wrote.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Replace the database without asking (scripts).")
    ] = False,
) -> None:
    """Replace the database and evidence with an archive's; stop warroom first.

    Every file is checked against the archive's manifest before anything is replaced; the
    runbook files are then written from the restored incidents and the audit chain verified.
    """
    from warroom.audit import service as audit
    from warroom.audit import verify as chain
    from warroom.storage import backup as archive

    settings = settings_of(ctx)
    url = settings.resolved_database_url()
    with errors_as_exit(), database_errors_as_exit(url), local_admin() as actor:
        manifest = archive.read_manifest(file)
        if not yes:
            typer.confirm(
                f"Replace the {manifest['backend']} database and evidence files with {file}'s "
                f"(made {manifest['created_at']})?",
                abort=True,
            )
        archive.restore(
            source=file,
            url=url,
            data_dir=settings.data_dir,
            progress=lambda step: typer.echo(f"{step}…", err=True),
            portable_restore=lambda path: _from_sqlite(path, url),
        )
        runtime = local_runtime(settings)  # upgrades a backup of an older warroom
        written, failed = runtime.flows.sync_all(lambda done, total: None)
        verdict = chain.verify(runtime.db)
        # The restored log ends where the backup was made: it says who went back, and when.
        audit.record_now(
            runtime.db,
            "backup.restore",
            actor=actor,
            at=runtime.clock.now(),
            target=file.name,
            outcome="ok" if verdict.ok else "failed",
            details={"backend": str(manifest["backend"]), "made": str(manifest["created_at"])},
        )
    if not verdict.ok:
        fail(
            f"restored, but the audit log is broken at entry {verdict.broken_seq}: {verdict.reason}"
        )
    typer.echo(
        f"restored {file}: {written} runbook files written"
        + (f", {failed} failed" if failed else "")
        + f"; audit log intact ({verdict.checked} entries)"
    )
    if failed:
        raise typer.Exit(1)


def _to_sqlite(source: "Database", path: Path) -> None:
    """Write the database as a SQLite file (the portable form, where pg_dump is missing)."""
    from warroom.migrations import migrate
    from warroom.storage.copy import copy
    from warroom.storage.db import Database

    target = Database(f"sqlite:///{path}")
    try:
        migrate.upgrade(target)
        copy(source, target, progress=lambda table, rows: None)
    finally:
        target.dispose()


def _from_sqlite(path: Path, url: str) -> None:
    """Replace a PostgreSQL database by a portable backup's rows (no pg_restore needed)."""
    from sqlalchemy import text

    from warroom.migrations import migrate
    from warroom.storage.copy import copy
    from warroom.storage.db import Database

    source, target = Database(f"sqlite:///{path}"), Database(url)
    try:
        with target.write_engine.begin() as connection:
            # Everything warroom made, triggers and their functions with it; the role restoring
            # must own the schema (docs/operations.md).
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(target)
        copy(source, target, progress=lambda table, rows: None)
    finally:
        source.dispose()
        target.dispose()
