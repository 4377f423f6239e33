"""`warroom heartbeats`: each heartbeat, when it last pinged and its state (over HTTP)."""

from typing import Annotated

import typer

from warroom.cli.api_calls import api_request
from warroom.cli.common import print_json
from warroom.cli.incident_render import minute_stamp, short_span, styled

STATE_STYLES = {"up": "green", "down": "bold red", "recovering": "yellow", "waiting": "dim"}


def heartbeats(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the server's JSON response.")
    ] = False,
) -> None:
    """List heartbeats: last ping, state, and the incident a silent one opened."""
    found = api_request("GET", "/api/v1/heartbeats")
    if as_json:
        print_json(found)
        return
    if not found:
        typer.echo("no heartbeats: add them under heartbeats: in warroom.yaml")
        return
    from rich.console import Console
    from rich.table import Table

    names = ("heartbeat", "service", "every", "state", "last ping (UTC)", "ago", "incident")
    table = Table(*names)
    for beat in found:
        every = beat["interval"] + (f" +{beat['grace']}" if beat["grace"] != "0s" else "")
        table.add_row(
            styled(beat["id"], "bold"),
            styled(beat["service"], ""),
            styled(every, ""),
            styled(beat["state"], STATE_STYLES.get(beat["state"], "")),
            minute_stamp(beat["last_seen_at"]),
            short_span(beat["seconds_since_ping"])
            if beat["seconds_since_ping"] is not None
            else "—",
            styled(beat["incident"], "bold red" if beat["incident"] else ""),
        )
    Console().print(table)
