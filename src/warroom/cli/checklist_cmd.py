"""`warroom incident checklist|check|skip|assign-item`: work the mitigation checklist over HTTP."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from warroom.cli.api_calls import api_client, api_request
from warroom.cli.common import fail, print_json
from warroom.cli.incident import API, Json, Ref, incident_app
from warroom.cli.incident_render import minute_stamp, styled

if TYPE_CHECKING:
    from warroom.cli.client import ApiClient

STATE_MARKS = {"done": ("✓", "green"), "skipped": ("skipped", "yellow"), "open": ("", "")}


def _check_item(value: int) -> int:
    """Refuse item numbers below 1 (the numbers `checklist` shows start at 1)."""
    if value < 1:
        raise typer.BadParameter(f"{value} is not an item number; they start at 1")
    return value


Item = Annotated[
    int,
    typer.Argument(
        metavar="ITEM",
        help="The item's number, as `warroom incident checklist REF` shows it in column #.",
        callback=_check_item,
    ),
]
ItemNote = Annotated[
    str | None, typer.Option("--note", help="A note to keep on the item (replaces its note).")
]


def _progress(p: dict[str, Any]) -> str:
    """Return `completed/total` (done + skipped), with the skipped count when there is one."""
    skipped = f" ({p['skipped']} skipped)" if p["skipped"] else ""
    return f"{p['completed']}/{p['total']}{skipped}"


@incident_app.command("checklist")
def show_checklist(ref: Ref, as_json: Json = False) -> None:
    """Show the checklist by section: done (✓), skipped (with reason), owners, notes, progress."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    answer: dict[str, Any] = api_request("GET", f"{API}/{ref}/checklist")
    if as_json:
        print_json(answer)
        return
    console = Console()
    if not answer["sections"]:
        console.print(f"{answer['incident']} has no checklist")
        return
    console.print(
        Text(f"{answer['incident']} checklist {_progress(answer['progress'])}", style="bold")
    )
    for section in answer["sections"]:
        table = Table(
            "#",
            "state",
            "item",
            "owner",
            "details",
            title=f"{section['name']} {_progress(section['progress'])}",
            title_justify="left",
        )
        for item in section["items"]:
            mark, style = STATE_MARKS[item["state"]]
            details = []
            if item["state"] == "done":
                details.append(f"by {item['done_by'] or '—'} at {minute_stamp(item['done_at'])}")
            if item["state"] == "skipped":
                details.append(f"reason: {item['skipped_reason']}")
            if item["note"]:
                details.append(f"note: {item['note']}")
            text = styled(item["text"], "dim strike" if item["state"] == "skipped" else "")
            table.add_row(
                str(item["number"]),
                styled(mark, style),
                text,
                styled(item["owner"], ""),
                styled("; ".join(details), ""),
            )
        console.print(table)


def _item_id(api: "ApiClient", ref: str, number: int) -> int:
    """Return the id of the incident's item with this number, or fail naming the range."""
    answer: dict[str, Any] = api_request("GET", f"{API}/{ref}/checklist", api=api)
    entries = [item for section in answer["sections"] for item in section["items"]]
    for item in entries:
        if item["number"] == number:
            return int(item["id"])
    if not entries:
        fail(f"{answer['incident']} has no checklist items")
    fail(
        f"{answer['incident']} has no item {number}; its items are numbered 1 to {len(entries)} "
        f"(see warroom incident checklist {answer['incident']})"
    )


def _change(ref: str, number: int, body: dict[str, Any], as_json: bool) -> None:
    """Send one change to item `number` and print what happened."""
    api = api_client()
    try:
        item_id = _item_id(api, ref, number)
        answer: dict[str, Any] = api_request(
            "PATCH", f"{API}/{ref}/checklist/{item_id}", body, api=api
        )
    finally:
        api.close()
    if as_json:
        print_json(answer)
        return
    item = answer["item"]
    where = f"{answer['incident']} item {item['number']} ({item['section']}: {item['text']})"
    if not answer["changes"]:
        typer.echo(f"{where}: nothing changed, it is {item['state']}")
        return
    typer.echo(f"{where}: {', '.join(answer['changes'])}; it is {item['state']}")
    typer.echo(
        f"{item['section']} {_progress(answer['section_progress'])}, "
        f"checklist {_progress(answer['progress'])}"
    )


@incident_app.command("check")
def check(
    ref: Ref,
    item: Item,
    undo: Annotated[
        bool,
        typer.Option("--undo", help="Reopen the item instead (clears done or skipped)."),
    ] = False,
    note: ItemNote = None,
    as_json: Json = False,
) -> None:
    """Mark checklist item ITEM of REF done (or, with --undo, open again)."""
    body: dict[str, Any] = {"done": False, "skipped_reason": None} if undo else {"done": True}
    if note is not None:
        body["note"] = note
    _change(ref, item, body, as_json)


@incident_app.command("skip")
def skip(
    ref: Ref,
    item: Item,
    reason: Annotated[
        str,
        typer.Option("--reason", help="Why the step does not apply or cannot be done (required)."),
    ],
    note: ItemNote = None,
    as_json: Json = False,
) -> None:
    """Skip checklist item ITEM of REF, saying why."""
    if not reason.strip():
        raise typer.BadParameter("give a reason for skipping", param_hint="--reason")
    body: dict[str, Any] = {"skipped_reason": reason}
    if note is not None:
        body["note"] = note
    _change(ref, item, body, as_json)


@incident_app.command("assign-item")
def assign_item(
    ref: Ref,
    item: Item,
    person: Annotated[
        str | None,
        typer.Argument(
            metavar="PERSON",
            help="Who owns the step (a person id from warroom.yaml); leave out with --nobody.",
        ),
    ] = None,
    nobody: Annotated[
        bool, typer.Option("--nobody", help="Clear the item's owner instead.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Give checklist item ITEM of REF an owner (or, with --nobody, none)."""
    if (person is None) == (not nobody):
        raise typer.BadParameter("give a PERSON, or --nobody to clear the owner")
    _change(ref, item, {"owner": None if nobody else person}, as_json)
