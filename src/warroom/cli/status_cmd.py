"""`warroom incident status-update|status-updates`: tell people what is going on."""

from typing import Annotated, Any

import typer

from warroom.cli.common import print_json
from warroom.cli.incident import API, Json, Ref, _request, incident_app
from warroom.cli.incident_render import _text, _when
from warroom.status import COMPONENT_STATUSES, UPDATE_STATUSES

STATUS_STYLES = {"investigating": "bold red", "identified": "yellow", "monitoring": "cyan"}
STATUS_STYLES |= {"resolved": "green", "operational": "green", "major_outage": "bold red"}


def _check_status(value: str) -> str:
    """Return a known update status, or raise a usage error naming them."""
    if value not in UPDATE_STATUSES:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(UPDATE_STATUSES)}")
    return value


def _check_components(values: list[str] | None) -> list[str] | None:
    """Check each `ID=STATUS` pair (the server checks the ids against status_page:)."""
    for value in values or []:
        component, sep, state = value.partition("=")
        if not sep or not component.strip():
            raise typer.BadParameter(f"{value!r} is not ID=STATUS, e.g. api=partial_outage")
        if state.strip() not in COMPONENT_STATUSES:
            raise typer.BadParameter(
                f"{value!r}: status must be one of {', '.join(COMPONENT_STATUSES)}"
            )
    return values


@incident_app.command("status-update")
def status_update(
    ref: Ref,
    status: Annotated[
        str,
        typer.Option(
            help="investigating, identified, monitoring or resolved.", callback=_check_status
        ),
    ],
    body: Annotated[str, typer.Option(help="What people should know, in plain words.")],
    component: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ID=STATUS",
            help="A component's status now, e.g. api=partial_outage; repeat for more.",
            callback=_check_components,
        ),
    ] = None,
    private: Annotated[
        bool, typer.Option("--private", help="Keep it off the public status page.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Post a status update on REF (public unless --private); it lands on the timeline too."""
    components = {}
    for value in component or []:
        key, _, state = value.partition("=")
        components[key.strip()] = state.strip()
    payload = {"status": status, "body": body, "components": components, "public": not private}
    update = _request("POST", f"{API}/{ref}/status-updates", payload)
    if as_json:
        print_json(update)
        return
    where = "public" if update["public"] else "private"
    typer.echo(f"Posted {where} update {update['id']} on {update['incident']}: {update['status']}")


@incident_app.command("status-updates")
def status_updates(ref: Ref, as_json: Json = False) -> None:
    """List REF's status updates, newest first."""
    from rich.console import Console
    from rich.table import Table

    answer: dict[str, Any] = _request("GET", f"{API}/{ref}/status-updates")
    if as_json:
        print_json(answer)
        return
    if not answer["items"]:
        typer.echo(f"{ref} has no status updates yet")
        return
    table = Table("id", "time (UTC)", "status", "visibility", "author", "components", "body")
    for column in table.columns:
        column.no_wrap = column.header not in ("components", "body")
    for item in answer["items"]:
        parts = [f"{key}={value}" for key, value in item["components"].items()]
        table.add_row(
            str(item["id"]),
            _when(item["at"]),
            _text(item["status"], STATUS_STYLES.get(item["status"], "")),
            _text("public" if item["public"] else "private", "" if item["public"] else "dim"),
            _text(item["author"]),
            _text(", ".join(parts)),
            _text(item["body"], ""),
        )
    Console().print(table)
