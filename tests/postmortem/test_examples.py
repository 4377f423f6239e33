"""The runbook's two examples, end to end: each ends with a postmortem (issue 6, item 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from tests.postmortem.conftest import base, declare, ok, walk
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

SVG = "{http://www.w3.org/2000/svg}"
CATEGORIES = ["People", "Process", "Technology", "Environment", "Tools"]
EXAMPLES: list[dict[str, Any]] = [
    {
        "declare": {
            "title": "High CPU usage on checkout",
            "severity": "SEV-2",
            "incident_type": "resource-saturation",
            "service": "checkout",
        },
        "severity": "SEV-2",
        "root_cause": "A memory leak in a new feature.",
        "fishbone": {"Technology": ["Memory leak in the new feature"], "Capacity": ["No headroom"]},
        "action": {"kind": "short_term", "title": "Roll back to the previous version"},
    },
    {
        "declare": {
            "title": "User reports their data was compromised",
            "incident_type": "security",
            "service": "accounts",
        },
        "severity": "SEV-1",
        "root_cause": "A SQL injection vulnerability.",
        "fishbone": {
            "Technology": ["Unparameterised SQL query"],
            "Process": ["No security review"],
        },
        "action": {"kind": "long_term", "title": "Parameterise every query; add a SAST gate"},
    },
]


@pytest.mark.parametrize("example", EXAMPLES, ids=["high-cpu", "data-breach"])
def test_runbook_example_ends_with_a_postmortem(
    runtime: Runtime, api: TestClient, clock: FrozenClock, example: dict[str, Any]
) -> None:
    ref = declare(api, **example["declare"])
    ok(api.post(f"/api/v1/incidents/{ref}/timeline", json={"text": "Rolled back / disabled"}), 201)
    walk(api, clock, ref, severity=example["severity"])
    whys = [
        {"question": "Why did it fail?", "answer": example["root_cause"]},
        {"question": "Why was that not caught?", "answer": "No test covered it."},
    ]
    ok(
        api.put(
            base(ref),
            json={"root_cause": example["root_cause"], "five_whys": whys,
                  "fishbone": example["fishbone"], "status": "in_review"},
        )
    )  # fmt: skip
    ok(api.post(base(ref) + "/action-items", json=example["action"]), 201)
    pm = ok(api.get(base(ref)))
    assert (pm["severity"], pm["required"]) == (example["severity"], True)
    milestones = pm["timeline"]["milestones"]
    assert all(milestones[k] for k in ("detected", "triaged", "mitigated", "resolved"))
    spans = pm["timeline"]["durations"]
    assert (spans["detection_to_triage"], spans["triage_to_mitigation"]) == (900.0, 1800.0)
    assert (spans["mitigation_to_resolution"], spans["time_to_resolve"]) == (2700.0, 5400.0)
    starred = {e["kind"] for e in pm["timeline"]["events"] if e["key_event"]}
    assert {"declared", "triaged", "mitigated", "resolved"} <= starred

    root = ElementTree.fromstring(api.get(base(ref) + "/fishbone.svg").content)
    texts = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    for name in [*CATEGORIES, *example["fishbone"]]:
        assert name in texts

    paths = ok(api.post(base(ref) + "/export"))["paths"]
    markdown = next(p for p in paths if p.endswith(".postmortem.md"))
    text = Path(markdown).read_text(encoding="utf-8")
    for label, when in [
        ("Detection", "2026-03-02 09:00"),
        ("Triage", "2026-03-02 09:15"),
        ("Mitigation", "2026-03-02 09:45"),
        ("Resolution", "2026-03-02 10:30"),
    ]:
        assert f"| {label} | {when} UTC |" in text
    assert example["root_cause"] in text and example["action"]["title"] in text
    svg = next(p for p in paths if p.endswith(".svg"))
    ElementTree.parse(svg)
