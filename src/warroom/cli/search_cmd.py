"""`warroom search QUERY`: full-text search over the incidents you may see, over HTTP."""

from typing import Annotated, Any

import typer

from warroom.cli.api_calls import api_request
from warroom.cli.common import print_json
from warroom.cli.incident import Json
from warroom.cli.incident_render import minute_stamp, styled

API = "/api/v1/search"


def search(
    query: Annotated[
        list[str],
        typer.Argument(
            metavar="QUERY", help='Words all found in one place; "quoted words" together.'
        ),
    ],
    service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
    severity: Annotated[
        list[str] | None, typer.Option(help="SEV-1…SEV-4; repeat or comma-list.")
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(help="detected, …, closed, or open; repeat or comma-list."),
    ] = None,
    incident_type: Annotated[
        str | None, typer.Option("--type", help="Only this incident type.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Detected at or after: `30d` ago or ISO 8601.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Detected before: `7d` ago or ISO 8601.")
    ] = None,
    page: Annotated[int, typer.Option(min=1, help="Which page of results.")] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=100, help="Results per page.")] = 20,
    as_json: Json = False,
) -> None:
    """Search incidents: titles, summaries, notes, status updates, postmortems, alerts."""
    params = {
        # The shell took the quotes off a phrase: an argument with a space was one.
        "q": " ".join(f'"{word}"' if " " in word and '"' not in word else word for word in query),
        "service": service,
        "severity": severity,
        "status": status,
        "type": incident_type,
        "since": since,
        "until": until,
        "page": page,
        "per_page": per_page,
    }
    answer = api_request("GET", API, params={k: v for k, v in params.items() if v})
    if as_json:
        print_json(answer)
        return
    if not answer["items"]:
        typer.echo("no incidents match")
        return
    _print(answer)


def _print(answer: dict[str, Any]) -> None:
    """Print the hits as a table, the matched words in bold (never read as markup)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("ref", "status", "sev", "service", "detected (UTC)"):
        table.add_column(name, no_wrap=True)
    table.add_column("title / where it matched", ratio=1)
    for item in answer["items"]:
        quote = Text(f"{item['matched_label']}: ", style="dim")
        for part in item["highlights"]:
            quote.append(part["text"], style="bold reverse" if part["match"] else "")
        found = Text.assemble(styled(item["title"], ""), "\n", quote)
        table.add_row(
            styled(item["ref"], "bold"),
            styled(item["status"]),
            styled(item["severity"]),
            styled(item["service"]),
            styled(minute_stamp(item["detected_at"]), ""),
            found,
        )
    console = Console()
    console.print(table)
    shown = (answer["page"] - 1) * answer["per_page"] + len(answer["items"])
    more = f"; next: --page {answer['next_page']}" if answer["next_page"] else ""
    total = f"more than {answer['total']}" if answer["capped"] else answer["total"]
    console.print(Text(f"{shown} of {total} shown{more}", style="dim"))
