"""Write a postmortem as markdown, HTML and SVG into the runbook directory's archive/."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup, escape

from warroom.core import markdown
from warroom.core.text import show_bidi
from warroom.postmortem import fishbone, timeline_chart
from warroom.postmortem.formatting import span
from warroom.postmortem.schemas import PostmortemOut

MILESTONES = [
    ("Detection", "detected"),
    ("Acknowledgement", "acknowledged"),
    ("Triage", "triaged"),
    ("Mitigation", "mitigated"),
    ("Resolution", "resolved"),
]
SPANS = [
    ("Time to detect (impact start → detection)", "time_to_detect"),
    ("Time to acknowledge", "time_to_acknowledge"),
    ("Detection → triage", "detection_to_triage"),
    ("Triage → mitigation", "triage_to_mitigation"),
    ("Mitigation → resolution", "mitigation_to_resolution"),
    ("Time to mitigate (from detection)", "time_to_mitigate"),
    ("Time to resolve (from detection)", "time_to_resolve"),
]

MARKDOWN = """\
# Postmortem: {{ pm.incident }} — {{ pm.title | md }}

| | |
|---|---|
| Severity | {{ pm.severity | cell }} |
| Service | {{ (pm.service or "—") | cell }} |
| Incident Commander | {{ (pm.commander or "—") | cell }} |
| Status | {{ pm.status }}{% if pm.required %} (required, due {{ pm.due_at | when }}){% endif %} |
| Responders | {{ (pm.responders | join(", ") or "—") | cell }} |

## Summary

{{ pm.summary | mdblock }}

## Impact

{{ pm.impact | mdblock }}

## Timeline

![Timeline]({{ timeline_name }})

| Milestone | Time (UTC) |
|---|---|
{% for label, key in milestones %}| {{ label }} | {{ pm.timeline.milestones[key] | when }} |
{% endfor %}
| Span | Duration |
|---|---|
{% for label, key in spans %}| {{ label }} | {{ pm.timeline.durations[key] | span }} |
{% endfor %}
Key events are starred.

{% for e in pm.timeline.events %}- {% if e.key_event %}★ {% endif %}{{ e.at | when }} — {{ e.text | md }}{% if e.actor %} ({{ e.actor | md }}){% endif %}
{% endfor %}
## Root cause

{{ pm.root_cause | mdblock }}

### 5 Whys

{% for w in pm.five_whys %}{{ loop.index }}. **{{ w.question | md }}** {{ w.answer | md }}
{% else %}_No whys yet._
{% endfor %}
### Fishbone

![Fishbone diagram]({{ svg_name }})

{% for name, causes in pm.fishbone.items() %}- **{{ name | md }}**: {{ (causes | join("; ") or "—") | md }}
{% endfor %}
{% for title, items in lessons %}## {{ title }}

{% for item in items %}- {{ item | md }}
{% else %}_None recorded._
{% endfor %}
{% endfor %}## Action items

| Kind | Title | Owner | Due | Status | Jira |
|---|---|---|---|---|---|
{% for a in pm.action_items %}| {{ a.kind.replace("_", "-") }} | {{ a.title | cell }} | {{ (a.owner or "—") | cell }} | {{ a.due_date or "—" }} | {{ a.status }} | {{ (a.jira_key or "—") | cell }} |
{% endfor %}"""  # noqa: E501  (a template: its table rows stay one line each)

HTML = """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Postmortem: {{ pm.incident }} — {{ pm.title }}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}
.key{font-weight:bold}svg{max-width:100%;height:auto}</style></head>
<body>
<h1>Postmortem: {{ pm.incident }} — {{ pm.title }}</h1>
<table>
<tr><th>Severity</th><td>{{ pm.severity }}</td></tr>
<tr><th>Service</th><td>{{ pm.service or "—" }}</td></tr>
<tr><th>Incident Commander</th><td>{{ pm.commander or "—" }}</td></tr>
<tr><th>Status</th><td>{{ pm.status }}{% if pm.required %} (required, due {{ pm.due_at | when }}){% endif %}</td></tr>
<tr><th>Responders</th><td>{{ pm.responders | join(", ") or "—" }}</td></tr>
</table>
<h2>Summary</h2>{{ pm.summary | paragraphs }}
<h2>Impact</h2>{{ pm.impact | paragraphs }}
<h2>Timeline</h2>
{{ timeline_svg }}
<table>{% for label, key in milestones %}<tr><th>{{ label }}</th><td>{{ pm.timeline.milestones[key] | when }}</td></tr>{% endfor %}</table>
<table>{% for label, key in spans %}<tr><th>{{ label }}</th><td>{{ pm.timeline.durations[key] | span }}</td></tr>{% endfor %}</table>
<ul>{% for e in pm.timeline.events %}<li{% if e.key_event %} class="key"{% endif %}>{% if e.key_event %}★ {% endif %}{{ e.at | when }} — {{ e.text }}{% if e.actor %} ({{ e.actor }}){% endif %}</li>{% endfor %}</ul>
<h2>Root cause</h2>{{ pm.root_cause | paragraphs }}
<h3>5 Whys</h3>
<ol>{% for w in pm.five_whys %}<li><strong>{{ w.question }}</strong> {{ w.answer }}</li>{% endfor %}</ol>
<h3>Fishbone</h3>
{{ svg }}
{% for title, items in lessons %}<h2>{{ title }}</h2>
<ul>{% for item in items %}<li>{{ item }}</li>{% else %}<li>None recorded.</li>{% endfor %}</ul>
{% endfor %}<h2>Action items</h2>
<table><tr><th>Kind</th><th>Title</th><th>Owner</th><th>Due</th><th>Status</th><th>Jira</th></tr>
{% for a in pm.action_items %}<tr><td>{{ a.kind.replace("_", "-") }}</td><td>{{ a.title }}</td><td>{{ a.owner or "—" }}</td><td>{{ a.due_date or "—" }}</td><td>{{ a.status }}</td><td>{{ a.jira_key or "—" }}</td></tr>
{% endfor %}</table>
</body></html>
"""  # noqa: E501


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _paragraphs(text: str) -> Markup:
    """Return free text as HTML paragraphs: blank lines part them, newlines break lines."""
    blocks = [block.strip() for block in text.replace("\r\n", "\n").split("\n\n")]
    shown = [block for block in blocks if block] or ["Not written yet."]
    return Markup("").join(
        Markup("<p>")
        + Markup("<br>").join(escape(line) for line in block.split("\n"))
        + Markup("</p>")
        for block in shown
    )


def _shown(value: object) -> object:
    if isinstance(value, Markup):
        return Markup(show_bidi(str(value)))
    return show_bidi(value) if isinstance(value, str) else value


def _environment(autoescape: bool) -> Environment:
    env = Environment(
        autoescape=autoescape,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        finalize=_shown,  # bidi controls shown in the HTML file as on the pages
    )
    env.filters["when"] = _when
    env.filters["span"] = span
    env.filters["paragraphs"] = _paragraphs
    # Markdown only: user text is escaped so it adds no heading, HTML, link or list of its own.
    env.filters["md"] = markdown.inline
    env.filters["mdblock"] = lambda text: markdown.block(text) if text else "_Not written yet._"
    env.filters["cell"] = markdown.cell
    return env


def _context(pm: PostmortemOut) -> dict[str, object]:
    return {
        "pm": pm.model_dump(),
        "milestones": MILESTONES,
        "spans": SPANS,
        "lessons": [
            ("Contributing factors", pm.contributing_factors),
            ("What went well", pm.went_well),
            ("What went poorly", pm.went_poorly),
            ("Where we got lucky", pm.got_lucky),
        ],
    }


def render_svg(pm: PostmortemOut) -> str:
    """Return the postmortem's fishbone diagram as SVG."""
    return fishbone.render(pm.title, pm.fishbone)


def render_timeline(pm: PostmortemOut) -> str:
    """Return the incident's timeline (phases, milestones, key events) as SVG."""
    return timeline_chart.render(f"{pm.incident}: {pm.title}", pm.timeline)


def render_markdown(pm: PostmortemOut, svg_name: str, timeline_name: str) -> str:
    """Return the postmortem as markdown, linking the fishbone and timeline SVG files."""
    return (
        _environment(False)
        .from_string(MARKDOWN)
        .render(**_context(pm), svg_name=svg_name, timeline_name=timeline_name)
    )


def _inline(svg: str) -> Markup:
    """Return an SVG document as HTML markup (without its XML declaration).

    The SVG escapes every piece of user text itself (fishbone.py, timeline_chart.py).
    """
    return Markup(svg.split("?>", 1)[1] if svg.startswith("<?xml") else svg)


def render_html(pm: PostmortemOut, svg: str, timeline: str) -> str:
    """Return the postmortem as a standalone HTML page with both pictures inlined."""
    return (
        _environment(True)
        .from_string(HTML)
        .render(**_context(pm), svg=_inline(svg), timeline_svg=_inline(timeline))
    )


def write(
    pm: PostmortemOut,
    *,
    archive: Path,
    slug: str,
    restricted: bool,
    extra: Sequence[tuple[str, str]] = (),
) -> list[Path]:
    """Write `<ref>-<slug>.postmortem.md|.html`, `.fishbone.svg` and `.timeline.svg`.

    `extra` holds sections other phases add (markdown, HTML), each escaped by its maker.
    """
    stem = f"{pm.incident}-{slug}"
    svg, timeline = render_svg(pm), render_timeline(pm)
    svg_name, timeline_name = f"{stem}.fishbone.svg", f"{stem}.timeline.svg"
    text = render_markdown(pm, svg_name, timeline_name)
    page = render_html(pm, svg, timeline)
    for section_md, section_html in extra:
        text += f"\n{section_md}" if section_md else ""
        page = page.replace("</body></html>", f"{section_html}</body></html>", 1)
    files = [
        (archive / svg_name, svg),
        (archive / timeline_name, timeline),
        (archive / f"{stem}.postmortem.md", text),
        (archive / f"{stem}.postmortem.html", page),
    ]
    mode = 0o600 if restricted else 0o644  # like the runbook file of a restricted incident
    for path, text in files:
        _atomic_write(path, text, mode)
    return [path for path, _ in files]


def _atomic_write(path: Path, text: str, mode: int) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
