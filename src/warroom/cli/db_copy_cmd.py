"""`warroom db copy --to URL`: move a whole installation to another database, verified."""

from typing import Annotated

import typer

from warroom.cli.common import (
    database_errors_as_exit,
    errors_as_exit,
    fail,
    local_admin,
    local_runtime,
    settings_of,
)


def copy(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="URL",
            help="The new, empty database: postgresql://user@host:5432/warroom (its password "
            "from PGPASSWORD or the URL).",
        ),
    ],
) -> None:
    """Copy every row (incidents, timelines, alerts, users, tokens, sessions, postmortems,
    evidence metadata, the audit chain…) into an empty database, then compare both row by row.

    Stop warroom first, or the copy is of the moment it began. The target gets the schema from
    the migrations; evidence files stay where they are (WARROOM_DATA_DIR).
    """
    from warroom.audit import service as audit
    from warroom.audit import verify as chain
    from warroom.migrations import migrate
    from warroom.settings import normalise_database_url
    from warroom.storage.copy import copy as copy_rows
    from warroom.storage.db import Database

    settings = settings_of(ctx)
    source_url = settings.resolved_database_url()
    target_url = normalise_database_url(to)
    if target_url == source_url:
        fail("--to names the database warroom uses now: give the new, empty one")
    with errors_as_exit(), local_admin() as actor:
        with database_errors_as_exit(source_url):
            runtime = local_runtime(settings)
        # From here on what fails is mostly the target (reading the source already worked).
        with database_errors_as_exit(target_url, named="--to"):
            target = Database(target_url)
            try:
                migrate.upgrade(target)
                copied = copy_rows(
                    runtime.db,
                    target,
                    progress=lambda table, rows: None,
                )
                verdict = chain.verify(target)
                if not verdict.ok:
                    fail(f"copied, but the audit log on the target is broken: {verdict.reason}")
                audit.install(target)  # the entry below goes on the copied chain
                audit.record_now(
                    target,
                    "db.copy",
                    actor=actor,
                    at=runtime.clock.now(),
                    target=target.dialect,
                    details={"rows": copied.rows, "tables": len(copied.tables)},
                )
            finally:
                target.dispose()
    typer.echo(
        f"copied {copied.rows:,} rows in {len(copied.tables)} tables to {target.dialect}; every "
        f"table compared row by row; audit log intact ({verdict.checked} entries). "
        "Point WARROOM_DATABASE_URL at it and start warroom."
    )
