"""`warroom postmortem show|edit|export|add-item|update-item`: postmortems over HTTP."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from warroom.cli.api_calls import api_request
from warroom.cli.common import fail, print_json
from warroom.cli.incident import API, Json, Ref
from warroom.cli.incident_render import minute_stamp, short_span, styled
from warroom.postmortem import ITEM_KINDS, ITEM_STATUSES

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

postmortem_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="Postmortems of resolved incidents: read, edit and export them to archive/.",
    no_args_is_help=True,
)
MILESTONES = ("detected", "acknowledged", "triaged", "mitigated", "resolved")
SPANS = (
    ("detection → triage", "detection_to_triage"),
    ("triage → mitigation", "triage_to_mitigation"),
    ("mitigation → resolution", "mitigation_to_resolution"),
    ("time to resolve", "time_to_resolve"),
)


@postmortem_app.command("show")
def show(ref: Ref, as_json: Json = False) -> None:
    """Show REF's postmortem: what happened, the timeline, why, lessons and action items."""
    from rich.console import Console
    from rich.table import Table

    pm: dict[str, Any] = api_request("GET", f"{API}/{ref}/postmortem")
    if as_json:
        print_json(pm)
        return
    console = Console()
    due = f", due {minute_stamp(pm['due_at'])} UTC" if pm["due_at"] else ""
    required = "required" if pm["required"] else "optional"
    console.print(styled(f"Postmortem {pm['incident']}: {pm['title']}", "bold"))
    console.print(styled(f"{pm['severity']} · {pm['status']} · {required}{due}", ""))
    people = (
        f"Service: {pm['service'] or '—'} · Commander: {pm['commander'] or '—'} · "
        f"Responders: {', '.join(pm['responders']) or '—'}"
    )
    console.print(styled(people, ""))
    # The same order as the exported document (postmortem/export.py).
    _section(console, "Summary", _prose(pm["summary"]))
    _section(console, "Impact", _prose(pm["impact"]))
    times = Table("milestone", "time (UTC)")
    for name in MILESTONES:
        times.add_row(name, minute_stamp(pm["timeline"]["milestones"][name]))
    for label, key in SPANS:
        times.add_row(label, short_span(pm["timeline"]["durations"][key]))
    _section(console, "Timeline", times)
    _section(console, "Root cause", _prose(pm["root_cause"]))
    whys = [f"{n}. {w['question']} {w['answer']}" for n, w in enumerate(pm["five_whys"], 1)]
    _section(console, "5 Whys", _lines(whys, "no whys yet"))
    causes = [f"{name}: {'; '.join(found) or '—'}" for name, found in pm["fishbone"].items()]
    _section(console, "Fishbone", _lines(causes, "no causes yet"))
    for title, key in LESSONS:
        _section(console, title, _lines([f"• {item}" for item in pm[key]], "none recorded"))
    if not pm["action_items"]:
        _section(console, "Action items", _lines([], "none yet (warroom postmortem add-item)"))
        return
    items = Table("id", "kind", "title", "owner", "due", "status", "jira")
    for item in pm["action_items"]:
        items.add_row(
            str(item["id"]),
            item["kind"].replace("_", "-"),
            styled(item["title"], ""),
            styled(item["owner"], ""),
            styled(item["due_date"], ""),
            item["status"],
            styled(item["jira_key"], ""),
        )
    _section(console, "Action items", items)


LESSONS = (
    ("Contributing factors", "contributing_factors"),
    ("What went well", "went_well"),
    ("What went poorly", "went_poorly"),
    ("Where we got lucky", "got_lucky"),
)


def _section(console: "Console", title: str, body: "RenderableType") -> None:
    """Print a bold heading after a blank line, and `body` indented under it."""
    from rich.segment import Segment, Segments

    console.print()
    console.print(styled(title, "bold"))
    # Not rich.padding.Padding: it pads every line with spaces out to the widest one.
    options = console.options.update_width(max(console.width - 2, 20))
    for line in console.render_lines(body, options, pad=False):
        console.print(Segments([Segment("  "), *line, Segment.line()]))


def _prose(value: str) -> "Text":
    """Return a free-text field as written (never parsed as markup), or say it is missing."""
    return styled(value, "") if value.strip() else styled("not written yet", "dim")


def _lines(lines: list[str], empty: str) -> "Text":
    """Return one line per entry, or `empty` dimmed."""
    from rich.text import Text

    return Text("\n".join(lines)) if lines else styled(empty, "dim")


@postmortem_app.command("export")
def export(ref: Ref, as_json: Json = False) -> None:
    """Write REF's postmortem as markdown, HTML and SVG into archive/; print the paths."""
    answer: dict[str, Any] = api_request("POST", f"{API}/{ref}/postmortem/export")
    if as_json:
        print_json(answer)
        return
    for path in answer["paths"]:
        typer.echo(path)


ITEMS_API = "/api/v1/postmortems/action-items"
CLEARABLE = {"owner": "owner", "due": "due_date", "jira-key": "jira_key"}


EDITABLE = (
    "status",
    "summary",
    "impact",
    "root_cause",
    "five_whys",
    "fishbone",
    "contributing_factors",
    "went_well",
    "went_poorly",
    "got_lucky",
)
EDIT_HEADER = """\
# The postmortem of {ref}. Edit, save and close the editor; the whole document is sent
# (PUT), so a field you delete goes back to empty. status: draft, in_review or done
# (done needs summary, root_cause and at least one why). Lines starting with # are ignored.
"""


@postmortem_app.command("edit")
def edit(
    ref: Ref,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            metavar="PATH",
            help="Send this YAML (or JSON) file instead of opening $EDITOR; - reads stdin.",
        ),
    ] = None,
) -> None:
    """Edit REF's postmortem in $EDITOR as YAML (or send a file), then save it."""
    import os
    import sys

    import click
    import yaml

    if file is None:
        pm: dict[str, Any] = api_request("GET", f"{API}/{ref}/postmortem")
        current = {name: pm[name] for name in EDITABLE}
        text = EDIT_HEADER.format(ref=pm["incident"]) + yaml.safe_dump(
            current, sort_keys=False, allow_unicode=True, width=96
        )
        try:
            edited = click.edit(text, extension=".yaml")
        except click.ClickException as exc:  # no editor, or it exited with an error
            editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "none set"
            fail(
                f"cannot edit in $EDITOR ({editor}): {exc.format_message()}; set EDITOR to an "
                f"editor that waits (e.g. EDITOR=nano), or send a file with --file"
            )
        if edited is None or edited == text:
            typer.echo(f"{pm['incident']} postmortem not changed")
            return
        source, where = edited, "the edited postmortem"
    elif str(file) == "-":
        source, where = sys.stdin.read(), "stdin"
    else:
        try:
            source, where = file.read_text(encoding="utf-8"), str(file)
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror or exc}")
    try:
        body = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        fail(f"{where} is not valid YAML ({getattr(exc, 'problem', None) or exc}){line}")
    if not isinstance(body, dict):
        fail(f"{where} must be a mapping of fields ({', '.join(EDITABLE)})")
    if file is None:  # edited from what was loaded: refused (409) if someone saved meanwhile
        body.setdefault("version", pm["version"])
    saved: dict[str, Any] = api_request("PUT", f"{API}/{ref}/postmortem", body)
    typer.echo(f"{saved['incident']} postmortem saved ({saved['status']})")


def _check_kind(value: str | None) -> str | None:
    """Accept short-term / short_term (and long-); return the API's spelling."""
    if value is None:
        return None
    kind = value.strip().lower().replace("-", "_")
    if kind not in ITEM_KINDS:
        raise typer.BadParameter(f"{value!r} is not a kind; use short-term or long-term")
    return kind


def _check_status(value: str | None) -> str | None:
    if value is not None and value not in ITEM_STATUSES:
        raise typer.BadParameter(f"{value!r} is not a status; use {', '.join(ITEM_STATUSES)}")
    return value


def _check_date(value: str | None) -> str | None:
    """Return YYYY-MM-DD, or raise a usage error."""
    if value is None:
        return None
    from datetime import date

    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


def _check_clear(values: list[str] | None) -> list[str] | None:
    for value in values or []:
        if value not in CLEARABLE:
            raise typer.BadParameter(f"{value!r} cannot be cleared; use {', '.join(CLEARABLE)}")
    return values


Title = Annotated[str | None, typer.Option(help="What to do, in one line (up to 200 characters).")]
Owner = Annotated[str | None, typer.Option(help="Who does it (a person id or a name).")]
Due = Annotated[
    str | None, typer.Option(metavar="YYYY-MM-DD", help="When it is due.", callback=_check_date)
]
Status = Annotated[str | None, typer.Option(help="open, done or wontfix.", callback=_check_status)]
JiraKey = Annotated[
    str | None, typer.Option("--jira-key", help="Link an existing Jira issue, e.g. OPS-123.")
]


def _item_line(item: dict[str, Any]) -> str:
    due = f", due {item['due_date']}" if item["due_date"] else ""
    owner = f", owner {item['owner']}" if item["owner"] else ""
    jira = f", Jira {item['jira_key']}" if item["jira_key"] else ""
    return f"{item['kind'].replace('_', '-')}, {item['status']}{owner}{due}{jira}"


@postmortem_app.command("add-item")
def add_item(
    ref: Ref,
    title: Annotated[str, typer.Option(help="What to do, in one line (up to 200 characters).")],
    kind: Annotated[
        str, typer.Option(help="short-term or long-term.", callback=_check_kind)
    ] = "short-term",
    owner: Owner = None,
    due: Due = None,
    status: Status = None,
    jira_key: JiraKey = None,
    jira: Annotated[
        bool | None,
        typer.Option(
            "--jira/--no-jira",
            help="Create a Jira issue for it, or not (default: jira_issues.auto_create).",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Add an action item to REF's postmortem, optionally with a Jira issue."""
    body: dict[str, Any] = {"kind": kind, "title": title, "owner": owner, "due_date": due}
    body |= {"jira_key": jira_key, "create_jira": jira}
    if status is not None:
        body["status"] = status
    item: dict[str, Any] = api_request("POST", f"{API}/{ref}/postmortem/action-items", body)
    if as_json:
        print_json(item)
        return
    typer.echo(f"Action item {item['id']} added to {item['incident']}: {item['title']}")
    typer.echo(f"  {_item_line(item)}")
    if jira:
        typer.echo("  Jira issue requested; its key shows in `warroom postmortem show` once made")


@postmortem_app.command("update-item")
def update_item(
    item_id: Annotated[
        int, typer.Argument(metavar="ID", min=1, help="The action item's id, from `show`.")
    ],
    title: Title = None,
    kind: Annotated[
        str | None, typer.Option(help="short-term or long-term.", callback=_check_kind)
    ] = None,
    owner: Owner = None,
    due: Due = None,
    status: Status = None,
    jira_key: JiraKey = None,
    clear: Annotated[
        list[str] | None,
        typer.Option(
            metavar="FIELD",
            help="Clear owner, due or jira-key; repeat for more.",
            callback=_check_clear,
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Change action item ID (a linked Jira issue follows); give only what changes."""
    given = {"title": title, "kind": kind, "owner": owner, "due_date": due, "status": status}
    body: dict[str, Any] = {k: v for k, v in (given | {"jira_key": jira_key}).items() if v}
    for name in clear or []:
        if CLEARABLE[name] in body:
            fail(f"--clear {name} and a new value for it cannot go together")
        body[CLEARABLE[name]] = None
    if not body:
        fail(
            "nothing to change: give --title, --kind, --owner, --due, --status, --jira-key "
            "or --clear"
        )
    item: dict[str, Any] = api_request("PATCH", f"{ITEMS_API}/{item_id}", body)
    if as_json:
        print_json(item)
        return
    typer.echo(f"Action item {item['id']} of {item['incident']}: {item['title']}")
    typer.echo(f"  {_item_line(item)}")
