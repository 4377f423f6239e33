"""Runbook templates: front matter, headings and the checklist a template defines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED, TEMPLATES, need
from warroom.config import WarroomConfig
from warroom.runbooks.lint import lint_template
from warroom.runbooks.templates import (
    DEFAULT_SECTIONS,
    find_template,
    list_templates,
    parse_template,
    split_front_matter,
)

USER_RUNBOOK = SHARED / "seed" / "incident-response-runbook.md"
KNOWN_TYPES = {t.id for t in WarroomConfig().incident_types}


def write(folder: Path, name: str, text: str) -> Path:
    """Write a template file and return its path."""
    path = folder / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_users_runbook_is_a_valid_template_as_is() -> None:
    need(USER_RUNBOOK.is_file(), f"the user's runbook is absent at {USER_RUNBOOK}")
    template = parse_template(USER_RUNBOOK)

    assert lint_template(template, KNOWN_TYPES) == []
    assert template.name == "incident-response-runbook"
    assert template.title == "Incident Response Runbook"
    assert template.meta == {
        "status": "new",
        "type": "documentation",
        "owner": "security-team",
        "module": "runbooks",
    }
    assert template.sections == DEFAULT_SECTIONS


def test_users_runbook_checklist_is_the_eight_mitigation_bullets_in_order() -> None:
    need(USER_RUNBOOK.is_file(), f"the user's runbook is absent at {USER_RUNBOOK}")
    template = parse_template(USER_RUNBOOK)

    assert template.checklist == [
        ("Containment", "Isolate the affected component."),
        ("Containment", "Block malicious traffic."),
        ("Containment", "Disable the affected feature."),
        ("Remediation", "Rollback the change."),
        ("Remediation", "Apply a hotfix."),
        ("Remediation", "Restore from backup."),
        ("Verification", "Confirm that the issue is resolved."),
        ("Verification", "Monitor the system for any side effects."),
    ]
    assert not any("**" in text for _, text in template.checklist)


def test_users_runbook_body_starts_after_its_front_matter() -> None:
    need(USER_RUNBOOK.is_file(), f"the user's runbook is absent at {USER_RUNBOOK}")
    template = parse_template(USER_RUNBOOK)

    # Front matter is lines 1-6; the body starts on line 7 and "# Incident Response Runbook"
    # is on line 8.
    assert template.body_line == 7
    title = next(h for h in template.headings if h.level == 1)
    assert (title.text, title.line) == ("Incident Response Runbook", 8)
    lines = USER_RUNBOOK.read_text(encoding="utf-8").splitlines()
    for heading in template.headings:
        assert heading.text in lines[heading.line - 1], heading


def test_shipped_templates_are_the_three_expected_ones() -> None:
    names = [p.stem for p in list_templates(TEMPLATES)]
    assert names == ["generic", "resource-saturation", "security-breach"]


@pytest.mark.parametrize("name", ["generic", "resource-saturation", "security-breach"])
def test_shipped_template_lints_clean_and_has_items_in_every_section(name: str) -> None:
    path = find_template(TEMPLATES, name)
    assert path is not None
    template = parse_template(path, name)

    assert lint_template(template, KNOWN_TYPES) == []
    assert template.title
    sections_with_items = [s for s, _ in template.checklist]
    assert list(dict.fromkeys(sections_with_items)) == list(template.sections)
    # The template covers an incident type that the default configuration knows.
    assert set(template.meta["incident_types"]) <= KNOWN_TYPES


def test_security_breach_has_its_declared_eradication_section() -> None:
    template = parse_template(TEMPLATES / "security-breach.md")

    assert template.sections == ("Containment", "Eradication", "Remediation", "Verification")
    eradication = [text for section, text in template.checklist if section == "Eradication"]
    assert eradication == [
        "Find and close the entry point (a vulnerability, a leaked credential, "
        "a misconfiguration).",
        "Rotate every secret the attacker could have read.",
    ]
    assert template.meta["severity"] == "SEV-1"
    assert template.meta["owner"] == "security-team"


def test_generic_template_ignores_bullets_outside_checklist_sections() -> None:
    template = parse_template(TEMPLATES / "generic.md")

    texts = [text for _, text in template.checklist]
    assert len(texts) == 8
    # "## Triage" and "## Afterwards" bullets are guidance, not checklist items.
    assert not any(t.startswith("Say out loud") for t in texts)
    assert not any(t.startswith("Hand over") for t in texts)


def test_nested_bullets_do_not_become_items(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "nested",
        "---\ntitle: Nested\n---\n\n"
        "## Containment\n\n"
        "- Isolate the component.\n"
        "  - first drain the load balancer\n"
        "  - then stop the pods\n"
        "    1. deeper still\n"
        "- Block traffic.\n\n"
        "## Remediation\n\n- Roll back.\n\n"
        "## Verification\n\n- Confirm.\n",
    )
    template = parse_template(path)

    assert template.checklist == [
        ("Containment", "Isolate the component."),
        ("Containment", "Block traffic."),
        ("Remediation", "Roll back."),
        ("Verification", "Confirm."),
    ]


def test_bullets_under_non_checklist_headings_do_not_become_items(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mixed",
        "---\ntitle: Mixed\n---\n\n"
        "# Mixed\n\n"
        "- a bullet before any section\n\n"
        "## Containment\n\n- Contain.\n\n"
        "## Notes\n\n- a note after Containment at the same level\n\n"
        "## Remediation\n\n- Remediate.\n\n"
        "### Details\n\n- a deeper heading stays inside Remediation\n\n"
        "# Verification\n\n- Verify.\n\n"
        "## Postmortem\n\n- deeper than Verification, so still inside it\n\n"
        "# Appendix\n\n- a new top-level heading ends Verification\n",
    )
    template = parse_template(path)

    assert template.checklist == [
        ("Containment", "Contain."),
        ("Remediation", "Remediate."),
        ("Remediation", "a deeper heading stays inside Remediation"),
        ("Verification", "Verify."),
        ("Verification", "deeper than Verification, so still inside it"),
    ]


def test_item_text_is_plain_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "inline",
        "---\ntitle: Inline\n---\n\n"
        "### containment:\n\n"
        "- **Isolate** the [affected component](https://example.com/x).\n"
        "- Run `kubectl cordon` on the node.\n"
        "- A step written over\n  two lines.\n\n"
        "### Remediation\n\n1. Numbered steps count too.\n\n"
        "### Verification\n\n* Star bullets as well.\n",
    )
    template = parse_template(path)

    assert template.checklist == [
        ("Containment", "Isolate the affected component."),
        ("Containment", "Run kubectl cordon on the node."),
        ("Containment", "A step written over two lines."),
        ("Remediation", "Numbered steps count too."),
        ("Verification", "Star bullets as well."),
    ]


def test_declared_sections_replace_the_default_ones(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "custom",
        "---\ntitle: Custom\nchecklist_sections: [Stabilise, Verification]\n---\n\n"
        "## Containment\n\n- not a section of this template\n\n"
        "## Stabilise\n\n- Stabilise it.\n\n"
        "## Verification\n\n- Verify.\n",
    )
    template = parse_template(path)

    assert template.sections == ("Stabilise", "Verification")
    assert template.checklist == [("Stabilise", "Stabilise it."), ("Verification", "Verify.")]
    assert lint_template(template) == []


def test_title_prefers_front_matter_over_first_heading(tmp_path: Path) -> None:
    with_key = parse_template(write(tmp_path, "a", "---\ntitle: From meta\n---\n# From heading\n"))
    without = parse_template(write(tmp_path, "b", "---\nowner: x\n---\n# From heading\n"))
    neither = parse_template(write(tmp_path, "c", "---\nowner: x\n---\n## Only level two\n"))

    assert with_key.title == "From meta"
    assert without.title == "From heading"
    assert neither.title is None


def test_split_front_matter() -> None:
    assert split_front_matter("---\na: 1\n---\nbody\n") == ("a: 1\n", "body\n", 4)
    assert split_front_matter("---\na: 1\n...\nbody\n") == ("a: 1\n", "body\n", 4)
    assert split_front_matter("# no front matter\n") == (None, "# no front matter\n", 1)
    # An unterminated block is not front matter.
    assert split_front_matter("---\na: 1\nbody\n") == (None, "---\na: 1\nbody\n", 1)
    assert split_front_matter("") == (None, "", 1)


def test_find_template_only_finds_plain_names(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    write(templates, "generic", "---\ntitle: G\n---\n")
    write(tmp_path, "outside", "---\ntitle: O\n---\n")
    (templates / "folder.md").mkdir()

    assert find_template(templates, "generic") == templates / "generic.md"
    assert find_template(templates, "missing") is None
    assert find_template(templates, "../outside") is None
    assert find_template(templates, ".hidden") is None
    assert find_template(templates, "") is None
    assert find_template(templates, "folder") is None
    assert list_templates(templates) == [templates / "generic.md"]
    assert list_templates(tmp_path / "absent") == []
