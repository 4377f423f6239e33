"""`warroom drill`: start a practice incident on a warroom server (WARROOM_URL, WARROOM_TOKEN)."""

from pathlib import Path
from typing import Annotated

import typer

from warroom.cli.common import fail, print_json
from warroom.cli.incident import Json, _request


def drill(
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
    """Start a drill: a practice incident marked DRILL that pages its participants only."""
    body: dict[str, str] = {}
    if scenario is not None:
        path = Path(scenario)
        if path.suffix in (".yaml", ".yml") or path.is_file():
            body["scenario"] = _read(path)
        else:
            body["scenario"] = scenario
    if service is not None:
        body["service"] = service
    started = _request("POST", "/api/v1/drills", body)
    if as_json:
        print_json(started)
        return
    incident = started.get("incident") or "no incident yet"
    typer.echo(f"Drill {started['id']} ({started['scenario']}) started: {incident}")
    later = [s for s in started["steps"] if s["done_at"] is None and s["kind"] != "expect"]
    if later:
        typer.echo(f"{len(later)} more to inject, the last at +{later[-1]['at']}")
    typer.echo(f"review: GET /api/v1/drills/{started['id']}, and the incident's postmortem")


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
