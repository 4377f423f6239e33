"""`warroom incident handoff|accept|decline|role`: who leads and who helps, with consent."""

from typing import Annotated, Any

import typer

from warroom.cli.api_calls import api_request
from warroom.cli.common import print_json
from warroom.cli.incident import API, Json, Ref, incident_app


def _report(detail: dict[str, Any], as_json: bool) -> None:
    """Print who commands the incident now and who is waiting to."""
    if as_json:
        print_json(detail)
        return
    pending = detail.get("pending_commander")
    waiting = f"; {pending} has yet to accept" if pending else ""
    typer.echo(f"{detail['ref']}: Incident Commander is {detail['commander'] or 'nobody'}{waiting}")


@incident_app.command()
def handoff(
    ref: Ref,
    person: Annotated[str, typer.Argument(help="Who should take command (a person id).")],
    reason: Annotated[str | None, typer.Option(help="Why, kept on the timeline.")] = None,
    as_json: Json = False,
) -> None:
    """Hand command to PERSON; the current IC stays in charge until PERSON accepts."""
    body = {"person": person, "reason": reason} if reason else {"person": person}
    _report(api_request("POST", f"{API}/{ref}/commander", body), as_json)


@incident_app.command()
def accept(ref: Ref, as_json: Json = False) -> None:
    """Accept command of REF (the proposed IC, or an admin on their behalf)."""
    _report(api_request("POST", f"{API}/{ref}/commander/accept"), as_json)


@incident_app.command()
def decline(ref: Ref, as_json: Json = False) -> None:
    """Decline a proposed handoff; the current IC stays in charge."""
    _report(api_request("POST", f"{API}/{ref}/commander/decline"), as_json)


@incident_app.command()
def role(
    ref: Ref,
    name: Annotated[
        str, typer.Argument(metavar="ROLE", help="deputy, scribe, communications, sme or reporter.")
    ],
    person: Annotated[str, typer.Argument(help="Who (a person id).")],
    release: Annotated[bool, typer.Option("--release", help="Take the role back instead.")] = False,
    as_json: Json = False,
) -> None:
    """Give PERSON a response role in REF (or take it back with --release)."""
    path = f"{API}/{ref}/roles/release" if release else f"{API}/{ref}/roles"
    detail = api_request("POST", path, {"role": name, "person": person})
    if as_json:
        print_json(detail)
        return
    held = ", ".join(f"{r['role']}: {r['person']}" for r in detail["roles"]) or "none"
    typer.echo(f"{detail['ref']} roles — commander: {detail['commander'] or 'nobody'}, {held}")
