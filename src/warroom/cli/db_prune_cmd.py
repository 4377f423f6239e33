"""`warroom db prune [--dry-run]`: delete now what is past its retention (docs/operations.md)."""

from typing import Annotated

import typer

from warroom.cli.common import (
    database_errors_as_exit,
    errors_as_exit,
    local_admin,
    local_runtime,
    settings_of,
)


def prune(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")
    ] = False,
) -> None:
    """Delete rows past their retention (config `retention:`) now, as the engine does every
    few minutes: ended sessions, sent messages, finished paging runs, ended silences, alerts
    that joined no incident. Incidents, their timelines and the audit log are never pruned.
    """
    from rich.console import Console
    from rich.table import Table

    from warroom.audit import service as audit
    from warroom.core.durations import format_duration
    from warroom.retention.service import prune as prune_rows

    settings = settings_of(ctx)
    with (
        errors_as_exit(),
        database_errors_as_exit(settings.resolved_database_url()),
        local_admin() as actor,
    ):
        runtime = local_runtime(settings)
        now = runtime.clock.now()
        done = prune_rows(
            runtime.db,
            retention=runtime.config().retention,
            now=now,
            dry_run=dry_run,
            actor=actor,
        )
        if not dry_run and any(p.rows for p in done):
            audit.record_now(
                runtime.db,
                "db.prune",
                actor=actor,
                at=now,
                target=runtime.db.dialect,
                details={p.kind: p.rows for p in done if p.rows},
            )
        runtime.close()
    table = Table("kind", "older than", "would be deleted" if dry_run else "deleted")
    for pruned in done:
        older = format_duration(pruned.older_than) if pruned.older_than else "expired"
        table.add_row(pruned.kind, older, f"{pruned.rows:,}")
    Console().print(table)
