"""`lint_template` / `lint_directory`: every problem at the line where it is."""

from __future__ import annotations

from pathlib import Path

from warroom.runbooks.lint import lint_directory, lint_template
from warroom.runbooks.templates import Problem, parse_template

SECTIONS = (
    "## Containment\n\n- Contain.\n\n"
    "## Remediation\n\n- Remediate.\n\n"
    "## Verification\n\n- Verify.\n"
)


def lint_text(tmp_path: Path, text: str, known: set[str] | None = None) -> list[Problem]:
    """Write `text` as a template and lint it."""
    path = tmp_path / "t.md"
    path.write_text(text, encoding="utf-8")
    return lint_template(parse_template(path), known)


def find(problems: list[Problem], fragment: str) -> Problem:
    """Return the one problem whose message contains `fragment`."""
    matches = [p for p in problems if fragment in p.message]
    assert len(matches) == 1, (fragment, problems)
    return matches[0]


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def test_a_good_template_has_no_problems(tmp_path: Path) -> None:
    assert lint_text(tmp_path, "---\ntitle: Good\n---\n\n" + SECTIONS) == []


def test_missing_front_matter_is_an_error_on_line_1(tmp_path: Path) -> None:
    problems = lint_text(tmp_path, "# Title\n\n" + SECTIONS)

    problem = find(problems, "no YAML front matter")
    assert (problem.line, problem.severity) == (1, "error")
    # The rest of the file is still checked: the title comes from the heading.
    assert problems == [problem]


def test_invalid_yaml_is_reported_on_its_line(tmp_path: Path) -> None:
    text = "---\ntitle: Fine\nowner: a: b\ntags: [x]\n---\n\n# T\n\n" + SECTIONS
    problems = lint_text(tmp_path, text)

    problem = find(problems, "front matter is not valid YAML")
    assert (problem.line, problem.severity) == (3, "error")
    assert "mapping values are not allowed" in problem.message


def test_front_matter_that_is_a_list_is_an_error_on_line_2(tmp_path: Path) -> None:
    problems = lint_text(tmp_path, "---\n- title\n- owner\n---\n\n# T\n\n" + SECTIONS)

    problem = find(problems, "front matter must be a mapping")
    assert (problem.line, problem.severity) == (2, "error")
    assert problems == [problem]


def test_wrong_type_of_a_key_is_an_error_on_the_key_line(tmp_path: Path) -> None:
    text = "---\ntitle: T\nowner: sre\ntags: urgent\nseverity: 1\n---\n\n" + SECTIONS
    problems = lint_text(tmp_path, text)

    tags = find(problems, "'tags' must be a list")
    severity = find(problems, "'severity' must be a str")
    assert (tags.line, tags.severity) == (4, "error")
    assert (severity.line, severity.severity) == (5, "error")
    assert len(problems) == 2


def test_unknown_key_is_a_warning_on_its_line(tmp_path: Path) -> None:
    text = "---\ntitle: T\nowner: sre\n\nauthor: me\n---\n\n" + SECTIONS
    problems = lint_text(tmp_path, text)

    problem = find(problems, "unknown front matter key 'author'")
    assert (problem.line, problem.severity) == (5, "warning")
    assert errors(problems) == []


def test_missing_title_is_an_error_where_the_body_starts(tmp_path: Path) -> None:
    text = "---\nowner: sre\n---\n\nSome intro.\n\n" + SECTIONS
    problems = lint_text(tmp_path, text)

    problem = find(problems, "no title")
    assert (problem.line, problem.severity) == (4, "error")
    assert problems == [problem]


def test_missing_verification_section_is_an_error(tmp_path: Path) -> None:
    text = "---\ntitle: T\n---\n\n## Containment\n\n- Contain.\n\n## Remediation\n\n- Fix.\n"
    problems = lint_text(tmp_path, text)

    problem = find(problems, "no 'Verification' section")
    assert (problem.line, problem.severity) == (4, "error")
    assert problems == [problem]


def test_section_without_bullets_is_an_error_on_its_heading(tmp_path: Path) -> None:
    text = (
        "---\ntitle: T\n---\n\n"  # lines 1-4
        "## Containment\n\n- Contain.\n\n"  # lines 5-8
        "## Remediation\n\nJust prose, no list.\n\n"  # heading on line 9
        "## Verification\n\n- Verify.\n"
    )
    problems = lint_text(tmp_path, text)

    problem = find(problems, "'Remediation' has no list items")
    assert (problem.line, problem.severity) == (9, "error")
    assert problems == [problem]


def test_only_nested_bullets_do_not_fill_a_section(tmp_path: Path) -> None:
    text = (
        "---\ntitle: T\n---\n\n"
        "## Containment\n\n- Contain.\n\n"
        "## Remediation\n\n1. Step\n   - sub-step\n\n"
        "## Verification\n\nSee below.\n\n### How\n\n"  # Verification heading on line 14
        "Text.\n\n## Notes\n\n- not a verification step\n"
    )
    problems = lint_text(tmp_path, text)

    problem = find(problems, "'Verification' has no list items")
    assert problem.line == 14
    assert errors(problems) == [problem]


def test_duplicated_section_is_an_error_on_the_second_heading(tmp_path: Path) -> None:
    text = (
        "---\ntitle: T\n---\n\n"
        "## Containment\n\n- Contain.\n\n"  # line 5
        "## Remediation\n\n- Fix.\n\n"  # line 9
        "## Verification\n\n- Verify.\n\n"  # line 13
        "## Containment\n\n- Contain again.\n"  # line 17
    )
    problems = lint_text(tmp_path, text)

    problem = find(problems, "'Containment' appears more than once")
    assert (problem.line, problem.severity) == (17, "error")
    assert problems == [problem]


def test_checklist_sections_not_a_list_is_one_error_on_its_line(tmp_path: Path) -> None:
    text = "---\ntitle: T\nowner: sre\nchecklist_sections: Containment\n---\n\n" + SECTIONS
    problems = lint_text(tmp_path, text)

    mentioning = [p for p in problems if "checklist_sections" in p.message]
    assert len(mentioning) == 1, problems
    assert (mentioning[0].line, mentioning[0].severity) == (4, "error")
    # The default sections still apply, and this file has them.
    assert problems == mentioning


def test_checklist_sections_with_blank_names_is_an_error(tmp_path: Path) -> None:
    text = "---\ntitle: T\nchecklist_sections: [Containment, '']\n---\n\n" + SECTIONS
    problems = lint_text(tmp_path, text)

    problem = find(problems, "checklist_sections must be a list of section names")
    assert (problem.line, problem.severity) == (3, "error")


def test_unknown_incident_type_is_a_warning(tmp_path: Path) -> None:
    text = "---\ntitle: T\nincident_types: [security, netwrk]\n---\n\n" + SECTIONS
    problems = lint_text(tmp_path, text, known={"default", "security"})

    problem = find(problems, "incident type 'netwrk' is not in warroom.yaml")
    assert (problem.line, problem.severity) == (3, "warning")
    assert len(problems) == 1
    # Without a configuration to compare with, there is nothing to say.
    assert lint_text(tmp_path, text) == []


def test_incident_types_as_a_string_is_one_error(tmp_path: Path) -> None:
    text = "---\ntitle: T\nincident_types: security\n---\n\n" + SECTIONS
    problems = lint_text(tmp_path, text, known={"default"})

    assert [(p.line, p.severity, p.message) for p in problems] == [
        (3, "error", "front matter 'incident_types' must be a list")
    ]


def test_item_listed_twice_is_a_warning(tmp_path: Path) -> None:
    text = (
        "---\ntitle: T\n---\n\n"
        "## Containment\n\n- Contain.\n- Contain.\n\n"
        "## Remediation\n\n- Fix.\n\n## Verification\n\n- Verify.\n"
    )
    problems = lint_text(tmp_path, text)

    problem = find(problems, "lists 'Contain.' twice")
    assert (problem.line, problem.severity) == (5, "warning")


def test_problems_come_in_line_order(tmp_path: Path) -> None:
    text = (
        "---\nextra: 1\ntags: x\n---\n\n"  # warning line 2, error line 3; body line 5
        "## Containment\n\n- A.\n\n"  # no title (line 5)
        "## Remediation\n\nprose\n\n"  # line 10: no items
        "## Containment\n\n- B.\n"  # line 14: duplicate; Verification missing (line 5)
    )
    problems = lint_text(tmp_path, text)

    assert [p.line for p in problems] == sorted(p.line for p in problems)
    assert [(p.line, p.severity) for p in problems] == [
        (2, "warning"),
        (3, "error"),
        (5, "error"),
        (5, "error"),
        (10, "error"),
        (14, "error"),
    ]


def test_lint_directory_names_each_file(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("---\ntitle: G\n---\n" + SECTIONS, encoding="utf-8")
    (tmp_path / "bad.md").write_text("# B\n\n" + SECTIONS, encoding="utf-8")
    (tmp_path / "binary.md").write_bytes(b"---\ntitle: \xff\xfe\n---\n")
    (tmp_path / "notes.txt").write_text("not a template", encoding="utf-8")

    found = lint_directory(tmp_path)

    assert [(path.name, p.line) for path, p in found] == [("bad.md", 1), ("binary.md", 1)]
    assert "no YAML front matter" in found[0][1].message
    assert "cannot read" in found[1][1].message
    assert lint_directory(tmp_path / "absent") == []
