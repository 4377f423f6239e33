"""`warroom metrics incidents`: counts and response times over a period, over HTTP."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from warroom.cli.api_calls import api_client, api_request, explain_error
from warroom.cli.common import fail, print_json
from warroom.cli.incident import Json
from warroom.cli.incident_render import minute_stamp, short_span, styled

if TYPE_CHECKING:
    from rich.console import Console

metrics_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="Numbers over many incidents: counts, MTTD/MTTA/MTTM/MTTR, overdue postmortems.",
    no_args_is_help=True,
)
API = "/api/v1/metrics/incidents"
DURATIONS = (("mttd", "MTTD"), ("mtta", "MTTA"), ("mttm", "MTTM"), ("mttr", "MTTR"))


def _params(
    since: str, until: str | None, severity: list[str] | None, service: list[str] | None
) -> dict[str, Any]:
    params: dict[str, Any] = {"since": since}
    if until:
        params["until"] = until
    if severity:
        params["severity"] = severity
    if service:
        params["service"] = service
    return params


def _save_csv(params: dict[str, Any], target: Path) -> int:
    """Fetch the CSV export and write it to `target`; return the number of incidents."""
    from warroom.cli.client import ApiError

    client = api_client()
    try:
        # The CSV is not JSON, so ask the client's HTTP session directly; errors are JSON.
        response = client._http.get(f"{API}.csv", params=params)
    except Exception as exc:
        fail(explain_error(ApiError(0, "unreachable", f"cannot reach {client.base_url}: {exc}")))
    finally:
        client.close()
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {response.status_code}: {response.text[:200]}"
        fail(explain_error(ApiError(response.status_code, "error", message)))
    try:
        target.write_bytes(response.content)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror}")
    return max(response.text.count("\r\n") - 1, 0)


def _row(label: str, stats: dict[str, Any]) -> list[Any]:
    cells: list[Any] = [styled(label, "")]
    for key, _ in DURATIONS:
        value = stats[key]
        if value["count"]:
            cells.append(
                " / ".join(short_span(value[key]) for key in ("mean", "p50", "p90"))
                + f" ({value['count']})"
            )
        else:
            cells.append("—")
    return cells


@metrics_app.command("incidents")
def incidents(
    since: Annotated[
        str,
        typer.Option(
            metavar="WHEN", help="Detected at or after: a duration ago (30d, 12h) or ISO 8601."
        ),
    ] = "30d",
    until: Annotated[
        str | None,
        typer.Option(metavar="WHEN", help="Detected before: a duration ago or ISO 8601 (now)."),
    ] = None,
    severity: Annotated[
        list[str] | None,
        typer.Option(metavar="SEV", help="Only this severity (SEV-1…); repeat for more."),
    ] = None,
    service: Annotated[
        list[str] | None,
        typer.Option(metavar="SERVICE", help="Only this service; repeat for more."),
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            metavar="FILE",
            dir_okay=False,
            help="Write one row per incident, with durations in seconds, to FILE.",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Show incident counts and mean / p50 / p90 of time to detect, ack, mitigate, resolve."""
    params = _params(since, until, severity, service)
    if csv is not None:
        count = _save_csv(params, csv)
        typer.echo(f"Wrote {count} incidents to {csv}")
        return
    report: dict[str, Any] = api_request("GET", API, params=params)
    if as_json:
        print_json(report)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    period = report["period"]
    false_alarms = report.get("false_alarms") or 0
    apart = f", and {false_alarms} false alarm(s) counted apart" if false_alarms else ""
    console.print(
        f"{report['total']} incidents detected {minute_stamp(period['since'])} – "
        f"{minute_stamp(period['until'])} UTC{apart}",
        highlight=False,
    )
    counts = Table("by", "counts", title="Incidents", title_justify="left")
    for key in ("severity", "service", "type", "status"):
        found = report["counts"][key]
        counts.add_row(key, styled(", ".join(f"{k}: {v}" for k, v in found.items()), ""))
    console.print(counts)
    times = Table(
        "",
        *(label for _, label in DURATIONS),
        title="Mean / p50 / p90 (incidents)",
        title_justify="left",
    )
    times.add_row(*_row("all", report["durations"]))
    for name, stats in report["by_severity"].items():
        times.add_row(*_row(name, stats))
    for name, stats in report["by_service"].items():
        times.add_row(*_row(f"service {name}", stats))
    console.print(times)
    overdue = report["overdue"]
    if overdue["postmortems"] is None:
        console.print(f"Overdue: unknown ({overdue['note']})", highlight=False)
    else:
        console.print(
            f"Overdue: {overdue['postmortems']} postmortems, "
            f"{overdue['action_items']} action items",
            highlight=False,
        )
        _print_late(console, overdue)


def _print_late(console: "Console", overdue: dict[str, Any]) -> None:
    """List the overdue postmortems and action items (oldest first), when there are any."""
    from rich.table import Table

    if overdue["late_postmortems"]:
        late = Table("incident", "severity", "commander", "status", "due", "title")
        late.title, late.title_justify = "Overdue postmortems", "left"
        for pm in overdue["late_postmortems"]:
            late.add_row(
                pm["incident"],
                pm["severity"],
                styled(pm["commander"]),
                pm["status"],
                minute_stamp(pm["due_at"]),
                styled(pm["title"]),
            )
        console.print(late)
    if overdue["late_action_items"]:
        late = Table("item", "incident", "owner", "due", "jira", "title")
        late.title, late.title_justify = "Overdue action items", "left"
        for item in overdue["late_action_items"]:
            late.add_row(
                str(item["id"]),
                item["incident"],
                styled(item["owner"]),
                item["due_date"],
                styled(item["jira_key"]),
                styled(item["title"]),
            )
        console.print(late)
