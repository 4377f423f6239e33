"""The postmortem's Evidence section: each item with its hash, size and chain of custody."""

from __future__ import annotations

from markupsafe import Markup

from warroom.core import markdown
from warroom.core.text import show_bidi
from warroom.evidence.schemas import EvidenceOut


def render_markdown(items: list[EvidenceOut]) -> str:
    """Return the Evidence section as markdown; user text cannot add structure to it."""
    lines = ["## Evidence", ""]
    if not items:
        return "\n".join([*lines, "_No evidence recorded._", ""])
    lines += ["| Name | Version | Size (bytes) | SHA-256 | Collected by | Collected (UTC) |"]
    lines += ["|---|---|---|---|---|---|"]
    for item in items:
        when = item.collected_at.strftime("%Y-%m-%d %H:%M:%S")
        lines.append(
            f"| {markdown.cell(item.name)} | {item.version} | {item.size} | `{item.sha256}` | "
            f"{markdown.cell(item.collected_by)} | {when} |"
        )
    lines.append("")
    for item in items:
        lines += [f"### Custody: {markdown.inline(item.name)}, version {item.version}", ""]
        for entry in item.custody:
            note = f" — {markdown.inline(entry.note)}" if entry.note else ""
            lines.append(
                f"- {entry.local_time} ({entry.timezone}) {entry.action} by "
                f"{markdown.inline(entry.who)}, at {markdown.inline(entry.location)}{note}"
            )
        lines.append("")
    return "\n".join(lines)


def render_html(items: list[EvidenceOut]) -> str:
    """Return the Evidence section as HTML, every piece of user text escaped."""
    items = [_shown(item) for item in items]
    if not items:
        return "<h2>Evidence</h2>\n<p>No evidence recorded.</p>\n"
    rows = Markup("").join(
        Markup(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td>"
            "<td>{}</td></tr>"
        ).format(
            item.name,
            item.version,
            item.size,
            item.sha256,
            item.collected_by,
            item.collected_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
        for item in items
    )
    chains = Markup("").join(
        Markup("<h3>Custody: {}, version {}</h3><ul>{}</ul>").format(
            item.name,
            item.version,
            Markup("").join(
                Markup("<li>{} ({}) {} by {}, at {}{}</li>").format(
                    entry.local_time,
                    entry.timezone,
                    entry.action,
                    entry.who,
                    entry.location,
                    Markup(" — {}").format(entry.note) if entry.note else "",
                )
                for entry in item.custody
            ),
        )
        for item in items
    )
    header = (
        "<tr><th>Name</th><th>Version</th><th>Size (bytes)</th><th>SHA-256</th>"
        "<th>Collected by</th><th>Collected</th></tr>"
    )
    return str(
        Markup("<h2>Evidence</h2>\n<table>{}{}</table>\n{}\n").format(Markup(header), rows, chains)
    )


def _shown(item: EvidenceOut) -> EvidenceOut:
    """Return the item with bidi controls in its text written out (`{U+202E}`), as pages do."""
    custody = [
        entry.model_copy(
            update={
                "who": show_bidi(entry.who),
                "location": show_bidi(entry.location),
                "note": show_bidi(entry.note),
            }
        )
        for entry in item.custody
    ]
    return item.model_copy(
        update={
            "name": show_bidi(item.name),
            "collected_by": show_bidi(item.collected_by),
            "custody": custody,
        }
    )
