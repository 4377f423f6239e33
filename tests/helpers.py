"""Pass the resolve and close gates the way a user would, where a gate is not the subject."""

from __future__ import annotations

from typing import Any

SKIP = "not what this test is about"  # a skip_verification reason
WHY = [{"question": "Why did it fail?", "answer": "A bad deploy."}]


def verify(api: Any, ref: str) -> int:
    """Mark `ref`'s open Verification items done over HTTP (a TestClient or an httpx client).

    Return how many were marked.
    """
    answer = api.get(f"/api/v1/incidents/{ref}/checklist")
    assert answer.status_code == 200, answer.text
    sections = [s for s in answer.json()["sections"] if s["name"] == "Verification"]
    items = [item for s in sections for item in s["items"] if item["state"] == "open"]
    for item in items:
        done = api.patch(f"/api/v1/incidents/{ref}/checklist/{item['id']}", json={"done": True})
        assert done.status_code == 200, done.text
    return len(items)


def finish_postmortem(api: Any, ref: str) -> None:
    """Write `ref`'s postmortem with status done over HTTP (`ref` must be resolved)."""
    answer = api.put(
        f"/api/v1/incidents/{ref}/postmortem",
        json={
            "summary": "A bad deploy took the service down.",
            "root_cause": "The deploy had no canary stage.",
            "five_whys": WHY,
            "status": "done",
        },
    )
    assert answer.status_code == 200, answer.text
