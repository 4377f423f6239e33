"""`warroom incident …`: work incidents over HTTP (WARROOM_URL, WARROOM_TOKEN)."""

from __future__ import annotations

import typer

incident_app = typer.Typer(
    help="Declare and work incidents on a warroom server.", no_args_is_help=True
)
