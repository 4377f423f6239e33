"""`warroom oncall …`: who is on call, upcoming shifts, overrides (over HTTP)."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from warroom.cli.api_calls import api_request
from warroom.cli.common import fail, print_json
from warroom.cli.incident import check_time
from warroom.cli.incident_render import minute_stamp, parse_stamp, styled
from warroom.cli.silence import parse_duration

if TYPE_CHECKING:
    from rich.text import Text

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


def _check_iso(value: str | None) -> str | None:
    """Accept an ISO 8601 time, with or without an offset, or raise a usage error."""
    if value is not None:
        from datetime import datetime

        try:
            datetime.fromisoformat(value.strip())
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not ISO 8601, e.g. 2026-03-02T09:00") from None
    return value.strip() if value else value


def _check_zone(value: str | None) -> str | None:
    """Accept an IANA time zone name; anything else is one error line and exit code 2."""
    if value is None:
        return None
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(value)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        fail(f"--tz: {value!r} is not a time zone; use an IANA name such as Europe/Berlin", 2)
    return value


Zone = Annotated[
    str | None,
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="Show times in this IANA time zone, e.g. Europe/Berlin or UTC.",
        callback=_check_zone,
    ),
]


def _local(value: str, zone: str, fmt: str = "%a %Y-%m-%d %H:%M") -> str:
    """Format an API timestamp in `zone`, with the weekday: rotations hand off on weekdays."""
    from zoneinfo import ZoneInfo

    return parse_stamp(value).astimezone(ZoneInfo(zone)).strftime(fmt)


def _in_zone(value: str, zone: str) -> str:
    """Return an ISO time from the command line with its offset; without one it is in `zone`."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    when = datetime.fromisoformat(value)
    return (when.replace(tzinfo=ZoneInfo(zone)) if when.tzinfo is None else when).isoformat()


def _people(entries: list[dict[str, Any]]) -> str:
    """Return `Name (id), …` or `nobody`."""
    shown = [f"{p['name']} ({p['id']})" if p.get("name") else p["id"] for p in entries]
    return ", ".join(shown) or "nobody"


@oncall_app.command()
def now(
    at: Annotated[
        str | None,
        typer.Option(
            help="ISO time instead of now; without an offset it is in --tz, else UTC.",
            callback=_check_iso,
        ),
    ] = None,
    schedule: Annotated[
        list[str] | None, typer.Option(help="Only this schedule (repeatable).")
    ] = None,
    tz: Zone = None,
    as_json: Json = False,
) -> None:
    """Show who is on call now, per schedule and layer."""
    from rich.console import Console
    from rich.table import Table

    when = _in_zone(at, tz or "UTC") if at else None
    answer = api_request(
        "GET", "/api/v1/oncall", params=_drop_none(at=when, schedule=schedule or None)
    )
    if as_json:
        print_json(answer)
        return
    if not answer["schedules"]:
        typer.echo("no schedules are configured (add schedules: to warroom.yaml)")
        return
    zones = sorted({item["timezone"] for item in answer["schedules"]})
    # One zone for the title: asked for, else the schedules' own when they share one.
    zone = tz or (zones[0] if len(zones) == 1 else "UTC")
    # Schedules in different zones: say what time it is in each.
    each = tz is None and len(zones) > 1
    table = Table("schedule", "layer", "on call", *(["local time"] if each else []))
    for item in answer["schedules"]:
        for index, layer in enumerate(item["layers"]):
            row: list[Text | str] = [
                styled(item["id"]),
                styled(layer["name"]),
                styled(_people(layer["on_call"])),
            ]
            if each:
                local = f"{_local(answer['at'], item['timezone'], '%a %H:%M')} {item['timezone']}"
                row.append(styled(local, "") if index == 0 else "")
            table.add_row(*row)
    console = Console()
    console.print(styled(f"On call at {_local(answer['at'], zone)} ({zone})", ""))
    console.print(table)


@oncall_app.command()
def shifts(
    schedule: Annotated[str, typer.Argument(help="The schedule id.")],
    days: Annotated[int, typer.Option(min=1, max=400, help="How many days ahead.")] = 14,
    layer: Annotated[str | None, typer.Option(help="Only this layer.")] = None,
    tz: Zone = None,
    as_json: Json = False,
) -> None:
    """List a schedule's upcoming shifts, in the schedule's time zone (or --tz)."""
    from rich.console import Console
    from rich.table import Table

    answer = api_request(
        "GET", f"/api/v1/schedules/{schedule}/shifts", params=_drop_none(days=days, layer=layer)
    )
    if as_json:
        print_json(answer)
        return
    if not answer:
        typer.echo(f"no shifts of {schedule} in the next {days} days")
        return
    zone = tz or answer[0]["timezone"]
    table = Table("layer", "person", f"from ({zone})", f"to ({zone})")
    table.title = f"Shifts of {schedule}, times in {zone}"
    for shift in answer:
        table.add_row(
            styled(shift["layer"]),
            styled(_people([shift["person"]])),
            styled(_local(shift["start"], zone)),
            styled(_local(shift["end"], zone)),
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
        str | None, typer.Option(help="End time (ISO) instead of --duration.", callback=check_time)
    ] = None,
    starts: Annotated[
        str | None, typer.Option(help="Start time (ISO); default now.", callback=check_time)
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
    answer = api_request("POST", "/api/v1/oncall/overrides", body=body)
    if as_json:
        print_json(answer)
        return
    typer.echo(
        f"override {answer['id']}: {person} {answer['mode']}s {schedule}/{layer} "
        f"from {minute_stamp(answer['starts_at'])} to {minute_stamp(answer['ends_at'])} UTC"
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

    answer = api_request(
        "GET", "/api/v1/oncall/overrides", params=_drop_none(schedule=schedule, days=days)
    )
    if as_json:
        print_json(answer)
        return
    table = Table("id", "schedule", "layer", "person", "mode", "from (UTC)", "to (UTC)", "reason")
    for row in answer:
        table.add_row(
            str(row["id"]),
            styled(row["schedule"]),
            styled(row["layer"]),
            styled(row["person"]),
            styled(row["mode"]),
            styled(minute_stamp(row["starts_at"])),
            styled(minute_stamp(row["ends_at"])),
            styled(row["reason"]),
        )
    Console().print(table)


@override_app.command("remove")
def override_remove(
    override_id: Annotated[int, typer.Argument(metavar="ID", help="The override's id.", min=1)],
) -> None:
    """Remove an override."""
    api_request("DELETE", f"/api/v1/oncall/overrides/{override_id}")
    typer.echo(f"override {override_id} removed")
