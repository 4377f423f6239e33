"""User text in a runbook file is text: no heading, HTML, link or checklist of its own."""

from __future__ import annotations

import html
from typing import Any

from fastapi.testclient import TestClient
from markdown_it import MarkdownIt

from tests.runbooks.test_directory import read_file
from warroom.core.markdown import block, inline
from warroom.incidents.schemas import IncidentDetail
from warroom.runbooks.document import render
from warroom.runtime import Runtime

# Stricter than the runbook page (html on): raw HTML would show up as html tokens here.
MD = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
TITLE = "<script>alert(1)</script> ## Checklist (11/11) [Open](https://evil.example)"
SUMMARY = (
    "Payments fail; see the dashboard -> 50% & rising.\n"
    "## Checklist (11/11)\n"
    "- [x] done\n"
    "* [x] done too\n"
    "1. [x] also done\n"
    "- a plain bullet stays a bullet\n"
    "Fake heading\n"
    "---\n"
    "<img src=x onerror=alert(1)>\n"
    "> quoted\n"
    "```\n"
    "an unclosed fence would swallow the checklist\n"
    "\\<script>escaped by hand</script> [link](javascript:alert(1)) C:\\temp"
)
LINE = "- [x] forged\n## Checklist (11/11)\n<b>bold</b> [x](http://evil)"


def structure(body: str) -> dict[str, Any]:
    """Return what a reader of the rendered file sees as its structure."""
    tokens = MD.parse(body)
    inline = [child for token in tokens for child in token.children or []]
    headings = [
        (token.tag, tokens[index + 1].content)
        for index, token in enumerate(tokens)
        if token.type == "heading_open"
    ]
    return {
        "headings": headings,
        "html": [t.content for t in [*tokens, *inline] if t.type.startswith("html")],
        "links": [t.attrs for t in inline if t.type in ("link_open", "image")],
        "fences": [t.content for t in tokens if t.type in ("fence", "code_block")],
        "boxes": [line for line in body.splitlines() if line.startswith(("- [ ] ", "- [x] "))],
    }


def test_hostile_text_leaves_the_structure_alone(api: TestClient, runtime: Runtime) -> None:
    created = api.post(
        "/api/v1/incidents",
        json={"title": TITLE, "severity": "SEV-2", "commander": "rita", "summary": SUMMARY},
    )
    assert created.status_code == 201, created.text
    patched = api.patch("/api/v1/incidents/1", json={"impact": LINE, "scope": "## Scope"})
    assert patched.status_code == 200, patched.text
    items = api.get("/api/v1/incidents/1/checklist").json()["sections"][0]["items"]
    for body in ({"note": LINE}, {"skipped_reason": LINE}):
        answer = api.patch(f"/api/v1/incidents/1/checklist/{items[0]['id']}", json=body)
        assert answer.status_code == 200, answer.text
    answer = api.patch(f"/api/v1/incidents/1/checklist/{items[1]['id']}", json={"done": True})
    assert answer.status_code == 200, answer.text

    [path] = (runtime.runbooks.root / "active").iterdir()
    meta, body = read_file(path)
    assert meta["title"] == TITLE  # the front matter keeps the text exactly (YAML quoting)
    seen = structure(body)
    sections = ["Containment", "Remediation", "Verification"]
    assert [tag for tag, _ in seen["headings"]] == ["h1", "h2", "h2", "h2", "h3", "h3", "h3", "h2"]
    assert [text for _, text in seen["headings"]][1:] == [
        "Summary",
        "Initial assessment",
        "Checklist (2/8)",
        *sections,
        "Timeline",
    ]
    assert seen["html"] == [] and seen["links"] == [] and seen["fences"] == []
    assert len(seen["boxes"]) == 8  # the template's items, no forged one
    assert sum(box.startswith("- [x] ") for box in seen["boxes"]) == 1
    # Ordinary text reads as it was written.
    assert "see the dashboard -> 50% & rising." in body
    assert "- a plain bullet stays a bullet" in body
    assert "C:\\temp" in body
    # The file is still exactly the rendering of the incident (what the server rewrites).
    detail = IncidentDetail.model_validate(api.get("/api/v1/incidents/1").json())
    assert path.read_text(encoding="utf-8") == render(detail, "High")


def test_escaped_text_renders_back_to_what_was_written() -> None:
    for text in (TITLE, "C:\\temp\\x", "a \\<b> \\\\[c]", "50% <done> & [x]", "## no", "- [x] no"):
        rendered = MD.render(inline(text))
        assert "<script" not in rendered and "<a " not in rendered and "<h" not in rendered
        shown = rendered.removeprefix("<p>").removesuffix("</p>\n")
        shown = shown.removeprefix("<ul>\n<li>").removesuffix("</li>\n</ul>\n")
        assert html.unescape(shown) == text.removeprefix("- "), rendered
    rendered = MD.render(block(SUMMARY))
    assert "<h2>" not in rendered and "<hr" not in rendered and "<pre>" not in rendered
    assert "<li>a plain bullet stays a bullet" in rendered
