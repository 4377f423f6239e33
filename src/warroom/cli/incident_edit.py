"""`warroom incident edit`: change an incident's fields mid-incident (each is on the timeline)."""

from typing import Annotated, Any

import typer

from warroom.cli.api_calls import api_request
from warroom.cli.common import print_json
from warroom.cli.incident import API, Json, Ref, Severity, check_time, incident_app

# Option name → API field, in the order the changes are reported.
FIELDS = {
    "title": "title",
    "severity": "severity",
    "type": "incident_type",
    "service": "service",
    "priority": "priority",
    "impact": "impact",
    "scope": "scope",
    "summary": "summary",
    "started_at": "started_at",
}


@incident_app.command()
def edit(
    ref: Ref,
    title: Annotated[str | None, typer.Option(help="What is wrong, in one line.")] = None,
    severity: Severity = None,
    incident_type: Annotated[
        str | None, typer.Option("--type", help="An incident type from warroom.yaml.")
    ] = None,
    service: Annotated[str | None, typer.Option(help="The affected service.")] = None,
    priority: Annotated[str | None, typer.Option(help="P1 to P4 (from warroom.yaml).")] = None,
    impact: Annotated[str | None, typer.Option(help="Who is hurt, and how.")] = None,
    scope: Annotated[str | None, typer.Option(help="Which systems, regions or customers.")] = None,
    summary: Annotated[str | None, typer.Option(help="What is known so far.")] = None,
    started_at: Annotated[
        str | None,
        typer.Option(metavar="ISO", help="When impact began (backfilled).", callback=check_time),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why, kept on the timeline.")] = None,
    as_json: Json = False,
) -> None:
    """Change an incident's fields: raise SEV-3 to SEV-1, retitle it, set the service…

    Each change is a timeline event; a new severity pages and engages as that severity does.
    To hand command to someone else, use `warroom incident handoff`.
    """
    given = {
        "title": title,
        "severity": severity,
        "type": incident_type,
        "service": service,
        "priority": priority,
        "impact": impact,
        "scope": scope,
        "summary": summary,
        "started_at": started_at,
    }
    changes = {FIELDS[name]: value for name, value in given.items() if value is not None}
    if not changes:
        options = ", ".join(f"--{name.replace('_', '-')}" for name in FIELDS)
        raise typer.BadParameter(f"nothing to change; give at least one of {options}")
    before = api_request("GET", f"{API}/{ref}")
    after = api_request(
        "PATCH", f"{API}/{ref}", {**changes, "reason": reason} if reason else changes
    )
    if as_json:
        print_json(after)
        return
    typer.echo(_changed(before, after, list(changes)))


def _changed(before: dict[str, Any], after: dict[str, Any], fields: list[str]) -> str:
    """Say what changed (`severity SEV-3 → SEV-1; summary updated`), or that nothing did."""
    said = []
    for field in fields:
        old, new = before.get(field), after.get(field)
        if old == new:
            continue
        label = "type" if field == "incident_type" else field.replace("_", " ")
        if field in ("summary", "impact", "scope"):
            said.append(f"{label} updated")
        else:
            said.append(f"{label} {old or '—'} → {new}")
    if not said:
        return f"{after['ref']} unchanged: it already had those values"
    return f"{after['ref']}: " + "; ".join(said)
