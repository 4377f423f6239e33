"""`warroom oncall …`: who is on call, upcoming shifts, overrides (over HTTP)."""

from typing import Annotated, Any

import typer

from warroom.cli.common import print_json
from warroom.cli.incident import _check_time, _request
from warroom.cli.incident_render import _text, _when
from warroom.cli.silence import parse_duration

oncall_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="On-call schedules: who is on call, shifts, overrides.",
    no_args_is_help=True,
)
override_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="Overrides: someone covers or joins a layer for a while.",
    no_args_is_help=True,
)
oncall_app.add_typer(override_app, name="override")

Json = Annotated[bool, typer.Option("--json", help="Print the server's JSON response.")]


def _drop_none(**params: Any) -> dict[str, Any]:
    """Return the query parameters that have a value."""
    return {k: v for k, v in params.items() if v is not None}


def _people(entries: list[dict[str, Any]]) -> str:
    """Return `Name (id), …` or `nobody`."""
    shown = [f"{p['name']} ({p['id']})" if p.get("name") else p["id"] for p in entries]
    return ", ".join(shown) or "nobody"


@oncall_app.command()
def now(
    at: Annotated[
        str | None, typer.Option(help="ISO time instead of now.", callback=_check_time)
    ] = None,
    schedule: Annotated[
        list[str] | None, typer.Option(help="Only this schedule (repeatable).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Show who is on call now, per schedule and layer."""
    from rich.console import Console
    from rich.table import Table

    answer = _request("GET", "/api/v1/oncall", params=_drop_none(at=at, schedule=schedule or None))
    if as_json:
        print_json(answer)
        return
    table = Table("schedule", "layer", "on call", title=f"On call at {_when(answer['at'])} UTC")
    for item in answer["schedules"]:
        for layer in item["layers"]:
            table.add_row(_text(item["id"]), _text(layer["name"]), _text(_people(layer["on_call"])))
    if not answer["schedules"]:
        typer.echo("no schedules are configured (add schedules: to warroom.yaml)")
        return
    Console().print(table)


@oncall_app.command()
def shifts(
    schedule: Annotated[str, typer.Argument(help="The schedule id.")],
    days: Annotated[int, typer.Option(min=1, max=400, help="How many days ahead.")] = 14,
    layer: Annotated[str | None, typer.Option(help="Only this layer.")] = None,
    as_json: Json = False,
) -> None:
    """List a schedule's upcoming shifts."""
    from rich.console import Console
    from rich.table import Table

    answer = _request(
        "GET", f"/api/v1/schedules/{schedule}/shifts", params=_drop_none(days=days, layer=layer)
    )
    if as_json:
        print_json(answer)
        return
    table = Table("layer", "person", "from (UTC)", "to (UTC)", title=f"Shifts of {schedule}")
    for shift in answer:
        table.add_row(
            _text(shift["layer"]),
            _text(_people([shift["person"]])),
            _text(_when(shift["start"])),
            _text(_when(shift["end"])),
        )
    Console().print(table)


@override_app.command("add")
def override_add(
    schedule: Annotated[str, typer.Argument(help="The schedule id.")],
    layer: Annotated[str, typer.Argument(help="The layer, e.g. primary.")],
    person: Annotated[str, typer.Argument(help="Who covers (a person id).")],
    reason: Annotated[
        str, typer.Option(help="Why, e.g. 'covering for alice'.", show_default=False)
    ],
    duration: Annotated[str | None, typer.Option(help="How long: 30m, 8h, 2d.")] = None,
    until: Annotated[
        str | None, typer.Option(help="End time (ISO) instead of --duration.", callback=_check_time)
    ] = None,
    starts: Annotated[
        str | None, typer.Option(help="Start time (ISO); default now.", callback=_check_time)
    ] = None,
    add: Annotated[
        bool, typer.Option("--add", help="Join the layer instead of replacing.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Put PERSON on call in SCHEDULE's LAYER for a while."""
    if (duration is None) == (until is None):
        raise typer.BadParameter("give exactly one of --duration and --until")
    minutes = None
    if duration is not None:
        try:
            minutes = parse_duration(duration)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--duration'") from None
    body = {
        "schedule": schedule,
        "layer": layer,
        "person": person,
        "reason": reason,
        "mode": "add" if add else "replace",
        "starts_at": starts,
        "ends_at": until,
        "duration_minutes": minutes,
    }
    answer = _request("POST", "/api/v1/oncall/overrides", body=body)
    if as_json:
        print_json(answer)
        return
    typer.echo(
        f"override {answer['id']}: {person} {answer['mode']}s {schedule}/{layer} "
        f"from {_when(answer['starts_at'])} to {_when(answer['ends_at'])} UTC"
    )


@override_app.command("list")
def override_list(
    schedule: Annotated[str | None, typer.Option(help="Only this schedule.")] = None,
    days: Annotated[int, typer.Option(min=1, max=400, help="Look this many days ahead.")] = 30,
    as_json: Json = False,
) -> None:
    """List overrides in force now or starting soon."""
    from rich.console import Console
    from rich.table import Table

    answer = _request(
        "GET", "/api/v1/oncall/overrides", params=_drop_none(schedule=schedule, days=days)
    )
    if as_json:
        print_json(answer)
        return
    table = Table("id", "schedule", "layer", "person", "mode", "from (UTC)", "to (UTC)", "reason")
    for row in answer:
        table.add_row(
            str(row["id"]),
            _text(row["schedule"]),
            _text(row["layer"]),
            _text(row["person"]),
            _text(row["mode"]),
            _text(_when(row["starts_at"])),
            _text(_when(row["ends_at"])),
            _text(row["reason"]),
        )
    Console().print(table)


@override_app.command("remove")
def override_remove(
    override_id: Annotated[int, typer.Argument(metavar="ID", help="The override's id.", min=1)],
) -> None:
    """Remove an override."""
    _request("DELETE", f"/api/v1/oncall/overrides/{override_id}")
    typer.echo(f"override {override_id} removed")
