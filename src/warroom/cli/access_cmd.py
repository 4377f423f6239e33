"""`warroom incident grant`: let a person into a restricted incident."""

from typing import Annotated

import typer

from warroom.cli.api_calls import api_request
from warroom.cli.common import print_json
from warroom.cli.incident import API, Json, Ref, incident_app


@incident_app.command()
def grant(
    ref: Ref,
    person: Annotated[str, typer.Argument(help="Who to let in (a person id).")],
    reason: Annotated[str, typer.Option(help="Why they need to see it; kept on the timeline.")],
    as_json: Json = False,
) -> None:
    """Let PERSON see a restricted incident (admins, its access teams and its commander may)."""
    if not reason.strip():
        raise typer.BadParameter("--reason must say why, not be blank")
    detail = api_request("POST", f"{API}/{ref}/access", {"person": person, "reason": reason})
    if as_json:
        print_json(detail)
        return
    typer.echo(f"{person} can now see {detail['ref']} (restricted)")
