"""`warroom notifications …`: the outbox over HTTP (WARROOM_URL, WARROOM_TOKEN)."""

from enum import StrEnum
from typing import Annotated

import typer

from warroom.cli.api_calls import api_request
from warroom.cli.common import print_json
from warroom.cli.incident import Json
from warroom.cli.incident_render import minute_stamp, styled

notifications_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="The notification outbox: what was sent, what waits, what died; resend.",
    no_args_is_help=True,
)
API = "/api/v1/notifications"
STATUS_STYLES = {
    "sent": "green",
    "pending": "cyan",
    "sending": "cyan",
    "failed": "yellow",
    "dead": "bold red",
    "cancelled": "dim",
}


class Status(StrEnum):
    """Outbox statuses."""

    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    dead = "dead"
    cancelled = "cancelled"


@notifications_app.command("list")
def list_notifications(
    status: Annotated[Status | None, typer.Option(help="Only this status.")] = None,
    incident: Annotated[str | None, typer.Option(help="Only this incident (INC-42).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 50,
    as_json: Json = False,
) -> None:
    """List notifications newest first, with the outbox depth by status."""
    params: dict[str, str | int] = {"limit": limit}
    if status is not None:
        params["status"] = status.value
    if incident:
        params["incident"] = incident
    page = api_request("GET", API, params=params)
    if as_json:
        print_json(page)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    depth = page["depth"]
    console.print(
        "outbox: " + ", ".join(f"{depth.get(s.value, 0)} {s.value}" for s in Status),
        highlight=False,
    )
    if not page["items"]:
        typer.echo("no notifications")
        return
    table = Table(
        "id", "incident", "channel", "action", "to", "status", "tries", "at (UTC)", "error"
    )
    for column in table.columns:
        column.no_wrap = column.header != "error"
    for item in page["items"]:
        table.add_row(
            styled(item["id"], "bold"),
            styled(item["incident"], ""),
            styled(item["channel"], ""),
            styled(item["action"], ""),
            styled(item["destination"], ""),
            styled(item["status"], STATUS_STYLES.get(item["status"], "")),
            styled(f"{item['attempts']}/{item['max_attempts']}", ""),
            minute_stamp(item["sent_at"] or item["next_attempt_at"]),
            styled(item["last_error"], "dim"),
        )
    console.print(table)


@notifications_app.command()
def resend(
    notification_id: Annotated[
        int, typer.Argument(metavar="ID", min=1, max=2**31 - 1, help="From `notifications list`.")
    ],
    as_json: Json = False,
) -> None:
    """Queue a dead or failed notification again with fresh attempts (admins)."""
    item = api_request("POST", f"{API}/{notification_id}/resend")
    if as_json:
        print_json(item)
        return
    typer.echo(f"Notification {item['id']} ({item['channel']} {item['action']}) queued again")
