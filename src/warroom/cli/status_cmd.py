"""`warroom incident status-update|status-updates`: tell people what is going on."""

from typing import Annotated, Any

import typer

from warroom.cli.api_calls import api_client, api_request, explain_error
from warroom.cli.common import fail, print_json
from warroom.cli.incident import API, Json, Ref, incident_app
from warroom.cli.incident_render import minute_stamp, styled
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


def _check_title(value: str | None) -> str | None:
    """Refuse a blank public title before anything is sent."""
    if value is not None and not value.strip():
        raise typer.BadParameter("must not be blank")
    return value


def _post(path: str, payload: dict[str, Any]) -> Any:
    """POST the update; a missing public title is said with this command's option."""
    from warroom.cli.client import ApiError

    api = api_client()
    try:
        return api.request("POST", path, json=payload)
    except ApiError as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        if exc.code == "public_title_needed":
            ref = details.get("ref", "the incident")
            fail(
                f"{ref} has no public update yet, so this one needs --public-title TEXT: "
                "the incident's own title is internal and is never shown to the public"
            )
        fail(explain_error(exc))
    except ValueError:  # a 2xx answer that is not JSON
        fail(f"{api.base_url} did not answer with JSON; is WARROOM_URL a warroom server?")
    finally:
        api.close()


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
    public_title: Annotated[
        str | None,
        typer.Option(
            help="The incident's name on the status page: required on its first public update "
            "(its own title is internal); later updates keep it unless given.",
            callback=_check_title,
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Post a status update on REF (public unless --private); it lands on the timeline too."""
    if private and public_title is not None:
        raise typer.BadParameter(
            "is for public updates: a --private one is shown nowhere public",
            param_hint="'--public-title'",
        )
    components = {}
    for value in component or []:
        key, _, state = value.partition("=")
        components[key.strip()] = state.strip()
    payload: dict[str, Any] = {
        "status": status,
        "body": body,
        "components": components,
        "public": not private,
    }
    if public_title is not None:
        payload["public_title"] = public_title
    update = _post(f"{API}/{ref}/status-updates", payload)
    if as_json:
        print_json(update)
        return
    line = f"update {update['id']} on {update['incident']}: {update['status']}"
    if update["public"]:
        typer.echo(f"Posted public {line} (public title: {update['public_title']})")
    else:
        typer.echo(f"Posted private {line}")


@incident_app.command("status-updates")
def status_updates(ref: Ref, as_json: Json = False) -> None:
    """List REF's status updates, newest first."""
    from rich.console import Console
    from rich.table import Table

    answer: dict[str, Any] = api_request("GET", f"{API}/{ref}/status-updates")
    if as_json:
        print_json(answer)
        return
    if not answer["items"]:
        typer.echo(f"{ref} has no status updates yet")
        return
    headers = ("id", "time (UTC)", "status", "visibility", "author", "public title")
    table = Table(*headers, "components", "body")
    for column in table.columns:
        column.no_wrap = column.header not in ("public title", "components", "body")
    for item in answer["items"]:
        parts = [f"{key}={value}" for key, value in item["components"].items()]
        table.add_row(
            str(item["id"]),
            minute_stamp(item["at"]),
            styled(item["status"], STATUS_STYLES.get(item["status"], "")),
            styled("public" if item["public"] else "private", "" if item["public"] else "dim"),
            styled(item["author"]),
            styled(item["public_title"], ""),
            styled(", ".join(parts)),
            styled(item["body"], ""),
        )
    Console().print(table)
