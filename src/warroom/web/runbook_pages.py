"""Runbooks: the templates, rendered, and the active and archived runbook files of incidents.

A runbook file belongs to its incident (`INC-<n>-<slug>.md`): it is listed and shown only to
those who may see incident n, by the same SQL condition as every incident list. A page is
found by looking its name up in the listing, never by joining it to a path, so no name
leads outside the runbook directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import select

from warroom.core.errors import NotFound
from warroom.incidents.models import Incident
from warroom.incidents.visibility import visible
from warroom.runbooks.templates import list_templates, parse_template, split_front_matter
from warroom.web.page import PageRoute, SignedIn, Viewer, render

INCIDENT_FILE = re.compile(r"INC-(\d{1,9})-")  # active/ and archive/ files: INC-<n>-<slug>.md
router = APIRouter(route_class=PageRoute, include_in_schema=False)
FILE_NAME = re.compile(r"INC-([1-9][0-9]{0,9})-[A-Za-z0-9._-]*\.md")
FOLDERS = ("active", "archive")
# Raw HTML in a runbook is shown as text, never rendered; markdown-it also refuses
# javascript:, vbscript:, file: and data: links.
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")


def to_html(text: str, title: str | None = None) -> Markup:
    """Render runbook markdown as HTML that carries none of the runbook's own HTML.

    A first heading that only repeats `title` is left out; if an `<h1>` is left, every
    heading moves one level down, under the page's own `<h1>`.
    """
    tokens = _markdown.parse(text)
    if (
        len(tokens) >= 3
        and tokens[0].type == "heading_open"
        and tokens[0].tag == "h1"
        and tokens[1].content.strip() == (title or "").strip()
    ):
        tokens = tokens[3:]
    headings = [token for token in tokens if token.type in ("heading_open", "heading_close")]
    if any(token.tag == "h1" for token in headings):
        for token in headings:
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    html = _markdown.renderer.render(tokens, _markdown.options, {})
    return Markup(html)  # html=False: every raw HTML of the runbook is escaped


@dataclass(frozen=True)
class TemplateEntry:
    """A runbook template as the listing shows it."""

    name: str
    title: str
    description: str
    path: Path


@dataclass(frozen=True)
class RunbookFile:
    """An incident's runbook file."""

    folder: str
    name: str
    ref: str
    path: Path


def templates(viewer: Viewer) -> list[TemplateEntry]:
    """Return the templates, by name."""
    entries = []
    for path in list_templates(viewer.runtime.runbooks.templates):
        try:
            parsed = parse_template(path, path.stem)
            title = parsed.title or str(parsed.meta.get("title") or path.stem)
            description = parsed.meta.get("description")
        except (OSError, ValueError):
            title, description = path.stem, None
        entries.append(
            TemplateEntry(
                path.stem, title, description if isinstance(description, str) else "", path
            )
        )
    return entries


def runbook_files(viewer: Viewer, folder: str) -> list[RunbookFile]:
    """Return the files in `folder` of incidents the viewer may see, newest incident first."""
    runtime = viewer.runtime
    root = runtime.runbooks.active if folder == "active" else runtime.runbooks.archive
    try:
        found = [
            (int(match.group(1)), path)
            for path in root.iterdir()
            if (match := FILE_NAME.fullmatch(path.name)) and path.is_file()
        ]
    except OSError:  # no such folder yet
        return []
    numbers = {number for number, _path in found}
    if not numbers:
        return []
    stmt = select(Incident.number).where(
        Incident.number.in_(numbers), visible(runtime.config(), viewer.access)
    )
    with runtime.db.session() as session:
        allowed = set(session.scalars(stmt))
    return [
        RunbookFile(folder, path.name, f"INC-{number}", path)
        for number, path in sorted(found, key=lambda pair: (-pair[0], pair[1].name))
        if number in allowed
    ]


@router.get("/runbooks")
def runbook_index(request: Request, viewer: SignedIn) -> HTMLResponse:
    """List the templates and the active and archived runbooks the viewer may see."""
    return render(
        request,
        "runbooks/index.html",
        viewer,
        templates=templates(viewer),
        active=runbook_files(viewer, "active"),
        archive=runbook_files(viewer, "archive"),
    )


def _read(path: Path) -> tuple[dict[str, str], str]:
    """Return a file's front matter (its plain values, as text) and body."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotFound(f"cannot read {path.name}") from exc
    raw, body, _line = split_front_matter(text)
    meta: dict[str, str] = {}
    if raw:
        try:
            loaded = yaml.safe_load(raw)
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, dict):
            for key, value in loaded.items():
                if isinstance(value, list):
                    value = ", ".join(str(item) for item in value)
                if isinstance(value, (str, int, float)) and str(value):
                    meta[str(key)] = str(value)
    return meta, body


@router.get("/runbooks/templates/{name}")
def runbook_template(name: str, request: Request, viewer: SignedIn) -> HTMLResponse:
    """Show one template, rendered."""
    entry = next((entry for entry in templates(viewer) if entry.name == name), None)
    if entry is None:
        raise NotFound(f"no runbook template {name!r}")
    meta, body = _read(entry.path)
    return render(
        request,
        "runbooks/show.html",
        viewer,
        heading=entry.title,
        kind="Template",
        file_name=f"templates/{entry.path.name}",
        meta=meta,
        body=to_html(body, entry.title),
        ref=None,
    )


def _runbook_file(request: Request, viewer: Viewer, folder: str, name: str) -> HTMLResponse:
    named = INCIDENT_FILE.match(name)
    if named:  # a restricted incident's file is a read of it: audited, like its page
        where = f"{request.method} {request.url.path}"
        viewer.runtime.flows.check_visible(f"INC-{named[1]}", viewer.access, request=where)
    entry = next((e for e in runbook_files(viewer, folder) if e.name == name), None)
    if entry is None:
        raise NotFound(f"no {folder} runbook {name!r}")
    meta, body = _read(entry.path)
    heading = meta.get("title") or entry.ref
    return render(
        request,
        "runbooks/show.html",
        viewer,
        heading=heading,
        kind="Active runbook" if folder == "active" else "Archived runbook",
        file_name=f"{folder}/{entry.name}",
        meta=meta,
        body=to_html(body, heading),
        ref=entry.ref,
    )


@router.get("/runbooks/active/{name}")
def active_runbook(name: str, request: Request, viewer: SignedIn) -> HTMLResponse:
    """Show the runbook file of an open incident."""
    return _runbook_file(request, viewer, "active", name)


@router.get("/runbooks/archive/{name}")
def archived_runbook(name: str, request: Request, viewer: SignedIn) -> HTMLResponse:
    """Show the runbook file of a resolved or closed incident."""
    return _runbook_file(request, viewer, "archive", name)
