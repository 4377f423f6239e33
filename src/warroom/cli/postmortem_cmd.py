"""`warroom postmortem show|export`: read and export postmortems over HTTP."""

from __future__ import annotations

from typing import Any

import typer

from warroom.cli.common import print_json
from warroom.cli.incident import API, Json, Ref, _request, _span, _text, _when

postmortem_app = typer.Typer(
    help="Postmortems of resolved incidents: read them, export them to archive/.",
    no_args_is_help=True,
)
MILESTONES = ("detected", "acknowledged", "triaged", "mitigated", "resolved")
SPANS = (
    ("detection → triage", "detection_to_triage"),
    ("triage → mitigation", "triage_to_mitigation"),
    ("mitigation → resolution", "mitigation_to_resolution"),
    ("time to resolve", "time_to_resolve"),
)


@postmortem_app.command("show")
def show(ref: Ref, as_json: Json = False) -> None:
    """Show REF's postmortem: timeline, 5 Whys, fishbone and action items."""
    from rich.console import Console
    from rich.table import Table

    pm: dict[str, Any] = _request("GET", f"{API}/{ref}/postmortem")
    if as_json:
        print_json(pm)
        return
    console = Console()
    due = f", due {_when(pm['due_at'])}" if pm["due_at"] else ""
    required = "required" if pm["required"] else "optional"
    console.print(_text(f"Postmortem {pm['incident']}: {pm['title']}", "bold"))
    console.print(_text(f"{pm['severity']} · {pm['status']} · {required}{due}", ""))
    console.print(_text(f"Responders: {', '.join(pm['responders']) or '—'}", ""))
    times = Table("milestone", "time (UTC)")
    for name in MILESTONES:
        times.add_row(name, _when(pm["timeline"]["milestones"][name]))
    for label, key in SPANS:
        times.add_row(label, _span(pm["timeline"]["durations"][key]))
    console.print(times)
    for index, why in enumerate(pm["five_whys"], start=1):
        console.print(_text(f"{index}. {why['question']} {why['answer']}", ""))
    for name, causes in pm["fishbone"].items():
        console.print(_text(f"{name}: {'; '.join(causes) or '—'}", ""))
    if pm["action_items"]:
        items = Table("id", "kind", "title", "owner", "due", "status")
        for item in pm["action_items"]:
            items.add_row(
                str(item["id"]),
                item["kind"],
                _text(item["title"], ""),
                _text(item["owner"], ""),
                _text(item["due_date"], ""),
                item["status"],
            )
        console.print(items)


@postmortem_app.command("export")
def export(ref: Ref, as_json: Json = False) -> None:
    """Write REF's postmortem as markdown, HTML and SVG into archive/; print the paths."""
    answer: dict[str, Any] = _request("POST", f"{API}/{ref}/postmortem/export")
    if as_json:
        print_json(answer)
        return
    for path in answer["paths"]:
        typer.echo(path)
