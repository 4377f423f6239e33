"""User text in the markdown postmortem adds no heading, HTML, link or list of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.postmortem.conftest import base, declare, ok, walk
from tests.postmortem.test_api import FULL
from tests.runbooks.test_document_escaping import LINE, SUMMARY, TITLE, structure
from warroom.core.clock import FrozenClock


def exported(api: TestClient, clock: FrozenClock, title: str, fields: dict[str, Any]) -> str:
    ref = declare(api, title, severity="SEV-2")
    walk(api, clock, ref, severity="SEV-2")
    ok(api.put(base(ref), json=fields))
    answer = ok(api.post(base(ref) + "/export"))
    return Path(next(p for p in answer["paths"] if p.endswith(".md"))).read_text()


def test_hostile_postmortem_keeps_its_structure(api: TestClient, clock: FrozenClock) -> None:
    plain = structure(exported(api, clock, "Checkout is slow", FULL))
    hostile_fields = {
        **FULL,
        "summary": SUMMARY,
        "impact": SUMMARY,
        "root_cause": SUMMARY,
        "five_whys": [{"question": LINE, "answer": LINE}] * 2,
        "fishbone": {"Technology": [LINE], "Process": [TITLE]},
        "contributing_factors": [LINE, "## Action items"],
        "went_well": [TITLE],
        "went_poorly": ["<script>x</script>"],
        "got_lucky": ["---"],
    }
    markdown = exported(api, clock, TITLE, hostile_fields)
    hostile = structure(markdown)
    assert hostile["headings"][1:] == plain["headings"][1:]
    assert hostile["headings"][0][1].startswith("Postmortem: INC-2 — ")
    assert hostile["html"] == [] and hostile["fences"] == []
    # Only the two pictures warroom links itself.
    assert len(hostile["links"]) == 2
    assert all(attrs.get("src", "").endswith(".svg") for attrs in hostile["links"])
    assert not [line for line in markdown.splitlines() if line.startswith(("- [x]", "- [ ]"))]
    assert "see the dashboard -> 50% & rising." in markdown
