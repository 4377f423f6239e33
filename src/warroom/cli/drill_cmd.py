"""`warroom drill`: start a practice incident, or show one, on a warroom server over HTTP.

`warroom drill` alone starts a drill as it always has (a callback run without a subcommand);
`warroom drill show ID` prints one (WARROOM_URL, WARROOM_TOKEN).
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from warroom.cli.api_calls import api_request
from warroom.cli.common import fail, print_json
from warroom.cli.incident import Json

drill_app = typer.Typer(invoke_without_command=True, subcommand_metavar="[show ID]")
DB_INT_MAX = 2**31 - 1  # as the API's; not imported from there, so the CLI stays light
OVER = ("resolved", "closed")


@drill_app.callback()
def drill(
    ctx: typer.Context,
    scenario: Annotated[
        str | None,
        typer.Option(
            metavar="NAME|FILE",
            help="A shipped scenario (high-cpu, data-breach) or a scenario YAML file "
            "(default: high-cpu, the runbook's first worked example).",
        ),
    ] = None,
    service: Annotated[
        str | None,
        typer.Option(help="The service the injected alerts name (default: the scenario's)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Start a drill: a practice incident marked DRILL that pages its participants only.

    `warroom drill show ID` shows one: its incident, participants, steps and review.
    """
    if ctx.invoked_subcommand is not None:
        if scenario is not None or service is not None or as_json:
            fail(
                f"--scenario, --service and --json before `{ctx.invoked_subcommand}` start a "
                f"drill; give `{ctx.invoked_subcommand}` its own options after it",
                code=2,
            )
        return
    body: dict[str, str] = {}
    if scenario is not None:
        path = Path(scenario)
        if path.suffix in (".yaml", ".yml") or path.is_file():
            body["scenario"] = _read(path)
        else:
            body["scenario"] = scenario
    if service is not None:
        body["service"] = service
    started = api_request("POST", "/api/v1/drills", body)
    if as_json:
        print_json(started)
        return
    incident = started.get("incident") or "no incident yet"
    typer.echo(f"Drill {started['id']} ({started['scenario']}) started: {incident}")
    later = [s for s in started["steps"] if s["done_at"] is None and s["kind"] != "expect"]
    if later:
        typer.echo(f"{len(later)} more to inject, the last at +{later[-1]['at']}")
    typer.echo(
        f"follow it: warroom drill show {started['id']}; its review is also in the "
        "incident's postmortem"
    )


@drill_app.command("show")
def show(
    drill_id: Annotated[
        int,
        typer.Argument(
            metavar="ID",
            min=1,
            max=DB_INT_MAX,
            help="The drill's id, as `warroom drill` printed it (Drill 1 …).",
        ),
    ],
    as_json: Json = False,
) -> None:
    """Show a drill: its incident, participants, each step with its offset, and its review."""
    found = api_request("GET", f"/api/v1/drills/{drill_id}")
    if as_json:
        print_json(found)
        return
    over = found.get("incident_status") in OVER
    typer.echo(f"Drill {found['id']} ({found['scenario']}): {found['title']}")
    for name, value in _facts(found, over):
        typer.echo(f"  {name:<13}{value}")
    from rich.console import Console

    console = Console()
    console.print(_steps_table(found, over))
    review = found.get("review")
    if review:
        console.print(_phases_table(review))
        if over and review["missed"]:
            typer.echo(f"Skipped or late: {', '.join(review['missed'])}")


def _facts(found: dict[str, Any], over: bool) -> list[tuple[str, str]]:
    """Return the drill's facts as (name, value) lines."""
    incident, status = found.get("incident"), found.get("incident_status")
    to_inject = [s for s in found["steps"] if s["kind"] != "expect" and s["done_at"] is None]
    if incident is None:
        state = "starting: its incident has not opened yet"
    elif over:
        state = f"over: {incident} is {status}"
    else:
        state = f"running: {incident} is {status}"
    if to_inject and not over:
        state += f"; {len(to_inject)} more to inject, the next at +{to_inject[0]['at']}"
    from warroom.cli.incident_render import minute_stamp

    facts = [
        ("service", found.get("service") or "—"),
        ("incident", incident or "—"),
        ("state", state),
        ("participants", ", ".join(found.get("participants") or []) or "—"),
        ("started", f"{minute_stamp(found['started_at'])} UTC by {found.get('started_by') or '—'}"),
    ]
    if found.get("allow"):
        facts.append(("may reach", ", ".join(found["allow"])))
    return facts


def _steps_table(found: dict[str, Any], over: bool) -> Any:
    """Return the timeline: each step at its offset, and what became of it."""
    from rich.table import Table

    from warroom.cli.incident_render import parse_stamp, short_span, styled

    started = parse_stamp(found["started_at"])
    review = found.get("review") or {}
    # The review lists expected steps in timeline order: pair them before sorting by time.
    expects = [step["position"] for step in found["steps"] if step["kind"] == "expect"]
    verdicts = dict(zip(expects, review.get("expected") or [], strict=False))
    table = Table("at", "step", "done", "outcome", title="Steps", title_justify="left")
    for step in sorted(found["steps"], key=lambda s: (s["due_at"], s["position"])):
        if step["kind"] == "expect":
            wanted = verdicts.get(step["position"])
            done = wanted["done_seconds"] if wanted else None
            if wanted is None:
                outcome = "—"
            elif done is None and not over:
                outcome = f"not yet (due by +{_duration(wanted['deadline_seconds'])})"
            else:
                outcome = wanted["verdict"]
            shown = f"+{short_span(done)}" if done is not None else "—"
        else:
            done_at = step["done_at"]
            seconds = (parse_stamp(done_at) - started).total_seconds() if done_at else None
            shown = f"+{short_span(seconds)}" if seconds is not None else "—"
            outcome = step["outcome"] or ("to come" if not over else "—")
        table.add_row(
            styled(f"+{step['at']}", ""),
            styled(_describe(step), ""),
            styled(shown, ""),
            styled(outcome, ""),
        )
    return table


def _describe(step: dict[str, Any]) -> str:
    """Say what a step injects or expects, in a few words."""
    body = step["body"]
    if step["kind"] == "expect":
        return f"expect {body.get('expect')}"
    if step["kind"] == "report":
        return f"report: {body.get('title')}"
    labels = body.get("labels") or {}
    name = labels.get("alertname") or (body.get("annotations") or {}).get("summary") or "alert"
    resolved = " (resolved)" if body.get("status") == "resolved" else ""
    return f"alert {name}{resolved}"


def _phases_table(review: dict[str, Any]) -> Any:
    """Return the review's phases: time from detection against each target."""
    from rich.table import Table

    from warroom.cli.incident_render import short_span, styled

    table = Table("phase", "took", "target", "verdict", title="Review", title_justify="left")
    for phase in review["phases"]:
        took = phase["took_seconds"]
        table.add_row(
            styled(phase["phase"], ""),
            styled(short_span(took) if took is not None else "—", ""),
            styled(_duration(phase["target_seconds"]), ""),
            styled(phase["verdict"], ""),
        )
    return table


def _duration(seconds: float) -> str:
    """Say a target or deadline as a scenario writes it: 5m, 1h, 1h30m."""
    from datetime import timedelta

    from warroom.core.durations import format_duration

    return format_duration(timedelta(seconds=seconds))


def _read(path: Path) -> str:
    """Read and check a scenario file here, so a bad one fails before the server hears of it."""
    from warroom.core.errors import Invalid
    from warroom.drills.scenario import parse

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read scenario {path}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        fail(f"scenario {path} is not UTF-8 text")
    try:
        parse(text, origin=str(path))
    except Invalid as exc:
        fail(str(exc))
    return text
