"""`warroom silence …`: maintenance windows over HTTP (WARROOM_URL, WARROOM_TOKEN)."""

import re
from enum import StrEnum
from typing import Annotated, Any

import typer

from warroom.cli.api_calls import api_request
from warroom.cli.common import print_json
from warroom.cli.incident import check_time
from warroom.cli.incident_render import minute_stamp, styled

silence_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="Silences (maintenance windows): matching alerts are stored but open no incident.",
    no_args_is_help=True,
)

API = "/api/v1/silences"
MAX_MINUTES = 527_040  # 366 days, the server's limit
_DURATION = re.compile(r"(?:(\d{1,6})d)?(?:(\d{1,7})h)?(?:(\d{1,9})m)?")
STATE_STYLES = {"active": "bold yellow", "pending": "cyan", "expired": "dim"}


class State(StrEnum):
    """Which silences `list` shows."""

    active = "active"
    pending = "pending"
    expired = "expired"
    all = "all"


def parse_duration(value: str) -> int:
    """Return the minutes in `30m`, `2h`, `1d` or `1h30m`; raise ValueError otherwise."""
    text = value.strip().lower()
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"{value!r} is not a duration; use e.g. 30m, 2h, 1d or 1h30m")
    days, hours, minutes = (int(part or 0) for part in match.groups())
    total = days * 1440 + hours * 60 + minutes
    if total < 1:
        raise ValueError(f"{value!r} is not a duration of at least one minute")
    if total > MAX_MINUTES:
        raise ValueError(f"{value!r} is longer than a silence may last (366d)")
    return total


def _minutes(value: str | None) -> int | None:
    """Return the minutes of a `--duration`, or raise a usage error naming the option."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--duration'") from None


Json = Annotated[bool, typer.Option("--json", help="Print the server's JSON response.")]


def _matchers(silence: dict[str, Any]) -> str:
    """Return a silence's matchers as one comma-separated string."""
    return ", ".join(silence["matchers"])


@silence_app.command()
def add(
    matchers: Annotated[
        list[str],
        typer.Argument(
            metavar="MATCHER",
            help="Label matchers, all of which must hold, e.g. 'service=\"checkout\"'.",
        ),
    ],
    comment: Annotated[
        str, typer.Option(help="Why: who is doing what (shown to responders).", show_default=False)
    ],
    duration: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION", help="How long from the start: 30m, 2h, 1d, 1h30m. Or --until."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            metavar="ISO",
            help="When it ends (ISO 8601; no offset means UTC). Or --duration.",
            callback=check_time,
        ),
    ] = None,
    starts: Annotated[
        str | None,
        typer.Option(metavar="ISO", help="When it begins (default: now).", callback=check_time),
    ] = None,
    as_json: Json = False,
) -> None:
    """Silence alerts matching every MATCHER for a while (a maintenance window)."""
    if (duration is None) == (until is None):
        raise typer.BadParameter(
            "give exactly one of --duration and --until", param_hint="'--duration' / '--until'"
        )
    body: dict[str, Any] = {"matchers": matchers, "comment": comment}
    body |= {"duration_minutes": _minutes(duration), "ends_at": until, "starts_at": starts}
    silence = api_request(
        "POST", API, {key: value for key, value in body.items() if value is not None}
    )
    if as_json:
        print_json(silence)
        return
    ends = minute_stamp(silence["ends_at"])
    if silence["state"] == "pending":
        window = f"pending: from {minute_stamp(silence['starts_at'])} until {ends} UTC"
    else:
        window = f"active until {ends} UTC"
    typer.echo(f"Silence {silence['id']} is {window}: {_matchers(silence)}")
    typer.echo(f"end it early with: warroom silence expire {silence['id']}")


@silence_app.command("list")
def list_silences(
    state: Annotated[
        State, typer.Option(help="active (now), pending (not started), expired, or all.")
    ] = State.active,
    as_json: Json = False,
) -> None:
    """List silences, newest first."""
    silences = api_request("GET", API, params={"state": state.value})
    if as_json:
        print_json(silences)
        return
    if not silences:
        typer.echo(f"no {'' if state is State.all else state.value + ' '}silences")
        return
    from rich.console import Console
    from rich.table import Table

    names = ("id", "state", "matchers", "starts (UTC)", "ends (UTC)", "created by", "comment")
    table = Table(*names)
    for column in table.columns:  # the free-text columns wrap; the rest stay on one line
        column.no_wrap = column.header not in ("matchers", "comment")
    for silence in silences:
        table.add_row(
            styled(silence["id"], "bold"),
            styled(silence["state"], STATE_STYLES.get(silence["state"], "")),
            styled(_matchers(silence), ""),
            minute_stamp(silence["starts_at"]),
            minute_stamp(silence["ends_at"]),
            styled(silence["created_by"], ""),
            styled(silence["comment"], ""),
        )
    Console().print(table)


@silence_app.command()
def expire(
    silence_id: Annotated[
        int,
        typer.Argument(
            metavar="ID", min=1, max=2**31 - 1, help="The silence's id (from `silence list`)."
        ),
    ],
    as_json: Json = False,
) -> None:
    """End a silence now; alerts still firing open incidents on their next delivery."""
    silence = api_request("POST", f"{API}/{silence_id}/expire")
    if as_json:
        print_json(silence)
        return
    typer.echo(f"Silence {silence['id']} expired at {minute_stamp(silence['ends_at'])} UTC")
