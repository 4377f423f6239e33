"""`warroom incident …`: work incidents over HTTP (WARROOM_URL, WARROOM_TOKEN)."""

from typing import Annotated, Any

import typer

from warroom.cli.api_calls import api_client, api_request
from warroom.cli.common import print_json
from warroom.cli.incident_render import (
    minute_stamp,
    print_incident_table,
    render_incident,
    render_related,
    short_span,
    styled,
)
from warroom.core.ids import incident_number, incident_ref

incident_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="Declare and work incidents on a warroom server.",
    no_args_is_help=True,
)

API = "/api/v1/incidents"


def _check_ref(value: str) -> str:
    """Return `INC-n` for `n` or `INC-n`, or raise a usage error."""
    number = incident_number(value)
    if number is None:
        raise typer.BadParameter(f"{value!r} is not an incident; use a number such as 42 or INC-42")
    return incident_ref(number)


def check_time(value: str | None) -> str | None:
    """Return an ISO 8601 time normalised with its offset (naive means UTC), or a usage error."""
    if value is None:
        return None
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not ISO 8601, e.g. 2026-03-02T09:00Z") from None
    return (when.replace(tzinfo=UTC) if when.tzinfo is None else when).isoformat()


Ref = Annotated[
    str, typer.Argument(metavar="REF", help="The incident: 42 or INC-42.", callback=_check_ref)
]
Json = Annotated[bool, typer.Option("--json", help="Print the server's JSON response.")]
Note = Annotated[str | None, typer.Option(help="Why, or what was done; kept on the timeline.")]
Severity = Annotated[
    str | None,
    typer.Option(
        help="SEV-1 to SEV-4, or by name: critical, high, medium, low; when unsure, the higher."
    ),
]
Commander = Annotated[str | None, typer.Option(help="Who leads the response.")]


def _say_pending_commander(detail: dict[str, Any]) -> None:
    """Say so when a new Incident Commander waits to accept (a handoff is never silent)."""
    pending, ref = detail.get("pending_commander"), detail["ref"]
    if not pending or detail.get("status") == "closed":  # closed is final: nothing to accept
        return
    current = detail.get("commander") or "nobody"
    typer.echo(
        f"{pending} is proposed as Incident Commander; {current} stays in charge until "
        f"{pending} accepts with `warroom incident accept {ref}` (or declines with "
        f"`warroom incident decline {ref}`)"
    )


def _move(ref: str, action: str, body: dict[str, Any], as_json: bool) -> None:
    """POST a lifecycle action and report the new status."""
    fields = {key: value for key, value in body.items() if value is not None}
    detail = api_request("POST", f"{API}/{ref}/{action}", fields or None)
    if as_json:
        print_json(detail)
        return
    outcome = " (a false alarm)" if detail.get("outcome") == "false_alarm" else ""
    typer.echo(f"{detail['ref']} is now {detail['status']}{outcome}")
    _say_pending_commander(detail)
    durations = detail["durations"]
    if detail["status"] == "mitigated":
        typer.echo(f"time to mitigate: {short_span(durations['time_to_mitigate'])}")
    elif detail["status"] in ("resolved", "closed"):
        typer.echo(f"time to resolve: {short_span(durations['time_to_resolve'])}")
    allowed = ", ".join(detail["allowed_actions"]) or "nothing (closed is final)"
    typer.echo(f"allowed next: {allowed}")


@incident_app.command()
def declare(
    title: Annotated[str, typer.Argument(metavar="TITLE", help="What is wrong, in one line.")],
    severity: Severity = None,
    summary: Annotated[str, typer.Option(help="What is known so far.")] = "",
    incident_type: Annotated[
        str | None, typer.Option("--type", help="An incident type from warroom.yaml.")
    ] = None,
    service: Annotated[str | None, typer.Option(help="The affected service.")] = None,
    commander: Commander = None,
    restricted: Annotated[
        bool | None,
        typer.Option(
            "--restricted/--public",
            help="Keep it off the public status page (default: by incident type).",
            show_default=False,
        ),
    ] = None,
    runbook: Annotated[
        str | None,
        typer.Option(metavar="TEMPLATE", help="Runbook template (default: by type or service)."),
    ] = None,
    started_at: Annotated[
        str | None,
        typer.Option(metavar="ISO", help="When impact began, if earlier.", callback=check_time),
    ] = None,
    as_json: Json = False,
) -> None:
    """Declare an incident; it starts in `detected` with its runbook checklist."""
    visibility = None if restricted is None else ("restricted" if restricted else "public")
    body = {"title": title, "summary": summary, "severity": severity, "service": service}
    body |= {"incident_type": incident_type, "commander": commander, "runbook": runbook}
    body |= {"started_at": started_at, "visibility": visibility}
    detail = api_request(
        "POST", API, {key: value for key, value in body.items() if value is not None}
    )
    if as_json:
        print_json(detail)
        return
    typer.echo(f"Declared {detail['ref']} ({detail['severity']}): {detail['title']}")
    steps = len(detail["checklist"])
    template = detail["runbook_template"] or "no template"
    typer.echo(
        f"runbook: {template}, {steps} checklist steps; next: warroom incident ack {detail['ref']}"
    )


@incident_app.command("list")
def list_incidents(
    status: Annotated[
        list[str] | None,
        typer.Option(
            help="detected, triaged, mitigated, resolved, closed, or open (the first three); "
            "repeat or comma-list."
        ),
    ] = None,
    severity: Annotated[
        list[str] | None, typer.Option(help="SEV-1…SEV-4; repeat or comma-list.")
    ] = None,
    service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
    incident_type: Annotated[
        str | None, typer.Option("--type", help="Only this incident type.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(metavar="ISO", help="Detected at or after this time.", callback=check_time),
    ] = None,
    parent: Annotated[
        str | None,
        typer.Option(metavar="INC-N", help="Only the members of this alert storm."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="Incidents per page.")] = 50,
    all_pages: Annotated[
        bool, typer.Option("--all", help="Follow next_cursor through every page.")
    ] = False,
    as_json: Json = False,
) -> None:
    """List incidents, newest first."""
    filters = {"status": status, "severity": severity, "service": service, "type": incident_type}
    filters["parent"] = parent
    params = {
        key: value for key, value in {**filters, "since": since, "limit": limit}.items() if value
    }
    api = api_client()
    try:
        page = api_request("GET", API, params=params, api=api)
        items = list(page["items"])
        while all_pages and page["next_cursor"]:
            page = api_request(
                "GET", API, params={**params, "cursor": page["next_cursor"]}, api=api
            )
            items.extend(page["items"])
    finally:
        api.close()
    if as_json:
        print_json({"items": items, "next_cursor": page["next_cursor"]})
        return
    if not items:
        typer.echo("no incidents match")
        return
    from rich.console import Console

    console = Console()
    print_incident_table(console, items)
    if page["next_cursor"]:
        console.print(styled(f"{len(items)} shown; more with --all or a larger --limit", "dim"))


@incident_app.command()
def severities(as_json: Json = False) -> None:
    """List the severity levels and what each means (when unsure, choose the higher)."""
    from rich.console import Console
    from rich.table import Table

    answer = api_request("GET", "/api/v1/severities")
    if as_json:
        print_json(answer)
        return
    table = Table("severity", "name", "definition", title=answer["rule"])
    for level in answer["severities"]:
        table.add_row(styled(level["id"]), styled(level["name"]), styled(level["description"]))
    Console().print(table)


@incident_app.command()
def show(ref: Ref, as_json: Json = False) -> None:
    """Show an incident with its assessment, durations, checklist, timeline and related ones."""
    from warroom.cli.client import ApiError

    api = api_client()
    try:
        detail = api_request("GET", f"{API}/{ref}", api=api)
        try:  # extra: a server from before related incidents still shows the incident
            related = api.request("GET", f"{API}/{ref}/related")
        except (ApiError, ValueError) as exc:
            related = None
            typer.echo(f"related incidents unavailable: {exc}", err=True)
    finally:
        api.close()
    if as_json:  # without the related incidents, no `related` key: null would mean none
        print_json(detail if related is None else {**detail, "related": related})
    else:
        render_incident(detail)
        if related is not None:
            render_related(related)


@incident_app.command()
def ack(ref: Ref, as_json: Json = False) -> None:
    """Acknowledge an incident: you are on it and paging stops (status does not change)."""
    detail = api_request("POST", f"{API}/{ref}/acknowledge")
    if as_json:
        print_json(detail)
        return
    when, who = minute_stamp(detail["acknowledged_at"]), detail["acknowledged_by"]
    typer.echo(f"{detail['ref']} acknowledged by {who} at {when} UTC; status is {detail['status']}")


@incident_app.command()
def triage(
    ref: Ref,
    severity: Severity = None,
    commander: Commander = None,
    impact: Annotated[str | None, typer.Option(help="Who is hurt, and how.")] = None,
    scope: Annotated[str | None, typer.Option(help="Which systems, regions or customers.")] = None,
    priority: Annotated[str | None, typer.Option(help="P1 to P4 (from warroom.yaml).")] = None,
    note: Note = None,
    as_json: Json = False,
) -> None:
    """Triage: set the initial assessment (commander, severity, impact, scope, priority)."""
    body = {"severity": severity, "commander": commander, "impact": impact, "scope": scope}
    _move(ref, "triage", {**body, "priority": priority, "note": note}, as_json)


@incident_app.command()
def mitigate(ref: Ref, note: Note = None, as_json: Json = False) -> None:
    """Mark the impact as stopped (containment and remediation done)."""
    _move(ref, "mitigate", {"note": note}, as_json)


SkipVerification = Annotated[
    str | None,
    typer.Option(
        "--skip-verification",
        metavar="REASON",
        help="Skip the open Verification checklist items with this reason.",
    ),
]
FalseAlarm = Annotated[
    str | None,
    typer.Option(
        "--false-alarm",
        metavar="REASON",
        help="End it as a false alarm: verification is skipped with REASON, no postmortem is "
        "owed, and metrics count it apart.",
    ),
]


@incident_app.command()
def resolve(
    ref: Ref,
    note: Note = None,
    skip: SkipVerification = None,
    false_alarm: FalseAlarm = None,
    as_json: Json = False,
) -> None:
    """Mark the incident resolved: verification passed; a postmortem may be due."""
    body = {"note": note, "skip_verification": skip, "false_alarm": false_alarm}
    _move(ref, "resolve", body, as_json)


@incident_app.command()
def close(
    ref: Ref,
    note: Note = None,
    skip: SkipVerification = None,
    false_alarm: FalseAlarm = None,
    waive: Annotated[
        str | None,
        typer.Option(
            "--waive-postmortem",
            metavar="REASON",
            help="Admins only: close without the required postmortem (REASON goes on the "
            "timeline).",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Close the incident: the postmortem is done or not required (final)."""
    body = {"note": note, "skip_verification": skip, "false_alarm": false_alarm}
    _move(ref, "close", {**body, "waive_postmortem": waive}, as_json)


@incident_app.command()
def reopen(ref: Ref, note: Note = None, as_json: Json = False) -> None:
    """Return a mitigated or resolved incident to triaged."""
    _move(ref, "reopen", {"note": note}, as_json)


@incident_app.command()
def note(
    ref: Ref,
    text: Annotated[str, typer.Argument(metavar="TEXT", help="What happened or what you saw.")],
    key: Annotated[
        bool, typer.Option("--key", help="Mark it a key event for the postmortem timeline.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Add a note to an incident's timeline."""
    event = api_request("POST", f"{API}/{ref}/timeline", {"text": text, "key_event": key})
    if as_json:
        print_json(event)
        return
    what = "key event" if event["key_event"] else "note"
    typer.echo(f"Added {what} #{event['number']} to {ref} at {minute_stamp(event['at'])} UTC")
