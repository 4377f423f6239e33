"""Runbook templates: markdown with YAML front matter, and the checklists they define."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

DEFAULT_SECTIONS = ("Containment", "Remediation", "Verification")
FRONT_MATTER_KEYS = {
    "title": str,
    "description": str,
    "status": str,
    "type": str,
    "owner": str,
    "module": str,
    "incident_types": list,
    "severity": str,
    "checklist_sections": list,
    "tags": list,
}
# Used when a template is missing entirely: the runbook's own three lists, so no incident
# ever starts without containment, remediation and verification steps.
FALLBACK_CHECKLIST = (
    ("Containment", "Isolate the affected component."),
    ("Containment", "Block malicious traffic."),
    ("Containment", "Disable the affected feature."),
    ("Remediation", "Roll back the change."),
    ("Remediation", "Apply a hotfix."),
    ("Remediation", "Restore from backup."),
    ("Verification", "Confirm that the issue is resolved."),
    ("Verification", "Monitor the system for any side effects."),
)

_markdown = MarkdownIt("commonmark")


@dataclass
class Problem:
    """A lint finding at a line of a template."""

    line: int
    message: str
    severity: str = "error"


@dataclass
class Heading:
    """A markdown heading and the line it is on."""

    level: int
    text: str
    line: int


@dataclass
class Template:
    """A parsed runbook template."""

    name: str
    path: Path
    meta: dict[str, Any]
    body: str
    body_line: int  # 1-based line where the body starts in the file
    title: str | None
    headings: list[Heading]
    checklist: list[tuple[str, str]]
    problems: list[Problem] = field(default_factory=list)
    meta_lines: dict[str, int] = field(default_factory=dict)  # front matter key -> file line

    @property
    def sections(self) -> tuple[str, ...]:
        """Return the checklist section names this template asks for."""
        declared = self.meta.get("checklist_sections")
        if isinstance(declared, list) and all(isinstance(s, str) for s in declared):
            return tuple(declared)
        return DEFAULT_SECTIONS


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """Split `---` front matter from the body; return (yaml or None, body, body's first line)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None, text, 1
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2
    return None, text, 1


def parse_template(path: Path, name: str | None = None) -> Template:
    """Read a template file; problems found while reading are kept on the result."""
    text = path.read_text(encoding="utf-8")
    problems: list[Problem] = []
    raw_meta, body, body_line = split_front_matter(text)
    meta: dict[str, Any] = {}
    meta_lines: dict[str, int] = {}
    if raw_meta is None:
        problems.append(Problem(1, "no YAML front matter: start the file with a --- block"))
    else:
        try:
            loaded = yaml.safe_load(raw_meta)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = 2 + (mark.line if mark is not None else 0)
            problems.append(
                Problem(line, f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}")
            )
            loaded = {}
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            problems.append(Problem(2, "front matter must be a mapping of keys to values"))
        else:
            meta = loaded
            meta_lines = _key_lines(raw_meta)
    headings, checklist = _outline(body, body_line, _sections_of(meta))
    title = next((h.text for h in headings if h.level == 1), None)
    return Template(
        name=name or path.stem,
        path=path,
        meta=meta,
        body=body,
        body_line=body_line,
        title=meta.get("title") if isinstance(meta.get("title"), str) else title,
        headings=headings,
        checklist=checklist,
        problems=problems,
        meta_lines=meta_lines,
    )


def _key_lines(raw_meta: str) -> dict[str, int]:
    """Return the file line of each top-level front matter key (the block starts on line 2)."""
    try:
        node = yaml.compose(raw_meta, Loader=yaml.SafeLoader)
    except yaml.YAMLError:  # already reported by the caller
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(key.value): 2 + key.start_mark.line for key, _ in node.value}


def _sections_of(meta: dict[str, Any]) -> tuple[str, ...]:
    declared = meta.get("checklist_sections")
    if isinstance(declared, list) and declared and all(isinstance(s, str) for s in declared):
        return tuple(declared)
    return DEFAULT_SECTIONS


def _outline(
    body: str, body_line: int, sections: tuple[str, ...]
) -> tuple[list[Heading], list[tuple[str, str]]]:
    """Return the headings and the (section, item) pairs under checklist headings."""
    tokens = _markdown.parse(body)
    wanted = {s.lower(): s for s in sections}
    headings: list[Heading] = []
    checklist: list[tuple[str, str]] = []
    current: str | None = None
    current_level = 0
    list_depth = 0
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            level = int(token.tag[1])
            text = _plain(tokens[index + 1])
            line = body_line + (token.map[0] if token.map else 0)
            headings.append(Heading(level, text, line))
            key = text.strip().rstrip(":").lower()
            if key in wanted:
                current, current_level = wanted[key], level
            elif current is not None and level <= current_level:
                current = None
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif (
            token.type == "inline"
            and current is not None
            and list_depth == 1
            and index >= 2
            and tokens[index - 2].type == "list_item_open"
            and (item := _plain(token))
        ):
            checklist.append((current, item))
    return headings, checklist


def _plain(token: Token) -> str:
    """Return the visible text of an inline token (bold, links and code unwrapped)."""
    if not token.children:
        return token.content.strip()
    parts = [
        " " if child.type in ("softbreak", "hardbreak") else child.content
        for child in token.children
        if child.type in ("text", "code_inline", "softbreak", "hardbreak")
    ]
    parts_text = "".join(parts)
    return " ".join(parts_text.split())


def find_template(templates_dir: Path, name: str) -> Path | None:
    """Return the path of template `name` (file stem), or None."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = templates_dir / f"{name}.md"
    return path if path.is_file() else None


def list_templates(templates_dir: Path) -> list[Path]:
    """Return every template file, sorted by name."""
    if not templates_dir.is_dir():
        return []
    return sorted(p for p in templates_dir.glob("*.md") if p.is_file())
