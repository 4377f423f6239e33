"""`warroom audit verify|head|list`: the hash-chained audit log, on the local database."""

from typing import Annotated

import typer

from warroom.cli.common import (
    errors_as_exit,
    fail,
    local_admin,
    local_runtime,
    print_json,
    settings_of,
)

audit_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="The audit log: verify its hash chain, print its head, list entries (admins, locally).",
    no_args_is_help=True,
)


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    head: Annotated[
        str | None,
        typer.Option(
            metavar="HASH",
            help="A head hash printed earlier by `warroom audit head` and kept elsewhere: "
            "fail if it is no longer in the chain (entries were cut off or rewritten).",
        ),
    ] = None,
) -> None:
    """Re-hash every entry in order; exit 1 naming the first broken one."""
    from rich.progress import Progress

    from warroom.audit import verify as chain

    if head is not None and (len(head) != 64 or head.strip("0123456789abcdef")):
        fail(f"--head takes the 64 hex digits `warroom audit head` prints, not {head!r}")
    with errors_as_exit():
        runtime = local_runtime(settings_of(ctx))
        total = chain.count(runtime.db)
        with Progress(transient=True) as progress:
            task = progress.add_task("verifying the audit log", total=total)
            verdict = chain.verify(
                runtime.db, kept_head=head, progress=lambda n: progress.advance(task, n)
            )
    if not verdict.ok:
        where = f" at entry {verdict.broken_seq}" if verdict.broken_seq else ""
        fail(f"audit log broken{where}: {verdict.reason}")
    kept = "; the head you kept is in it" if head else ""
    typer.echo(
        f"audit log intact: {verdict.checked} entries, head {verdict.head_seq} "
        f"{verdict.head_hash}{kept}"
    )


@audit_app.command("head")
def show_head(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the chain's entry count and head hash, to keep outside warroom."""
    from warroom.audit import service as audit

    with errors_as_exit():
        runtime = local_runtime(settings_of(ctx))
        with runtime.db.reading() as connection:
            seq, digest = audit.head(connection)
    if as_json:
        print_json({"seq": seq, "hash": digest, "at": runtime.clock.now().isoformat()})
    else:
        typer.echo(f"{seq} {digest}")


@audit_app.command("list")
def list_entries(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(metavar="WHEN", help="A duration ago (24h, 7d) or ISO 8601.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(metavar="WHEN", help="A duration ago or ISO 8601.")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor (alice, os:root…).")] = None,
    action: Annotated[
        str | None,
        typer.Option(help="Only this action (signin.failed) or family (signin. or signin*)."),
    ] = None,
    target: Annotated[str | None, typer.Option(help="Only this target (INC-7, a user…).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List entries, newest first (the reading is audited too)."""
    from rich.console import Console
    from rich.table import Table

    from warroom.audit import service as audit
    from warroom.audit.schemas import AuditEntryOut
    from warroom.core import durations

    with errors_as_exit(), local_admin() as reader:
        runtime = local_runtime(settings_of(ctx))
        now = runtime.clock.now()
        rows, _head, _more = audit.read_page(
            runtime.db,
            reader=reader,
            at=now,
            limit=limit,
            since=durations.moment(since, field="--since", now=now) if since else None,
            until=durations.moment(until, field="--until", now=now) if until else None,
            actor=actor,
            action=action,
            target=target,
        )
    if as_json:
        print_json([AuditEntryOut.of(row).model_dump(mode="json") for row in rows])
        return
    if not rows:
        typer.echo("no audit entries match", err=True)
        return
    table = Table()
    # The columns people search by never wrap; the details take what width is left.
    for column in ("#", "time (UTC)", "actor", "from", "action", "target", "outcome", "details"):
        table.add_column(column, no_wrap=column in ("#", "action", "target", "outcome"))
    for row in rows:
        details = ", ".join(f"{key}={value}" for key, value in row.details.items())
        table.add_row(
            str(row.seq),
            row.at.strftime("%Y-%m-%d %H:%M:%S"),
            row.actor,
            row.client or "",
            row.action,
            row.target or "",
            row.outcome,
            details,
            style="red" if row.outcome != "ok" else None,
        )
    Console().print(table)
