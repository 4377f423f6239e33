"""`warroom runbooks lint`: check every template and report `file:line: message`."""

from __future__ import annotations

from pathlib import Path

from warroom.runbooks.templates import (
    FRONT_MATTER_KEYS,
    Problem,
    Template,
    list_templates,
    parse_template,
)


def lint_template(template: Template, known_types: set[str] | None = None) -> list[Problem]:
    """Return every problem of one parsed template, in line order."""
    problems = list(template.problems)

    def line_of(key: object) -> int:
        return template.meta_lines.get(str(key), 2)

    for key, value in template.meta.items():
        expected = FRONT_MATTER_KEYS.get(str(key))
        if expected is None:
            problems.append(Problem(line_of(key), f"unknown front matter key {key!r}", "warning"))
        elif not isinstance(value, expected):
            problems.append(
                Problem(line_of(key), f"front matter {key!r} must be a {expected.__name__}")
            )
    declared = template.meta.get("checklist_sections")
    if isinstance(declared, list) and (
        not declared or not all(isinstance(s, str) and s.strip() for s in declared)
    ):
        problems.append(
            Problem(
                line_of("checklist_sections"), "checklist_sections must be a list of section names"
            )
        )
    types = template.meta.get("incident_types")
    if known_types is not None and isinstance(types, list):
        for type_id in types:
            if isinstance(type_id, str) and type_id not in known_types:
                problems.append(
                    Problem(
                        line_of("incident_types"),
                        f"incident type {type_id!r} is not in warroom.yaml",
                        "warning",
                    )
                )
    if template.title is None:
        problems.append(Problem(template.body_line, "no title: add a '# Title' heading"))
    problems.extend(_section_problems(template))
    return sorted(problems, key=lambda p: p.line)


def _section_problems(template: Template) -> list[Problem]:
    """Check that each checklist section exists once and has at least one item."""
    problems = []
    by_name: dict[str, list[int]] = {}
    for heading in template.headings:
        by_name.setdefault(heading.text.strip().rstrip(":").lower(), []).append(heading.line)
    counts: dict[str, int] = {}
    for section, _ in template.checklist:
        counts[section] = counts.get(section, 0) + 1
    for section in template.sections:
        lines = by_name.get(section.lower(), [])
        if not lines:
            problems.append(
                Problem(template.body_line, f"no '{section}' section: the checklist needs one")
            )
        elif len(lines) > 1:
            problems.append(Problem(lines[1], f"'{section}' appears more than once"))
        elif counts.get(section, 0) == 0:
            problems.append(Problem(lines[0], f"'{section}' has no list items to check off"))
    seen: set[tuple[str, str]] = set()
    for section, item in template.checklist:
        if (section, item) in seen:
            line = by_name.get(section.lower(), [template.body_line])[0]
            problems.append(Problem(line, f"'{section}' lists {item!r} twice", "warning"))
        seen.add((section, item))
    return problems


def lint_directory(
    templates_dir: Path, known_types: set[str] | None = None
) -> list[tuple[Path, Problem]]:
    """Lint every template in the directory; return (file, problem) pairs."""
    found: list[tuple[Path, Problem]] = []
    paths = list_templates(templates_dir)
    for path in paths:
        try:
            template = parse_template(path)
        except (OSError, UnicodeDecodeError) as exc:
            found.append((path, Problem(1, f"cannot read: {exc}")))
            continue
        found.extend((path, problem) for problem in lint_template(template, known_types))
    return found
