"""How the incident commands print: colours, times, the list table and one incident."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from rich.console import Console
    from rich.text import Text

# Severity and status names never collide, so one table colours both.
STYLES = {"SEV-1": "bold red", "SEV-2": "red", "SEV-3": "yellow", "SEV-4": "blue", "closed": "dim"}
STYLES |= {"detected": "bold red", "triaged": "yellow", "mitigated": "cyan", "resolved": "green"}


def styled(value: Any, style: str | None = None) -> "Text":
    """Return Rich Text of `value`, never parsed as markup; `—` for nothing; coloured by STYLES."""
    from rich.text import Text

    shown = "—" if value is None or value == "" else str(value)
    return Text(shown, style=STYLES.get(shown, "") if style is None else style)


def parse_stamp(value: str) -> "datetime":
    """Parse an API timestamp as aware UTC."""
    from datetime import UTC, datetime

    when = datetime.fromisoformat(value)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def minute_stamp(value: str | None) -> str:
    """Format an API timestamp as `YYYY-MM-DD HH:MM` UTC."""
    return parse_stamp(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def short_span(seconds: float | None) -> str:
    """Format a duration compactly: 45s, 12m, 3h 05m, 2d 4h."""
    from warroom.postmortem.formatting import span

    return span(seconds)


def _age(detected_at: str) -> str:
    """Return how long ago an incident was detected."""
    from datetime import UTC, datetime

    return short_span((datetime.now(UTC) - parse_stamp(detected_at)).total_seconds())


def render_incident(detail: dict[str, Any]) -> None:
    """Print an incident: details, assessment, durations, checklist and timeline."""
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    console, d = Console(), detail
    facts = Table.grid(padding=(0, 2))
    ack = (
        d["acknowledged_at"]
        and f"{minute_stamp(d['acknowledged_at'])} by {d['acknowledged_by'] or '—'}"
    )
    for label, value in [
        *[(name, d[name]) for name in ("status", "severity", "commander", "service")],
        ("type", d["incident_type"]),
        ("visibility", d["visibility"]),
        ("runbook", d["runbook_template"]),
        ("declared by", f"{d['created_by'] or '—'} via {d['source']}"),
        ("acknowledged", ack),
        *[(f"{n} (UTC)", minute_stamp(d[f"{n}_at"])) for n in ("started", "detected", "triaged")],
        *[(f"{n} (UTC)", minute_stamp(d[f"{n}_at"])) for n in ("mitigated", "resolved", "closed")],
        ("allowed next", ", ".join(d["allowed_actions"])),
        ("summary", d["summary"]),
        ("alert storm", d.get("parent")),  # the parent this one is bundled under
        ("storm members", _members(d.get("members") or [])),
        *_link_rows(d.get("links") or {}),
    ]:
        if value is None and label in ("alert storm", "storm members"):
            continue  # most incidents are in no storm: no empty rows for it
        facts.add_row(Text(label, style="bold"), styled(value))
    peak = d.get("peak_severity")
    if peak and peak != d["severity"]:
        facts.add_row(Text("at its worst", style="bold"), styled(peak))
    title = Text(f"{d['ref']} ", style="bold") + Text(d["title"])
    console.print(Panel(facts, title=title, title_align="left"))
    for notice in d.get("notices") or []:  # a pending handoff, a false alarm
        console.print(Text(f"! {notice}", style="bold"))
    console.print(Text("Initial assessment", style="bold"))
    for field in ("impact", "scope", "priority"):
        console.print(Text(f"  {field}: ") + styled(d[field]))
    console.print(Text("Durations", style="bold"))
    for key in ("detect", "acknowledge", "mitigate", "resolve"):
        console.print(f"  time to {key}: {short_span(d['durations'][f'time_to_{key}'])}")

    sections: dict[str, list[dict[str, Any]]] = {}
    for item in d["checklist"]:
        sections.setdefault(item["section"], []).append(item)
    # Skipped with a reason counts as settled, as in `warroom incident checklist`.
    done = sum(1 for item in d["checklist"] if item["done_at"] or item["skipped_reason"])
    console.print(Text(f"Checklist {done}/{len(d['checklist'])}", style="bold"))
    for section, items in sections.items():
        finished = sum(1 for item in items if item["done_at"] or item["skipped_reason"])
        console.print(Text(f"  {section} {finished}/{len(items)}", style="bold"))
        for item in items:
            mark, extra = "[ ]", ""
            if item["done_at"]:
                mark, extra = "[x]", f" (done by {item['done_by'] or '—'})"
            elif item["skipped_reason"]:
                mark, extra = "[-]", f" (skipped: {item['skipped_reason']})"
            console.print(Text(f"    {mark} {item['text']}{extra}"))

    timeline = Table("time (UTC)", "kind", "actor", "text", title="Timeline", title_justify="left")
    for event in d["timeline"]:
        timeline.add_row(
            minute_stamp(event["at"]),
            event["kind"],
            styled(f"{event['actor'] or '—'} ({event['source']})"),
            styled(("★ " if event["key_event"] else "") + event["text"], ""),
        )
    console.print(timeline)


def _members(refs: list[str]) -> str | None:
    """Return an alert storm's members as a short line (all of them: --parent lists them)."""
    if not refs:
        return None
    shown = ", ".join(refs[:8]) + (f" and {len(refs) - 8} more" if len(refs) > 8 else "")
    return f"{len(refs)}: {shown}"


# What the notification adapters recorded on the incident, in the order people look for it.
LINK_LABELS = (
    ("chat_channel", "chat channel"),
    ("conference_url", "conference room"),
    ("status_page_id", "status page incident"),
)


def _link_rows(links: dict[str, str]) -> list[tuple[str, str]]:
    """Return (label, value) for the incident's links that are set."""
    rows = [(label, links[key]) for key, label in LINK_LABELS if links.get(key)]
    if not links.get("chat_channel") and links.get("chat_channel_id"):
        rows.insert(0, ("chat channel", links["chat_channel_id"]))
    return rows


# Below this many columns the list leaves out the detection time (the age says it roughly).
WIDE = 110


def print_incident_table(console: "Console", items: list[dict[str, Any]]) -> None:
    """Print incidents as a table that fits the terminal; only the title ever wraps."""
    from rich import box
    from rich.table import Table

    wide = console.width >= WIDE
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("ref", "status", "sev", "title", "service", "commander"):
        # Ids and names are read whole or not at all; the title may wrap instead.
        longest = max([len(name), *(len(str(item.get(FIELDS[name]) or "—")) for item in items)])
        table.add_column(
            name, no_wrap=name != "title", min_width=None if name == "title" else longest
        )
    if wide:
        table.add_column("detected (UTC)", no_wrap=True)
    table.add_column("age", no_wrap=True)
    for item in items:
        row = [styled(item["ref"], "bold")]
        row += [styled(item[FIELDS[name]]) for name in ("status", "sev", "title", "service")]
        row.append(styled(item["commander"]))
        if wide:
            row.append(styled(minute_stamp(item["detected_at"]), ""))
        row.append(styled(_age(item["detected_at"]), ""))
        table.add_row(*row)
    console.print(table)


# The list's column names and the API fields they show.
FIELDS = {n: n for n in ("ref", "status", "title", "service", "commander")} | {"sev": "severity"}


def render_related(related: dict[str, Any]) -> None:
    """Print the past incidents like this one: score, reasons, postmortem's lessons."""
    from rich.console import Console
    from rich.text import Text

    console = Console()
    heading = Text("Related", style="bold")
    if related.get("repeats_text"):
        heading.append(f" — happened {related['repeats_text']}", style="")
    console.print(heading)
    if not related["items"]:
        console.print(f"  none in the last {related['window_days']} days")
    for item in related["items"]:
        line = Text(f"  {item['ref']} ") + styled(item["severity"]) + Text(" ")
        line += styled(item["status"]) + Text(f"  {item['title']}  (score {item['score']})")
        console.print(line)
        console.print(Text(f"    {item['explanation']}", style="dim"))
        postmortem = item.get("postmortem")
        if postmortem and postmortem["root_cause"]:
            console.print(Text(f"    root cause: {postmortem['root_cause']}"))
        for action in (postmortem or {}).get("action_items", []):
            console.print(Text(f"    action ({action['status']}): {action['title']}"))
