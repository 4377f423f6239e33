"""Helpers for postmortem tests: walk an incident through its lifecycle over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.helpers import verify
from warroom.core.clock import FrozenClock
from warroom.incidents.models import TimelineEvent
from warroom.postmortem.models import ActionItem, Postmortem
from warroom.runtime import Runtime

WHYS = [{"question": f"Why {n}?", "answer": f"Because {n}."} for n in range(1, 6)]


def base(ref: str) -> str:
    return f"/api/v1/incidents/{ref}/postmortem"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def declare(api: TestClient, title: str, **fields: Any) -> str:
    """Declare an incident over HTTP; return its ref."""
    return str(ok(api.post("/api/v1/incidents", json={"title": title, **fields}), 201)["ref"])


def walk(api: TestClient, clock: FrozenClock, ref: str, *, severity: str) -> None:
    """Acknowledge, triage, mitigate and resolve `ref`, minutes apart (Verification ticked)."""
    steps: list[tuple[str, dict[str, Any] | None]] = [
        ("acknowledge", None),
        (
            "triage",
            {
                "commander": "alice",
                "severity": severity,
                "impact": "Users affected",
                "scope": "One service",
                "priority": "P1",
            },
        ),
        ("mitigate", {"note": "Contained"}),
        ("resolve", {"note": "Verified"}),
    ]
    for minutes, (action, body) in zip((4, 11, 30, 45), steps, strict=True):
        clock.advance(timedelta(minutes=minutes))
        if action == "resolve":
            verify(api, ref)
        ok(api.post(f"/api/v1/incidents/{ref}/{action}", json=body))


def counts(runtime: Runtime) -> tuple[int, int, int]:
    """Return (postmortems, action items, postmortem timeline events)."""
    with runtime.db.session() as session:
        pms = session.scalar(select(func.count()).select_from(Postmortem))
        items = session.scalar(select(func.count()).select_from(ActionItem))
        events = session.scalar(
            select(func.count())
            .select_from(TimelineEvent)
            .where(TimelineEvent.kind == "postmortem")
        )
    return int(pms or 0), int(items or 0), int(events or 0)
