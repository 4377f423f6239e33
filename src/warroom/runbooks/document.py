"""Render an incident as its active/archived runbook file (front matter + checklist + timeline)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml

from warroom.core.markdown import block, cell, inline
from warroom.core.text import BIDI_CONTROLS
from warroom.incidents.schemas import ChecklistItemOut, IncidentDetail

# libyaml's dumper is about five times faster; the pure-Python one is the fallback.
_Base: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):  # type: ignore[valid-type,misc]
    """The dumper, with text holding a bidi control double-quoted (see `_meta`)."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if BIDI_CONTROLS.search(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def _meta(data: dict[str, Any]) -> str:
    """Dump the front matter; a bidi control is written as its `\\uXXXX` escape.

    The value reads back exactly (YAML's double-quoted escape), yet the file holds no raw
    control that would reorder the line for someone reading it.
    """
    dumped = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    return BIDI_CONTROLS.sub(lambda found: f"\\u{ord(found.group()):04X}", dumped)


MILESTONES = (
    "started_at",
    "detected_at",
    "acknowledged_at",
    "triaged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
)


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def front_matter(incident: IncidentDetail) -> dict[str, Any]:
    """Return the file's front matter: identity, state and milestones."""
    return {
        "number": incident.ref,
        "title": incident.title,
        "status": incident.status,
        "severity": incident.severity,
        "commander": incident.commander,
        "type": incident.incident_type,
        "owner": incident.owner,
        "module": incident.module,
        "service": incident.service,
        "visibility": incident.visibility,
        "template": incident.runbook_template,
        "milestones": {name: _iso(getattr(incident, name)) for name in MILESTONES},
    }


def _box(item: ChecklistItemOut) -> str:
    # Notes and reasons are free text: kept to one line and escaped, so the list stays a
    # list and user text can add no heading, HTML, link or checklist item of its own.
    text = inline(item.text)
    owner = f"owner: {inline(item.owner)}" if item.owner else ""
    note = f" — note: {inline(item.note)}" if item.note else ""
    if item.done_at is not None:
        by = f" by {inline(item.done_by)}" if item.done_by else ""
        extra = f"; {owner}" if owner else ""
        return f"- [x] {text} (done{by} at {_iso(item.done_at)}{extra}){note}"
    if item.skipped_reason:
        reason = inline(item.skipped_reason)
        extra = f" ({owner})" if owner else ""
        return f"- [ ] ~~{text}~~ — skipped: {reason}{extra}{note}"
    extra = f" ({owner})" if owner else ""
    return f"- [ ] {text}{extra}{note}"


def _completed(items: list[ChecklistItemOut]) -> str:
    done = sum(1 for i in items if i.done_at or i.skipped_reason)
    return f"{done}/{len(items)}"


def _assessed(value: str | None) -> str:
    return inline(value) if value else "_not yet assessed_"


def render(incident: IncidentDetail, severity_name: str | None = None) -> str:
    """Return the markdown document for an incident."""
    meta = _meta(front_matter(incident))
    severity = f"{incident.severity} ({severity_name})" if severity_name else incident.severity
    lines = [
        "---",
        meta.rstrip("\n"),
        "---",
        "",
        f"# {incident.ref}: {inline(incident.title)}",
        "",
        f"**Status:** {incident.status} · **Severity:** {inline(severity)} · "
        f"**Commander:** {inline(incident.commander or 'unassigned')} · "
        f"**Visibility:** {incident.visibility}",
        "",
    ]
    if incident.summary:
        lines += ["## Summary", "", block(incident.summary.strip()), ""]
    lines += [
        "## Initial assessment",
        "",
        f"- **Impact:** {_assessed(incident.impact)}",
        f"- **Scope:** {_assessed(incident.scope)}",
        f"- **Priority:** {_assessed(incident.priority)}",
        "",
    ]
    if incident.checklist:
        lines += [f"## Checklist ({_completed(incident.checklist)})", ""]
        sections: dict[str, list[ChecklistItemOut]] = {}
        for item in incident.checklist:
            sections.setdefault(item.section, []).append(item)
        # Progress per section counts skipped items (with their reason) as completed.
        lines += [
            " · ".join(f"{inline(name)} {_completed(items)}" for name, items in sections.items())
        ]
        lines.append("")
        for name, items in sections.items():
            lines += [f"### {inline(name)}", "", *map(_box, items), ""]
    lines += ["## Timeline", "", "| Time (UTC) | Event | By |", "|---|---|---|"]
    for event in incident.timeline:
        star = "★ " if event.key_event else ""
        who = cell(event.actor or event.source)
        lines.append(f"| {_iso(event.at)} | {star}{cell(event.text)} | {who} |")
    lines.append("")
    return "\n".join(lines)
