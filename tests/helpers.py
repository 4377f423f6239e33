"""Test helpers: pass the lifecycle gates as a user would; a paging set-up with recording fakes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from warroom.config import WarroomConfig
from warroom.notify.fakes import (
    FakeChat,
    FakeConference,
    FakeMailer,
    FakePager,
    FakePhone,
    FakePush,
    FakeStatusPage,
    FakeWebhook,
)
from warroom.notify.models import Notification
from warroom.notify.ports import Adapters
from warroom.runtime import Runtime

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


PAGING: dict[str, Any] = {
    "people": [
        {"id": "alice", "name": "Alice", "email": "alice@example.com", "slack": "UALICE1"},
        {"id": "bob", "name": "Bob", "email": "bob@example.com", "slack": "UBOB1"},
    ],
    "teams": [{"id": "payments", "members": ["alice", "bob"], "leads": ["bob"]}],
    "schedules": [
        {
            "id": "payments",
            "timezone": "UTC",
            "layers": [
                {"name": "primary", "rotation": {"every": "1w", "participants": ["alice"]}},
                {"name": "secondary", "rotation": {"every": "1w", "participants": ["bob"]}},
            ],
        }
    ],
    "services": [{"id": "checkout", "team": "payments", "schedule": "payments"}],
    "integrations": {
        # Never contacted: the runtime's adapters are the recording fakes.
        "pagerduty_events": {"routing_key": "R" * 32},
    },
    "notifications": {
        "announce_channel": "#incident-response",
        "rate_limits": {"person": {"count": 50, "per": "1m"}, "channel": {"count": 2, "per": "1m"}},
    },
}


def paging_config() -> WarroomConfig:
    """Return one service paging alice, then bob; PagerDuty on; two posts a minute per channel."""
    return WarroomConfig.model_validate(PAGING)


class Fakes:
    """Every adapter, recording."""

    def __init__(self, chat: FakeChat | None = None, *, phone: bool = False) -> None:
        self.chat = chat or FakeChat()
        self.mail = FakeMailer()
        self.pager = FakePager()
        self.phone = FakePhone()
        self.push = FakePush()
        self.adapters = Adapters(
            chat=self.chat,
            mailer=self.mail,
            conference=FakeConference(),
            pager=self.pager,
            status_page=FakeStatusPage(),
            webhook=FakeWebhook(),
            # Off unless asked for: SMS, calls and push as channels change who is reachable.
            phone=self.phone if phone else None,
            push=self.push if phone else None,
        )

    def dms(self, user: str) -> list[dict[str, Any]]:
        """Return the chat posts sent to one person."""
        return [a for m, a in self.chat.calls if m == "post" and a["channel"] == user]


def statuses(runtime: Runtime) -> dict[str, str]:
    """Return key -> status of every outbox row."""
    with runtime.db.session() as session:
        return {r.key: r.status for r in session.scalars(select(Notification))}


def make_slack_users(runtime: Runtime, role: str = "responder") -> list[str]:
    """Give every person with a Slack id a warroom user with `role` (buttons act as them)."""
    from warroom.auth import service as auth

    names = [p.id for p in runtime.config().people if p.slack]
    with runtime.db.transaction() as session:
        for name in names:
            auth.create_user(session, name=name, role=role, now=runtime.clock.now())
    return names


# `python -c CODE` for test actions: warroom refuses code handed to an interpreter in argv.
PY_EXEC = [sys.executable, str(Path(__file__).parent / "fixtures" / "actions" / "run_code.py")]
